"""DELETE /users/{name}?delete_data=true and DELETE /users/{name}/data (issue 21, "Leaving"):
an administrator removes a user with their data, the answer says how much went, the audit log
records it, and another user's data (one whose name starts the same) is untouched. In-process,
on the real app, Postgres store and local blob store; no model is called."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from chatbot.api.records import Message, Session, Vote
from chatbot.chat.api_keys import ApiKey
from chatbot.chat.attachments import BlobDeletionError, LocalBlobs
from lambdas.chat_api.auth import CognitoAccounts
from tests.lambdas.chat_api.in_process import InProcessApi, in_process_api

_databases = iter(range(1_000_000))


@pytest.fixture
def api(monkeypatch, tmp_path: Path, postgres_server_url: str) -> Iterator[InProcessApi]:
    with in_process_api(
        monkeypatch, tmp_path, postgres_server_url, f"user_erasure_{next(_databases)}"
    ) as api:
        api.users.add("root", "roots password")  # the first account: an administrator
        for name in ("al", "alice"):
            api.users.add(name, f"{name}s password")
        yield api


def give_data(api: InProcessApi, user: str) -> str:
    """A conversation, an attachment, a key, an arena vote and usage of the user's; the session id."""
    store = api.app.state.service.store
    session = store.create_session(Session(user_id=user, title=f"{user}'s chat"))
    store.append_message(user, session.id, Message(role="user", content="hi"))
    store.create_api_key(ApiKey(user_id=user, name="laptop", prefix="sk-x", key_hash=f"hash-{user}"))
    store.add_vote(
        Vote(
            session_id=f"arena-{user}",
            round=1,
            user_id=user,
            choice="left",
            models=["a", "b"],
            anonymous=True,
        )
    )
    quotas = api.app.state.quotas
    quotas.settle(quotas.admit(user, model="a", prompt_tokens=3, max_new_tokens=5), 3, 4)
    attached = api.as_user(user).post(
        "/attachments", files={"file": ("notes.txt", b"Some notes.", "text/plain")}
    )
    assert attached.status_code == 201, attached.text
    return session.id


def test_an_administrator_removes_a_user_with_their_data_and_the_audit_log_says_what_went(api: InProcessApi):
    give_data(api, "al")
    alices = give_data(api, "alice")

    removed = api.as_user("root", "admin").delete("/users/al", params={"delete_data": "true"})

    assert removed.status_code == 200, removed.text
    body = removed.json()
    assert (body["user"], body["account_removed"], body["keys_revoked"]) == ("al", True, 1)
    data = body["data"]
    assert {k: data[k] for k in ("sessions", "messages", "api_keys", "attachments", "usage_rows")} == {
        "sessions": 1,
        "messages": 1,
        "api_keys": 1,
        "attachments": 1,
        "usage_rows": 1,
    }
    assert data["votes_anonymised"] == 1
    assert "al" not in api.users.names()
    store = api.app.state.service.store
    assert store.list_sessions("al").sessions == []
    assert [s.id for s in store.list_sessions("alice").sessions] == [alices]
    assert len(store.list_api_keys("alice")) == 1
    assert sorted(v.user_id for v in store.list_votes())[0] == "alice"
    assert len(store.list_votes()) == 2

    audit = api.as_user("root", "admin").get("/admin/audit").json()
    deletion = next(entry for entry in audit if entry["action"] == "delete_user_data")
    assert (deletion["actor"], deletion["target"]) == ("root", "user:al")
    assert deletion["after"] == data
    assert any(entry["action"] == "remove_user" and entry["target"] == "user:al" for entry in audit)
    exported = api.as_user("root", "admin").get("/admin/audit", params={"format": "csv"}).text
    assert "delete_user_data" in exported


def test_removing_without_delete_data_keeps_the_data_as_before(api: InProcessApi):
    give_data(api, "al")

    assert api.as_user("root", "admin").delete("/users/al").status_code == 204

    assert len(api.app.state.service.store.list_sessions("al").sessions) == 1


