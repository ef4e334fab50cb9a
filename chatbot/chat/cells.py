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
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
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
    """Every arena counter, read back from a store (or tallied from votes): the cells of the
    current key shape as arrays (`block`), every other counter by its key (`rest`)."""

    rest: dict[CounterKey, int] = field(default_factory=dict)
    block: CellCounters = field(default_factory=lambda: CellCounters.empty())

    @classmethod
    def of(cls, counters: dict[CounterKey, int]) -> ArenaCounts:
        """The counts of these counters (keyed as the store keys them)."""
        text = "\n".join(encode_key(key) for key in counters)
        return parse_counters(text, np.fromiter(counters.values(), dtype=np.int64, count=len(counters)))

    @property
    def counters(self) -> Counter[CounterKey]:
        """Every counter by its key (a copy: the tests' and backfill's view, not the fit's)."""
        every: Counter[CounterKey] = Counter()
        for key, n in self.block.items():
            every[key] += n
        for key, n in self.rest.items():
            every[key] += n
        return every

    @property
    def counted(self) -> int:
        return self.rest.get(("counted",), 0)

    @property
    def voided(self) -> dict[str, int]:
        return {str(key[1]): n for key, n in self.rest.items() if key[0] == "voided" and n}

    @property
    def model_votes(self) -> dict[str, int]:
        return {str(key[1]): n for key, n in self.rest.items() if key[0] == "model_votes" and n}

    def medians(self) -> dict[tuple[str, str], float | None]:
        """(ttft_ms or tokens_per_s, model) -> the median of the model's counted answers."""
        buckets: dict[tuple[str, str], dict[int, int]] = {}
        for key, n in self.rest.items():
            if key[0] in ("ttft_ms", "tokens_per_s"):
                buckets.setdefault((str(key[0]), str(key[1])), {})[int(key[2])] = n
        return {key: histogram_median(counts) for key, counts in buckets.items()}

    def _older_cells(self) -> list[tuple[str, str, str, tuple[int, ...], int, int]]:
        """Cells not in the block: (model_a, model_b, category, steps, outcome index, n); the
        previous release's read as unclassified with no markdown."""
        rows: list[tuple[str, str, str, tuple[int, ...], int, int]] = []
        for key, n in self.rest.items():
            if key[0] != "cell" or not n:
                continue
            if len(key) == 5:
                rows.append(
                    (
                        str(key[1]),
                        str(key[2]),
                        UNCLASSIFIED,
                        (int(key[3]), 0, 0, 0),
                        OUTCOMES.index(str(key[4])),
                        n,
                    )
                )
            elif len(key) == 9:
                steps = tuple(int(step) for step in key[4:8])
                rows.append((str(key[1]), str(key[2]), str(key[3]), steps, OUTCOMES.index(str(key[8])), n))
        return rows

    def cells(self, category: str | None = None) -> CellTable:
        """The cells of every category, summed, or of one."""
        block, older = self.block, self._older_cells()
        if category is not None:
            older = [row for row in older if row[2] == category]
            in_category = np.array([head[2] == category for head in block.heads], dtype=bool)
            chosen = in_category[block.head] if len(block.head) else np.zeros(0, dtype=bool)
        else:
            chosen = np.ones(len(block.head), dtype=bool)
        chosen &= block.n != 0
        used_heads = np.unique(block.head[chosen])
        models = sorted(
            {block.heads[h][i] for h in used_heads.tolist() for i in (0, 1)}
            | {model for row in older for model in row[:2]}
        )
        index = {model: i for i, model in enumerate(models)}
        head_models = np.array(
            [(index.get(a, -1), index.get(b, -1)) for a, b, _ in block.heads], dtype=np.int64
        )
        head_models = head_models.reshape(-1, 2)
        head = block.head[chosen]
        width = 2 + len(STYLE_FEATURES)
        keys = np.concatenate(
            [
                np.column_stack([head_models[head], block.steps[chosen]]).reshape(-1, width),
                np.array([(index[row[0]], index[row[1]], *row[3]) for row in older], dtype=np.int64).reshape(
                    -1, width
                ),
            ]
        )
        outcome = np.concatenate([block.outcome[chosen], np.array([row[4] for row in older], dtype=np.int64)])
        n = np.concatenate([block.n[chosen], np.array([row[5] for row in older], dtype=np.int64)]).astype(
            float
        )
        # Each key as one integer (mixed radix over the columns' ranges): a 1-D unique is far
        # cheaper than a unique over rows.
        low = keys.min(axis=0) if len(keys) else np.zeros(width, dtype=np.int64)
        dims = tuple(int(d) for d in (keys.max(axis=0) - low + 1)) if len(keys) else (1,) * width
        codes = (
            np.ravel_multi_index(tuple((keys - low).T), dims) if len(keys) else np.zeros(0, dtype=np.int64)
        )
        unique, cell = np.unique(codes, return_inverse=True)
        columns = np.stack(np.unravel_index(unique, dims), axis=1) + low if len(unique) else keys
        counts = np.bincount(cell.reshape(-1) * 3 + outcome, n, 3 * len(unique)).reshape(-1, 3)
        return CellTable(models, columns[:, 0], columns[:, 1], columns[:, 2:], *counts.T)

    def categories(self) -> dict[str, int]:
        """Battles counted per category."""
        battles: Counter[str] = Counter()
        block = self.block
        if len(block.head):
            per_head = np.bincount(block.head, block.n.astype(float), len(block.heads))
            for (_, _, category), n in zip(block.heads, per_head.tolist(), strict=True):
                battles[category] += int(n)
        for _, _, category, _, _, n in self._older_cells():
            battles[category] += n
        return {category: n for category, n in battles.items() if n}


