"""The fit on cells (counts kept at vote time) is the fit on votes it replaced."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta

import boto3
import numpy as np
from psycopg2.extras import Json

from chatbot.api.records import AnswerFigures, Vote, utc_now
from chatbot.chat import ratings
from chatbot.chat.cells import ArenaCounts, counted_increments, encode_key, merge, tally
from chatbot.chat.dynamodb_store import _counter_updates
from chatbot.chat.leaderboard import _battles, leaderboard_from_counts
from chatbot.chat.postgres_store import MIGRATIONS, PostgresHistoryStore, add_counters
from chatbot.chat.ratings import LENGTH_STEP, PRIOR, Battles, Fit, _summary, fit_cells
from chatbot.chat.store import HistoryStore
from chatbot.chat.style import UNCLASSIFIED
from chatbot.chat.votes import Votes
from chatbot.migrations import apply_migrations
from chatbot.postgres import ConnectionPool, create_database


def _logistic(design, score, total, start=None):
    """The previous release's regression, on a dense design matrix."""
    beta = np.zeros(design.shape[1]) if start is None else start[: design.shape[1]].copy()
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        gradient = design.T @ (score - total * p) - PRIOR * beta
        hessian = (design * (total * p * (1 - p))[:, None]).T @ design + PRIOR * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-6:
            break
    return beta


def _covariance(design, total, beta):
    p = 1.0 / (1.0 + np.exp(-design @ beta))
    hessian = (design * (total * p * (1 - p))[:, None]).T @ design + PRIOR * np.eye(len(beta))
    return np.linalg.inv(hessian)


def vote_level_fit(battles: Battles, rounds: int = 200, seed: int = 0) -> tuple[Fit, Fit]:
    """The previous release's fit: a row per distinct battle, bootstrap over the battles."""
    steps = np.round(battles.length_diff / LENGTH_STEP).astype(int)
    keys = np.stack([battles.first, battles.second, np.round(battles.outcome * 2).astype(int), steps], axis=1)
    unique, battle_cell = np.unique(keys, axis=0, return_inverse=True)
    battle_cell = battle_cell.reshape(-1)
    m = len(battles.models)
    design = np.zeros((len(unique), m + 1))
    rows = np.arange(len(unique))
    design[rows, unique[:, 0]] = 1.0
    design[rows, unique[:, 1]] = -1.0
    design[:, m] = unique[:, 3] * LENGTH_STEP
    outcome = unique[:, 2] / 2.0
    counts = np.bincount(battle_cell, minlength=len(unique)).astype(float)
    raw_beta = _logistic(design[:, :m], outcome * counts, counts)
    style_beta = _logistic(design, outcome * counts, counts)
    rng = np.random.default_rng(seed)
    raw_samples, style_samples = [], []
    for _ in range(rounds):
        resampled = np.bincount(
            battle_cell[rng.integers(0, len(battles), len(battles))], minlength=len(counts)
        )
        raw_samples.append(_logistic(design[:, :m], outcome * resampled, resampled, start=raw_beta))
        style_samples.append(_logistic(design, outcome * resampled, resampled, start=style_beta))
    raw = _summary(raw_beta, np.array(raw_samples), _covariance(design[:, :m], counts, raw_beta), m)
    style = _summary(style_beta, np.array(style_samples), _covariance(design, counts, style_beta), m)
    return raw, style


def random_votes(count: int, seed: int = 7) -> list[Vote]:
    """Two-pane votes over six models of spread strengths, longer answers a little preferred."""
    rng = np.random.default_rng(seed)
    models = [f"model-{i}" for i in range(6)]
    strength = np.linspace(-1.0, 1.0, len(models))
    start = utc_now() - timedelta(days=1)
    votes = []
    for number in range(count):
        a, b = rng.choice(len(models), 2, replace=False)
        chars = rng.integers(50, 2000, 2)
        diff = (chars[0] - chars[1]) / chars.sum()
        p = 1 / (1 + np.exp(-(strength[a] - strength[b] + 0.5 * diff)))
        draw = rng.random()
        choice = "tie" if draw < 0.15 else ("left" if draw < 0.15 + 0.85 * p else "right")
        votes.append(
            Vote(
                session_id=f"s{number}",
                round=1,
                user_id=f"u{number}",
                choice=choice,
                models=[models[a], models[b]],
                anonymous=True,
                answers=[AnswerFigures(chars=int(c)) for c in chars],
                created_at=start + timedelta(seconds=number),
            )
        )
    return votes