def test_the_data_of_a_removed_user_can_be_deleted_later_and_again_deletes_nothing(api: InProcessApi):
    give_data(api, "al")
    root = api.as_user("root", "admin")
    assert root.delete("/users/al").status_code == 204

    first = root.delete("/users/al/data")
    again = root.delete("/users/al/data")

    assert first.status_code == again.status_code == 200
    assert first.json()["account_removed"] is False
    assert first.json()["data"]["sessions"] == 1
    assert set(again.json()["data"].values()) == {0}
    audit = root.get("/admin/audit").json()
    assert [e["after"]["sessions"] for e in audit if e["action"] == "delete_user_data"] == [0, 1]


def test_the_data_of_someone_who_can_still_sign_in_is_not_deleted(api: InProcessApi):
    give_data(api, "alice")

    refused = api.as_user("root", "admin").delete("/users/alice/data")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "user_still_has_an_account"
    assert len(api.app.state.service.store.list_sessions("alice").sessions) == 1


def test_nothing_is_deleted_while_the_user_pool_cannot_say_whether_the_account_stands(api: InProcessApi):
    give_data(api, "al")
    pool = boto3.client("cognito-idp", region_name="us-east-1")
    answers = Stubber(pool)
    answers.add_response("list_users", {"Users": [{"Username": "root", "Enabled": True}]})  # the admin
    answers.add_client_error("list_users", "TooManyRequestsException", "Rate exceeded", 400)  # then al
    answers.activate()
    api.app.state.accounts = CognitoAccounts(pool, "us-east-1_pool")

    refused = api.as_user("root", "admin").delete("/users/al/data")

    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "account_check_unavailable"
    assert "Nothing was deleted" in refused.json()["error"]["message"]
    assert len(api.app.state.service.store.list_sessions("al").sessions) == 1
    answers.assert_no_pending_responses()


class RefusingBucket(LocalBlobs):
    """Blobs whose deletions a bucket refuses, as S3Blobs reports a DeleteObjects answer's
    Errors (tests/infra/test_iam.py shows it against S3's answer)."""

    def delete_folder(self, prefix: str) -> list[str]:
        raise BlobDeletionError(f"1 of 1 objects under {prefix}/ were not deleted: AccessDenied")


def test_a_deletion_a_bucket_stops_halfway_says_so_and_the_audit_log_keeps_what_went(api: InProcessApi):
    give_data(api, "al")
    attachments = api.app.state.service.turns.attachments
    attachments.blobs = RefusingBucket(attachments.blobs.root)
    api.users.remove("al")

    stopped = api.as_user("root", "admin").delete("/users/al/data")

    assert stopped.status_code == 503
    assert stopped.json()["error"]["code"] == "erasure_incomplete"
    assert "Run the deletion again" in stopped.json()["error"]["message"]
    audit = api.as_user("root", "admin").get("/admin/audit").json()
    deletion = next(entry for entry in audit if entry["action"] == "delete_user_data")
    assert (deletion["after"]["sessions"], deletion["after"]["api_keys"]) == (1, 1)
    assert "AccessDenied" in deletion["after"]["incomplete"]


def test_anyone_but_an_administrator_is_refused_and_nothing_is_deleted(api: InProcessApi):
    give_data(api, "al")
    alice = api.as_user("alice")

    for attempt in (
        alice.delete("/users/al", params={"delete_data": "true"}),
        alice.delete("/users/al/data"),
    ):
        assert attempt.status_code == 403
    # A token that claims the role is not enough: the users file must say so.
    assert api.as_user("alice", "admin").delete("/users/al/data").status_code == 403
    assert "al" in api.users.names()
    assert len(api.app.state.service.store.list_sessions("al").sessions) == 1


def test_an_empty_name_deletes_nothing(api: InProcessApi):
    give_data(api, "al")
    api.users.remove("al")

    refused = api.as_user("root", "admin").delete("/users/%20/data")

    assert refused.status_code == 422
    assert len(api.app.state.service.store.list_sessions("al").sessions) == 1
