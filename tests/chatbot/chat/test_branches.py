"""Edit and branch (issue 23): an edited question starts a branch beside the first, the model
sees only the branch it answers in, and conversations stored before branches read as the one
branch they were."""

from __future__ import annotations

import pytest

from chatbot.api.records import Message
from chatbot.api.requests import ChatRequest
from chatbot.chat import branches
from chatbot.chat.postgres_store import PostgresHistoryStore
from chatbot.chat.service import ChatService
from chatbot.chat.store import SessionNotFoundError
from chatbot.errors import InvalidRequestError
from chatbot.models.catalog import ModelCatalog
from tests.sampling import GREEDY

SHORT = {"max_new_tokens": 6, **GREEDY}


def question(seq: int, text: str, parent: int | None = None) -> Message:
    return Message(seq=seq, role="user", content=text, parent=parent)


def answer(seq: int, text: str, reply_to: int) -> Message:
    return Message(seq=seq, role="assistant", content=text, reply_to=reply_to, model="m")


def test_a_conversation_stored_before_branches_reads_as_its_one_branch():
    # As the previous release wrote them: no parent on any message.
    stored = [
        Message.model_validate({"seq": 1, "role": "user", "content": "Hi"}),
        Message.model_validate({"seq": 2, "role": "assistant", "content": "Hello", "reply_to": 1}),
        Message.model_validate({"seq": 3, "role": "user", "content": "Bye"}),
        Message.model_validate({"seq": 4, "role": "assistant", "content": "Bye!", "reply_to": 3}),
    ]
    assert [m.seq for m in branches.path_to(stored, branches.newest_leaf(stored))] == [1, 2, 3, 4]
    assert all(len(branches.siblings(stored, m)) == 1 for m in stored)


def test_an_edited_question_is_a_sibling_and_each_branch_has_its_own_path():
    tree = [
        question(1, "Hi"),
        answer(2, "Hello", 1),
        question(3, "Name a colour."),
        answer(4, "Blue.", 3),
        question(5, "Name a fruit.", parent=2),  # 3 edited
        answer(6, "Apple.", 5),
    ]
    assert [m.content for m in branches.path_to(tree, 6)] == ["Hi", "Hello", "Name a fruit.", "Apple."]
    assert [m.content for m in branches.path_to(tree, 4)] == ["Hi", "Hello", "Name a colour.", "Blue."]
    assert [m.seq for m in branches.siblings(tree, tree[2])] == [3, 5]
    assert branches.leaf_under(tree, 3) == 4
    assert branches.leaf_under(tree, 5) == 6
    assert branches.parent_for(tree, edit_of=3, parent=None) == 2
    assert branches.parent_for(tree, edit_of=None, parent=4) == 4
    assert branches.parent_for(tree, edit_of=None, parent=None) == 6, "the newest branch by default"


def test_editing_the_first_question_starts_a_second_first_question():
    tree = [question(1, "Hi"), answer(2, "Hello", 1)]
    assert branches.parent_for(tree, edit_of=1, parent=None) == 0
    tree += [question(3, "Hey", parent=0), answer(4, "Hey!", 3)]
    assert [m.seq for m in branches.path_to(tree, 4)] == [3, 4]
    assert [m.seq for m in branches.siblings(tree, tree[0])] == [1, 3]


def test_parents_that_point_nowhere_or_forward_cannot_make_a_loop():
    imported = [question(1, "a", parent=3), answer(2, "b", reply_to=2), question(3, "c", parent=99)]
    assert [m.seq for m in branches.path_to(imported, 3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("edit_of", "parent", "says"),
    [(2, None, "edit_of"), (9, None, "edit_of"), (None, 9, "parent"), (1, 2, "not both")],
)
def test_a_bad_edit_or_parent_is_refused_with_what_to_send(edit_of, parent, says):
    tree = [question(1, "Hi"), answer(2, "Hello", 1)]
    with pytest.raises(InvalidRequestError, match=says):
        branches.parent_for(tree, edit_of=edit_of, parent=parent)


@pytest.fixture
def service(catalog: ModelCatalog, runtime_clients, postgres_store: PostgresHistoryStore) -> ChatService:
    return ChatService(catalog, runtime_clients.endpoint, postgres_store)


def test_editing_a_question_keeps_the_first_branch_and_answers_from_the_new_one(service: ChatService):
    first = list(
        service.chat("alice", ChatRequest(model="smollm2-135m", message="My name is Ada.", parameters=SHORT))
    )
    session_id = first[0].session_id
    list(
        service.chat(
            "alice",
            ChatRequest(
                session_id=session_id, model="smollm2-135m", message="What is my name?", parameters=SHORT
            ),
        )
    )
    edited = list(
        service.chat(
            "alice",
            ChatRequest(
                session_id=session_id,
                model="smollm2-135m",
                message="What is my job?",
                parameters=SHORT,
                edit_of=3,
            ),
        )
    )
    assert edited[0].round == 5
    messages = service.store.list_messages("alice", session_id)
    assert [(m.seq, m.role, branches.parent_of(m)) for m in messages] == [
        (1, "user", None),
        (2, "assistant", 1),
        (3, "user", 2),
        (4, "assistant", 3),
        (5, "user", 2),
        (6, "assistant", 5),
    ]
    assert [m.content for m in branches.path_to(messages, 6)][2] == "What is my job?"
    assert [m.content for m in branches.path_to(messages, 4)][2] == "What is my name?"
    with pytest.raises(SessionNotFoundError):  # someone else's question cannot be edited
        list(
            service.chat(
                "bob", ChatRequest(session_id=session_id, model="smollm2-135m", message="Mine now", edit_of=3)
            )
        )
    with pytest.raises(InvalidRequestError):
        list(service.chat("alice", ChatRequest(model="smollm2-135m", message="No chat yet", edit_of=1)))
    assert len(service.store.list_messages("alice", session_id)) == 6, "refused edits store nothing"


def test_export_and_import_keep_the_tree(store):
    from chatbot.api.records import Session
    from chatbot.chat.sessions import SessionQueries
    from chatbot.chat.transfer import ConversationsExport, ConversationTransfer

    session = store.create_session(Session(user_id="alice", title="Tree"))
    for message in [
        question(1, "Hi"),
        answer(2, "Hello", 1),
        question(3, "Name a colour."),
        answer(4, "Blue.", 3),
        question(5, "Name a fruit.", parent=2),
        answer(6, "Apple.", 5),
    ]:
        store.append_message("alice", session.id, message.model_copy(update={"seq": 0}))
    transfer = ConversationTransfer(store, SessionQueries(store))
    document = ConversationsExport.model_validate_json(transfer.export("alice", session.id).model_dump_json())
    assert transfer.import_("bob", document).imported == 1
    (copy,) = store.list_sessions("bob").sessions
    restored = store.list_messages("bob", copy.id)
    assert [m.content for m in branches.path_to(restored, 6)] == ["Hi", "Hello", "Name a fruit.", "Apple."]
    assert [m.seq for m in branches.siblings(restored, restored[2])] == [3, 5]
