"""Votes on compare and arena rounds, and the leaderboard built from arena votes."""

from __future__ import annotations

from chatbot.api.records import AnswerFigures, Lane, Message, Vote, is_imported_session
from chatbot.api.requests import VoteRequest
from chatbot.api.sessions import VoteResult
from chatbot.chat import arena
from chatbot.chat.cells import ArenaCounts
from chatbot.chat.costs import Hosting, ModelCost, model_cost
from chatbot.chat.fit_store import StoredFit
from chatbot.chat.leaderboard import Leaderboard, leaderboard_from_counts, with_retired
from chatbot.chat.leaderboard_cache import SharedLeaderboard
from chatbot.chat.store import HistoryStore
from chatbot.chat.style import categorize, markdown_counts
from chatbot.chat.vote_rules import VoteRules, identity_leak_reason, leaked_identity
from chatbot.errors import InvalidRequestError
from chatbot.models.catalog import ModelCatalog

TWO_LANE_CHOICES = frozenset({"left", "right", "tie", "both_bad"})
MANY_LANE_CHOICES = frozenset({"best", "all_bad"})


class Votes:
    def __init__(
        self,
        store: HistoryStore,
        catalog: ModelCatalog,
        *,
        rules: VoteRules | None = None,
        hosting: Hosting = "local",
    ):
        self.store = store
        self.catalog = catalog
        self.rules = rules or VoteRules()
        self.hosting: Hosting = hosting
        self.board = SharedLeaderboard(
            store,
            self.fresh_leaderboard,
            fit_categories=self.fresh_category_boards,
            fit_all=self.fresh_boards,
        )
        #: Whether this process has made sure the counters hold the votes of older releases.
        self._backfilled = False

    def vote(self, user_id: str, request: VoteRequest) -> VoteResult:
        session = self.store.get_session(user_id, request.session_id)
        if session.kind == "chat":
            raise InvalidRequestError("Votes are for compare and arena sessions.")
        messages = self.store.list_messages(user_id, session.id)
        if not any(m.seq == request.round and m.role == "user" for m in messages):
            raise InvalidRequestError(f"Round {request.round} is not a prompt of this session.")
        answers = {m.lane: m for m in messages if m.role == "assistant" and m.reply_to == request.round}
        lane_ids = [lane.id for lane in session.lanes]
        if set(answers) != set(lane_ids):
            raise InvalidRequestError("Wait until every pane has finished before voting.")
        _check_choice(request, lane_ids)
        vote = self.store.add_vote(
            Vote(
                session_id=session.id,
                round=request.round,
                user_id=user_id,
                choice=request.choice,
                best_lane=request.best_lane,
                models=[lane.model for lane in session.lanes],
                lanes=lane_ids,
                # Blind only on a round this server ran, with models it drew and hid; an
                # imported session's rounds (and models, and answers) are the importer's.
                anonymous=session.kind == "arena" and not is_imported_session(session.id),
                answers=[figures_of(answers[lane.id]) for lane in session.lanes],
                void_reason=self._identity_leak(session.lanes, answers),
                category=categorize(
                    next((m.content for m in messages if m.seq == request.round and m.role == "user"), None)
                ),
            ),
            max_per_pair_per_day=self.rules.max_votes_per_pair_per_day,
        )
        if vote.anonymous:
            self.board.votes_arrived()
        lanes = arena.lane_views(session, hidden=False)
        return VoteResult(vote=vote, lanes=lanes, models={str(lane.id): str(lane.model) for lane in lanes})

    def leaderboard(self, category: str | None = None) -> Leaderboard:
        """The stored fit (refitted in the background as votes arrive, by one instance at a time),
        of every vote or of one category's, its models that left the catalog marked retired."""
        return with_retired(self.board.get(category), self.catalog.names)

    def refit(self) -> StoredFit | None:
        """One refit now, stored for every instance (the schedule's); None if one is under way."""
        return self.board.refit()

    def fresh_leaderboard(self) -> Leaderboard:
        """A fit of the arena's counters now: one read of the cells, whatever the number of votes."""
        return leaderboard_from_counts(self._counts(), cost_of=self.cost_of)

    def fresh_category_boards(self, counts: ArenaCounts | None = None) -> dict[str, Leaderboard]:
        """A fit per category of prompts (chatbot/chat/style.py), from one read of the counters."""
        if counts is None:
            counts = self._counts()
        return {
            category: leaderboard_from_counts(counts, cost_of=self.cost_of, category=category)
            for category in counts.categories()
        }

    def fresh_boards(self) -> tuple[Leaderboard, dict[str, Leaderboard]]:
        """The board of every vote and each category's, from one read of the counters (a refit)."""
        counts = self._counts()
        return leaderboard_from_counts(counts, cost_of=self.cost_of), self.fresh_category_boards(counts)

    def _counts(self) -> ArenaCounts:
        if not self._backfilled:  # once per process: a marker read once the store is backfilled
            self.store.backfill_arena_counts()
            self._backfilled = True
        return self.store.arena_counts()

    def cost_of(self, model: str, tokens_per_s: float | None) -> ModelCost:
        spec = self.catalog.get(model) if model in self.catalog.names else None
        return model_cost(spec, self.hosting, tokens_per_s)

    def _identity_leak(self, lanes: list[Lane], answers: dict[str | None, Message]) -> str | None:
        for lane in lanes:
            model_id = self.catalog.get(lane.model).model_id if lane.model in self.catalog.names else None
            term = leaked_identity(answers[lane.id].content, lane.model, model_id)
            if term is not None:
                return identity_leak_reason(arena.lane_label(lane.id), term)
        return None


def figures_of(message: Message) -> AnswerFigures:
    headers, list_items, bold = markdown_counts(message.content)
    return AnswerFigures(
        chars=len(message.content),
        headers=headers,
        list_items=list_items,
        bold=bold,
        completion_tokens=message.usage.completion_tokens if message.usage else None,
        ttft_ms=message.metrics.ttft_ms if message.metrics else None,
        tokens_per_s=message.metrics.tokens_per_s if message.metrics else None,
    )


def _check_choice(request: VoteRequest, lanes: list[str]) -> None:
    allowed = TWO_LANE_CHOICES if len(lanes) == 2 else MANY_LANE_CHOICES
    if request.choice not in allowed:
        raise InvalidRequestError(f"With {len(lanes)} panes, vote one of: {', '.join(sorted(allowed))}.")
    if request.choice == "best" and request.best_lane not in lanes:
        raise InvalidRequestError(f"Name the best pane: one of {', '.join(lanes)}.")
