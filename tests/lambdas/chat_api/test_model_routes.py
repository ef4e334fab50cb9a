"""Models and presets at runtime (issue 21), through the real app over scripted models: an
administrator switches deployed models and publishes presets; each caller lists and calls only
what their roles may use (chat, each compare and arena lane, /v1), and is told so otherwise.
The settings and the audit log are kept in the real Postgres."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient

from chatbot.api.local_tokens import local_secret
from chatbot.api.users import UsersFile
from chatbot.chat.service import ChatService
from chatbot.models.catalog import ModelCatalog
from chatbot.postgres import create_database
from lambdas.chat_api.app import create_app
from lambdas.chat_api.auth import LocalTokens
from tests.scripted_endpoint import Scripts

SMALL, GEMMA, BEDROCK = "smollm2-135m", "gemma3-270m", "smollm2-135m-bedrock"
_databases = itertools.count()


class Clients:
    """One app, and a signed-in client per person: root (the administrator), alice, and bea
    (whose token carries the group `research`)."""

    def __init__(self, app, tmp_path: Path):
        tokens = LocalTokens(local_secret(tmp_path / "secret"))
        self.scripts = Scripts({SMALL: ["Paris", "."], GEMMA: ["Hi", "!"]})
        self.root = self._client(app, tokens.issue("root", roles=("admin",)))
        self.alice = self._client(app, tokens.issue("alice"))
        self.bea = self._client(app, tokens.issue("bea", roles=("research",)))

    def _client(self, app, token: str) -> TestClient:
        client = TestClient(app)
        client.headers["Authorization"] = f"Bearer {token}"
        return client


@pytest.fixture
def people(monkeypatch, tmp_path: Path, postgres_server_url: str, catalog: ModelCatalog) -> Iterator[Clients]:
    database = create_database(postgres_server_url, f"model_routes_{next(_databases)}")
    users = UsersFile(tmp_path / "users.yaml")
    for name in ("root", "alice", "bea"):  # the first is an administrator
        users.add(name, f"{name}s password")
    for name, value in {
        "CHATBOT_MODELS_FILE": "models.yaml",
        "DATABASE_URL": database,
        "CHATBOT_LOCAL_SECRET_FILE": str(tmp_path / "secret"),
        "CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"),
        "CHATBOT_DOCUMENTS": "off",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SAGEMAKER_ENDPOINT_URL", raising=False)
    app = create_app()
    with TestClient(app):
        people = Clients(app, tmp_path)
        app.state.service = ChatService(catalog, people.scripts, app.state.service.store)
        yield people


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [model["name"] for model in response.json()]


def ndjson(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line]


def switch(people: Clients, model: str, **settings) -> None:
    response = people.root.put(f"/admin/models/{model}", json=settings)
    assert response.status_code == 200, response.text


def test_an_administrator_switches_a_model_off_and_a_user_no_longer_sees_or_calls_it(people: Clients):
    assert GEMMA in names(people.alice.get("/models"))
    switch(people, GEMMA, enabled=False)

    assert names(people.alice.get("/models")) == [SMALL, BEDROCK]
    refused = people.alice.post("/chat", json={"model": GEMMA, "message": "Hi"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert "may not use the model 'gemma3-270m'" in refused.json()["error"]["message"]
    lane = people.alice.post("/compare", json={"models": [SMALL, GEMMA], "message": "Hi"})
    assert (lane.status_code, lane.json()["error"]["code"]) == (403, "model_not_allowed")
    assert "the model of pane Model B" in lane.json()["error"]["message"]
    assert people.alice.get("/sessions").json()["sessions"] == [], "a refused request saves nothing"
    gemma_calls = people.scripts.endpoints[GEMMA].calls  # prepared (a lazy stream), never started
    assert not any(call.started.is_set() for call in gemma_calls), "the model was never asked"

    switch(people, GEMMA, enabled=True)
    assert GEMMA in names(people.alice.get("/models")), "switched on again, at once on this instance"


def test_v1_lists_and_answers_only_the_models_the_caller_may_use_in_openais_shape(people: Clients):
    switch(people, GEMMA, enabled=False)
    client = openai.OpenAI(
        base_url=f"{people.alice.base_url}/v1",
        api_key=people.alice.headers["Authorization"].removeprefix("Bearer "),
        http_client=people.alice,
        max_retries=0,
    )
    assert [model.id for model in client.models.list()] == [SMALL, BEDROCK]
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model=GEMMA, messages=[{"role": "user", "content": "Hi"}])
    assert refused.value.body["code"] == "model_not_allowed"
    assert refused.value.body["type"] == "permission_error"
    answer = client.chat.completions.create(model=SMALL, messages=[{"role": "user", "content": "Hi"}])
    assert answer.choices[0].message.content == "Paris."


def test_a_model_published_to_a_group_is_listed_and_answered_for_its_members_only(people: Clients):
    switch(people, BEDROCK, roles=["research"])
    assert BEDROCK in names(people.bea.get("/models"))
    assert BEDROCK not in names(people.alice.get("/models"))
    assert people.alice.post("/chat", json={"model": BEDROCK, "message": "Hi"}).status_code == 403
    assert people.bea.post("/chat", json={"model": BEDROCK, "message": "Hi"}).status_code == 200


def test_the_arena_draws_only_from_the_models_the_caller_may_use(people: Clients):
    switch(people, BEDROCK, enabled=False)
    for _ in range(3):
        events = ndjson(people.alice.post("/compare", json={"arena": True, "lanes": 2, "message": "Hi"}))
        assert {e["model"] for e in events if e["type"] == "start"} == {"Model A", "Model B"}
    drawn = {name for name, endpoint in people.scripts.endpoints.items() if endpoint.calls}
    assert drawn == {SMALL, GEMMA}
    switch(people, GEMMA, enabled=False)
    too_few = people.alice.post("/compare", json={"arena": True, "lanes": 2, "message": "Hi"})
    assert too_few.status_code == 422
    assert "only 1 are available" in too_few.json()["error"]["message"]


def test_an_arena_whose_hidden_model_was_switched_off_is_refused_without_naming_it(people: Clients):
    switch(people, BEDROCK, enabled=False)
    events = ndjson(people.alice.post("/compare", json={"arena": True, "lanes": 2, "message": "Hi"}))
    session_id = events[0]["session_id"]
    switch(people, GEMMA, enabled=False)  # one of the two it drew
    refused = people.alice.post("/compare", json={"session_id": session_id, "message": "And then?"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "model_not_allowed")
    message = refused.json()["error"]["message"]
    assert GEMMA not in message, "the arena's models stay hidden until the vote"
    assert SMALL not in message, "nor does a list of the others give them away"
    assert "pane Model" in message


def test_the_default_model_is_marked_and_one_model_at_a_time_is_the_default(people: Clients):
    switch(people, GEMMA, default=True)
    switch(people, BEDROCK, default=True)
    listed = people.alice.get("/models").json()
    assert [m["name"] for m in listed if m["default"]] == [BEDROCK]
    settings = people.root.get("/admin/models").json()
    assert [(m["name"], m["default"]) for m in settings] == [(SMALL, False), (GEMMA, False), (BEDROCK, True)]


def test_only_an_administrator_reads_or_changes_models_and_presets(people: Clients):
    for method, path, body in [
        ("GET", "/admin/models", None),
        ("PUT", f"/admin/models/{GEMMA}", {"enabled": False}),
        ("GET", "/admin/presets", None),
        ("PUT", "/admin/presets/Tutor", {"model": SMALL}),
        ("DELETE", "/admin/presets/Tutor", None),
    ]:
        response = people.alice.request(method, path, json=body)
        assert response.status_code == 403, (method, path)
    assert GEMMA in names(people.alice.get("/models")), "nothing changed"


def test_admin_changes_are_checked_against_the_deployed_models(people: Clients):
    unknown = people.root.put("/admin/models/not-deployed", json={"enabled": True})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_model")
    hot = people.root.put("/admin/presets/Hot", json={"model": SMALL, "parameters": {"temperature": 9}})
    assert hot.status_code == 422
    for bad in ("%20lead", "lead%0A"):  # a space first; a newline last (where `$` alone matches)
        bad_name = people.root.put(f"/admin/presets/{bad}", json={"model": SMALL})
        assert bad_name.status_code == 422, bad_name.text
    assert people.root.get("/admin/presets").json() == []


def test_a_chosen_preset_gives_its_system_prompt_and_parameters_and_is_saved_with_the_chat(people: Clients):
    tutor = {
        "model": SMALL,
        "system_prompt": "Answer like a patient tutor.",
        "parameters": {"temperature": 0.3},
    }
    assert people.root.put("/admin/presets/Tutor", json=tutor).status_code == 200
    lab = {"model": GEMMA, "roles": ["research"]}
    assert people.root.put("/admin/presets/Lab", json=lab).status_code == 200

    assert [p["name"] for p in people.alice.get("/presets").json()] == ["Tutor"]
    assert [p["name"] for p in people.bea.get("/presets").json()] == ["Lab", "Tutor"]

    events = ndjson(people.alice.post("/chat", json={"model": SMALL, "message": "Hi", "preset": "Tutor"}))
    session_id = events[0]["session_id"]
    assert people.alice.get(f"/sessions/{session_id}").json()["session"]["preset"] == "Tutor"
    call = people.scripts.endpoints[SMALL].calls[-1]
    assert call.params.temperature == 0.3
    assert "Answer like a patient tutor." in json.dumps(call.prompt)

    not_hers = people.alice.post("/chat", json={"model": GEMMA, "message": "Hi", "preset": "Lab"})
    assert (not_hers.status_code, not_hers.json()["error"]["code"]) == (404, "preset_not_found")


def test_a_deleted_preset_is_gone_and_every_change_is_in_the_audit_log(people: Clients):
    people.root.put("/admin/presets/Tutor", json={"model": SMALL})
    assert people.root.get("/admin/presets/Tutor").json()["model"] == SMALL
    assert people.root.delete("/admin/presets/Tutor").status_code == 204
    assert people.root.get("/admin/presets/Tutor").status_code == 404
    assert people.root.delete("/admin/presets/Tutor").status_code == 404
    switch(people, GEMMA, enabled=False)

    audit = people.root.get("/admin/audit").json()
    changes = [
        (e["actor"], e["action"], e["target"]) for e in audit if e["target"].startswith(("model:", "preset:"))
    ]
    assert changes == [
        ("root", "set_model", f"model:{GEMMA}"),
        ("root", "delete_preset", "preset:Tutor"),
        ("root", "set_preset", "preset:Tutor"),
    ], "newest first"
