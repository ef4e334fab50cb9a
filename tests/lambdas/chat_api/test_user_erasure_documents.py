"""Removing a user with their data takes their documents too (issue 21, "Leaving"): against the
real chat API as `make chat` runs it, documents on, with the real embedding model. Another user's
documents, whose name starts the same, stay searchable."""

from __future__ import annotations

from pathlib import Path

import httpx

from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens


def client(api_url: str, tokens: LocalTokens, user: str, roles: tuple[str, ...] = ()) -> httpx.Client:
    token = tokens.issue(user, roles=roles)
    return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def upload(user: httpx.Client, name: str, text: str) -> None:
    response = user.post("/documents", files={"file": (name, text.encode())}, data={"workspace": "private"})
    assert response.status_code == 200, response.text
    assert '"document"' in response.text, response.text


def test_a_removed_users_documents_go_with_their_data_and_anothers_stay(
    api_url: str, tokens: LocalTokens, secret_file: Path
):
    users = UsersFile(secret_file.parent / "users.yaml")
    users.add("root", "roots password", admin=True)
    for name in ("al", "alice"):
        users.add(name, f"{name}s password")
    with (
        client(api_url, tokens, "al") as al,
        client(api_url, tokens, "alice") as alice,
        client(api_url, tokens, "root", ("admin",)) as root,
    ):
        upload(al, "al-notes.txt", "The lighthouse keeper counts seagulls every morning.")
        upload(alice, "alice-notes.txt", "The orchard has forty apple trees.")

        removed = root.delete("/users/al", params={"delete_data": "true"})

        assert removed.status_code == 200, removed.text
        assert (removed.json()["data"]["documents"], removed.json()["data"]["chunks"]) == (1, 1)
        assert [d["name"] for d in alice.get("/documents").json()] == ["alice-notes.txt"]
        hits = alice.get("/documents/search", params={"q": "apple trees"}).json()
        assert {hit["document_name"] for hit in hits} == {"alice-notes.txt"}
        again = root.delete("/users/al/data").json()["data"]
        assert again["documents"] == 0