def test_the_fit_on_cells_equals_the_fit_on_votes_within_one_point():
    votes = random_votes(3000)
    battles = _battles(votes)
    cells = tally(votes).cells()
    assert cells.models == battles.models
    assert cells.battles == len(battles)
    (old_raw, old_style), (raw, style) = vote_level_fit(battles), fit_cells(cells)
    for old, new in ((old_raw, raw), (old_style, style)):
        assert np.abs(new.rating - old.rating).max() < 1.0
        # The intervals come from another bootstrap (Poisson counts, not resampled battles).
        assert np.abs(new.lower - old.lower).max() < 5.0
        assert np.abs(new.upper - old.upper).max() < 5.0
    assert style.length_effect is not None
    assert style.length_effect > 0, "longer answers were preferred in the data"


def test_large_counts_redrawn_as_normals_give_the_all_poisson_intervals(monkeypatch):
    cells = tally(random_votes(3000)).cells()
    fast = fit_cells(cells)
    monkeypatch.setattr(ratings, "NORMAL_FROM", np.inf)  # every count a Poisson draw
    exact = fit_cells(cells)
    for new, old in zip(fast, exact, strict=True):
        assert np.abs(new.rating - old.rating).max() < 0.01, "the point estimate takes no draws"
        assert np.abs(new.lower - old.lower).max() < 3.0
        assert np.abs(new.upper - old.upper).max() < 3.0


def test_past_its_size_the_style_bootstrap_is_drawn_from_its_limit_and_gives_the_same_intervals(
    monkeypatch,
):
    cells = tally(random_votes(3000)).cells()
    _, refitted = fit_cells(cells)
    monkeypatch.setattr(ratings, "BOOTSTRAP_MAX_CELLS", 0)  # every table is "large"
    _, limit = fit_cells(cells)
    assert np.abs(limit.rating - refitted.rating).max() < 0.01
    assert np.abs(limit.lower - refitted.lower).max() < 4.0
    assert np.abs(limit.upper - refitted.upper).max() < 4.0


def test_small_counts_are_redrawn_from_their_exact_poisson():
    counts = np.array([0.0, 1.0, 4.0, 9.0])
    drawn = ratings._poisson_redraws(np.random.default_rng(3), counts, 40_000)
    assert (drawn[:, 0] == 0).all()
    assert (drawn == np.round(drawn)).all(), "whole numbers of votes"
    assert np.allclose(drawn.mean(axis=0), counts, atol=0.05)
    assert np.allclose(drawn.var(axis=0), counts, rtol=0.05, atol=0.01), "a Poisson's variance is its mean"
    assert abs((drawn[:, 1] == 0).mean() - np.exp(-1)) < 0.01


def test_cells_are_fewer_than_votes_and_counted_once_per_battle():
    votes = random_votes(3000)
    cells = tally(votes).cells()
    assert len(cells.step) < 3000
    assert (cells.first < cells.second).all(), "each cell is seen from the model first by name"


# -- upgrade: the counters are filled from the votes the previous release stored ----------------


def previous_release_votes() -> list[Vote]:
    votes = random_votes(40)
    votes[3] = votes[3].model_copy(update={"void_reason": "identity_leak: the answer of A names itself"})
    eager = [
        v.model_copy(update={"user_id": "eager", "models": ["model-0", "model-1"]}) for v in votes[10:35]
    ]
    return [*votes[:10], *eager, *votes[35:]]  # 25 by one user on one pair in a day: 5 over


def test_postgres_backfills_the_counters_of_votes_the_previous_release_stored(postgres_server_url: str):
    url = create_database(postgres_server_url, "arena_upgrade")
    votes = previous_release_votes()
    pool = ConnectionPool(url, max_connections=4)
    try:
        with pool.connection() as conn:  # the previous release: its one migration, its inserts
            apply_migrations(conn, "chat_history", MIGRATIONS[:1])
        with pool.transaction() as conn, conn.cursor() as cur:
            for vote in votes:
                cur.execute(
                    "INSERT INTO chat_votes (session_id, round, anonymous, created_at, body)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (
                        vote.session_id,
                        vote.round,
                        vote.anonymous,
                        vote.created_at,
                        Json(vote.model_dump(mode="json")),
                    ),
                )
        store = PostgresHistoryStore(pool)
        expected = tally(votes).counters
        assert store.arena_counts().counters == expected
        assert store.arena_counts().voided == {"identity_leak": 1, "over_daily_limit": 5}
        PostgresHistoryStore(pool)  # a second start (another process) adds nothing
        assert store.arena_counts().counters == expected
        late = random_votes(41)[40].model_copy(update={"session_id": "late"})
        store.add_vote(late, max_per_pair_per_day=20)
        assert store.arena_counts().counted == tally([*votes, late]).counted
    finally:
        pool.close()


