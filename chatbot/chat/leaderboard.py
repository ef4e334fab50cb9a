"""The leaderboard: online Elo and a Bradley-Terry fit with bootstrap intervals, from arena votes.

A vote becomes pairwise outcomes: with two panes, left/right is a win and tie/both-bad a
tie; with more panes, "best" beats every other pane and "all bad" ties them all.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from chatbot.chat.records import Vote

ELO_K = 4
ELO_BASE = 1000.0
ELO_SCALE = 400.0
BOOTSTRAP_ROUNDS = 200

#: (winner, loser, score): score 1 for a win, 0.5 for a tie.
Outcome = tuple[str, str, float]


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    elo: float
    bradley_terry: float
    #: 95% bootstrap interval of the Bradley-Terry rating.
    bt_lower: float
    bt_upper: float
    votes: int
    wins: int
    losses: int
    ties: int


class PairRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model_a: str
    model_b: str
    a_wins: int
    b_wins: int
    ties: int

    @property
    def a_win_rate(self) -> float:
        games = self.a_wins + self.b_wins + self.ties
        return (self.a_wins + self.ties / 2) / games if games else 0.5


class Leaderboard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ratings: list[Rating]
    pairs: list[PairRecord]
    votes: int


def outcomes(vote: Vote) -> list[Outcome]:
    models = vote.models
    if len(models) == 2:
        left, right = models
        return {
            "left": [(left, right, 1.0)],
            "right": [(right, left, 1.0)],
        }.get(vote.choice, [(left, right, 0.5)])
    if vote.choice == "best" and vote.best_lane is not None:
        best = models["abcd".index(vote.best_lane)]
        return [(best, other, 1.0) for other in models if other != best]
    return [(a, b, 0.5) for a, b in itertools.combinations(models, 2)]


def elo_ratings(games: Sequence[Outcome]) -> dict[str, float]:
    ratings: dict[str, float] = {}
    for winner, loser, score in games:
        rw, rl = ratings.setdefault(winner, ELO_BASE), ratings.setdefault(loser, ELO_BASE)
        expected = 1 / (1 + 10 ** ((rl - rw) / ELO_SCALE))
        ratings[winner] = rw + ELO_K * (score - expected)
        ratings[loser] = rl - ELO_K * (score - expected)
    return ratings


def bradley_terry(games: Sequence[Outcome], models: list[str], iterations: int = 200) -> np.ndarray:
    """Ratings on the Elo scale, by Hunter's MM algorithm. Every pair that met also gets a
    small pseudo-tie, so a model that never lost (or never won) still has a finite rating."""
    index = {model: i for i, model in enumerate(models)}
    n = len(models)
    wins = np.zeros((n, n))
    for winner, loser, score in games:
        wins[index[winner], index[loser]] += score
        wins[index[loser], index[winner]] += 1 - score
    met = (wins + wins.T) > 0
    wins = wins + 0.1 * met
    games_between = wins + wins.T
    strength = np.ones(n)
    for _ in range(iterations):
        denominator = (games_between / (strength[:, None] + strength[None, :])).sum(axis=1)
        updated = np.where(denominator > 0, wins.sum(axis=1) / np.maximum(denominator, 1e-12), strength)
        updated /= math.exp(np.log(updated).mean())
        if np.allclose(updated, strength, rtol=1e-9):
            break
        strength = updated
    return ELO_BASE + ELO_SCALE * np.log10(strength)


def build_leaderboard(votes: Sequence[Vote], *, seed: int = 0) -> Leaderboard:
    games = [game for vote in votes for game in outcomes(vote)]
    models = sorted({model for vote in votes for model in vote.models})
    if not models:
        return Leaderboard(ratings=[], pairs=[], votes=0)
    elo = elo_ratings(games)
    bt = bradley_terry(games, models)
    rng = np.random.default_rng(seed)
    samples = np.array(
        [
            bradley_terry([games[i] for i in rng.integers(0, len(games), len(games))], models)
            for _ in range(BOOTSTRAP_ROUNDS)
        ]
    )
    lower, upper = np.percentile(samples, [2.5, 97.5], axis=0)
    ratings = []
    for i, model in enumerate(models):
        won = sum(1 for w, _, s in games if w == model and s == 1.0)
        lost = sum(1 for _, loser, s in games if loser == model and s == 1.0)
        tied = sum(1 for w, loser, s in games if model in (w, loser) and s == 0.5)
        ratings.append(
            Rating(
                model=model,
                elo=round(elo.get(model, ELO_BASE), 1),
                bradley_terry=round(float(bt[i]), 1),
                bt_lower=round(float(lower[i]), 1),
                bt_upper=round(float(upper[i]), 1),
                votes=sum(1 for vote in votes if model in vote.models),
                wins=won,
                losses=lost,
                ties=tied,
            )
        )
    pairs = []
    for a, b in itertools.combinations(models, 2):
        between = [(w, s) for w, loser, s in games if {w, loser} == {a, b}]
        if between:
            pairs.append(
                PairRecord(
                    model_a=a,
                    model_b=b,
                    a_wins=sum(1 for w, s in between if w == a and s == 1.0),
                    b_wins=sum(1 for w, s in between if w == b and s == 1.0),
                    ties=sum(1 for _, s in between if s == 0.5),
                )
            )
    ratings.sort(key=lambda rating: rating.bradley_terry, reverse=True)
    return Leaderboard(ratings=ratings, pairs=pairs, votes=len(votes))
