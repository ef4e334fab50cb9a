"""The leaderboard from arena votes: ratings you can trust, beside each model's speed and cost.

- A vote becomes pairwise outcomes: with two panes, left/right is a win and tie/both-bad a tie;
  with more panes, "best" beats every other pane and "all bad" ties them all.
- Votes that do not count (chatbot/chat/vote_rules.py) are left out, and counted by reason.
- Everything is read from the arena's counters (chatbot/chat/cells.py), kept as votes are cast,
  so a fit costs the same at a thousand votes and at a million.
- Ratings: Bradley-Terry, raw and with length (style) control, each with a bootstrap
  95% interval (chatbot/chat/ratings.py); for each pair of neighbours in the ranking, how many
  more votes would separate their intervals.
- Speed and cost per model, from the answers of the counted votes: median time to first token,
  median tokens/s (to 1%: counted in buckets), and $ per 1,000 output tokens
  (chatbot/chat/costs.py); the Pareto fronts of rating against cost and against speed; the cheapest model whose interval overlaps the top's.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from chatbot.api.leaderboard import PROVISIONAL_UNDER_VOTES, Leaderboard, PairRecord, Rating, Separation
from chatbot.api.records import Vote
from chatbot.chat.cells import ArenaCounts, lane_outcomes, tally, vote_battles
from chatbot.chat.costs import ModelCost
from chatbot.chat.ratings import (
    ELO_BASE,
    ELO_SCALE,
    Battles,
    CellTable,
    fit_cells,
    unique_pairs,
    votes_to_separate,
)
from chatbot.chat.style import STYLE_FEATURES
from chatbot.chat.vote_rules import VoteRules, void_reasons

ELO_K = 4

#: (winner, loser, score): score 1 for a win, 0.5 for a tie.
Outcome = tuple[str, str, float]
CostOf = Callable[[str, float | None], ModelCost]


def outcomes(vote: Vote) -> list[Outcome]:
    return [(vote.models[i], vote.models[j], score) for i, j, score in lane_outcomes(vote)]


def elo_ratings(games: Sequence[Outcome]) -> dict[str, float]:
    ratings: dict[str, float] = {}
    for winner, loser, score in games:
        rw, rl = ratings.setdefault(winner, ELO_BASE), ratings.setdefault(loser, ELO_BASE)
        expected = 1 / (1 + 10 ** ((rl - rw) / ELO_SCALE))
        ratings[winner] = rw + ELO_K * (score - expected)
        ratings[loser] = rl - ELO_K * (score - expected)
    return ratings


def counted_votes(votes: Sequence[Vote], rules: VoteRules) -> tuple[list[Vote], Counter[str]]:
    """The votes that count (oldest first), and how many were voided for each reason."""
    ordered = sorted(votes, key=lambda vote: vote.created_at)
    counted, voided = [], Counter[str]()
    for vote, reason in zip(ordered, void_reasons(ordered, rules), strict=True):
        if reason is None:
            counted.append(vote)
        else:
            voided[reason.split(":", 1)[0]] += 1
    return counted, voided


def build_leaderboard(
    votes: Sequence[Vote], *, rules: VoteRules | None = None, cost_of: CostOf | None = None, seed: int = 0
) -> Leaderboard:
    """The leaderboard of these votes (a battles file): their counters, then the same fit as
    the live store's (leaderboard_from_counts)."""
    return leaderboard_from_counts(tally(votes, rules), cost_of=cost_of, seed=seed)


def leaderboard_from_counts(
    counts: ArenaCounts, *, cost_of: CostOf | None = None, seed: int = 0, category: str | None = None
) -> Leaderboard:
    """The leaderboard from the arena's counters (of one category's prompts, if given): its
    cost grows with the cells, not the votes."""
    table = counts.cells(category)
    categories = counts.categories()
    if not table.battles:
        return Leaderboard(
            ratings=[],
            pairs=[],
            votes=counts.counted,
            voided=counts.voided,
            category=category,
            categories=categories,
        )
    raw, style = fit_cells(table, seed=seed)
    results = _results(table)
    model_votes, medians = counts.model_votes, counts.medians()
    ratings = []
    for i, model in enumerate(table.models):
        tokens_per_s = medians.get(("tokens_per_s", model))
        cost = cost_of(model, tokens_per_s) if cost_of else None
        wins, losses, ties = (int(n) for n in results[i])
        ratings.append(
            Rating(
                model=model,
                bradley_terry=round(float(raw.rating[i]), 1),
                bt_lower=round(float(raw.lower[i]), 1),
                bt_upper=round(float(raw.upper[i]), 1),
                style_controlled=round(float(style.rating[i]), 1),
                sc_lower=round(float(style.lower[i]), 1),
                sc_upper=round(float(style.upper[i]), 1),
                votes=model_votes.get(model, 0),
                provisional=model_votes.get(model, 0) < PROVISIONAL_UNDER_VOTES,
                wins=wins,
                losses=losses,
                ties=ties,
                median_ttft_ms=medians.get(("ttft_ms", model)),
                median_tokens_per_s=tokens_per_s,
                usd_per_1k_output_tokens=cost.usd_per_1k_output_tokens if cost else None,
                cost_basis=cost.basis if cost else "unknown",
                cost_note=cost.note if cost else "",
            )
        )
    ratings.sort(key=lambda rating: rating.bradley_terry, reverse=True)
    ratings = _with_pareto_fronts(ratings)
    return Leaderboard(
        ratings=ratings,
        pairs=_pairs(table),
        votes=counts.counted,
        voided=counts.voided,
        separation=_separation(ratings),
        length_effect=round(style.length_effect, 1) if style.length_effect is not None else None,
        style_effects={
            feature: round(effect, 1)
            for feature, effect in zip(STYLE_FEATURES, style.style_effects or (), strict=True)
        },
        cheapest_near_top=_cheapest_near_top(ratings),
        category=category,
        categories=categories,
    )


