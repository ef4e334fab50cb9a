"""Bradley-Terry ratings from battles, raw and with length (style) control, with bootstrap intervals.

A battle is two models, an outcome for the first (1 win, 0 loss, 0.5 tie) and the normalised
length difference of their answers, (len_a - len_b) / (len_a + len_b). Both fits are the same
logistic regression (as lmarena fits them): one coefficient per model, plus, for the style-
controlled fit, one for the length difference, so a model is not rated up for writing more.
Ratings are on the Elo scale (400 points = 10:1 odds), centred on 1000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ELO_BASE = 1000.0
ELO_SCALE = 400.0
#: Bootstrap resamples behind each 95% interval.
BOOTSTRAP_ROUNDS = 200
#: An L2 prior on the coefficients (a standard normal on each logit strength): a model that
#: never lost still gets a finite rating, and one vote moves a rating by about 70 points, not 200;
#: with hundreds of votes it no longer matters.
PRIOR = 1.0
#: Length differences are fitted to this precision (1% of their range).
LENGTH_STEP = 0.02
_PER_LOGIT = ELO_SCALE / math.log(10)


@dataclass(frozen=True)
class Battles:
    """Pairwise battles as arrays (one entry per battle)."""

    models: list[str]
    first: np.ndarray  # index into models
    second: np.ndarray
    #: 1 the first won, 0 the second won, 0.5 a tie.
    outcome: np.ndarray
    #: (len_first - len_second) / (len_first + len_second), in [-1, 1].
    length_diff: np.ndarray

    def __len__(self) -> int:
        return len(self.outcome)


@dataclass(frozen=True)
class Fit:
    """One fit and its bootstrap: per model, the rating and its 95% interval."""

    rating: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    #: Style control: Elo points for an answer as long as it can be against one of no length
    #: (length difference 1). None for the raw fit.
    length_effect: float | None = None


@dataclass(frozen=True)
class CellTable:
    """The cells as arrays, one entry per cell with any battle."""

    models: list[str]
    first: np.ndarray
    second: np.ndarray
    #: The length step of the cell (length difference / LENGTH_STEP).
    step: np.ndarray
    #: Counts of model `first` winning, losing and tying, per cell.
    wins: np.ndarray
    losses: np.ndarray
    ties: np.ndarray

    @property
    def battles(self) -> int:
        return int(self.wins.sum() + self.losses.sum() + self.ties.sum())


def fit_both(battles: Battles, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> tuple[Fit, Fit]:
    """(raw, style-controlled) fits of battles: the fit of their cells (fit_cells)."""
    return fit_cells(cells_of(battles), rounds=rounds, seed=seed)


def cells_of(battles: Battles) -> CellTable:
    """The battles counted into cells, each seen from its lower-indexed model (a battle seen
    from the other side is the same likelihood: the design row and the outcome flip)."""
    swap = battles.second < battles.first
    first = np.where(swap, battles.second, battles.first)
    second = np.where(swap, battles.first, battles.second)
    outcome = np.where(swap, 1.0 - battles.outcome, battles.outcome)
    step = np.round(np.where(swap, -battles.length_diff, battles.length_diff) / LENGTH_STEP).astype(int)
    kind = np.select([outcome == 1.0, outcome == 0.0], [0, 1], 2)  # wins, losses, ties
    keys = np.stack([first, second, step], axis=1)
    unique, cell = np.unique(keys, axis=0, return_inverse=True)
    counts = np.zeros((len(unique), 3))
    np.add.at(counts, (cell.reshape(-1), kind), 1.0)
    return CellTable(battles.models, unique[:, 0], unique[:, 1], unique[:, 2], *counts.T)


def fit_cells(table: CellTable, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> tuple[Fit, Fit]:
    """(raw, style-controlled), each with a bootstrap over the same resamples.

    Each cell is three weighted rows of one logistic regression (its wins, losses and ties as
    outcomes 1, 0 and 0.5), so the cost grows with the cells, not the battles. The bootstrap
    redraws each count as a Poisson of itself: for many votes, the same spread as resampling
    the battles, without them."""
    m = len(table.models)
    design = np.zeros((len(table.step), m + 1))
    rows = np.arange(len(table.step))
    design[rows, table.first] = 1.0
    design[rows, table.second] = -1.0
    design[:, m] = table.step * LENGTH_STEP
    design = np.concatenate([design, design, design])
    outcome = np.repeat([1.0, 0.0, 0.5], len(table.step))
    counts = np.concatenate([table.wins, table.losses, table.ties]).astype(float)
    used = counts > 0
    design, outcome, counts = design[used], outcome[used], counts[used]
    raw_beta = _logistic(design[:, :m], outcome, counts)
    style_beta = _logistic(design, outcome, counts)
    rng = np.random.default_rng(seed)
    raw_samples, style_samples = [], []
    for _ in range(rounds):
        redrawn = rng.poisson(counts).astype(float)
        raw_samples.append(_logistic(design[:, :m], outcome, redrawn, start=raw_beta))
        style_samples.append(_logistic(design, outcome, redrawn, start=style_beta))
    raw = _summary(raw_beta, np.array(raw_samples), _covariance(design[:, :m], counts, raw_beta), m)
    style = _summary(style_beta, np.array(style_samples), _covariance(design, counts, style_beta), m)
    return raw, Fit(style.rating, style.lower, style.upper, length_effect=float(style_beta[m]) * _PER_LOGIT)


def _logistic(
    design: np.ndarray, outcome: np.ndarray, weights: np.ndarray, start: np.ndarray | None = None
) -> np.ndarray:
    """Weighted logistic regression with soft labels (ties are 0.5), by Newton's method."""
    beta = np.zeros(design.shape[1]) if start is None else start[: design.shape[1]].copy()
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        gradient = design.T @ (weights * (outcome - p)) - PRIOR * beta
        hessian = (design * (weights * p * (1 - p))[:, None]).T @ design + PRIOR * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-6:
            break
    return beta


