"""Documents through the chat API: upload with progress, list, search, grounded chat, delete."""

from __future__ import annotations

import json

import httpx

NOTE = """# Project Heron

Project Heron is the codename of our new river-cleaning robot. Its battery lasts 14 hours,
and the robot was designed by the Lisbon team in 2025. It collects floating plastic with a
slow rotating net, and it returns to its dock when the battery falls below 10 percent.
"""


def upload(client: httpx.Client, name: str, data: bytes, workspace: str = "private") -> httpx.Response:
    return client.post("/documents", files={"file": (name, data)}, data={"workspace": workspace})


def ndjson(response: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def test_an_upload_reports_progress_and_then_the_stored_document(alice: httpx.Client):
    response = upload(alice, "heron.md", NOTE.encode())
    assert response.status_code == 200, response.text
    lines = ndjson(response)
    assert [line["type"] for line in lines][-1] == "document"
    progress = [line for line in lines if line["type"] == "progress"]
    assert progress
    assert progress[-1]["fraction"] == 1.0
    document = lines[-1]["document"]
    assert (document["name"], document["size_bytes"]) == ("heron.md", len(NOTE.encode()))
    assert document["chunk_count"] >= 1
    listed = {doc["id"]: doc for doc in alice.get("/documents").json()}
    assert listed[document["id"]]["chunk_count"] == document["chunk_count"]


def test_the_search_debugger_shows_the_three_scores(alice: httpx.Client):
    upload(alice, "heron.md", NOTE.encode())
    results = alice.get("/documents/search", params={"q": "How long does the battery last?"}).json()
    best = results[0]
    assert best["document_name"] == "heron.md"
    assert best["vector_score"] is not None
    assert best["fused_score"] > 0
    assert "text_score" in best


def test_a_grounded_answer_cites_the_uploaded_document(alice: httpx.Client):
    upload(alice, "heron.md", NOTE.encode())
    body = {
        "model": "smollm2-135m",
        "message": "How long does the battery of Project Heron last?",
        "use_documents": True,
        "parameters": {"max_new_tokens": 30, "temperature": 0},
    }
    with alice.stream("POST", "/chat", json=body) as response:
        events = [json.loads(line) for line in response.iter_lines() if line]
    sources = next(e for e in events if e["type"] == "sources")["sources"]
    assert sources[0]["document_name"] == "heron.md"
    assert events[-1]["type"] == "done"
    saved = alice.get(f"/sessions/{events[0]['session_id']}").json()["messages"][-1]
    assert saved["sources"][0]["document_name"] == "heron.md"


def test_bad_files_get_a_clear_error_and_change_nothing(bob: httpx.Client):
    before = bob.get("/documents").json()
    empty = upload(bob, "empty.txt", b"")
    assert empty.status_code == 422
    assert empty.json()["error"]["code"] == "empty_document"
    unsupported = upload(bob, "program.exe", b"MZ\x90\x00binary")
    assert unsupported.status_code == 415
    binary = upload(bob, "notes.txt", bytes(range(256)) * 40)
    assert binary.status_code == 422
    assert binary.json()["error"]["code"] == "not_text"
    corrupt = upload(bob, "paper.pdf", b"%PDF-1.7 this is not really a pdf")
    assert corrupt.status_code == 422
    assert bob.get("/documents").json() == before


def test_private_documents_stay_private(alice: httpx.Client, bob: httpx.Client):
    document = ndjson(upload(alice, "secret-plan.md", b"# Secret plan\n\nThe vault code is 4711."))[-1][
        "document"
    ]
    assert document["id"] not in [doc["id"] for doc in bob.get("/documents").json()]
    found = bob.get("/documents/search", params={"q": "vault code"}).json()
    assert all(chunk["document_id"] != document["id"] for chunk in found)
    assert bob.delete(f"/documents/{document['id']}").status_code == 404
    assert alice.delete(f"/documents/{document['id']}").status_code == 204
    assert document["id"] not in [doc["id"] for doc in alice.get("/documents").json()]
