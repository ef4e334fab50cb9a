"""Compare: 2 to 4 models answer one prompt side by side, all streaming at once; vote on the answers.
Arena mode picks the models at random and hides them until the vote."""

import streamlit as st

from chatbot.api import lanes as lanes_policy
from chatbot.models.events import LaneView
from streamlit_app import compare_flow as flow
from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.formatting import answer_markdown, as_plain_text
from streamlit_app.widgets import history
from streamlit_app.widgets.live_view import Pane, follow
from streamlit_app.widgets.messages import answer_body
from streamlit_app.widgets.model_settings import ParameterBounds, model_picker, parameter_controls
from streamlit_app.widgets.preset_picker import NONE as NO_PRESET
from streamlit_app.widgets.preset_picker import preset_picker
from streamlit_app.widgets.votes import vote_buttons

api = context.api()

if (opened := history.take_open_request()) is not None:
    if opened.kind == "chat":
        st.session_state[history.KEY_OPEN] = opened  # the chat page shows it
        st.switch_page("app_pages/chat.py")
    try:
        flow.load(api, opened.session_id)
    except ApiError as exc:
        st.error(f"That comparison cannot be opened: {as_plain_text(str(exc))}")
    else:  # its later rounds keep the preset it was started with (while it is still published)
        st.session_state["cmp_preset"] = flow.opened_preset() or NO_PRESET

flow.absorb_finished()
turn = flow.live()
history.history_sidebar(api, current_id=flow.session_id(), on_deleted_current=flow.reset)

models = context.chat_models_or_stop(
    minimum=2,
    activity="comparing",
    too_few="Comparing needs at least two chat models; the chat API serves fewer.",
    retry_key="cmp_retry_models",
)

# -- set-up: before the first prompt of a session ----------------------------------------------
started = flow.session_id() is not None or turn is not None
arena = flow.kind() == "arena" if started else st.session_state.get("cmp_arena", False)
chosen = [models[0]]
if not started:
    count_column, arena_column = st.columns([2, 3], vertical_alignment="bottom")
    arena = arena_column.toggle(
        "Arena: random models, hidden until you vote",
        key="cmp_arena",
        help="Only arena votes count on the leaderboard: nobody knew which model wrote what.",
    )
    # The arena draws distinct models; side by side, a model may sit in several panes.
    most = min(lanes_policy.MAX_LANES, len(models)) if arena else lanes_policy.MAX_LANES
    if (st.session_state.get("cmp_lane_count") or 2) > most:
        st.session_state["cmp_lane_count"] = most
    lane_count = (
        count_column.segmented_control(
            "Panes",
            list(range(2, most + 1)),
            default=2,
            key="cmp_lane_count",
            help="How many models answer side by side.",
        )
        or 2
    )
    if not arena:
        chosen = []
        # The panes a new session will have, as the lanes policy names them (the API uses the same).
        for index, (lane_id, column) in enumerate(
            zip(lanes_policy.LANE_IDS, st.columns(lane_count), strict=False)
        ):
            with column:
                chosen.append(
                    model_picker(
                        models,
                        key=f"cmp_model_{lane_id}",
                        label=lanes_policy.lane_label(lane_id),
                        index=index % len(models),
                    )
                )
else:
    lane_count = len(flow.lanes())
    chosen = [model for model in models if model.name in flow.lane_models()] or models

options, knobs, fresh = st.columns([2, 2, 2], vertical_alignment="bottom")
streaming = options.toggle("Stream tokens", value=True, key="cmp_streaming")
with options:  # its system prompt and parameters, for every pane (each keeps its model)
    preset = preset_picker(api, key="cmp_preset", prefix="cmp")
with knobs.popover("Parameters", icon=":material/tune:", width="stretch"):
    parameters = parameter_controls(
        ParameterBounds.of(models if arena and not started else chosen), prefix="cmp"
    )
new_label = "New round" if arena else "New comparison"
fresh.button(new_label, key="cmp_new", icon=":material/add:", on_click=flow.reset, width="stretch")

if error := st.session_state.get(flow.KEY_ERROR):
    st.error(error)

# -- rounds so far -------------------------------------------------------------------------------


def header(lane: LaneView) -> str:
    """A pane's name, and its model once known: an imported session may name any model at all."""
    label = f"**{as_plain_text(lane.label)}**"
    return f"{label} · {as_plain_text(lane.model)}" if lane.model and lane.model != lane.label else label


for number, past in enumerate(flow.rounds()):
    with st.chat_message("user"):
        st.markdown(answer_markdown(past.prompt))  # imported sessions bring prompts too
    for lane, column in zip(flow.lanes(), st.columns(len(flow.lanes()) or 1), strict=False):
        with column.container(border=True, key=f"cmp_round_{number}_{lane.id}"):
            st.markdown(header(lane))
            if lane.id in past.answers:
                answer_body(past.answers[lane.id])
    if past.verdict:
        st.caption(f"Your vote: {past.verdict}")

if flow.can_vote():
    vote_buttons(flow.lanes(), lambda choice, best: flow.vote(api, choice, best))
if vote_error := st.session_state.get(flow.KEY_VOTE_ERROR):
    st.error(vote_error)
if flow.arena_over():
    st.success("Thanks for voting: the models are revealed above. Start a new round for another match.")

# -- the prompt, and the round being answered ---------------------------------------------------
placeholder = "Send one message to every pane" if not flow.arena_over() else "Start a new round to ask again"
prompt = st.chat_input(placeholder, key="cmp_prompt", disabled=turn is not None or flow.arena_over())
if prompt and turn is None:
    flow.start_turn(
        api,
        prompt,
        models=[model.name for model in chosen],
        arena=arena,
        lane_count=lane_count,
        parameters=parameters,
        streaming=streaming,
        preset=preset.name if preset else None,
    )
    turn = flow.live()

if turn is not None:
    with st.chat_message("user"):
        st.markdown(answer_markdown(turn.prompt))
    st.button(
        "Stop all",
        key="cmp_stop_all",
        icon=":material/stop_circle:",
        on_click=flow.stop_lane,
        args=(turn, None),
    )
    if turn.notice:
        st.warning(turn.notice)
    panes = {}
    live_lanes = flow.live_lanes(turn)
    for lane, column in zip(live_lanes, st.columns(len(live_lanes) or 1), strict=False):
        with column.container(border=True, key=f"cmp_live_{lane.id}"):
            st.markdown(header(lane))
            st.button(
                "Stop",
                key=f"cmp_stop_{lane.id}",
                icon=":material/stop:",
                on_click=flow.stop_lane,
                args=(turn, lane.id),
            )
            panes[lane.id] = Pane.here()
    follow(turn, panes)
    st.rerun()
