"""Model pickers and generation parameters, bounded by each model's limits (from GET /models)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from chatbot.api.catalog import ModelInfo
from chatbot.api.limits import SEED_MAX

TEMPERATURE_RANGE = (0.0, 2.0)
TOP_P_RANGE = (0.05, 1.0)


@dataclass(frozen=True)
class ParameterBounds:
    """What every model in use accepts: the tightest of their limits."""

    max_new_tokens_limit: int
    default_max_new_tokens: int
    default_temperature: float
    default_top_p: float

    @classmethod
    def of(cls, models: list[ModelInfo]) -> ParameterBounds:
        limit = min(min(m.max_new_tokens_limit, m.context_window) for m in models)
        defaults = models[0].default_parameters
        return cls(
            max_new_tokens_limit=limit,
            default_max_new_tokens=min(int(defaults.get("max_new_tokens", 256)), limit),
            default_temperature=_within(float(defaults.get("temperature", 0.7)), TEMPERATURE_RANGE),
            default_top_p=_within(float(defaults.get("top_p", 0.9)), TOP_P_RANGE),
        )


def _within(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def model_picker(models: list[ModelInfo], *, key: str, label: str = "Model", index: int = 0) -> ModelInfo:
    names = [model.name for model in models]
    if st.session_state.get(key) not in names:  # a model that went away since the last visit
        st.session_state[key] = names[min(index, len(names) - 1)]
    # index= the kept choice, for the reason parameter_controls gives.
    name = st.selectbox(
        label,
        names,
        index=names.index(st.session_state[key]),
        key=key,
        help="The models the chat API serves.",
    )
    return next(model for model in models if model.name == name)


def parameter_controls(bounds: ParameterBounds, *, prefix: str) -> dict[str, Any]:
    """Sliders bounded by the models' limits; returns the parameters to send."""
    state = st.session_state
    keys = {name: f"{prefix}_{name}" for name in ("temperature", "top_p", "max_new_tokens")}
    state.setdefault(keys["temperature"], bounds.default_temperature)
    state.setdefault(keys["top_p"], bounds.default_top_p)
    state.setdefault(keys["max_new_tokens"], bounds.default_max_new_tokens)
    # Another model may allow fewer tokens than the value kept from the last one.
    state[keys["max_new_tokens"]] = max(
        1, min(int(state[keys["max_new_tokens"]]), bounds.max_new_tokens_limit)
    )
    # value= the kept value, not only key=: a widget the browser has not drawn yet (these sit in a
    # popover, which Streamlit draws when it opens) starts from its default, and sends that back
    # with the next rerun. Without value= a slider's default is its minimum, so opening Parameters
    # to change the seed set temperature 0 and top-p 0.05 (issue 18.17: why a Stop seemed lost).
    temperature = st.slider(
        "Temperature",
        *TEMPERATURE_RANGE,
        value=float(state[keys["temperature"]]),
        step=0.05,
        key=keys["temperature"],
        help="0 always picks the likeliest word; higher is more varied.",
    )
    top_p = st.slider(
        "Top-p",
        *TOP_P_RANGE,
        value=float(state[keys["top_p"]]),
        step=0.05,
        key=keys["top_p"],
        help="Sample only from the likeliest words that together reach this probability. 1 turns it off.",
    )
    max_new_tokens = st.number_input(
        "Max new tokens",
        min_value=1,
        max_value=bounds.max_new_tokens_limit,
        value=int(state[keys["max_new_tokens"]]),
        step=16,
        key=keys["max_new_tokens"],
        help=f"The longest answer, in tokens (at most {bounds.max_new_tokens_limit} here).",
    )
    seed = st.number_input(
        "Seed",
        min_value=0,
        max_value=SEED_MAX,
        value=None,
        step=1,
        key=f"{prefix}_seed",
        placeholder="random",
        help="The same seed, message and settings give the same answer again (on models that take "
        "a seed). Empty: a new draw each time.",
    )
    chosen = {"temperature": float(temperature), "top_p": float(top_p), "max_new_tokens": int(max_new_tokens)}
    return chosen if seed is None else {**chosen, "seed": int(seed)}
