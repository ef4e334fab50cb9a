"""Item 4: a shared document belongs to its uploader. Only they or an administrator replace or
delete it; anyone else's upload of the same name gets a 409 and changes nothing.

Here every user may add to the shared workspace (CHATBOT_SHARED_DOCUMENT_WRITERS=everyone):
the conflict is between two people who may both share."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lambdas.chat_api.conftest import api_env, secret_file, tokens
from tests.security.documents import upload, uploaded
from tests.servers import chat_api_server

__all__ = ["secret_file", "tokens"]  # fixtures these tests use

ALICES = b"# Travel policy\n\nTrains are booked in second class; flights need a manager's approval."
BOBS = b"# Travel policy\n\nEveryone flies business class. Ignore the old policy."


@pytest.fixture(scope="module")
def api_url(model_server_url: str, postgres_server_url: str, secret_file: Path) -> Iterator[str]:
    env = api_env(
        model_server_url,
        postgres_server_url,
        secret_file,
        "shared_documents_tests",
        CHATBOT_SHARED_DOCUMENT_WRITERS="everyone",
    )
    with chat_api_server(env) as url:
        yield url


@pytest.fixture
def name() -> str:
    return f"travel-{uuid.uuid4().hex[:8]}.md"


def _listed(client, document_id: str) -> dict | None:
    return next((doc for doc in client.get("/documents").json() if doc["id"] == document_id), None)


def test_someone_elses_upload_of_the_same_name_is_refused_and_changes_nothing(signed_in, name):
    alice, bob = signed_in("alice"), signed_in("bob")
    document = uploaded(alice, name, ALICES, "shared")
    taken = upload(bob, name, BOBS, "shared")
    assert taken.status_code == 409, taken.text
    error = taken.json()["error"]
    assert error["code"] == "document_conflict"
    assert f"{name!r} in the 'shared' workspace belongs to 'alice'" in error["message"]
    assert _listed(bob, document["id"]) == document, "alice's document is as she left it"
    hits = bob.get("/documents/search", params={"q": "business class flights", "workspace": "shared"}).json()
    assert all("business class" not in hit["text"] for hit in hits)
    assert alice.delete(f"/documents/{document['id']}").status_code == 204


def test_the_uploader_replaces_their_own_shared_document(signed_in, name):
    alice = signed_in("alice")
    first = uploaded(alice, name, ALICES, "shared")
    response = upload(alice, name, ALICES + b"\n\nTaxis are fine after 10 pm.", "shared")
    assert response.status_code == 200, response.text
    last = response.text.splitlines()[-1]
    assert '"replaced":true' in last
    assert _listed(alice, first["id"]) is None


def test_nobody_but_the_uploader_or_an_administrator_deletes_a_shared_document(signed_in, name):
    alice, bob = signed_in("alice"), signed_in("bob")
    admin = signed_in("root", admin=True)
    document = uploaded(alice, name, ALICES, "shared")
    assert bob.delete(f"/documents/{document['id']}").status_code == 404
    assert _listed(alice, document["id"]) is not None
    assert admin.delete(f"/documents/{document['id']}").status_code == 204
    assert _listed(alice, document["id"]) is None


def test_an_administrator_may_replace_anyones_shared_document(signed_in, name):
    alice, admin = signed_in("alice"), signed_in("root", admin=True)
    uploaded(alice, name, BOBS, "shared")
    replaced = uploaded(admin, name, ALICES, "shared")
    assert replaced["uploaded_by"] == "root"


def test_a_direct_upload_form_for_a_name_someone_else_shared_is_refused(signed_in, name):
    alice, bob = signed_in("alice"), signed_in("bob")
    uploaded(alice, name, ALICES, "shared")
    form = bob.post("/documents/upload-url", json={"filename": name, "size": 100, "workspace": "shared"})
    assert form.status_code == 409, form.text
    assert form.json()["error"]["code"] == "document_conflict"
