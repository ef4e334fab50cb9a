"""Bradley-Terry ratings from battles, raw and with length (style) control, with bootstrap intervals.

A battle is two models, an outcome for the first (1 win, 0 loss, 0.5 tie) and the normalised
length difference of their answers, (len_a - len_b) / (len_a + len_b). Both fits are the same
logistic regression (as lmarena fits them): one coefficient per model, plus, for the style-
controlled fit, one for the length difference, so a model is not rated up for writing more.
Ratings are on the Elo scale (400 points = 10:1 odds), centred on 1000.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

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
#: The style covariates (chatbot/chat/style.py: length, headers, list items, bold), each the
#: answers' normalised difference (a - b) / (a + b), fitted to these precisions. A markdown
#: difference is kept as its sign only where it is clear (-1: b has at least three times a's,
#: 0: about the same, 1: a has): each finer step multiplies the cells, and with them the fit's
#: cost (3 values each: 27 combinations; at 9 values each, 729 made the cells as many as the votes).
STYLE_STEPS = np.array([LENGTH_STEP, 1.0, 1.0, 1.0])
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
    #: Style control: Elo points per style covariate (chatbot/chat/style.py STYLE_FEATURES) for
    #: an answer with all of it against one with none (normalised difference 1). None for the raw fit.
    style_effects: tuple[float, ...] | None = None

    @property
    def length_effect(self) -> float | None:
        return None if self.style_effects is None else self.style_effects[0]


@dataclass(frozen=True)
class CellTable:
    """The cells as arrays, one entry per cell with any battle."""

    models: list[str]
    first: np.ndarray
    second: np.ndarray
    #: The cell's style steps (cells x covariates): each normalised difference / STYLE_STEPS.
    steps: np.ndarray
    #: Counts of model `first` winning, losing and tying, per cell.
    wins: np.ndarray
    losses: np.ndarray
    ties: np.ndarray

    @property
    def step(self) -> np.ndarray:
        """The length step of each cell."""
        return self.steps[:, 0]

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
    zeros = np.zeros((len(step), len(STYLE_STEPS) - 1), dtype=int)  # no markdown counts here
    keys = np.column_stack([first, second, step, zeros])
    unique, cell = np.unique(keys, axis=0, return_inverse=True)
    counts = np.zeros((len(unique), 3))
    np.add.at(counts, (cell.reshape(-1), kind), 1.0)
    return CellTable(battles.models, unique[:, 0], unique[:, 1], unique[:, 2:], *counts.T)


#: Above this many cells, the style-controlled fit's bootstrap is drawn from its limit (the
#: sandwich covariance a Poisson bootstrap converges to as counts grow, computed in one pass)
#: instead of refitted per round: with markdown and categories in the cell key, a million votes
#: make ~150,000 style cells, and 200 refits of them take tens of seconds. Past this size the
#: counts are large enough for the limit to hold (tests/chatbot/chat/test_cells.py).
BOOTSTRAP_MAX_CELLS = 20_000
#: Bootstrap rounds fitted together: one Newton step for all of them is a few array operations,
#: and the rounds' arrays (rounds x cells) stay tens of MB.
ROUNDS_PER_BATCH = 50
#: A count at least this large is redrawn as a normal of the same mean and variance, not a
#: Poisson (a normal draw costs a fraction of a Poisson's). Each rating's resample sums many
#: cells, so only the counts' variance shows in its spread, and the intervals are the
#: all-Poisson ones to a point (tests/chatbot/chat/test_cells.py).
NORMAL_FROM = 10.0
#: Newton stops once no coefficient moves more than this (in logits: 0.02 rating points);
#: converging quadratically, it is then far closer than that.
CONVERGED = 1e-4


@dataclass(frozen=True)
class _Rows:
    """Rows of the regression: model `first` against `second`, with style covariates if
    `covariates` (rows x covariates) are given. Sums over rows are taken per pair of models (np.bincount), and the model terms
    come from the pairs through their incidence matrix (+1 first, -1 second): the cost of a
    Newton step grows with the rows, its matrix algebra only with the pairs."""

    models: int
    first: np.ndarray
    second: np.ndarray
    covariates: np.ndarray | None = None

    @property
    def width(self) -> int:
        return self.models + (0 if self.covariates is None else self.covariates.shape[1])

    @cached_property
    def products(self) -> np.ndarray:
        """Each row's product of each pair of covariates (_covariate_pairs x rows)."""
        assert self.covariates is not None
        return np.stack(
            [
                self.covariates[:, j] * self.covariates[:, k]
                for j, k in _covariate_pairs(self.covariates.shape[1])
            ]
        )

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(pair of each row, incidence matrix: pairs x models)."""
        pairs, pair_of = unique_pairs(self.first, self.second, self.models)
        incidence = np.zeros((len(pairs), self.models))
        incidence[np.arange(len(pairs)), pairs[:, 0]] = 1.0
        incidence[np.arange(len(pairs)), pairs[:, 1]] = -1.0
        return pair_of.reshape(-1), incidence


def fit_cells(table: CellTable, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> tuple[Fit, Fit]:
    """(raw, style-controlled), each with a bootstrap over the same resamples.

    Each cell is one row of a logistic regression with soft labels: its wins count 1, its ties
    0.5, its losses 0, so the row needs only its score (wins + ties / 2) and its battles. The
    raw fit has no length term, so its cells are summed per pair of models first. The cost
    grows with the cells, not the battles. The bootstrap redraws each count as a Poisson of
    itself: for many votes, the same spread as resampling the battles, without them. Its rounds
    are fitted ROUNDS_PER_BATCH at a time, each from the point estimate (two or three Newton
    steps), so no Python loop runs per round."""
    m = len(table.models)
    style_rows = _Rows(m, table.first, table.second, table.steps * STYLE_STEPS)
    pairs, pair_of = unique_pairs(table.first, table.second, m)
    raw_rows = _Rows(m, pairs[:, 0], pairs[:, 1])

    def by_pair(values: np.ndarray) -> np.ndarray:
        """Per pair of models, the sum of its cells (along the last axis)."""
        return _sum_by(pair_of, len(pairs), values)

    score, total = table.wins + table.ties / 2, table.wins + table.losses + table.ties
    raw_beta = _logistic(raw_rows, by_pair(score), by_pair(total))
    # From the raw fit's ratings (the style terms are small corrections): fewer Newton steps.
    start = np.concatenate([raw_beta, np.zeros(style_rows.width - m)])
    style_beta = _logistic(style_rows, score, total, start=start)
    rng = np.random.default_rng(seed)
    redraw_style = len(table.wins) <= BOOTSTRAP_MAX_CELLS
    raw_samples, style_samples = [], []
    # Without the style refits, each pair's sums are redrawn instead: a sum of Poissons is the
    # Poisson of the sum, so the raw bootstrap is the same, over pairs rather than cells.
    counts = (
        (table.wins, table.losses, table.ties)
        if redraw_style
        else tuple(by_pair(n) for n in (table.wins, table.losses, table.ties))
    )
    for batch in range(0, rounds, ROUNDS_PER_BATCH):
        size = min(ROUNDS_PER_BATCH, rounds - batch)
        wins, losses, ties = (_poisson_redraws(rng, n, size) for n in counts)
        score_b, total_b = wins + ties / 2, wins + losses + ties
        if redraw_style:
            style_samples.append(_logistic(style_rows, score_b, total_b, start=style_beta))
            score_b, total_b = by_pair(score_b), by_pair(total_b)
        raw_samples.append(_logistic(raw_rows, score_b, total_b, start=raw_beta))
    if not redraw_style:  # draws from the bootstrap's limit (see BOOTSTRAP_MAX_CELLS)
        limit = _poisson_bootstrap_limit(style_rows, style_beta, (table.wins, table.losses, table.ties))
        style_samples.append(rng.multivariate_normal(style_beta, limit, size=rounds, method="eigh"))
    raw = _summary(raw_beta, np.concatenate(raw_samples), _covariance(raw_rows, by_pair(total), raw_beta), m)
    style = _summary(style_beta, np.concatenate(style_samples), _covariance(style_rows, total, style_beta), m)
    effects = tuple(float(beta) * _PER_LOGIT for beta in style_beta[m:])
    return raw, Fit(style.rating, style.lower, style.upper, style_effects=effects)


def _covariate_pairs(covariates: int) -> list[tuple[int, int]]:
    return list(itertools.combinations_with_replacement(range(covariates), 2))


def unique_pairs(first: np.ndarray, second: np.ndarray, models: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct (first, second) pairs, sorted: pairs x 2; the pair of each entry). Each
    pair coded as one integer: a 1-D unique costs a fraction of a unique over rows."""
    codes, pair_of = np.unique(np.asarray(first) * models + np.asarray(second), return_inverse=True)
    return np.stack([codes // models, codes % models], axis=1), pair_of.reshape(-1)


def _logistic(
    rows: _Rows, score: np.ndarray, total: np.ndarray, start: np.ndarray | None = None
) -> np.ndarray:
    """Logistic regression on grouped rows (row i: `total[..., i]` trials scoring
    `score[..., i]`, ties counting half), with the prior, by Newton's method. Given 2-D
    (rounds x rows), the rounds are fitted together, each its own regression."""
    batched = score.ndim == 2
    score, total = np.atleast_2d(score), np.atleast_2d(total)
    rounds, m, width = len(score), rows.models, rows.width
    pair_of, incidence = rows.pairs
    pairs = len(incidence)
    outer = (incidence[:, :, None] * incidence[:, None, :]).reshape(pairs, m * m)
    flat = (np.arange(rounds)[:, None] * pairs + pair_of[None, :]).ravel()

    def per_pair(values: np.ndarray) -> np.ndarray:
        return np.bincount(flat, values.ravel(), rounds * pairs).reshape(rounds, pairs)

    beta = np.zeros((rounds, width)) if start is None else np.tile(start[:width], (rounds, 1))
    prior = PRIOR * np.eye(width)
    for _ in range(50):
        eta = (beta[:, :m] @ incidence.T)[:, pair_of]
        if rows.covariates is not None:
            eta += beta[:, m:] @ rows.covariates.T
        p = 1.0 / (1.0 + np.exp(-eta))
        residual, weight = score - total * p, total * p * (1 - p)
        gradient = np.empty((rounds, width))
        gradient[:, :m] = per_pair(residual) @ incidence
        hessian = np.empty((rounds, width, width))
        hessian[:, :m, :m] = (per_pair(weight) @ outer).reshape(rounds, m, m)
        if rows.covariates is not None:
            gradient[:, m:] = residual @ rows.covariates
            for j, covariate in enumerate(rows.covariates.T):
                hessian[:, :m, m + j] = hessian[:, m + j, :m] = per_pair(weight * covariate) @ incidence
            # One matrix product for every pair of covariates (BLAS): an einsum over the rows
            # took several times as long.
            sums = weight @ rows.products.T
            for index, (j, k) in enumerate(_covariate_pairs(rows.covariates.shape[1])):
                hessian[:, m + j, m + k] = hessian[:, m + k, m + j] = sums[:, index]
        step = np.linalg.solve(hessian + prior, (gradient - PRIOR * beta)[..., None])[..., 0]
        beta += step
        if np.abs(step).max() < CONVERGED:
            break
    return beta if batched else beta[0]


def _curvature(rows: _Rows, beta: np.ndarray, weight_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """X' diag(w) X over the rows, w = weight_of(p) at `beta` (p: each row's win probability)."""
    pair_of, incidence = rows.pairs
    m, pairs = rows.models, len(incidence)
    eta = (incidence @ beta[:m])[pair_of] + (0.0 if rows.covariates is None else rows.covariates @ beta[m:])
    weight = weight_of(1.0 / (1.0 + np.exp(-eta)))
    matrix = np.zeros((rows.width, rows.width))
    matrix[:m, :m] = incidence.T @ (np.bincount(pair_of, weight, pairs)[:, None] * incidence)
    if rows.covariates is not None:
        for j, covariate in enumerate(rows.covariates.T):
            matrix[:m, m + j] = matrix[m + j, :m] = (
                np.bincount(pair_of, weight * covariate, pairs) @ incidence
            )
        matrix[m:, m:] = (rows.covariates * weight[:, None]).T @ rows.covariates
    return matrix


def _covariance(rows: _Rows, total: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The posterior's covariance at `beta` (the inverse of the log-posterior's curvature)."""
    return np.linalg.inv(_curvature(rows, beta, lambda p: total * p * (1 - p)) + PRIOR * np.eye(rows.width))


def _poisson_bootstrap_limit(
    rows: _Rows, beta: np.ndarray, counts: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """The covariance the Poisson bootstrap converges to with many votes per cell (the sandwich
    H^-1 M H^-1: H the curvature, M the spread of the score, each count's variance its mean),
    computed without a draw. Unlike the curvature alone it counts ties' smaller spread."""
    wins, losses, ties = counts
    total = wins + losses + ties
    inverse = np.linalg.inv(
        _curvature(rows, beta, lambda p: total * p * (1 - p)) + PRIOR * np.eye(rows.width)
    )
    meat = _curvature(rows, beta, lambda p: wins * (1 - p) ** 2 + ties * (0.5 - p) ** 2 + losses * p**2)
    return inverse @ meat @ inverse


def _sum_by(group: np.ndarray, groups: int, values: np.ndarray) -> np.ndarray:
    """Sums of `values` (1-D, or rounds x items) per group of their last axis."""
    if values.ndim == 1:
        return np.bincount(group, values, groups)
    rounds = len(values)
    flat = (np.arange(rounds)[:, None] * groups + group[None, :]).ravel()
    return np.bincount(flat, values.ravel(), rounds * groups).reshape(rounds, groups)


def _poisson_redraws(rng: np.random.Generator, counts: np.ndarray, rounds: int) -> np.ndarray:
    """`rounds` redraws of each count as a Poisson of itself (rounds x counts). A small count
    is drawn exactly, by its Poisson's inverse distribution function (counts are whole numbers,
    so a few tables serve every cell); a large one as the normal of the same mean and variance
    (NORMAL_FROM)."""
    drawn = np.empty((rounds, len(counts)))
    large = counts >= NORMAL_FROM
    big = counts[large]
    drawn[:, large] = np.maximum(big + np.sqrt(big) * rng.standard_normal((rounds, len(big))), 0.0)
    for value in np.unique(counts[~large]):
        where = np.flatnonzero(counts == value)
        drawn[:, where] = np.searchsorted(
            _poisson_cdf(float(value)), rng.random((rounds, len(where))), "right"
        )
    return drawn


def _poisson_cdf(mean: float) -> np.ndarray:
    """P(K <= k) for k = 0, 1, ... up to where the tail is below 1e-15 (the last entry is 1)."""
    if mean <= 0:
        return np.ones(1)
    k = np.arange(int(mean + 12 * math.sqrt(mean) + 20))
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(k[1:]))])
    cdf = np.cumsum(np.exp(k * math.log(mean) - mean - log_factorial))
    cdf[-1] = 1.0
    return cdf


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
