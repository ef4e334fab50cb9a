"""Documents: upload files to ground answers in, see and delete them, and debug the search."""

import streamlit as st

from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.documents_view import human_size, progress_text, search_table, uploader_megabytes
from streamlit_app.formatting import as_plain_text

api = context.api()
st.header("Documents")
st.caption(
    "Answers can draw on these files: turn on **Use my documents** on the Chat page. "
    "Private files are yours alone; shared files can be searched by everyone."
)

# One limit on the page: the one the chat API enforces, for the label and the uploader alike.
if "docs_limits" not in st.session_state:
    try:
        st.session_state["docs_limits"] = api.limits()
    except ApiError as exc:
        st.error(f"The documents cannot be shown right now: {exc}")
        st.button("Try again", key="docs_retry_limits")
        st.stop()
limits = st.session_state["docs_limits"]
max_bytes = limits.largest_upload_bytes
with st.form("docs_upload", clear_on_submit=True):
    files = st.file_uploader(
        f"Add documents (txt, md, html, pdf, docx; up to {human_size(max_bytes)} each)",
        type=["txt", "md", "markdown", "html", "htm", "pdf", "docx"],
        accept_multiple_files=True,
        key="docs_files",
        max_upload_size=uploader_megabytes(max_bytes),
    )
    workspace = st.radio(
        "Who may use them",
        ["private", "shared"],
        format_func={"private": "Only me", "shared": "Everyone (shared)"}.get,
        horizontal=True,
        key="docs_workspace",
    )
    submitted = st.form_submit_button("Upload", icon=":material/upload:")

if submitted:
    for file in files or []:
        if file.size > (limits.max_document_bytes or 0) and limits.max_direct_upload_bytes:
            # Too large for a request to the API: straight to the documents bucket instead.
            with st.spinner(f"{as_plain_text(file.name)}: sending to the documents bucket…"):
                try:
                    api.upload_to_bucket(file.name, file.getvalue(), workspace)
                    st.success(
                        f"{as_plain_text(file.name)} sent: it is listed below once indexed (about a minute)."
                    )
                except ApiError as exc:
                    st.error(f"{as_plain_text(file.name)} was not added: {exc}")
            continue
        bar = st.progress(0.0, text=f"{as_plain_text(file.name)}: sending…")
        try:
            for update in api.upload(file.name, file.getvalue(), workspace):
                if update.type == "progress":
                    text = progress_text(as_plain_text(file.name), update.progress.model_dump())
                    bar.progress(update.fraction, text=text)
                elif update.type == "document":
                    bar.progress(1.0, text=f"{as_plain_text(file.name)}: done")
                    verb = "replaced" if update.replaced else "added"
                    st.success(f"{as_plain_text(file.name)} {verb}: {update.document.chunk_count} chunks.")
                else:
                    bar.empty()
                    st.error(f"{as_plain_text(file.name)}: {update.message}")
        except ApiError as exc:
            bar.empty()
            st.error(f"{as_plain_text(file.name)} was not added: {exc}")

st.subheader("Your documents")
try:
    documents = api.documents()
except ApiError as exc:
    st.error(f"The documents cannot be listed right now: {exc}")
    documents = []
if not documents:
    st.info("No documents yet. Add some above.")
for document in documents:
    name, details, delete = st.columns([4, 4, 1], vertical_alignment="center")
    name.markdown(f"**{as_plain_text(document.name)}**", help=f"id {document.id}")
    details.caption(
        f"{'shared' if document.workspace != 'private' else 'private'} · {human_size(document.size_bytes)} · "
        f"{document.chunk_count} chunks · {document.created_at:%Y-%m-%d %H:%M}"
    )
    if delete.button("Delete", key=f"docs_delete_{document.id}", icon=":material/delete:"):
        try:
            api.delete_document(document.id)
            st.rerun()
        except ApiError as exc:
            st.error(f"{as_plain_text(document.name)} was not deleted: {exc}")

st.subheader("Search debugger")
st.caption("What the chat would retrieve for a question, with each side's score and the fused ranking.")
query_column, mode_column, k_column = st.columns([5, 2, 1], vertical_alignment="bottom")
query = query_column.text_input("Query", key="docs_query", placeholder="Ask something your documents answer")
mode = mode_column.segmented_control(
    "Search", ["hybrid", "vector", "text"], default="hybrid", key="docs_mode"
)
k = k_column.number_input("Results", min_value=1, max_value=50, value=10, key="docs_k")
if query.strip():
    try:
        hits = api.search_documents(query, k=int(k), mode=mode or "hybrid")
    except ApiError as exc:
        st.error(f"The search failed: {exc}")
        hits = []
    if hits:
        st.dataframe(search_table(hits), hide_index=True, width="stretch")
    else:
        st.info("Nothing matched. Try other words, or the vector search.")