def test_dynamodb_backfills_the_counters_of_votes_the_previous_release_stored(dynamodb_store):
    votes = previous_release_votes()
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("history")
    for vote in votes:  # as the previous release wrote them
        table.put_item(
            Item={
                "pk": "VOTES",
                "sk": f"{vote.session_id}#{vote.round:010d}",
                "anonymous": vote.anonymous,
                "body": vote.model_dump_json(),
            }
        )
    live = random_votes(41)[40].model_copy(update={"session_id": "live"})
    dynamodb_store.add_vote(live, max_per_pair_per_day=20)  # cast by the new release before the backfill
    assert dynamodb_store.backfill_arena_counts() == len(votes)
    expected = tally([*votes, live]).counters
    assert dynamodb_store.arena_counts().counters == expected
    assert dynamodb_store.backfill_arena_counts() == 0, "a second run adds nothing"
    assert dynamodb_store.arena_counts().counters == expected


def test_the_live_leaderboard_on_dynamodb_counts_the_votes_of_the_previous_release(dynamodb_store, catalog):
    votes = previous_release_votes()
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("history")
    for vote in votes:
        table.put_item(
            Item={
                "pk": "VOTES",
                "sk": f"{vote.session_id}#{vote.round:010d}",
                "anonymous": vote.anonymous,
                "body": vote.model_dump_json(),
            }
        )
    board = Votes(dynamodb_store, catalog).fresh_leaderboard()
    assert board.votes == tally(votes).counted
    assert board.voided == {"identity_leak": 1, "over_daily_limit": 5}


# -- style beyond length, and categories, in the cell key ---------------------------------------


def styled_vote(
    choice: str, models: list[str], *, bold: list[int], category: str = "general", user: str = "u"
):
    return Vote(
        session_id=f"styled-{np.random.default_rng().integers(1 << 60)}",
        round=1,
        user_id=user,
        choice=choice,
        models=models,
        anonymous=True,
        answers=[AnswerFigures(chars=500, bold=b, headers=1, list_items=2 * b) for b in bold],
        category=category,
    )


def test_a_vote_adds_to_the_cell_of_its_category_and_style_steps():
    vote = styled_vote("left", ["zeta", "alpha"], bold=[4, 0], category="code")
    cells = [key for key in counted_increments(vote) if key[0] == "cell"]
    # Seen from alpha (first by name): alpha lost, with the same length and headers, and no list
    # items or bold against zeta's: (0 - 8) / 8 and (0 - 4) / 4, each step -1.
    assert cells == [("cell", "alpha", "zeta", "code", 0, 0, -1, -1, "losses")]
    half = styled_vote("left", ["zeta", "alpha"], bold=[3, 1])
    assert [key[4:8] for key in counted_increments(half) if key[0] == "cell"] == [(0, 0, 0, 0)], (
        "a difference of half rounds to none"
    )


def test_counters_the_previous_release_wrote_are_read_as_unclassified_cells_with_no_markdown(
    store: HistoryStore,
):
    older = {("cell", "m0", "m1", 3, "wins"): 4, ("cell", "m0", "m1", -2, "ties"): 1, ("counted",): 5}
    if isinstance(store, PostgresHistoryStore):
        with store._pool.transaction() as conn, conn.cursor() as cur:
            add_counters(cur, Counter(older))
    else:
        store._table.meta.client.transact_write_items(
            TransactItems=_counter_updates("history", Counter(older))
        )
    counts = store.arena_counts()
    table = counts.cells()
    assert table.steps.tolist() == [[-2, 0, 0, 0], [3, 0, 0, 0]]
    assert (table.wins.tolist(), table.ties.tolist()) == ([0, 4], [1, 0])
    assert counts.categories() == {UNCLASSIFIED: 5}
    assert leaderboard_from_counts(counts, category=UNCLASSIFIED).votes == 5