def tally(votes: Sequence[Vote], rules: VoteRules | None = None) -> ArenaCounts:
    """The counters a store holds after these votes (anonymous ones; oldest first), each judged
    by the rules as at vote time: the backfill of stored votes, and the ranking of a file."""
    ordered = sorted((vote for vote in votes if vote.anonymous), key=lambda vote: vote.created_at)
    counters: Counter[CounterKey] = Counter()
    for vote, reason in zip(ordered, void_reasons(ordered, rules or VoteRules()), strict=True):
        counters.update(voided_increments(reason) if reason else counted_increments(vote))
    return ArenaCounts.of(counters)


def merge(rows: Iterable[tuple[str, int]]) -> ArenaCounts:
    """Counters from stored (key text, n) rows; the same key may come from several shards."""
    rows = list(rows)
    return parse_counters("\n".join(text for text, _ in rows), np.array([n for _, n in rows], dtype=np.int64))


#: A cell key's tail (",length,headers,lists,bold,"outcome"]") is at most this many bytes.
_TAIL_WINDOW = 24
_TAIL_FIELDS = 5
#: Each outcome as the tail's last field.
_OUTCOME_FIELDS = tuple(f'"{outcome}"]'.encode() for outcome in OUTCOMES)
#: A step is written in at most this many characters (a sign and digits).
_INT_WIDTH = 4


@dataclass(frozen=True)
class CellCounters:
    """Cell counters as arrays, one entry per stored counter (a cell's key may come from several
    shards): a fit reads hundreds of thousands, and a Python tuple per counter was most of its cost."""

    #: (model_a, model_b, category) of each head code.
    heads: list[tuple[str, str, str]]
    head: np.ndarray
    #: Style steps (counters x covariates).
    steps: np.ndarray
    #: Index into OUTCOMES.
    outcome: np.ndarray
    n: np.ndarray

    @staticmethod
    def empty() -> CellCounters:
        nothing = np.zeros(0, dtype=np.int64)
        return CellCounters([], nothing, np.zeros((0, len(STYLE_FEATURES)), dtype=np.int64), nothing, nothing)

    def items(self) -> Iterable[tuple[CounterKey, int]]:
        for head, steps, outcome, n in zip(
            self.head.tolist(), self.steps.tolist(), self.outcome.tolist(), self.n.tolist(), strict=True
        ):
            yield ("cell", *self.heads[head], *steps, OUTCOMES[outcome]), n


