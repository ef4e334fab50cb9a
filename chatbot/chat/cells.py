"""The arena's sufficient statistics: counters a vote adds to, so a fit never reads every vote.

A counted vote adds, in the same store transaction that keeps the vote:
- per cell, with model_a < model_b by name: one to the wins, losses or ties of model_a, for each
  pair of panes the vote compares. The cell key is
  ("cell", model_a, model_b, category, length step, headers step, lists step, bold step, outcome):
  the prompt's category (chatbot/chat/style.py) and each style covariate, the answers'
  normalised difference (a's minus b's) rounded to ratings.STYLE_STEPS. The length step is the
  precision the fit has always used, so the fit on cells is the fit on votes. Cells that the
  previous release wrote, ("cell", model_a, model_b, length step, outcome), are read as
  "unclassified" with no markdown difference;
- one to `counted`, and one to each of its models' `model_votes`.
A vote that does not count (vote_rules.py) is kept with its reason and adds one to
`voided/<reason code>` only. The daily limit is its own counter per (user, models, UTC day).

Counter keys are tuples of strings and integers, stored as their JSON text.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from chatbot.api.records import Vote
from chatbot.chat.ratings import STYLE_STEPS, CellTable
from chatbot.chat.style import STYLE_FEATURES, UNCLASSIFIED
from chatbot.chat.vote_rules import VoteRules, void_reasons

CounterKey = tuple[str | int, ...]
#: The outcome of a cell's model_a.
OUTCOMES = ("wins", "losses", "ties")


def encode_key(key: CounterKey) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def decode_key(text: str) -> CounterKey:
    return tuple(json.loads(text))


def lane_outcomes(vote: Vote) -> list[tuple[int, int, float]]:
    """(winner lane, loser lane, score), by lane position."""
    if len(vote.models) == 2:
        return {"left": [(0, 1, 1.0)], "right": [(1, 0, 1.0)]}.get(vote.choice, [(0, 1, 0.5)])
    if vote.choice == "best" and vote.best_lane in vote.lanes:
        best = vote.lanes.index(vote.best_lane)
        return [(best, other, 1.0) for other in range(len(vote.models)) if other != best]
    return [(i, j, 0.5) for i, j in itertools.combinations(range(len(vote.models)), 2)]


def _difference(a: float, b: float) -> float:
    return (a - b) / (a + b) if a + b else 0.0


def vote_battles(vote: Vote) -> list[tuple[str, str, float, tuple[float, ...]]]:
    """(first model, second model, score of the first, style differences first minus second:
    length, headers, list items, bold)."""
    answers = vote.answers if len(vote.answers) == len(vote.models) else None
    battles = []
    for i, j, score in lane_outcomes(vote):
        diffs = (0.0,) * len(STYLE_FEATURES)
        if answers:
            a, b = answers[i], answers[j]
            diffs = (
                _difference(a.chars, b.chars),
                _difference(a.headers, b.headers),
                _difference(a.list_items, b.list_items),
                _difference(a.bold, b.bold),
            )
        battles.append((vote.models[i], vote.models[j], score, diffs))
    return battles


def cell_of(
    first: str, second: str, score: float, diffs: tuple[float, ...], category: str = UNCLASSIFIED
) -> CounterKey:
    """The cell counter one battle adds to, seen from the model first by name."""
    if second < first:
        first, second, score, diffs = second, first, 1.0 - score, tuple(-d for d in diffs)
    # Half to even: symmetric under the swap.
    steps = [int(step) for step in np.round(np.array(diffs) / STYLE_STEPS)]
    outcome = "ties" if score == 0.5 else ("wins" if score == 1.0 else "losses")
    return ("cell", first, second, category, *steps, outcome)


def counted_increments(vote: Vote) -> Counter[CounterKey]:
    """What a counted vote adds."""
    increments: Counter[CounterKey] = Counter({("counted",): 1})
    for model in set(vote.models):
        increments[("model_votes", model)] += 1
    for battle in vote_battles(vote):
        increments[cell_of(*battle, category=vote.category)] += 1
    for model, answer in zip(vote.models, vote.answers, strict=False):
        for figure, value in (("ttft_ms", answer.ttft_ms), ("tokens_per_s", answer.tokens_per_s)):
            if value is not None and value > 0:
                increments[(figure, model, speed_bucket(value))] += 1
    return increments


#: Speed figures are counted in buckets 1% wide, so a median is known to 1%.
SPEED_BUCKET = math.log(1.01)


def speed_bucket(value: float) -> int:
    return round(math.log(value) / SPEED_BUCKET)


def histogram_median(buckets: dict[int, int]) -> float | None:
    """The median of values counted in speed buckets (each read as its bucket's centre)."""
    total = sum(buckets.values())
    if not total:
        return None
    ordered = sorted(buckets.items())
    cumulative = list(itertools.accumulate(n for _, n in ordered))

    def at(position: int) -> float:
        index = next(i for i, upto in enumerate(cumulative) if upto > position)
        return math.exp(ordered[index][0] * SPEED_BUCKET)

    return round((at((total - 1) // 2) + at(total // 2)) / 2, 2)


def voided_increments(reason: str) -> Counter[CounterKey]:
    return Counter({("voided", reason.split(":", 1)[0]): 1})


@dataclass
class ArenaCounts:
    """Every arena counter, read back from a store (or tallied from votes)."""

    counters: Counter[CounterKey] = field(default_factory=Counter)

    @property
    def counted(self) -> int:
        return self.counters[("counted",)]

    @property
    def voided(self) -> dict[str, int]:
        return {str(key[1]): n for key, n in self.counters.items() if key[0] == "voided" and n}

    @property
    def model_votes(self) -> dict[str, int]:
        return {str(key[1]): n for key, n in self.counters.items() if key[0] == "model_votes" and n}

    def medians(self) -> dict[tuple[str, str], float | None]:
        """(ttft_ms or tokens_per_s, model) -> the median of the model's counted answers."""
        buckets: dict[tuple[str, str], dict[int, int]] = {}
        for key, n in self.counters.items():
            if key[0] in ("ttft_ms", "tokens_per_s"):
                buckets.setdefault((str(key[0]), str(key[1])), {})[int(key[2])] = n
        return {key: histogram_median(counts) for key, counts in buckets.items()}

    def cells(self, category: str | None = None) -> CellTable:
        """The cells of every category, summed, or of one."""
        rows = []
        for key, n in self.counters.items():
            if key[0] != "cell" or not n:
                continue
            if len(key) == 5:  # the previous release's: no category, no markdown
                if category is None or category == UNCLASSIFIED:
                    rows.append((key[1], key[2], key[3], 0, 0, 0, key[4], n))
            elif category is None or key[3] == category:
                rows.append((key[1], key[2], *key[4:], n))
        models = sorted({model for row in rows for model in row[:2]})
        index = {model: i for i, model in enumerate(models)}
        width = 2 + len(STYLE_FEATURES)
        keys = np.array(
            [(index[row[0]], index[row[1]], *row[2:width]) for row in rows], dtype=np.int64
        ).reshape(-1, width)
        outcome = np.array([OUTCOMES.index(str(row[width])) for row in rows], dtype=int)
        # Each key as one integer (mixed radix over the columns' ranges): a 1-D unique is far
        # cheaper than a unique over rows.
        low = keys.min(axis=0) if len(keys) else np.zeros(width, dtype=np.int64)
        dims = tuple(int(d) for d in (keys.max(axis=0) - low + 1)) if len(keys) else (1,) * width
        codes = (
            np.ravel_multi_index(tuple((keys - low).T), dims) if len(keys) else np.zeros(0, dtype=np.int64)
        )
        unique, cell = np.unique(codes, return_inverse=True)
        columns = np.stack(np.unravel_index(unique, dims), axis=1) + low if len(unique) else keys
        counts = np.zeros((len(unique), 3))
        np.add.at(counts, (cell.reshape(-1), outcome), np.array([row[-1] for row in rows], dtype=float))
        return CellTable(models, columns[:, 0], columns[:, 1], columns[:, 2:], *counts.T)

    def categories(self) -> dict[str, int]:
        """Battles counted per category."""
        battles: Counter[str] = Counter()
        for key, n in self.counters.items():
            if key[0] == "cell" and n:
                battles[UNCLASSIFIED if len(key) == 5 else str(key[3])] += n
        return dict(battles)


def tally(votes: Sequence[Vote], rules: VoteRules | None = None) -> ArenaCounts:
    """The counters a store holds after these votes (anonymous ones; oldest first), each judged
    by the rules as at vote time: the backfill of stored votes, and the ranking of a file."""
    ordered = sorted((vote for vote in votes if vote.anonymous), key=lambda vote: vote.created_at)
    counts = ArenaCounts()
    for vote, reason in zip(ordered, void_reasons(ordered, rules or VoteRules()), strict=True):
        counts.counters.update(voided_increments(reason) if reason else counted_increments(vote))
    return counts


def merge(rows: Iterable[tuple[str, int]]) -> ArenaCounts:
    """Counters from stored (key text, n) rows; the same key may come from several shards."""
    rows = list(rows)
    counts = ArenaCounts()
    # One parse of every key (a JSON array of arrays) costs a fraction of one parse per key.
    keys = json.loads("[" + ",".join(text for text, _ in rows) + "]")
    summed: dict[CounterKey, int] = {}
    for key, (_, n) in zip(keys, rows, strict=True):
        summed[tuple(key)] = summed.get(tuple(key), 0) + int(n)
    counts.counters.update(summed)
    return counts
