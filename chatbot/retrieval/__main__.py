"""Documents from the command line, against the same store the chat uses (DATABASE_URL, or the
embedded server in ./.data): upload, list, delete, and a search debugger with the three scores.

    python -m chatbot.retrieval ingest notes.md report.pdf --user alice
    python -m chatbot.retrieval list --user alice
    python -m chatbot.retrieval search "what did the report say about costs?" --user alice
    python -m chatbot.retrieval delete <document id> --user alice
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from chatbot.api.documents import IngestProgress
from chatbot.errors import ChatbotError
from chatbot.retrieval.models import Upload
from chatbot.retrieval.retriever import PRIVATE, WITH_SHARED
from chatbot.retrieval.service import Retrieval


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chatbot.retrieval", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="index files (re-indexing a file replaces it)")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--workspace", default=PRIVATE, help="'private' (default) or a shared workspace")
    listing = commands.add_parser("list", help="the documents a user can see")
    search = commands.add_parser("search", help="ranked chunks with their vector, text and fused scores")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5)
    search.add_argument("--mode", choices=["hybrid", "vector", "text"], default="hybrid")
    delete = commands.add_parser("delete", help="delete a document by id")
    delete.add_argument("document_id")
    for command in (ingest, listing, search, delete):
        command.add_argument("--user", required=True, help="whose documents")
    for command in (listing, search):
        command.add_argument("--workspaces", nargs="+", default=list(WITH_SHARED))
    return parser


def _show_progress(progress: IngestProgress) -> None:
    print(
        f"\r  {progress.stage:<10} {progress.chunks_done}/{progress.chunks_total} chunks",
        end="",
        file=sys.stderr,
    )


def run(args: argparse.Namespace, retrieval: Retrieval) -> None:
    if args.command == "ingest":
        for path in args.paths:
            upload = Upload(
                user_id=args.user, filename=path.name, data=path.read_bytes(), workspace=args.workspace
            )
            result = retrieval.ingestor.ingest(upload, on_progress=_show_progress)
            action = "replaced" if result.replaced else "added"
            print(
                f"\r{action} {result.document.name}: {result.document.chunk_count} chunks, id {result.document.id}"
            )
    elif args.command == "list":
        for doc in retrieval.store.list_documents(args.user, args.workspaces):
            created = doc.created_at.strftime("%Y-%m-%d %H:%M")
            print(
                f"{doc.id}  {doc.workspace:<10} {doc.size_bytes:>10} B {doc.chunk_count:>6} chunks  {created}  {doc.name}"
            )
    elif args.command == "search":
        hits = retrieval.retriever.search(
            args.user, args.query, args.k, workspaces=args.workspaces, mode=args.mode
        )
        print(f"{'#':>2}  {'vector':>7}  {'text':>7}  {'fused':>7}  source")
        for rank, hit in enumerate(hits, 1):
            vector = f"{hit.vector_score:.3f}" if hit.vector_score is not None else "-"
            text = f"{hit.text_score:.3f}" if hit.text_score is not None else "-"
            print(f"{rank:>2}  {vector:>7}  {text:>7}  {hit.fused_score:.4f}  {hit.citation}")
            print("    " + " ".join(hit.text.split())[:160])
    else:
        retrieval.store.delete_document(args.user, args.document_id)
        print(f"deleted {args.document_id}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        retrieval = Retrieval.from_environment()
        try:
            run(args, retrieval)
        finally:
            retrieval.close()
    except (ChatbotError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
