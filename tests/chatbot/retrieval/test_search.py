"""Hybrid search over the real store: isolation between users, the three scores, fusion, the
labelled Alice queries, an optional reranker, and clear errors for bad queries."""

from __future__ import annotations

import json

import pytest

from chatbot.models.clients import sagemaker_runtime_client
from chatbot.retrieval.errors import DocumentNotFoundError, InvalidQueryError
from chatbot.retrieval.models import Upload
from chatbot.retrieval.reranker import SageMakerReranker
from chatbot.retrieval.retriever import Retriever
from chatbot.retrieval.search import HybridRetriever
from chatbot.retrieval.settings import RetrievalSettings
from tests.chatbot.retrieval.documents import ALICE, DATA
from tests.chatbot.retrieval.endpoint_server import endpoint_server
from tests.chatbot.retrieval.support import endpoint_spec

ALL_MODES = ["hybrid", "vector", "text"]


@pytest.fixture
def three_owners(retrieval):
    """Ana's and Ben's private notes on the same subject, and one shared team note."""
    ingest = retrieval.ingestor.ingest
    ingest(Upload(user_id="ana", filename="ana.txt", data=b"Ana's secret: the safe code is 1234."))
    ingest(Upload(user_id="ben", filename="ben.txt", data=b"Ben's secret: the safe code is 9876."))
    ingest(
        Upload(
            user_id="ben", filename="team.txt", data=b"Team rule: the safe stays locked.", workspace="shared"
        )
    )
    ingest(Upload(user_id="ben", filename="ops.txt", data=b"Ops: the safe is serviced.", workspace="ops"))
    return retrieval


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_user_never_retrieves_another_users_private_chunks(three_owners, mode):
    hits = three_owners.retriever.search("ana", "Ben's secret safe code 9876", k=10, mode=mode)
    assert {hit.document_name for hit in hits} <= {"ana.txt", "team.txt"}
    assert "ben.txt" not in {hit.document_name for hit in hits}


def test_a_search_covers_the_users_own_documents_unless_shared_ones_are_asked_for(three_owners):
    hits = three_owners.retriever.search("ana", "safe", k=10)
    assert {(hit.document_name, hit.workspace) for hit in hits} == {("ana.txt", "private")}
    shared = three_owners.retriever.search("ana", "safe", k=10, workspaces=["private", "shared"])
    assert {hit.document_name for hit in shared} == {"ana.txt", "team.txt"}


def test_every_hit_names_its_uploader(three_owners):
    hits = three_owners.retriever.search("ana", "safe", k=10, workspaces=["private", "shared", "ops"])
    assert {(hit.document_name, hit.uploaded_by) for hit in hits} == {
        ("ana.txt", "ana"),
        ("team.txt", "ben"),
        ("ops.txt", "ben"),
    }


@pytest.mark.parametrize(
    ("workspaces", "expected"),
    [
        (["private"], {"ana.txt"}),
        (["shared"], {"team.txt"}),
        (["ops"], {"ops.txt"}),
        (["private", "shared", "ops"], {"ana.txt", "team.txt", "ops.txt"}),
    ],
)
def test_the_workspaces_asked_for_bound_the_search(three_owners, workspaces, expected):
    hits = three_owners.retriever.search("ana", "safe", k=10, workspaces=workspaces)
    assert {hit.document_name for hit in hits} == expected


def test_listing_documents_is_isolated_the_same_way(three_owners):
    names = {doc.name for doc in three_owners.store.list_documents("ana", ["private", "shared"])}
    assert names == {"ana.txt", "team.txt"}


def test_a_user_cannot_open_another_users_private_document_by_id(three_owners):
    store = three_owners.store
    [bens] = [doc for doc in store.list_documents("ben", ["private"]) if doc.name == "ben.txt"]
    assert store.get_document("ben", bens.id, ["private"]) == bens
    with pytest.raises(DocumentNotFoundError, match="List your documents"):
        store.get_document("ana", bens.id, ["private", "shared"])


def test_a_chunk_found_by_both_sides_is_returned_once_with_all_three_scores(retrieval):
    retrieval.ingestor.ingest(Upload(user_id="ana", filename="a.txt", data=b"Penguins huddle to keep warm."))
    retrieval.ingestor.ingest(
        Upload(user_id="ana", filename="b.txt", data=b"Camels store fat in their humps.")
    )
    hits = retrieval.retriever.search("ana", "penguins keep warm", k=5)

    assert [hit.document_name for hit in hits] == ["a.txt", "b.txt"]  # b.txt: vector side only
    top = hits[0]
    assert (top.vector_rank, top.text_rank) == (1, 1)
    assert 0 < top.vector_score <= 1
    assert top.text_score > 0
    assert top.fused_score == pytest.approx(2 / 61)
    assert (hits[1].text_rank, hits[1].text_score) == (None, None)
    assert hits[1].fused_score == pytest.approx(1 / 62)
    assert top.citation == "a.txt, chunk 1"


