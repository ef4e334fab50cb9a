"""The Documents page against the real chat API (documents on, the real embedding model)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from chatbot.api.documents import RetrievedChunk
from chatbot.api.local_tokens import local_secret
from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from streamlit_app.documents_view import human_size, progress_text, search_table
from tests.streamlit_app.conftest import new_app, sign_in
from tests.streamlit_app.markup import as_read
from tests.streamlit_app.stack import PASSWORD, UiStack, ui_stack

NOTE = b"# Kestrel\n\nThe Kestrel drone flies for 42 minutes on one battery and was built in Porto."


@pytest.fixture(scope="module")
def stack(model_server_url: str, postgres_server_url: str, tmp_path_factory) -> Iterator[UiStack]:
    with (
        ui_stack(
            model_server_url,
            postgres_server_url,
            tmp_path_factory.mktemp("docs"),
            "ui_documents",
            documents=True,
        ) as running,
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in running.env().items():
            patch.setenv(name, value)
        yield running


def upload_as(stack: UiStack, user: str, name: str, data: bytes) -> str:
    if user not in UsersFile(stack.users_file).names():  # the API takes tokens of accounts only
        stack.add_user(user)
    token = LocalTokens(local_secret(stack.secret_file)).issue(user)
    response = httpx.post(
        f"{stack.api_url}/documents",
        files={"file": (name, data)},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    response.raise_for_status()
    return response.text.splitlines()[-1]


def open_documents(stack: UiStack, user: str):
    app = sign_in(new_app(), stack.add_user(user))
    app.switch_page("app_pages/documents.py")
    return app.run()


def test_the_page_lists_documents_with_size_chunks_and_date_and_deletes_them(stack: UiStack):
    upload_as(stack, "dora", "kestrel.md", NOTE)
    app = open_documents(stack, "dora")
    assert not app.exception
    assert any("kestrel.md" in as_read(str(markdown.value)) for markdown in app.markdown)
    assert any(
        "private ·" in str(caption.value) and "chunks" in str(caption.value) for caption in app.caption
    )
    delete = next(button for button in app.button if button.label == "Delete")
    app = delete.click().run()
    assert not any("kestrel.md" in as_read(str(markdown.value)) for markdown in app.markdown)
    assert any("No documents yet" in str(info.value) for info in app.info)


def test_the_search_debugger_shows_the_three_scores(stack: UiStack):
    upload_as(stack, "eve", "kestrel.md", NOTE)
    app = open_documents(stack, "eve")
    app = app.text_input(key="docs_query").input("How long does the Kestrel fly?").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert table.iloc[0]["Document"] == "kestrel.md"
    assert {"Vector score", "Text score", "Fused score"} <= set(table.columns)
    assert table.iloc[0]["Fused score"] > 0


def test_another_users_private_documents_are_not_listed(stack: UiStack):
    upload_as(stack, "frank", "frank-only.md", b"# Frank\n\nFrank's private notes about tomatoes.")
    app = open_documents(stack, "grace")
    assert not any("frank-only.md" in as_read(str(markdown.value)) for markdown in app.markdown)


def test_labels_say_sizes_and_progress_in_words():
    assert human_size(512) == "512 bytes"
    assert human_size(2048) == "2.0 KB"
    assert human_size(5 * 1024 * 1024) == "5.0 MB"
    assert progress_text("a.pdf", {"stage": "embedding", "chunks_done": 3, "chunks_total": 10}) == (
        "a.pdf: embedding, 3 of 10 chunks"
    )
    assert progress_text("a.pdf", {"stage": "extracting", "chunks_done": 0, "chunks_total": 0}) == (
        "a.pdf: reading the text"
    )
    hit = RetrievedChunk(
        document_id="d1",
        document_name="a.md",
        uploaded_by="ana",
        workspace="private",
        chunk_index=0,
        start_offset=0,
        text="t",
        vector_score=0.5,
        fused_score=0.03,
    )
    table = search_table([hit])
    assert table.iloc[0]["Chunk"] == 1
    assert table.iloc[0]["Text score"] is None


def test_with_use_my_documents_on_the_answer_shows_its_sources(stack: UiStack):
    from tests.streamlit_app.test_chat_page import send

    upload_as(stack, "hana", "kestrel.md", NOTE)
    app = sign_in(new_app(), stack.add_user("hana"))
    app = app.toggle(key="chat_documents").set_value(True).run()
    app = send(app, "How long does the Kestrel drone fly?")
    assert not app.exception
    shown = " ".join(str(element.value) for message in app.chat_message for element in message.markdown)
    shown += " ".join(str(element.value) for message in app.chat_message for element in message.caption)
    assert "kestrel.md, passage 1" in shown.replace("\\", ""), "the sources list names the document"


def test_the_uploader_shows_and_applies_the_one_limit_the_chat_api_enforces(stack: UiStack):
    app = open_documents(stack, "erin")  # makes the account: the API takes tokens of accounts only
    token = LocalTokens(local_secret(stack.secret_file)).issue("erin")
    limit = httpx.get(f"{stack.api_url}/limits", headers={"Authorization": f"Bearer {token}"}).json()[
        "max_document_bytes"
    ]
    (uploader,) = app.get("file_uploader")
    assert f"up to {human_size(limit)} each" in uploader.proto.label
    assert uploader.proto.max_upload_size_mb == -(-limit // (1024 * 1024)), "not Streamlit's default 200 MB"


def test_shared_documents_are_searched_only_when_asked_and_each_source_names_its_uploader(stack: UiStack):
    from tests.streamlit_app.test_chat_page import send

    # An administrator (who may share) shares a note; ivan's chat sees it only once he asks.
    UsersFile(stack.users_file).add("olga", PASSWORD, admin=True)
    token = LocalTokens(local_secret(stack.secret_file)).issue("olga", roles=["admin"])
    shared = httpx.post(
        f"{stack.api_url}/documents",
        files={"file": ("falcon.md", b"# Falcon\n\nThe Falcon glider flies for 97 minutes without a motor.")},
        data={"workspace": "shared"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    assert shared.status_code == 200, shared.text

    def sources_after_asking(app) -> str:
        app = send(app, "How long does the Falcon glider fly?")
        assert not app.exception
        return " ".join(str(element.value) for message in app.chat_message for element in message.markdown)

    app = sign_in(new_app(), stack.add_user("ivan"))
    app = app.toggle(key="chat_documents").set_value(True).run()
    assert app.toggle(key="chat_shared_documents").value is False, "off unless asked"
    assert "falcon.md" not in sources_after_asking(app)

    app = app.toggle(key="chat_shared_documents").set_value(True).run()
    shown = sources_after_asking(app).replace("\\", "")
    assert "falcon.md (shared), passage 1" in shown
    assert "uploaded by olga" in shown