def _parse_ints(window: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, valid) of the integer written in each row's window[start:end], as json.dumps
    writes one: an optional minus and digits."""
    rows = np.arange(len(window))
    value = np.zeros(len(window), dtype=np.int64)
    negative = window[rows, np.minimum(start, _TAIL_WINDOW - 1)] == ord("-")
    first = start + negative
    valid = (end > first) & (end - start <= _INT_WIDTH)
    for offset in range(_INT_WIDTH):
        position = first + offset
        char = window[rows, np.minimum(position, _TAIL_WINDOW - 1)].astype(np.int64) - ord("0")
        inside = position < end
        valid &= ~inside | ((char >= 0) & (char <= 9))
        value = np.where(inside, value * 10 + char, value)
    return np.where(negative, -value, value), valid


#: Keys whose tails are parsed together: the arrays of a batch stay a few MB.
_PARSE_BATCH = 65_536


def parse_counters(text: str | bytes, n: np.ndarray) -> ArenaCounts:
    """The counters of stored rows: their keys' JSON text joined by newlines (JSON text holds
    none), and their counts. The cells of the current key shape are parsed as arrays (the tail of
    integers with numpy, each distinct head once); any other counter (totals, speeds, the previous
    release's cells) is parsed as JSON, one by one, as there are few. No Python object is made
    per counter but its head, a slice of the text kept only until it is coded."""
    counts = ArenaCounts()
    if not text:
        return counts
    data = text.encode() if isinstance(text, str) else text
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.append(np.flatnonzero(raw == ord("\n")), len(raw))
    starts = np.concatenate([[0], ends[:-1] + 1])
    rows = len(ends)
    n = np.asarray(n, dtype=np.int64)
    head_ends = np.empty(rows, dtype=np.int64)
    steps = np.empty((rows, len(STYLE_FEATURES)), dtype=np.int64)
    outcome = np.empty(rows, dtype=np.int64)
    valid = np.empty(rows, dtype=bool)
    windows = (
        np.lib.stride_tricks.sliding_window_view(raw, _TAIL_WINDOW) if len(raw) >= _TAIL_WINDOW else None
    )
    for first in range(0, rows, _PARSE_BATCH):
        batch = slice(first, min(first + _PARSE_BATCH, rows))
        if windows is None:
            valid[batch] = False
            continue
        head_ends[batch], steps[batch], outcome[batch], valid[batch] = _parse_tails(
            windows, starts[batch], ends[batch]
        )
    # Each key's head (all before its tail's first comma), coded once per distinct head: the
    # code of a head is the row it first appears in, made dense after.
    first_row: dict[bytes, int] = {}
    head_ends = np.where(valid, head_ends, starts)
    # Batch by batch: a Python int per key, all at once, was tens of MB.
    head_slices = itertools.chain.from_iterable(
        map(
            slice,
            starts[first : first + _PARSE_BATCH].tolist(),
            head_ends[first : first + _PARSE_BATCH].tolist(),
        )
        for first in range(0, rows, _PARSE_BATCH)
    )
    # bytes[slice] is bytes, which typeshed's overloads of operator.getitem cannot say; a
    # data.__getitem__ that mypy reads is a quarter slower here.
    heads: Iterator[bytes] = map(operator.getitem, itertools.repeat(data), head_slices)  # type: ignore[arg-type]
    seen = np.fromiter(map(first_row.setdefault, heads, itertools.count()), dtype=np.int64, count=rows)
    _, dense = np.unique(seen, return_inverse=True)
    kept: list[tuple[str, str, str]] = []
    code_of = np.full(len(first_row), -1, dtype=np.int64)
    for code, head in enumerate(first_row):  # in order of first appearance, as the dense codes
        parsed = _cell_head(head)
        if parsed is not None:
            code_of[code] = len(kept)
            kept.append(parsed)
    head_code = code_of[dense.reshape(-1)]
    valid &= head_code >= 0
    for index in np.flatnonzero(~valid).tolist():
        key = tuple(json.loads(data[starts[index] : ends[index]]))
        counts.rest[key] = counts.rest.get(key, 0) + int(n[index])
    counts.block = CellCounters(kept, head_code[valid], steps[valid], outcome[valid], n[valid])
    return counts


def _parse_tails(
    windows: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(head end, steps, outcome, valid) of keys text[start:end], from the last _TAIL_WINDOW
    bytes of each: valid where they end in a cell's tail."""
    rows = len(ends)
    window = windows[np.maximum(ends - _TAIL_WINDOW, 0)]
    # Blank what lies before the key's start (another key's bytes).
    window[np.arange(_TAIL_WINDOW)[None, :] < (_TAIL_WINDOW - (ends - starts))[:, None]] = 0
    # The tail's five commas: the last five of each window (np.nonzero lists them row by row).
    comma_row, comma_column = np.nonzero(window == ord(","))
    comma_column = np.append(comma_column, 0)  # so that a batch without commas indexes too
    per_row = np.bincount(comma_row, minlength=rows)
    valid = (per_row >= _TAIL_FIELDS) & (ends >= _TAIL_WINDOW)
    last = np.cumsum(per_row) - 1  # each row's last comma, in the list
    commas = [
        np.where(valid, comma_column[np.maximum(last - (_TAIL_FIELDS - 1 - k), 0)], 0)
        for k in range(_TAIL_FIELDS)
    ]
    steps = []
    for column in range(len(STYLE_FEATURES)):
        value, ok = _parse_ints(window, commas[column] + 1, commas[column + 1])
        steps.append(value)
        valid &= ok
    outcome = np.full(rows, -1)
    length = _TAIL_WINDOW - commas[-1] - 1
    for index, token in enumerate(_OUTCOME_FIELDS):
        match = length == len(token)
        for offset, char in enumerate(token):
            match &= window[np.arange(rows), np.minimum(commas[-1] + 1 + offset, _TAIL_WINDOW - 1)] == char
        outcome = np.where(match, index, outcome)
    valid &= outcome >= 0
    head_ends = ends - (_TAIL_WINDOW - commas[0])
    return head_ends, np.stack(steps, axis=1), outcome, valid


def _cell_head(head: bytes) -> tuple[str, str, str] | None:
    """(model_a, model_b, category) of a cell key's head ('["cell","a","b","category"'), or
    None if it is not one."""
    try:
        parsed = json.loads(head + b"]")
    except ValueError:
        return None
    if (
        isinstance(parsed, list)
        and len(parsed) == 4
        and parsed[0] == "cell"
        and all(isinstance(part, str) for part in parsed[1:])
    ):
        return parsed[1], parsed[2], parsed[3]
    return None
