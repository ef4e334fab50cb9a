"""Battles: the arena's votes as a JSONL file anyone can re-rank, and the command that does it.

    python -m chatbot.chat.battles export FILE   # every arena vote in the store, one per line
                                                 # (and chat feedback: chatbot/chat/feedback_export.py)
    python -m chatbot.chat.battles rank FILE     # the leaderboard, recomputed from the file
    python -m chatbot.chat.battles import FILE   # an administrator adds a file's votes to the store

The store is the chat API's (CHATBOT_HISTORY_TABLE for DynamoDB, else Postgres from
DATABASE_URL or the embedded server). One JSON object per line, per vote:

| field | meaning |
|---|---|
| `model_a`, `model_b`, `winner` | FastChat's and lmarena's battle fields (two-pane votes): `winner` is `model_a`, `model_b`, `tie` or `tie (bothbad)`; null for votes on 3-4 panes |
| `conversation_a`, `conversation_b` | FastChat's: the prompt and each answer as `[{role, content}]` (two-pane votes) |
| `judge`, `anony`, `tstamp`, `turn` | FastChat's: who voted (a hash of the user id), blind (arena), Unix time, the round |
| `question_id` | `session_id#round`: one vote per round, so importing a file twice adds nothing |
| `session_id`, `round`, `choice`, `best_lane` | the vote as cast (`left`, `right`, `tie`, `both_bad`, `best`, `all_bad`); an imported vote's session is `battle:<the file's session_id>` |
| `models`, `lanes` | every pane's model and lane id, in pane order |
| `prompt` | the message the panes answered |
| `answers` | per pane: `lane`, `model`, `text`, `status`, `parameters`, `usage`, `metrics`, `chars` |
| `created_at` | when the vote was cast (ISO 8601, UTC) |
| `counted`, `void_reason` | whether the leaderboard counts the vote, and if not, why |
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatbot.api.records import AnswerFigures, Message, Vote, VoteChoice
from chatbot.chat.chat_store import ChatStore
from chatbot.chat.leaderboard import Leaderboard, build_leaderboard, counted_votes
from chatbot.chat.store import HistoryStore, SessionNotFoundError
from chatbot.chat.vote_rules import IDENTITY_LEAK, VoteRules, void_reasons
from chatbot.errors import InvalidRequestError
from chatbot.models.events import Metrics, Usage

FASTCHAT_WINNERS = {"left": "model_a", "right": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


class BattleAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lane: str
    model: str
    text: str | None = None
    status: str = "complete"
    parameters: dict[str, Any] | None = None
    usage: Usage | None = None
    metrics: Metrics | None = None
    chars: int = 0


class Battle(BaseModel):
    """One line of a battles file (extra fields, from FastChat's files for instance, are ignored)."""

    model_config = ConfigDict(extra="ignore")

    question_id: str
    model_a: str | None = None
    model_b: str | None = None
    winner: str | None = None
    conversation_a: list[dict[str, str]] | None = None
    conversation_b: list[dict[str, str]] | None = None
    judge: str
    anony: bool = True
    tstamp: float
    turn: int
    session_id: str
    round: int
    choice: VoteChoice
    best_lane: str | None = None
    models: list[str]
    lanes: list[str]
    prompt: str | None = None
    answers: list[BattleAnswer] = Field(default_factory=list)
    created_at: str
    counted: bool = True
    void_reason: str | None = None

    def to_vote(self) -> Vote:
        """The vote as the store keeps it; only an identity leak is carried over as a reason
        (the daily limit is worked out again from the votes themselves)."""
        leak = self.void_reason if self.void_reason and self.void_reason.startswith(IDENTITY_LEAK) else None
        answers = [
            AnswerFigures(
                chars=answer.chars,
                completion_tokens=answer.usage.completion_tokens if answer.usage else None,
                ttft_ms=answer.metrics.ttft_ms if answer.metrics else None,
                tokens_per_s=answer.metrics.tokens_per_s if answer.metrics else None,
            )
            for answer in self.answers
        ]
        return Vote(
            session_id=self.session_id,
            round=self.round,
            user_id=self.judge,
            choice=self.choice,
            best_lane=self.best_lane,
            models=self.models,
            lanes=self.lanes,
            anonymous=self.anony,
            answers=answers,
            void_reason=leak,
            created_at=self.created_at,
        )


def judge_of(user_id: str) -> str:
    """Who voted, without saying who: the same user always gets the same judge."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


def battles(store: HistoryStore, rules: VoteRules) -> Iterator[Battle]:
    """Every arena vote, oldest first, with its prompt and answers where the session still exists."""
    votes = sorted(store.list_votes(anonymous_only=True), key=lambda vote: vote.created_at)
    for vote, reason in zip(votes, void_reasons(votes, rules), strict=True):
        yield battle_of(vote, _messages(store, vote), reason)


def _messages(store: HistoryStore, vote: Vote) -> list[Message]:
    try:
        return store.list_messages(vote.user_id, vote.session_id)
    except SessionNotFoundError:
        return []  # deleted since, or imported: the vote's own figures remain


def battle_of(vote: Vote, messages: Sequence[Message], void_reason: str | None) -> Battle:
    prompt = next((m.content for m in messages if m.role == "user" and m.seq == vote.round), None)
    replies = {m.lane: m for m in messages if m.role == "assistant" and m.reply_to == vote.round}
    answers = []
    for index, (lane, model) in enumerate(zip(vote.lanes, vote.models, strict=True)):
        figures = vote.answers[index] if index < len(vote.answers) else None
        reply = replies.get(lane)
        answers.append(
            BattleAnswer(
                lane=lane,
                model=model,
                text=reply.content if reply else None,
                status=reply.status if reply else "complete",
                parameters=reply.parameters if reply else None,
                usage=reply.usage
                if reply
                else Usage(completion_tokens=figures and figures.completion_tokens),
                metrics=reply.metrics if reply else _metrics(figures),
                chars=figures.chars if figures else len(reply.content) if reply else 0,
            )
        )
    two = len(vote.models) == 2
    return Battle(
        question_id=f"{vote.session_id}#{vote.round}",
        model_a=vote.models[0] if two else None,
        model_b=vote.models[1] if two else None,
        winner=FASTCHAT_WINNERS.get(vote.choice) if two else None,
        conversation_a=_conversation(prompt, answers[0]) if two else None,
        conversation_b=_conversation(prompt, answers[1]) if two else None,
        judge=judge_of(vote.user_id),
        anony=vote.anonymous,
        tstamp=vote.created_at.timestamp(),
        turn=vote.round,
        session_id=vote.session_id,
        round=vote.round,
        choice=vote.choice,
        best_lane=vote.best_lane,
        models=vote.models,
        lanes=vote.lanes,
        prompt=prompt,
        answers=answers,
        created_at=vote.created_at.isoformat(),
        counted=void_reason is None,
        void_reason=void_reason,
    )


def _metrics(figures: AnswerFigures | None) -> Metrics | None:
    if figures is None or figures.ttft_ms is None:
        return None
    return Metrics(ttft_ms=figures.ttft_ms, tokens_per_s=figures.tokens_per_s, total_ms=0)


def _conversation(prompt: str | None, answer: BattleAnswer) -> list[dict[str, str]] | None:
    if prompt is None or answer.text is None:
        return None
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer.text}]


def write_battles(lines: Iterable[Battle], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for battle in lines:
            out.write(battle.model_dump_json() + "\n")
            count += 1
    return count


def read_battles(lines: Iterable[str]) -> list[Battle]:
    """Battles from JSONL text; a bad line is an error naming its line number."""
    read = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            read.append(Battle.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            raise InvalidRequestError(
                f"Line {number} of the battles file is not a battle ({where}: {first['msg']}). "
                "Each line must be one JSON object as `python -m chatbot.chat.battles export` writes."
            ) from None
    return read


def rank(battle_lines: Sequence[Battle], rules: VoteRules) -> Leaderboard:
    return build_leaderboard([battle.to_vote() for battle in battle_lines], rules=rules)


#: Imported battles' votes are kept under session ids of their own ("battle:<the file's id>"):
#: a line naming a live session here must neither reveal its arena (a vote reveals it) nor take
#: the vote of its round.
IMPORTED_SESSION_PREFIX = "battle:"


def imported_session(session_id: str) -> str:
    """The session id an imported vote is kept under (the same when imported again)."""
    return (
        session_id if session_id.startswith(IMPORTED_SESSION_PREFIX) else IMPORTED_SESSION_PREFIX + session_id
    )


def import_battles(store: HistoryStore, battle_lines: Sequence[Battle]) -> int:
    """Adds the battles' votes to the store, apart from every live session; a vote already there
    is skipped: one imported before, or this store's own (a file exported from it)."""
    here = {(vote.session_id, vote.round) for vote in store.list_votes(anonymous_only=False)}
    votes = [battle.to_vote() for battle in battle_lines if (battle.session_id, battle.round) not in here]
    return store.add_votes(
        [vote.model_copy(update={"session_id": imported_session(vote.session_id)}) for vote in votes]
    )


def ranking_table(board: Leaderboard) -> str:
    rows = [
        f"{'rank':>4}  {'model':<24} {'BT':>7} {'95% CI':>15} {'style-ctl':>9} {'95% CI':>15} {'votes':>6}  status",
    ]
    for place, rating in enumerate(board.ratings, start=1):
        rows.append(
            f"{place:>4}  {rating.model:<24} {rating.bradley_terry:>7.1f} "
            f"{f'{rating.bt_lower:.0f}–{rating.bt_upper:.0f}':>15} {rating.style_controlled:>9.1f} "
            f"{f'{rating.sc_lower:.0f}–{rating.sc_upper:.0f}':>15} {rating.votes:>6}"
            f"  {'provisional' if rating.provisional else ''}"
        )
    voided = ", ".join(f"{count} {reason}" for reason, count in sorted(board.voided.items())) or "none"
    rows.append(f"{board.votes} votes counted; voided: {voided}")
    return "\n".join(rows)


def _open_store() -> ChatStore:
    """The chat API's store, from the same environment variables."""
    if table := os.environ.get("CHATBOT_HISTORY_TABLE"):
        from chatbot.chat.dynamodb_store import DynamoDBHistoryStore

        return DynamoDBHistoryStore(table, region=os.environ.get("AWS_REGION") or "us-east-1")
    from chatbot.chat.postgres_store import PostgresHistoryStore
    from chatbot.postgres import ConnectionPool, database_url

    return PostgresHistoryStore(ConnectionPool(database_url(), max_connections=2))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chatbot.chat.battles", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["export", "rank", "import"])
    parser.add_argument("file", type=Path)
    parser.add_argument(
        "--max-votes-per-pair-per-day", type=int, default=VoteRules().max_votes_per_pair_per_day
    )
    parser.add_argument("--json", action="store_true", help="rank: print the leaderboard as JSON")
    args = parser.parse_args(argv)
    rules = VoteRules(max_votes_per_pair_per_day=args.max_votes_per_pair_per_day)
    if args.command == "export":
        from chatbot.chat.feedback_export import feedback_path, write_feedback  # chat thumbs (issue 23)

        count = write_battles(battles(store := _open_store(), rules), args.file)
        thumbs = write_feedback(store, feedback_path(args.file))
        print(
            f"Wrote {count} battles to {args.file}, and {thumbs} answers' feedback to {feedback_path(args.file)}."
        )
        return 0
    if not args.file.exists():
        print(f"No such file: {args.file}. Write one with `export` first.", file=sys.stderr)
        return 2
    try:
        read = read_battles(args.file.read_text(encoding="utf-8").splitlines())
    except InvalidRequestError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "import":
        added = import_battles(_open_store(), read)
        print(f"Imported {added} of {len(read)} battles ({len(read) - added} were already in the store).")
        return 0
    board = rank(read, rules)
    print(board.model_dump_json(indent=2) if args.json else ranking_table(board))
    return 0


__all__ = [
    "Battle",
    "battles",
    "counted_votes",
    "import_battles",
    "main",
    "rank",
    "read_battles",
    "write_battles",
]

if __name__ == "__main__":
    sys.exit(main())
