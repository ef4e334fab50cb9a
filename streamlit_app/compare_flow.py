"""The compare page's state (keys `cmp_*`): the lanes side by side, their rounds, the round being
answered, and votes. The lanes are what the API says they are (session events, conversations,
vote results); an arena's hidden models stay hidden until the vote's lanes reveal them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import streamlit as st

from chatbot.api.requests import CompareRequest, VoteRequest
from chatbot.api.sessions import Conversation
from chatbot.models.events import LaneView
from streamlit_app.api import ApiError, ChatApi
from streamlit_app.live import LiveTurn
from streamlit_app.transcript import Shown
from streamlit_app.widgets import history

KEY_SESSION = "cmp_session_id"
KEY_KIND = "cmp_kind"
KEY_LANES = "cmp_lanes"
KEY_ROUNDS = "cmp_rounds"
KEY_LIVE = "cmp_live"
KEY_REVEALED = "cmp_revealed"
KEY_ERROR = "cmp_error"
KEY_VOTE_ERROR = "cmp_vote_error"
#: The preset the open comparison was started with (issue 21), for the preset picker.
KEY_OPENED_PRESET = "cmp_opened_preset"

#: What a two-pane vote's choice is called on its button and afterwards.
TWO_LANE_WORDS = {"left": "A is better", "right": "B is better", "tie": "Tie", "both_bad": "Both are bad"}


@dataclass
class Round:
    """One prompt and every lane's answer to it."""

    prompt: str
    #: The prompt's seq: votes name rounds by it. None when the request failed.
    number: int | None
    answers: dict[str, Shown] = field(default_factory=dict)
    #: The vote given, in words; None until then.
    verdict: str | None = None

    @property
    def complete(self) -> bool:
        return self.number is not None and bool(self.answers)


def session_id() -> str | None:
    return st.session_state.get(KEY_SESSION)


def kind() -> str | None:
    return st.session_state.get(KEY_KIND)


def lanes() -> list[LaneView]:
    """The session's lanes, as the API last described them."""
    return st.session_state.get(KEY_LANES, [])


def lane_models() -> list[str]:
    """The models shown in the lanes (none while an arena hides them)."""
    return [lane.model for lane in lanes() if lane.model]


def rounds() -> list[Round]:
    return st.session_state.setdefault(KEY_ROUNDS, [])


def live() -> LiveTurn | None:
    return st.session_state.get(KEY_LIVE)


def revealed() -> bool:
    return bool(st.session_state.get(KEY_REVEALED))


def arena_over() -> bool:
    """An arena round ends with its vote: the next prompt starts a new round with new models."""
    return kind() == "arena" and revealed()


def reset() -> None:
    for key in (
        KEY_SESSION,
        KEY_KIND,
        KEY_LANES,
        KEY_ROUNDS,
        KEY_LIVE,
        KEY_REVEALED,
        KEY_ERROR,
        KEY_OPENED_PRESET,
    ):
        st.session_state.pop(key, None)
    st.session_state.pop(KEY_VOTE_ERROR, None)


def load(api: ChatApi, opened: str) -> None:
    """Show a compare or arena session from the history. Raises ApiError."""
    conversation = api.conversation(opened)
    reset()
    _adopt(conversation)
    st.session_state[KEY_OPENED_PRESET] = conversation.session.preset


def opened_preset() -> str | None:
    """The preset the comparison shown last was started with (None: none)."""
    return st.session_state.get(KEY_OPENED_PRESET)


def _adopt(conversation: Conversation) -> None:
    session = conversation.session
    state = st.session_state
    state[KEY_SESSION], state[KEY_KIND] = session.id, session.kind
    state[KEY_LANES] = list(conversation.lanes)
    state[KEY_REVEALED] = conversation.revealed
    by_number: dict[int, Round] = {}
    for message in conversation.messages:
        if message.role == "user":
            # A round voted on earlier takes no second vote (the API would refuse it).
            verdict = "already given" if message.seq in conversation.voted_rounds else None
            by_number[message.seq] = Round(prompt=message.content, number=message.seq, verdict=verdict)
            rounds().append(by_number[message.seq])
        elif message.reply_to in by_number and message.lane:
            by_number[message.reply_to].answers[message.lane] = Shown.from_stored(message)


