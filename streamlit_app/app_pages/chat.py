"""Chat: one model at a time, streaming or not, with history, stop, regenerate and copy."""

import streamlit as st

from streamlit_app import chat_flow, context
from streamlit_app.api import ApiError
from streamlit_app.formatting import as_plain_text
from streamlit_app.widgets import history
from streamlit_app.widgets.branch_controls import branch_controls
from streamlit_app.widgets.feedback import feedback_bar
from streamlit_app.widgets.live_view import Pane, follow
from streamlit_app.widgets.messages import answer_body, chat_bubble, copy_box
from streamlit_app.widgets.model_settings import ParameterBounds, model_picker, parameter_controls
from streamlit_app.widgets.preset_picker import NONE as NO_PRESET
from streamlit_app.widgets.preset_picker import preset_picker
from streamlit_app.widgets.tool_picker import tool_picker

api = context.api()
#: The kinds of file a message may attach: text the API reads out of them, and images (for
#: models that take them; chatbot/chat/attachments.py).
ATTACHMENT_TYPES = [
    "txt",
    "text",
    "md",
    "markdown",
    "html",
    "htm",
    "pdf",
    "docx",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "webp",
]

if (opened := history.take_open_request()) is not None:
    if opened.kind != "chat":
        st.session_state[history.KEY_OPEN] = opened  # the compare page shows it
        st.switch_page("app_pages/compare.py")
    try:
        chat_flow.load(api, opened.session_id)
    except ApiError as exc:
        st.error(f"That conversation cannot be opened: {as_plain_text(str(exc))}")
    else:  # its later turns keep the preset it was started with (while it is still published)
        st.session_state["chat_preset"] = chat_flow.opened_preset() or NO_PRESET

chat_flow.absorb_finished(api)
turn = chat_flow.live()
history.history_sidebar(api, current_id=chat_flow.session_id(), on_deleted_current=chat_flow.reset)

models = context.chat_models_or_stop(
    minimum=1,
    activity="chatting",
    too_few="The chat API serves no chat models. Add one to its model catalog (see the README).",
    retry_key="chat_retry_models",
)

picker, mode, knobs, fresh = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
with picker:
    preset = preset_picker(api, key="chat_preset", prefix="chat", model_key="chat_model")
    # The administrators' default first (GET /models marks it; issue 21).
    model = model_picker(
        models, key="chat_model", index=next((i for i, m in enumerate(models) if m.default), 0)
    )
with mode:
    streaming = st.toggle(
        "Stream tokens", value=True, key="chat_streaming", help="Off: the whole answer at once."
    )
    use_documents = st.toggle(
        "Use my documents",
        value=False,
        key="chat_documents",
        help="Ground the answer in your uploaded documents (see the Documents page); sources are shown.",
    )
    # Off unless asked: shared documents are other people's words, and they enter the prompt.
    search_shared = (
        st.toggle(
            "Include shared documents",
            value=False,
            key="chat_shared_documents",
            disabled=not use_documents,
            help="Also search the documents others shared with everyone; each source names its uploader.",
        )
        and use_documents
    )
with knobs.popover("Parameters", icon=":material/tune:", width="stretch"):
    parameters = parameter_controls(ParameterBounds.of([model]), prefix="chat")
with knobs:
    tools, tool_choice = tool_picker(api, key="chat")
fresh.button("New chat", key="chat_new", icon=":material/add:", on_click=chat_flow.reset, width="stretch")

shown = chat_flow.messages()
if not shown and turn is None:
    st.caption(
        f"Ask {as_plain_text(model.name)} anything. Answers appear as they are written; Stop ends one early."
    )


def send_edit(text: str, seq: int) -> None:
    chat_flow.start_turn(
        api,
        text,
        model.name,
        parameters,
        streaming,
        use_documents,
        search_shared,
        tools,
        tool_choice,
        edit_of=seq,
        attachments=files_of(seq),
        preset=preset.name if preset else None,
    )


def files_of(seq: int | None) -> list:
    """The files of the question `seq` shown: an edited or regenerated question keeps them."""
    return next((list(m.attachments) for m in chat_flow.messages() if m.seq == seq and m.role == "user"), [])


if branch_error := st.session_state.pop("chat_branch_error", None):
    st.error(f"That branch cannot be shown: {branch_error}")
for index, message in enumerate(shown):
    with st.chat_message(message.role):
        answer_body(message)
        branch_controls(
            api,
            chat_flow.session_id(),
            chat_flow.tree(),
            message,
            key=f"chat_branch_{index}",
            show_branch=lambda api, session_id, seq: chat_flow.load(api, session_id, through=seq),
            send_edit=send_edit,
            disabled=turn is not None,
        )
        if message.role == "assistant" and message.content:
            with st.container(horizontal=True, vertical_alignment="center"):
                copy_box(message.content, key=f"chat_copy_{index}")
                feedback_bar(api, chat_flow.session_id(), message, key=f"chat_feedback_{index}")

last_is_answer = bool(shown) and shown[-1].role == "assistant"
if turn is None and last_is_answer and chat_flow.last_prompt():
    st.button(
        "Regenerate",
        key="chat_regenerate",
        icon=":material/refresh:",
        help=f"Ask {as_plain_text(model.name)} the last question again; the answer you have stays (‹ 1/2 ›).",
        on_click=chat_flow.start_turn,
        args=(api, chat_flow.last_prompt(), model.name, parameters, streaming, use_documents, search_shared),
        # A new version of the last question: its earlier answer stays, in the branch beside it.
        kwargs={
            "edit_of": (last_question := next((m.seq for m in reversed(shown) if m.role == "user"), None)),
            "attachments": files_of(last_question),
            "preset": preset.name if preset else None,
        },
    )

# Files for the next message: uploaded when it is sent, then the picker starts empty again.
uploader_key = f"chat_files_{st.session_state.setdefault('chat_files_round', 0)}"
with st.sidebar:
    picked = st.file_uploader(
        "Attach files to your next message",
        type=ATTACHMENT_TYPES,
        accept_multiple_files=True,
        key=uploader_key,
        disabled=turn is not None,
        help="Their text goes into the prompt, for this question and the next ones while they fit.",
    )

prompt = st.chat_input(f"Message {model.name}", key="chat_prompt", disabled=turn is not None)
if prompt and turn is None:
    try:
        attached = [api.attach(file.name, file.getvalue()) for file in picked or []]
    except ApiError as exc:
        st.error(f"A file could not be attached, so nothing was sent: {as_plain_text(str(exc))}")
    else:
        st.session_state["chat_files_round"] += 1
        chat_flow.start_turn(
            api,
            prompt,
            model.name,
            parameters,
            streaming,
            use_documents,
            search_shared,
            tools,
            tool_choice,
            attachments=attached,
            preset=preset.name if preset else None,
        )
        chat_bubble(chat_flow.messages()[-1])
        turn = chat_flow.live()

if turn is not None:
    with st.chat_message("assistant"), st.container(key="chat_live"):
        st.button(
            "Stop", key="chat_stop", icon=":material/stop_circle:", on_click=chat_flow.stop, args=(turn,)
        )
        if turn.notice:
            st.warning(turn.notice)
        follow(turn, {None: Pane.here()})
    st.rerun()