def test_style_control_takes_out_what_bold_answers_won():
    rng = np.random.default_rng(5)
    votes = []
    for number in range(1500):
        # Equal models, but "bolder" mostly writes bold and "plain" mostly not; voters prefer the
        # bolder answer 75% of the time, whoever wrote it.
        bold = {"bolder": 4 if rng.random() < 0.8 else 0, "plain": 4 if rng.random() < 0.2 else 0}
        models = ["bolder", "plain"] if rng.random() < 0.5 else ["plain", "bolder"]
        left, right = bold[models[0]], bold[models[1]]
        left_won = rng.random() < (0.75 if left > right else 0.25 if left < right else 0.5)
        choice = "left" if left_won else "right"
        votes.append(styled_vote(choice, models, bold=[left, right], user=f"user-{number}"))
    board = leaderboard_from_counts(tally(votes))
    by_model = {rating.model: rating for rating in board.ratings}
    raw_gap = by_model["bolder"].bradley_terry - by_model["plain"].bradley_terry
    style_gap = by_model["bolder"].style_controlled - by_model["plain"].style_controlled
    assert raw_gap > 60, "unadjusted, bold wins"
    assert abs(style_gap) < raw_gap / 3, "controlled for style, they are close to equal"
    assert board.style_effects["bold"] + board.style_effects["lists"] > 50
    assert set(board.style_effects) == {"length", "headers", "lists", "bold"}


def test_a_category_board_ranks_only_its_categorys_prompts():
    code = [
        styled_vote("left", ["coder", "poet"], bold=[0, 0], category="code", user=f"c{i}") for i in range(30)
    ]
    poems = [
        styled_vote("right", ["coder", "poet"], bold=[0, 0], category="creative_writing", user=f"p{i}")
        for i in range(30)
    ]
    counts = tally(code + poems)
    assert counts.categories() == {"code": 30, "creative_writing": 30}
    coding = leaderboard_from_counts(counts, category="code")
    writing = leaderboard_from_counts(counts, category="creative_writing")
    assert [r.model for r in coding.ratings] == ["coder", "poet"]
    assert [r.model for r in writing.ratings] == ["poet", "coder"]
    assert (coding.category, sum(r.wins for r in coding.ratings)) == ("code", 30)


def test_counters_read_back_exactly_whatever_the_model_names_hold():
    # The fit reads the cells' integer tails as arrays; a name with commas, digits, quotes,
    # brackets or non-ASCII text must not be mistaken for one.
    names = ["m,1,2,3,4", 'q"5",6', "ü-模型", "x]7", "plain"]
    counters: Counter = Counter({("counted",): 9, ("voided", "daily_limit"): 2, ("model_votes", names[0]): 3})
    for index, (first, second) in enumerate(itertools.pairwise(names)):
        counters[("cell", first, second, "code,1,2", -index, 1, 0, -1, "wins")] = index + 1
        counters[("cell", first, second, UNCLASSIFIED, 50, 0, 0, 0, "ties")] = 2
        counters[("cell", first, second, index, "losses")] = 4  # the previous release's shape
        counters[("ttft_ms", first, 512)] = 1
    counters[("cell", "a", "b", "hard", -123456789, 0, 0, 0, "ties")] = 1  # longer than the fast path reads
    counts = ArenaCounts.of(counters)
    assert counts.counters == counters
    assert len(counts.block.head) == 8  # the current shape's cells, parsed as arrays
    assert counts.categories() == {"code,1,2": 10, UNCLASSIFIED: 8 + 16, "hard": 1}
    assert counts.cells().battles == 10 + 8 + 16 + 1
    assert ArenaCounts.of(Counter({("counted",): 1})).counted == 1


def test_the_same_cell_from_several_shards_is_summed():
    key = encode_key(("cell", "a", "b", "code", 1, 0, 0, 0, "wins"))
    counts = merge([(key, 2), (key, 3), (encode_key(("counted",)), 5)])
    assert counts.cells().wins.tolist() == [5.0]
    assert counts.counted == 5


def test_a_refit_reads_the_counters_once_for_every_board(store: HistoryStore, catalog, monkeypatch):
    code = [
        styled_vote("left", ["coder", "poet"], bold=[0, 0], category="code", user=f"c{i}") for i in range(3)
    ]
    store.add_votes(code)
    reads = []
    read = store.arena_counts
    monkeypatch.setattr(store, "arena_counts", lambda: reads.append(1) or read())
    stored = Votes(store, catalog).refit()
    assert stored is not None
    assert set(stored.by_category) == {"code"}
    assert stored.board.votes == 3
    assert len(reads) == 1