def start_turn(
    api: ChatApi,
    prompt: str,
    *,
    models: list[str],
    arena: bool,
    lane_count: int,
    parameters: dict[str, Any],
    streaming: bool,
    preset: str | None = None,
) -> None:
    """Send one prompt to every lane; a worker reads the multiplexed stream. `preset`: its
    system prompt and parameters apply to every lane (each keeps its own model)."""
    st.session_state.pop(KEY_ERROR, None)
    st.session_state.pop(KEY_VOTE_ERROR, None)
    common: dict[str, Any] = {
        "message": prompt,
        "parameters": parameters,
        "streaming": streaming,
        "preset": preset,
    }
    if session_id():
        request = CompareRequest(session_id=session_id(), **common)
    elif arena:
        request = CompareRequest(arena=True, lanes=lane_count, **common)
    else:
        request = CompareRequest(models=models, **common)
    turn = LiveTurn(prompt)
    turn.start(lambda: api.compare(request), api.stop)
    state = st.session_state
    state[KEY_LIVE] = turn
    if not session_id():
        state[KEY_KIND], state[KEY_REVEALED] = ("arena", False) if arena else ("compare", True)


def live_lanes(turn: LiveTurn, timeout_s: float = 30.0) -> list[LaneView]:
    """The lanes of the turn being answered, once its session event has named them."""
    turn.wait_started(timeout_s)
    if turn.lanes:
        st.session_state[KEY_LANES] = list(turn.lanes)
    return turn.lanes


def absorb_finished() -> None:
    """Once every lane has ended, the round joins the session (called at the top of each run)."""
    turn = live()
    if turn is None or not turn.finished:
        return
    state = st.session_state
    state.pop(KEY_LIVE)
    if turn.failure is not None:
        state[KEY_ERROR] = turn.failure
        if not session_id():  # nothing was started: back to picking models
            for key in (KEY_LANES, KEY_KIND, KEY_REVEALED):
                state.pop(key, None)
        return
    state[KEY_SESSION], state[KEY_LANES] = turn.session_id, list(turn.lanes)
    snapshot = turn.snapshot()
    answers = {str(lane): Shown.from_answer(answer, reply_to=turn.round) for lane, answer in snapshot.items()}
    rounds().append(Round(prompt=turn.prompt, number=turn.round, answers=answers))
    history.invalidate()


def can_vote() -> bool:
    last = rounds()[-1] if rounds() else None
    return live() is None and last is not None and last.complete and last.verdict is None and not arena_over()


def vote(api: ChatApi, choice: str, best_lane: str | None = None) -> None:
    """Judge the last round; an arena vote reveals the models."""
    last = rounds()[-1]
    request = VoteRequest(
        session_id=str(session_id()), round=int(last.number or 1), choice=choice, best_lane=best_lane
    )
    try:
        outcome = api.vote(request)
    except ApiError as exc:
        st.session_state[KEY_VOTE_ERROR] = f"The vote was not counted: {exc}"
        return
    st.session_state.pop(KEY_VOTE_ERROR, None)
    last.verdict = verdict_words(choice, best_lane)
    st.session_state[KEY_LANES] = list(outcome.lanes)
    if kind() == "arena":
        st.session_state[KEY_REVEALED] = True
        models = {lane.id: lane.model for lane in outcome.lanes}
        for answer_lane, answer in list(last.answers.items()):
            last.answers[answer_lane] = replace(answer, model=models.get(answer_lane))


def verdict_words(choice: str, best_lane: str | None) -> str:
    if choice == "best" and best_lane:
        label = next((lane.label for lane in lanes() if lane.id == best_lane), best_lane)
        return f"{label} is best"
    return TWO_LANE_WORDS.get(choice, "All are bad" if choice == "all_bad" else choice)


def stop_lane(turn: LiveTurn, lane: str | None) -> None:
    turn.request_stop(lane)
