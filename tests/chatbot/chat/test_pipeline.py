"""One generation pipeline: a chat, each lane of a compare or an arena, and a /v1 call run the
same admit, generate, settle and save code (spied on here), with a scripted model and a real
Postgres store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from chatbot.api.requests import ChatRequest, CompareRequest
from chatbot.chat.completions import CompletionMessage, CompletionRequest
from chatbot.chat.pipeline import Admission, Generation, Grant, Pipeline, Settled
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.service import ChatService
from chatbot.models.catalog import ModelCatalog
from chatbot.models.events import DoneEvent
from tests.scripted_endpoint import ScriptedEndpoint

STAGES = ("admit", "generate", "settle", "save")


@pytest.fixture
def service(catalog: ModelCatalog, postgres_store: PostgresHistoryStore) -> ChatService:
    return ChatService(catalog, ScriptedEndpoint, postgres_store)


@pytest.fixture
def stages(monkeypatch) -> Counter:
    """How often each stage of the one Pipeline class ran, counted by wrapping its methods."""
    runs: Counter = Counter()
    for stage in STAGES:
        original = getattr(Pipeline, stage)

        def spy(self, *args, _stage=stage, _original=original, **kwargs):
            runs[_stage] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Pipeline, stage, spy)
    return runs


class Recorded(Admission):
    """An admission that records what it is asked and told, as a quota would be."""

    def __init__(self) -> None:
        self.admitted: list[list[str | None]] = []
        self.settled: list[tuple[str | None, Settled]] = []
        self.ended = 0

    def admit(self, user_id: str, generations: Sequence[Generation]) -> Grant:
        self.admitted.append([generation.lane for generation in generations])
        recorded = self

        class Told(Grant):
            def settle(self, generation: Generation, settled: Settled) -> None:
                recorded.settled.append((generation.lane, settled))

            def end(self) -> None:
                recorded.ended += 1

        return Told()


def test_a_chat_runs_each_stage_once(service: ChatService, stages: Counter):
    admission = Recorded()
    events = list(
        service.chat("alice", ChatRequest(model="smollm2-135m", message="Hi"), admissions=[admission])
    )
    assert isinstance(events[-1], DoneEvent)
    assert stages == dict.fromkeys(STAGES, 1)
    assert admission.admitted == [[None]]
    assert [lane for lane, _ in admission.settled] == [None]
    assert admission.ended == 1


@pytest.mark.parametrize("arena", [False, True], ids=["compare", "arena"])
def test_each_lane_of_a_comparison_runs_generate_settle_and_save_once(
    service: ChatService, stages: Counter, arena: bool
):
    admission = Recorded()
    request = (
        CompareRequest(arena=True, lanes=2, message="Hi")
        if arena
        else CompareRequest(models=["smollm2-135m", "gemma3-270m", "smollm2-135m"], message="Hi")
    )
    events = list(service.compare("alice", request, admissions=[admission]))
    lanes = ["a", "b"] if arena else ["a", "b", "c"]
    assert sorted(event.lane for event in events if isinstance(event, DoneEvent)) == lanes
    # One admission for the request (every lane's leases or reservation in one atomic step) ...
    assert stages["admit"] == 1
    assert admission.admitted == [lanes]
    # ... then each lane generates, settles and is saved once.
    assert (stages["generate"], stages["settle"], stages["save"]) == (len(lanes),) * 3
    assert sorted(lane for lane, _ in admission.settled) == lanes
    assert admission.ended == 1


def test_a_v1_call_runs_each_stage_once_and_is_saved_only_when_asked(service: ChatService, stages: Counter):
    admission = Recorded()
    request = CompletionRequest(
        model="gemma3-270m", messages=[CompletionMessage(role="user", content="Hi")], save=True
    )
    events = list(service.completions().start("alice", request, admissions=[admission]))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert stages == dict.fromkeys(STAGES, 1)
    assert admission.settled[0][1].billable == done.usage
    [session] = service.list_sessions("alice").sessions
    assert [m.role for m in service.get_conversation("alice", session.id).messages] == ["user", "assistant"]