def _covariance(design: np.ndarray, weights: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The posterior's covariance at `beta` (the inverse of the log-posterior's curvature)."""
    p = 1.0 / (1.0 + np.exp(-design @ beta))
    hessian = (design * (weights * p * (1 - p))[:, None]).T @ design + PRIOR * np.eye(len(beta))
    return np.linalg.inv(hessian)


def _summary(beta: np.ndarray, samples: np.ndarray, covariance: np.ndarray, m: int) -> Fit:
    """Ratings with a 95% interval that holds both the bootstrap's spread and the posterior's.

    A bootstrap resamples the votes there are: with one vote every resample is that vote and the
    interval shrinks to a point, as if one vote settled a rating. The posterior's curvature (the
    prior plus what the votes add) says how little a few votes settle; with many votes the two
    agree, so the wider of the two only matters where votes are few."""
    centre = np.eye(m) - 1.0 / m  # ratings are centred: each minus the mean of all

    def scale(coefficients: np.ndarray) -> np.ndarray:
        return ELO_BASE + _PER_LOGIT * (coefficients[..., :m] @ centre.T)

    rating = scale(beta)
    spread = 1.96 * _PER_LOGIT * np.sqrt(np.diag(centre @ covariance[:m, :m] @ centre.T))
    lower, upper = np.percentile(scale(samples), [2.5, 97.5], axis=0)
    return Fit(rating, np.minimum(lower, rating - spread), np.maximum(upper, rating + spread))


def votes_to_separate(gap: float, half_widths: tuple[float, float], votes: tuple[int, int]) -> int | None:
    """More votes between two models, at their current win rate, until their 95% intervals stop
    overlapping: 0 if they already do not, None if they never will (the same rating).

    An interval narrows as one over the square root of a model's votes; the gap stays as it is."""
    if gap <= 0 or min(votes) == 0:
        return None

    def overlaps(extra: int) -> bool:
        return sum(h * math.sqrt(n / (n + extra)) for h, n in zip(half_widths, votes, strict=True)) >= gap

    if not overlaps(0):
        return 0
    high = 1
    while overlaps(high):
        high *= 2
        if high > 10**9:
            return None
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if overlaps(middle) else (low, middle)
    return high
