"""One message: its text as markdown (never as live HTML), its figures, sources and a copy box."""

from __future__ import annotations

import json

import streamlit as st

from chatbot.api.tools import ToolStepView
from streamlit_app.formatting import answer_figures, answer_markdown, as_plain_text
from streamlit_app.transcript import Shown


def tool_steps(steps: list[ToolStepView]) -> None:
    """Each tool call collapsed: its arguments and its result, both as plain code blocks (a
    tool's result is untrusted text: never markup, never a link or an image)."""
    for step in steps:
        where = f"{step.server}/{step.name}" if step.server else step.name
        state = "failed" if step.is_error else ("running" if step.result is None else "done")
        with st.expander(f"Tool {as_plain_text(where)} ({state})", icon=":material/build:"):
            st.caption("Arguments")
            st.code(json.dumps(step.arguments, indent=2, ensure_ascii=False), language="json")
            if step.result is not None:
                cut = " (cut: it was longer than the limit)" if step.truncated else ""
                st.caption(f"Result, as the tool returned it{cut}")
                st.code(step.result, language="text")


def answer_body(message: Shown) -> None:
    """The answer's text and everything about it, in the current container."""
    if message.role == "assistant" and message.tool_steps:
        tool_steps(message.tool_steps)
    # st.markdown escapes raw HTML unless unsafe_allow_html=True, which this app never passes:
    # a model that answers <script> or <img onerror=...> shows that text, and nothing runs.
    # answer_markdown: no image loads and every link shows where it goes (formatting.py says why).
    if message.content:
        st.markdown(answer_markdown(message.content))
    elif message.role == "assistant" and message.status not in ("error", "warming_up"):
        st.caption("(no text)")
    if message.role == "user" and message.attachments:
        attachment_chips(message)
    if message.error and message.status == "warming_up":
        # The API's words: "<model> is warming up ... about N minutes. Try again then".
        st.warning(message.error, icon=":material/hourglass_top:")
    elif message.error:
        st.error(message.error, icon=":material/error:")
    if message.role == "assistant":
        figures = answer_figures(message.metrics, message.usage, message.status)
        if figures:
            st.caption(figures)
        if message.sources:
            with st.expander(f"Sources ({len(message.sources)})", icon=":material/description:"):
                for source in message.sources:
                    if source.workspace == "attachment":  # a file attached to the question
                        st.markdown(f"- {as_plain_text(source.document_name)} (attached file)")
                        continue
                    if source.workspace == "attachment-left-out":
                        st.markdown(
                            f"- {as_plain_text(source.document_name)} (attached earlier, left out: "
                            "it no longer fits the model's context window)"
                        )
                        continue
                    # Who put it there: a shared document is someone else's words (issue 18.5).
                    owner = f", uploaded by {as_plain_text(source.uploaded_by)}" if source.uploaded_by else ""
                    where = " (shared)" if source.workspace and source.workspace != "private" else ""
                    st.markdown(
                        f"- {as_plain_text(source.document_name)}{where}, passage {source.chunk_index + 1}"
                        f" (score {source.score:.2f}){owner}"
                    )


def copy_box(text: str, key: str) -> None:
    """A popover with the raw text in a code block, whose button copies it to the clipboard."""
    with st.popover("Copy", icon=":material/content_copy:", key=key):
        st.caption("The answer as markdown; the button at the top right of the box copies it.")
        st.code(text, language="markdown", wrap_lines=True)


def attachment_chips(message: Shown) -> None:
    """The question's files as chips: each name escaped (someone's file name is untrusted text)."""
    with st.container(horizontal=True, key=f"attachments_{message.seq or 'new'}_{id(message)}"):
        for ref in message.attachments:
            st.badge(as_plain_text(ref.name), icon=":material/attach_file:", color="gray")


def chat_bubble(message: Shown) -> None:
    with st.chat_message(message.role):
        answer_body(message)