def test_text_mode_follows_web_search_syntax(retrieval):
    for name, text in [("1.txt", b"red apples and green pears"), ("2.txt", b"red apples only")]:
        retrieval.ingestor.ingest(Upload(user_id="ana", filename=name, data=text))
    search = retrieval.retriever.search
    assert {hit.document_name for hit in search("ana", "red apples", k=5, mode="text")} == {"1.txt", "2.txt"}
    assert [hit.document_name for hit in search("ana", "apples -pears", k=5, mode="text")] == ["2.txt"]
    assert [hit.document_name for hit in search("ana", '"green pears"', k=5, mode="text")] == ["1.txt"]
    assert search("ana", "bananas", k=5, mode="text") == []


def test_vector_mode_finds_meaning_without_shared_words(retrieval):
    retrieval.ingestor.ingest(
        Upload(user_id="ana", filename="pets.txt", data=b"My dog barks at the mailman.")
    )
    retrieval.ingestor.ingest(
        Upload(user_id="ana", filename="tax.txt", data=b"Quarterly tax returns are due.")
    )
    [hit] = retrieval.retriever.search("ana", "puppy noise", k=1, mode="vector")
    assert hit.document_name == "pets.txt"


def test_hybrid_search_is_a_retriever():
    assert issubclass(HybridRetriever, Retriever)


@pytest.mark.parametrize(
    ("query", "kwargs", "message"),
    [
        ("   ", {}, "query is empty"),
        ("x", {"k": 0}, "between 1 and 100"),
        ("x", {"k": 101}, "between 1 and 100"),
        ("x", {"mode": "fuzzy"}, "use 'hybrid', 'vector' or 'text'"),
        ("x", {"workspaces": []}, "give a list of workspace names"),
        ("x", {"workspaces": "private"}, "give a list of workspace names"),
        ("x", {"workspaces": ["Bad Name"]}, "Invalid workspace names"),
    ],
)
def test_a_bad_query_gets_a_clear_error(retrieval, query, kwargs, message):
    with pytest.raises(InvalidQueryError, match=message):
        retrieval.retriever.search("ana", query, **kwargs)


# -- quality on a real text -------------------------------------------------------------


@pytest.fixture(scope="module")
def alice(retrieval_session):
    """Chapters I-IV of Alice's Adventures in Wonderland, indexed once for this module."""
    with retrieval_session.store.pool.transaction() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE documents CASCADE")
    retrieval_session.ingestor.ingest(Upload(user_id="reader", filename="alice.txt", data=ALICE.read_bytes()))
    return retrieval_session


def mean_reciprocal_rank(retriever, mode: str) -> float:
    """Labelled queries: the first chunk containing the answer phrase is the right one."""
    queries = json.loads((DATA / "alice_queries.json").read_text())
    total = 0.0
    for labelled in queries:
        hits = retriever.search("reader", labelled["query"], k=10, mode=mode)
        answer = " ".join(labelled["answer"].split())
        rank = next((n for n, hit in enumerate(hits, 1) if answer in " ".join(hit.text.split())), None)
        total += 1 / rank if rank else 0.0
    return total / len(queries)


def test_hybrid_search_ranks_answers_at_least_as_well_as_vector_search_alone(alice):
    hybrid = mean_reciprocal_rank(alice.retriever, "hybrid")
    vector = mean_reciprocal_rank(alice.retriever, "vector")
    assert hybrid >= vector
    assert vector > 0.5, "the labelled queries should be answerable at all"


def test_an_exact_phrase_from_the_text_comes_first(alice):
    [hit] = alice.retriever.search("reader", "W. RABBIT engraved upon it", k=1)
    assert "W. RABBIT" in hit.text


# -- reranker ------------------------------------------------------------------------------


def test_a_reranker_reorders_the_fused_candidates_by_its_scores(alice):
    with endpoint_server(alice.embedder) as url:
        client = sagemaker_runtime_client(endpoint_url=url, max_attempts=1)
        reranker = SageMakerReranker(endpoint_spec("minilm-rerank", "rerank"), client)
        retriever = HybridRetriever(alice.store, alice.embedder, alice.retriever.settings, reranker)
        hits = retriever.search("reader", "What was the caterpillar smoking?", k=5)

    scores = [hit.rerank_score for hit in hits]
    assert None not in scores
    assert scores == sorted(scores, reverse=True)
    assert "hookah" in hits[0].text


def test_full_text_ranks_a_bounded_number_of_matches_for_words_found_everywhere(retrieval):
    for number in range(5):
        text = f"Common words everywhere. Document {number} mentions zebra{number}."
        retrieval.ingestor.ingest(Upload(user_id="ana", filename=f"{number}.txt", data=text.encode()))
    settings = RetrievalSettings(candidates=2, text_scan_limit=2)
    retriever = HybridRetriever(retrieval.store, retrieval.embedder, settings)

    assert len(retriever.search("ana", "common words", k=5, mode="text")) == 2
    [hit] = retriever.search("ana", "zebra3", k=5, mode="text")  # selective queries are unaffected
    assert hit.document_name == "3.txt"
