"""Model pickers and generation parameters, bounded by each model's limits (from GET /models)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from chatbot.models.limits import SEED_MAX
from streamlit_app.api_models import ModelInfo

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
    name = st.selectbox(label, names, key=key, help="The models the chat API serves.")
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
    temperature = st.slider(
        "Temperature",
        *TEMPERATURE_RANGE,
        step=0.05,
        key=keys["temperature"],
        help="0 always picks the likeliest word; higher is more varied.",
    )
    top_p = st.slider(
        "Top-p",
        *TOP_P_RANGE,
        step=0.05,
        key=keys["top_p"],
        help="Sample only from the likeliest words that together reach this probability. 1 turns it off.",
    )
    max_new_tokens = st.number_input(
        "Max new tokens",
        min_value=1,
        max_value=bounds.max_new_tokens_limit,
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
