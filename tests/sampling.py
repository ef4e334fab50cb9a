"""Tests that sample from a real model: what a draw may be relied on for.

A seed pins a draw only for one build of llama.cpp on one kind of CPU: another build (other
compile flags, another instruction set) can turn the same seed into another answer, and did
(seed 7 gave a 20-token count on one machine and an 11-token "The answer is fifty." on the
next). So no test relies on what a seed picked by hand happens to write. Each one either:

- asserts only what holds for every draw (the stream's shape, bounds, stop words held back);
- decodes greedily (temperature 0) where it needs the model to write something at all; or
- finds, at run time, a seed whose draw has what it needs (an answer that runs long, so a stop
  lands mid-answer), proves that draw, and only then relies on it. The model server gives the
  same draw for the same prompt, parameters and seed within a run, so the proof carries over.
"""

from __future__ import annotations

from collections.abc import Callable

from chatbot.models.endpoints import Endpoint
from chatbot.models.events import DoneEvent

#: Tried in order; a property that half the draws have is found within a few.
SEEDS = range(1, 41)
#: Greedy decoding: the most likely token each time, no draw at all.
GREEDY = {"temperature": 0}
#: How stop tests sample: a long answer, at the model's liveliest.
LONG = {"max_new_tokens": 600, "temperature": 1.0}

_found: dict[tuple, int] = {}


def seed_where(
    has_it: Callable[[int], bool], what: str, *, key: tuple | None = None, seeds: range = SEEDS
) -> int:
    """The first seed whose draw `has_it`; remembered under `key` for the rest of the run.
    A rarer property searches more `seeds`: which seeds have it changes with the build."""
    if key is not None and key in _found:
        return _found[key]
    for seed in seeds:
        if has_it(seed):
            if key is not None:
                _found[key] = seed
            return seed
    raise AssertionError(f"none of the seeds {seeds.start} to {seeds.stop - 1} gives {what}")


def runs_to(endpoint: Endpoint, message: str, tokens: int, parameters: dict, seed: int) -> bool:
    """Whether this draw writes at least `tokens` tokens (it is cut there: 'length')."""
    params = endpoint.spec.resolve_parameters({**parameters, "max_new_tokens": tokens, "seed": seed})
    prompt = endpoint.fit_prompt([], message, params).prompt
    done = list(endpoint.stream(prompt, params))[-1]
    return isinstance(done, DoneEvent) and done.finish_reason == "length"


def warm_up(endpoint: Endpoint, message: str, parameters: dict) -> None:
    """Ask once for one token, so the prompt is in the model server's prompt cache before any
    proof: every draw, proof and later use alike, then starts from the cached prompt, never from
    a fresh prefill whose last logits may differ in the last bits and tip a near tie."""
    runs_to(endpoint, message, 1, parameters, seed=0)


def long_answer_seed(endpoint: Endpoint, message: str, *, tokens: int = 80, parameters: dict = LONG) -> int:
    """A seed whose answer to `message` (first turn, `parameters`) runs past `tokens` tokens."""
    warm_up(endpoint, message, parameters)
    return seed_where(
        lambda seed: runs_to(endpoint, message, tokens, parameters, seed),
        f"an answer of {tokens}+ tokens from {endpoint.spec.name} to {message!r}",
        key=(endpoint.spec.name, message, tokens, tuple(sorted(parameters.items()))),
    )
