"""Item 6: a removed user, or an old password, keeps no access to the API.

Locally, against the real API and its users file: a token is refused once its user is removed
or their password reset; removing a user revokes their API keys (and a key whose owner is gone
is refused even where the keys were not revoked). With Cognito, a user disabled or deleted in
the pool is refused once the cached status (60 s) runs out: moto's cognito-idp plays the pool."""

from __future__ import annotations

import boto3
import pytest

from lambdas.chat_api.auth import AuthError, Caller, CognitoAccounts, CognitoTokens
from tests.lambdas.chat_api.test_auth import cognito

__all__ = ["cognito"]

COMPLETION = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}


def test_a_removed_users_token_and_keys_stop_working(member, users, api_url):
    erin = member("erin")
    root = member("root", admin=True)
    key = erin.post("/api-keys", json={"name": "laptop"}).json()["key"]
    with_key = {"Authorization": f"Bearer {key}"}
    assert erin.post("/v1/chat/completions", json=COMPLETION, headers=with_key).status_code == 200

    assert root.delete("/users/erin").status_code == 204

    for refused in (
        erin.get("/sessions"),
        erin.post("/api-keys", json={"name": "another"}),
        erin.post("/v1/chat/completions", json=COMPLETION, headers=with_key),
        erin.post("/v1/chat/completions", json=COMPLETION),
    ):
        assert refused.status_code == 401, refused.text
    assert "Incorrect API key" in erin.post("/v1/chat/completions", json=COMPLETION, headers=with_key).text, (
        "the key itself was revoked"
    )


def test_a_key_of_a_user_removed_from_the_file_alone_is_refused(member, users):
    """Removed with `python -m streamlit_app.users remove` (no API call revoked the keys)."""
    gus = member("gus")
    key = gus.post("/api-keys", json={"name": "laptop"}).json()["key"]
    users.remove("gus")
    refused = gus.post("/v1/chat/completions", json=COMPLETION, headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    assert "no longer valid" in refused.json()["error"]["message"]


def test_a_removed_users_key_does_not_work_for_a_new_account_of_the_same_name(member, users, tokens):
    """Removed from the file alone (no key revoked), then the name given to someone new: the old
    keys were made before the new account, so they are refused; the newcomer's own keys work."""
    ida = member("ida")
    old_key = ida.post("/api-keys", json={"name": "laptop"}).json()["key"]
    users.remove("ida")
    new_ida = member("ida")

    refused = new_ida.post(
        "/v1/chat/completions", json=COMPLETION, headers={"Authorization": f"Bearer {old_key}"}
    )
    assert refused.status_code == 401, refused.text
    assert "no longer valid" in refused.json()["error"]["message"]
    own_key = new_ida.post("/api-keys", json={"name": "desktop"}).json()["key"]
    mine = new_ida.post(
        "/v1/chat/completions", json=COMPLETION, headers={"Authorization": f"Bearer {own_key}"}
    )
    assert mine.status_code == 200, mine.text


def test_a_password_reset_keeps_the_accounts_api_keys(member, users):
    """The account's creation time is never reset: a new password is not a new person."""
    jo = member("jo")
    key = jo.post("/api-keys", json={"name": "laptop"}).json()["key"]
    users.add("jo", "jos new password")
    kept = jo.post("/v1/chat/completions", json=COMPLETION, headers={"Authorization": f"Bearer {key}"})
    assert kept.status_code == 200, kept.text


def test_an_account_from_a_file_without_creation_times_dates_from_its_tokens_valid_after(tmp_path):
    """A users file written before accounts kept `created_at`: the account's tokens_valid_after
    (set when it was made) stands in, and an account with neither accepts its keys."""
    import yaml

    from chatbot.api.users import UsersFile

    path = tmp_path / "users.yaml"
    old_release = {
        "credentials": {
            "usernames": {
                "kim": {"name": "kim", "password": "x", "tokens_valid_after": 1000.0},
                "lee": {"name": "lee", "password": "x"},
            }
        },
        "cookie": {"key": "k" * 48, "name": "chatbot_login", "expiry_days": 7},
    }
    path.write_text(yaml.safe_dump(old_release))
    users = UsersFile(path)
    assert not users.accepts_api_key("kim", 999.0)
    assert users.accepts_api_key("kim", 1001.0)
    assert users.accepts_api_key("lee", 0.0)
    assert not users.accepts_api_key("nobody", 1001.0)


def test_a_password_reset_ends_the_old_tokens_and_a_new_sign_in_works(member, users, tokens):
    frank = member("frank")
    assert frank.get("/sessions").status_code == 200
    root = member("root", admin=True)
    assert root.put("/users/frank", json={"password": "franks new password"}).status_code == 200
    old = frank.get("/sessions")
    assert old.status_code == 401
    assert "password was reset" in old.json()["error"]["message"]
    fresh = {"Authorization": f"Bearer {tokens.issue('frank')}"}
    assert frank.get("/sessions", headers=fresh).status_code == 200


def test_a_token_issued_before_the_account_was_made_is_refused(member, users, tokens, api_url):
    """A removed user's name given to someone new: the old person's tokens name them too."""
    old_token = tokens.issue("hana")
    hana = member("hana")
    assert hana.get("/sessions").status_code == 200
    assert hana.get("/sessions", headers={"Authorization": f"Bearer {old_token}"}).status_code == 401


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("action", ["admin_disable_user", "admin_delete_user"])
def test_a_cognito_user_disabled_or_deleted_in_the_pool_is_refused_within_a_minute(cognito, action):
    pool, client, tokens = cognito
    caller = CognitoTokens("us-east-1", pool, client).caller(tokens["IdToken"])
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    clock = Clock()
    accounts = CognitoAccounts(idp, pool, ttl_s=60, clock=clock)
    accounts.check(caller)
    accounts.check(Caller(caller.user_id))  # an API key of theirs

    getattr(idp, action)(UserPoolId=pool, Username="alice")
    clock.now += 60
    for attempt in (caller, Caller(caller.user_id)):
        with pytest.raises(AuthError, match="disabled or was deleted"):
            accounts.check(attempt)


def test_a_made_up_cognito_sub_is_refused(cognito):
    pool, _client, _tokens = cognito
    accounts = CognitoAccounts(boto3.client("cognito-idp", region_name="us-east-1"), pool)
    for sub in ("no-such-user", 'x" or sub ^= "'):
        with pytest.raises(AuthError):
            accounts.check(Caller(sub))
