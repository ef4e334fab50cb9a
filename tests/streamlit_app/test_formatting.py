from __future__ import annotations

from chatbot.models.events import Metrics, Usage
from streamlit_app.api_models import ModelInfo
from streamlit_app.formatting import answer_figures, live_figures
from streamlit_app.live import LiveFigures
from streamlit_app.widgets.model_settings import ParameterBounds


def test_an_answers_figures_read_as_words():
    metrics = Metrics(ttft_ms=190.3, tokens_per_s=40.04, total_ms=365)
    assert answer_figures(metrics, Usage(completion_tokens=8)) == "TTFT 0.19 s · 40.0 tokens/s · 8 tokens"
    assert answer_figures(metrics, Usage(completion_tokens=3), "stopped").endswith("3 tokens · stopped")
    assert answer_figures(None, None) == ""


def test_live_figures_wait_for_the_first_token():
    assert live_figures(LiveFigures(None, 0, None)) == "waiting for the first token…"
    assert live_figures(LiveFigures(0.25, 12, 48.0)) == "TTFT 0.25 s · 48.0 tokens/s · 12 tokens"


def model(name: str, limit: int, window: int = 2048, **defaults) -> ModelInfo:
    return ModelInfo(
        name=name,
        model_id=name,
        context_window=window,
        max_new_tokens_limit=limit,
        default_parameters=defaults,
    )


def test_parameter_bounds_are_the_tightest_of_the_models_in_use():
    bounds = ParameterBounds.of([model("big", 1024, max_new_tokens=512), model("small", 256)])
    assert bounds.max_new_tokens_limit == 256
    assert bounds.default_max_new_tokens == 256  # the first model's default, cut to what all accept


def test_defaults_outside_the_sliders_are_brought_inside():
    bounds = ParameterBounds.of([model("m", 100, window=64, temperature=5, top_p=0)])
    assert bounds.max_new_tokens_limit == 64  # never more than the context window
    assert (bounds.default_temperature, bounds.default_top_p) == (2.0, 0.05)