def with_retired(board: Leaderboard, catalog: Iterable[str]) -> Leaderboard:
    """The board with each model that is not in the catalog (any more) marked retired: applied
    as the board is served, so a stored fit follows the catalog a deploy changed."""
    served = set(catalog)
    ratings = [rating.model_copy(update={"retired": rating.model not in served}) for rating in board.ratings]
    return board.model_copy(update={"ratings": ratings})


def _results(table: CellTable) -> np.ndarray:
    """Per model: its wins, losses and ties over every cell."""
    m = len(table.models)

    def per_model(of_first: np.ndarray, of_second: np.ndarray) -> np.ndarray:
        return np.bincount(table.first, of_first, m) + np.bincount(table.second, of_second, m)

    return np.stack(
        [
            per_model(table.wins, table.losses),
            per_model(table.losses, table.wins),
            per_model(table.ties, table.ties),
        ],
        axis=1,
    )


def _battles(votes: Sequence[Vote]) -> Battles:
    """Votes as battles, one entry per pair of panes a vote compares."""
    rows = [battle for vote in votes for battle in vote_battles(vote)]
    models = sorted({model for first, second, _, _ in rows for model in (first, second)})
    index = {model: i for i, model in enumerate(models)}
    return Battles(
        models,
        np.array([index[row[0]] for row in rows], int),
        np.array([index[row[1]] for row in rows], int),
        np.array([row[2] for row in rows], float),
        np.array([row[3][0] for row in rows], float),
    )


def _pairs(table: CellTable) -> list[PairRecord]:
    pairs, pair_of = unique_pairs(table.first, table.second, len(table.models))
    sums = [np.bincount(pair_of, n, len(pairs)).tolist() for n in (table.wins, table.losses, table.ties)]
    return [
        PairRecord(
            model_a=table.models[a],
            model_b=table.models[b],
            a_wins=int(wins),
            b_wins=int(losses),
            ties=int(ties),
        )
        for (a, b), wins, losses, ties in zip(pairs.tolist(), *sums, strict=True)
    ]


def _separation(ratings: list[Rating]) -> list[Separation]:
    return [
        Separation(
            higher=high.model,
            lower=low.model,
            votes_to_separate=votes_to_separate(
                high.bradley_terry - low.bradley_terry,
                (high.bradley_terry - high.bt_lower, low.bt_upper - low.bradley_terry),
                (high.votes, low.votes),
            ),
        )
        for high, low in itertools.pairwise(ratings)
    ]


def _with_pareto_fronts(ratings: list[Rating]) -> list[Rating]:
    def front(value: Callable[[Rating], float | None]) -> set[str]:
        points = [(rating.model, rating.bradley_terry, value(rating)) for rating in ratings]
        known = [(model, score, v) for model, score, v in points if v is not None]
        return {
            model
            for model, score, v in known
            if not any(s >= score and w >= v and (s > score or w > v) for _, s, w in known)
        }

    cheap = front(lambda r: None if r.usd_per_1k_output_tokens is None else -r.usd_per_1k_output_tokens)
    fast = front(lambda r: r.median_tokens_per_s)
    return [
        r.model_copy(update={"pareto_cost": r.model in cheap, "pareto_speed": r.model in fast})
        for r in ratings
    ]


def _cheapest_near_top(ratings: list[Rating]) -> str | None:
    top = ratings[0]
    near = [
        rating
        for rating in ratings
        if rating.bt_upper >= top.bt_lower and rating.usd_per_1k_output_tokens is not None
    ]
    if not near:
        return None
    return min(near, key=lambda rating: (rating.usd_per_1k_output_tokens, -rating.bradley_terry)).model
