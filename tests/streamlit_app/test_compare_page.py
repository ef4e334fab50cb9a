"""The compare page: lanes side by side, arena mode and votes, against the real chat API."""

from __future__ import annotations

from tests.streamlit_app.markup import as_read

FEW_TOKENS = 6


def open_compare(app):
    app.switch_page("app_pages/compare.py")
    return app.run()


def ask(app, prompt: str = "Name a colour."):
    # Temperature 0: greedy decoding, whose short answers are never empty (tests/sampling.py).
    app.slider(key="cmp_temperature").set_value(0.0)
    app.number_input(key="cmp_max_new_tokens").set_value(FEW_TOKENS)
    app.chat_input(key="cmp_prompt").set_value(prompt)
    return app.run()


def pane_headers(app) -> list[str]:
    return [as_read(str(m.value)) for m in app.markdown if str(m.value).startswith("**Model ")]


def test_each_pane_has_its_own_model_picker(signed_in):
    app = open_compare(signed_in)
    assert [box.label for box in app.selectbox] == ["Model A", "Model B"]
    assert [box.value for box in app.selectbox] == ["smollm2-135m", "gemma3-270m"]
    app.segmented_control(key="cmp_lane_count").set_value(3).run()
    assert [box.label for box in app.selectbox] == ["Model A", "Model B", "Model C"]


def test_two_models_answer_the_same_prompt_side_by_side_and_the_vote_is_recorded(signed_in):
    app = ask(open_compare(signed_in))
    assert not app.exception
    assert pane_headers(app) == ["**Model A** · smollm2-135m", "**Model B** · gemma3-270m"]
    answers = [c for c in app.caption if "TTFT" in str(c.value)]
    assert len(answers) == 2  # both lanes finished, each with its own figures
    votes = {button.label for button in app.button if button.key and button.key.startswith("cmp_vote_")}
    assert votes == {"A is better", "B is better", "Tie", "Both are bad"}
    app = app.button(key="cmp_vote_left_").click().run()
    assert "Your vote: A is better" in [str(c.value) for c in app.caption]
    assert not [b for b in app.button if b.key and b.key.startswith("cmp_vote_")]  # one vote per round


def test_the_arena_hides_the_models_until_the_vote_reveals_them(signed_in):
    app = open_compare(signed_in)
    app.toggle(key="cmp_arena").set_value(True).run()
    assert not app.selectbox  # the arena picks the models
    app = ask(app)
    assert pane_headers(app) == ["**Model A**", "**Model B**"]
    app = app.button(key="cmp_vote_tie_").click().run()
    revealed = pane_headers(app)
    drawn = {header.split(" · ")[1] for header in revealed}
    assert len(drawn) == 2
    assert drawn <= {"smollm2-135m", "gemma3-270m", "smollm2-135m-bedrock"}
    assert app.chat_input(key="cmp_prompt").disabled  # the round is over...
    app = app.button(key="cmp_new").click().run()
    assert not app.chat_input(key="cmp_prompt").disabled  # ...until a new one starts


def test_three_panes_vote_for_the_best_one_or_all_bad(signed_in):
    app = open_compare(signed_in)
    app.segmented_control(key="cmp_lane_count").set_value(3).run()
    app = ask(app)
    votes = [button.label for button in app.button if button.key and button.key.startswith("cmp_vote_")]
    assert votes == ["Model A is best", "Model B is best", "Model C is best", "All are bad"]
    app = app.button(key="cmp_vote_best_c").click().run()
    assert "Your vote: Model C is best" in [str(c.value) for c in app.caption]


def test_the_arena_offers_no_more_panes_than_there_are_models(signed_in):
    app = open_compare(signed_in)
    app.segmented_control(key="cmp_lane_count").set_value(4).run()
    app.toggle(key="cmp_arena").set_value(True).run()
    assert not app.exception
    assert app.segmented_control(key="cmp_lane_count").options == ["2", "3"]  # three local chat models


def test_the_parameters_a_browser_draws_late_start_from_the_kept_values(signed_in):
    # The Parameters popover's widgets reach the browser only when it opens; a widget the browser
    # has not drawn starts from its default and sends that back with the next rerun. The defaults
    # must be the kept values: a slider's own default is its minimum, and opening Parameters to
    # set the seed once set temperature 0 and top-p 0.05 (the cause of issue 18.17's lost Stop).
    app = open_compare(signed_in)
    app.slider(key="cmp_temperature").set_value(1.2)
    app.slider(key="cmp_top_p").set_value(0.5)
    app.number_input(key="cmp_max_new_tokens").set_value(300)
    app = app.run().run()
    assert list(app.slider(key="cmp_temperature").proto.default) == [1.2]
    assert list(app.slider(key="cmp_top_p").proto.default) == [0.5]
    assert app.number_input(key="cmp_max_new_tokens").proto.default == 300
    models = [app.selectbox(key=f"cmp_model_{lane}") for lane in "ab"]
    assert [box.proto.options[box.proto.default] for box in models] == [box.value for box in models]
