"""Battles files: exported from the store, re-ranked from the command line to the live
leaderboard's figures, imported again by an administrator without doubling anything."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatbot.api.records import AnswerFigures, Message, Session, Vote
from chatbot.chat.battles import battles, import_battles, main, read_battles, write_battles
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.vote_rules import VoteRules
from chatbot.chat.votes import Votes
from chatbot.errors import InvalidRequestError
from chatbot.models.catalog import ModelCatalog
from chatbot.models.events import Metrics, Usage
from tests.servers import ROOT

START = datetime(2026, 11, 2, 9, tzinfo=UTC)
MODELS = ["gemma3-270m", "smollm2-135m", "other-model"]


def arena_round(store: PostgresHistoryStore, index: int) -> Vote:
    """An arena round as a turn stores it (prompt, two answers), and its vote."""
    a, b = MODELS[index % 3], MODELS[(index + 1) % 3]
    user = f"user-{index % 2}"
    session = store.create_session(
        Session(
            user_id=user,
            title=f"Round {index}",
            kind="arena",
            lanes=[{"id": "a", "model": a}, {"id": "b", "model": b}],
        )
    )
    prompt = store.append_message(user, session.id, Message(role="user", content=f"Question {index}?"))
    for lane, chars in (("a", 40 + index % 9 * 30), ("b", 120)):
        store.append_message(
            user,
            session.id,
            Message(
                role="assistant",
                content="x" * chars,
                lane=lane,
                model=a if lane == "a" else b,
                usage=Usage(completion_tokens=chars // 4),
                metrics=Metrics(ttft_ms=80.0 + index, tokens_per_s=40.0 + index % 5, total_ms=900.0),
                reply_to=prompt.seq,
            ),
        )
    choice = ["left", "right", "tie", "left", "both_bad"][index % 5]
    messages = store.list_messages(user, session.id)
    answers = [
        AnswerFigures(
            chars=len(m.content),
            completion_tokens=m.usage.completion_tokens,
            ttft_ms=m.metrics.ttft_ms,
            tokens_per_s=m.metrics.tokens_per_s,
        )
        for m in messages[1:]
    ]
    return store.add_vote(
        Vote(
            session_id=session.id,
            round=prompt.seq,
            user_id=user,
            choice=choice,
            models=[a, b],
            lanes=["a", "b"],
            anonymous=True,
            answers=answers,
            created_at=START + timedelta(minutes=index),
        ),
        max_per_pair_per_day=6,  # as Votes.vote stores it under the rules of the test below
    )


@pytest.fixture
def votes_store(postgres_store: PostgresHistoryStore) -> PostgresHistoryStore:
    for index in range(60):
        arena_round(postgres_store, index)
    # One answer that named its model: stored with its reason, as Votes.vote stores it.
    leak = arena_round(postgres_store, 60).model_copy(
        update={
            "round": 99,
            "void_reason": "identity_leak: the answer of Model A names its own model ('gemma')",
        }
    )
    postgres_store.add_vote(leak)
    return postgres_store


def test_the_exported_file_reranked_from_the_command_line_matches_the_live_leaderboard(
    votes_store: PostgresHistoryStore, catalog: ModelCatalog, tmp_path: Path, capsys
):
    rules = VoteRules(max_votes_per_pair_per_day=6)
    live = Votes(votes_store, catalog, rules=rules).fresh_leaderboard()
    path = tmp_path / "battles.jsonl"
    assert write_battles(battles(votes_store, rules), path) == 62

    assert main(["rank", str(path), "--json", "--max-votes-per-pair-per-day", "6"]) == 0
    reranked = json.loads(capsys.readouterr().out)

    def figures(board) -> list[tuple]:
        keys = (
            "model",
            "bradley_terry",
            "bt_lower",
            "bt_upper",
            "style_controlled",
            "sc_lower",
            "sc_upper",
            "votes",
            "wins",
            "losses",
            "ties",
            "median_ttft_ms",
            "median_tokens_per_s",
        )
        return [tuple(rating[key] for key in keys) for rating in board["ratings"]]

    live_json = json.loads(live.model_dump_json())
    assert figures(reranked) == figures(live_json)
    assert (
        reranked["voided"]
        == live_json["voided"]
        == {"identity_leak": 1, "over_daily_limit": live_json["voided"]["over_daily_limit"]}
    )
    assert live_json["voided"]["over_daily_limit"] > 0, (
        "user-0 and user-1 each voted on each pair 10 times that day"
    )


def test_each_line_carries_fastchats_fields_the_answers_and_why_a_vote_was_voided(
    votes_store: PostgresHistoryStore, tmp_path: Path
):
    path = tmp_path / "battles.jsonl"
    write_battles(battles(votes_store, VoteRules()), path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    first = lines[0]
    assert (first["model_a"], first["model_b"], first["winner"]) == ("gemma3-270m", "smollm2-135m", "model_a")
    assert first["conversation_a"][0] == {"role": "user", "content": "Question 0?"}
    assert first["prompt"] == "Question 0?"
    assert [answer["lane"] for answer in first["answers"]] == ["a", "b"]
    assert first["answers"][0]["metrics"]["ttft_ms"] == 80.0
    assert first["judge"] != "user-0", "voters are named by a hash"
    assert {line["winner"] for line in lines} == {"model_a", "model_b", "tie", "tie (bothbad)"}
    voided = [line["void_reason"].split(":")[0] for line in lines if not line["counted"]]
    # The daily limit (6 in the fixture) was applied as the votes were cast, and stays with them.
    assert sorted(set(voided)) == ["identity_leak", "over_daily_limit"]
    assert voided.count("identity_leak") == 1


def test_an_import_adds_the_votes_once(
    votes_store: PostgresHistoryStore, postgres_server_url, tmp_path: Path
):
    from chatbot.postgres import ConnectionPool, create_database

    path = tmp_path / "battles.jsonl"
    write_battles(battles(votes_store, VoteRules()), path)
    read = read_battles(path.read_text().splitlines())
    fresh = PostgresHistoryStore(
        ConnectionPool(create_database(postgres_server_url, "battles_import"), max_connections=2)
    )
    assert import_battles(fresh, read) == 62
    assert import_battles(fresh, read) == 0, "importing the same file again adds nothing"
    assert len(fresh.list_votes()) == 62


def test_a_line_that_is_not_a_battle_is_named_by_its_number():
    with pytest.raises(InvalidRequestError, match="Line 2 of the battles file is not a battle"):
        read_battles(["", '{"model_a": 3}'])


def test_rank_runs_as_a_command_and_prints_the_ranking(votes_store: PostgresHistoryStore, tmp_path: Path):
    path = tmp_path / "battles.jsonl"
    write_battles(battles(votes_store, VoteRules()), path)
    ranked = subprocess.run(
        [sys.executable, "-m", "chatbot.chat.battles", "rank", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ranked.stdout.splitlines()[0].split()[:3] == ["rank", "model", "BT"]
    assert "votes counted; voided: 1 identity_leak" in ranked.stdout
