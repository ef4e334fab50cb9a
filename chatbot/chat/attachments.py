"""Files attached to a chat turn (issue 23): kept in a blob store, read into the prompt.

    attachments/<user>/<id>/file        the bytes as uploaded
    attachments/<user>/<id>/text        the text read out of them (extraction.py), read once
    attachments/<user>/<id>/meta.json   the AttachmentRef a message keeps

The blob store is the stack's documents bucket in AWS (`S3Blobs`; the indexer skips this
folder: it is not in object_keys' layout) and a folder of the data directory locally
(`LocalBlobs`). Each user's files sit under their own prefix, so an id of someone else's file
reads as not found (404), whatever the id.

In a turn, the question's own files must fit the model's context window next to the message
and the answer (else `AttachmentsDoNotFitError`, 422, before any call); files of earlier
questions on the branch follow, newest first, after any retrieved documents, so the adapter
drops the oldest first when the window is short (the answer's sources list the files kept).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from chatbot.api.attachments import AttachmentRef
from chatbot.api.erasure import ErasureReport
from chatbot.chat.pipeline import Generation, PromptContext
from chatbot.errors import ChatbotError, InvalidRequestError
from chatbot.models.adapters import estimate_tokens, format_context
from chatbot.models.endpoints import Endpoint
from chatbot.models.events import Source
from chatbot.retrieval.errors import UnsupportedFormatError
from chatbot.retrieval.extraction import CONTENT_TYPES, content_type_for, extract_text
from chatbot.retrieval.object_keys import ATTACHMENTS_FOLDER

FOLDER = ATTACHMENTS_FOLDER
#: Images a model with `images: true` takes (Converse's formats), by extension, and the bytes
#: each starts with: a file whose bytes are not what its name says is refused.
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
_IMAGE_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
#: Where an attachment's source is shown from (Source.workspace): not a documents workspace.
ATTACHMENT_WORKSPACE = "attachment"
#: An earlier file the answer did not see: the window was full (listed with the sources, as a note).
LEFT_OUT_WORKSPACE = "attachment-left-out"


class AttachmentNotFoundError(ChatbotError):
    """No such attachment among the caller's own (someone else's reads the same)."""

    code = "attachment_not_found"
    http_status = 404


class AttachmentTooLargeError(ChatbotError):
    code = "attachment_too_large"
    http_status = 413


class UnsupportedAttachmentError(ChatbotError):
    code = "unsupported_attachment"
    http_status = 415


class AttachmentsDoNotFitError(ChatbotError):
    """The question's own files do not fit the model's context window at all."""

    code = "attachments_do_not_fit"
    http_status = 422


def human_size(size_bytes: int) -> str:
    """1536 -> '1.5 KB' (as ingestion.human_size, without importing the indexing stack)."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size_bytes} bytes"


# -- where the bytes live -----------------------------------------------------------------


class Blobs(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None:
        """The object's bytes; None when there is no such object."""
        ...

    def delete_folder(self, prefix: str) -> list[str]:
        """Deletes every object under `prefix` + "/" (a user's leaving); the keys deleted."""
        ...

    def delete(self, key: str) -> bool:
        """Deletes one object; whether there was one."""
        ...


class LocalBlobs:
    """A folder of files (the local stack's blob store)."""

    def __init__(self, root: Path):
        self.root = root

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole or not at all: a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)

    def get(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def _inside(self, key: str) -> Path | None:
        """The key's path, unless a '..' in it would reach outside the store's folder."""
        path = self.root / key
        return path if path.resolve().is_relative_to(self.root.resolve()) else None

    def delete_folder(self, prefix: str) -> list[str]:
        folder = self._inside(prefix)
        if folder is None or not folder.is_dir():
            return []
        keys = [path.relative_to(self.root).as_posix() for path in folder.rglob("*") if path.is_file()]
        shutil.rmtree(folder)
        return keys

    def delete(self, key: str) -> bool:
        path = self._inside(key)
        if path is None:
            return False
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed


class BlobDeletionError(RuntimeError):
    """Objects the bucket refused to delete (running the erasure again retries them)."""


class S3Blobs:
    """Objects in an S3 bucket (the stack's documents bucket)."""

    def __init__(self, s3: Any, bucket: str):
        self.s3 = s3
        self.bucket = bucket

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def delete_folder(self, prefix: str) -> list[str]:
        # The trailing slash: `attachments/al/` never lists `attachments/alice/...`.
        deleted: list[str] = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{prefix}/")
        for page in pages:
            keys = [item["Key"] for item in page.get("Contents", [])]
            if keys:  # at most 1000 a page, as DeleteObjects takes
                objects = [{"Key": key} for key in keys]
                answer = self.s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
                # DeleteObjects answers 200 whatever happened to each key: a key it could not
                # delete (no grant, object lock) is only listed in Errors.
                if failed := answer.get("Errors"):
                    raise BlobDeletionError(
                        f"{len(failed)} of {len(keys)} objects under {prefix}/ were not deleted: "
                        f"{failed[0].get('Code')} on {failed[0].get('Key')}"
                    )
                deleted.extend(keys)
        return deleted

    def delete(self, key: str) -> bool:
        # Listed, not read (HeadObject): deleting needs the listing anyway, not the right to read.
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        if not listed or listed[0]["Key"] != key:
            return False
        self.s3.delete_object(Bucket=self.bucket, Key=key)
        return True


def _user_folder(user_id: str) -> str:
    # Quoted so that no user id ('/', '..') reaches outside its own folder, locally or in S3.
    user = quote(user_id, safe="").replace(".", "%2E")
    return f"{FOLDER}/{user}"


def _prefix(user_id: str, attachment_id: str) -> str:
    return f"{_user_folder(user_id)}/{attachment_id}"


# -- the files and their text -------------------------------------------------------------


@dataclass(frozen=True)
class Attached:
    """One attached file with its text, ready for a prompt."""

    ref: AttachmentRef
    text: str
    #: An image's bytes (None for a text file).
    image: bytes | None = None

    @property
    def is_image(self) -> bool:
        return is_image(self.ref)

    def image_block(self) -> dict[str, Any]:
        """The image as a chat message carries it to Converse (chatbot/models/bedrock.py)."""
        return {"format": self.ref.content_type.removeprefix("image/"), "bytes": self.image or b""}

    def passage(self) -> str:
        """The file's text as a prompt passage: named, and marked as the user's file (the
        adapter wraps every passage in delimiters it cannot forge, as untrusted data)."""
        name = json.dumps(self.ref.name, ensure_ascii=False)
        return f"Attached file {name} ({self.ref.content_type}), uploaded by the user:\n{self.text}"

    def source(self) -> Source:
        return Source(
            document_id=self.ref.id,
            document_name=self.ref.name,
            chunk_index=0,
            score=1.0,
            workspace=ATTACHMENT_WORKSPACE,
        )


class Attachments:
    def __init__(self, blobs: Blobs, max_bytes: int):
        self.blobs = blobs
        self.max_bytes = max_bytes

    def check_size(self, filename: str, size: int) -> None:
        """Refuse a file over the limit before reading it (413, naming the limit)."""
        if size > self.max_bytes:
            raise AttachmentTooLargeError(
                f"{filename!r} is {human_size(size)}; attachments are limited to "
                f"{human_size(self.max_bytes)}. Attach a smaller file, or split it."
            )

    def upload(self, user_id: str, filename: str, data: bytes) -> AttachmentRef:
        """Keep one file of the caller's, once its text has been read out of it (a file that
        cannot be read is refused here, with the reason, and nothing is kept)."""
        name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "attachment"
        self.check_size(name, len(data))
        image_type = IMAGE_TYPES.get(Path(name).suffix.lower())
        if image_type is not None:
            _checked_image(name, data, image_type)
            return self._keep(user_id, name, data, image_type, None)  # an image has no text
        try:
            content_type = content_type_for(name)
        except UnsupportedFormatError:
            kinds = ", ".join(sorted([*CONTENT_TYPES, *IMAGE_TYPES]))
            raise UnsupportedAttachmentError(
                f"{name!r} cannot be attached: its kind of file is not read here. Attach one of: {kinds}."
            ) from None
        text = extract_text(name, data).text  # DocumentError (422) for an unreadable file
        return self._keep(user_id, name, data, content_type, text)

    def _keep(
        self, user_id: str, name: str, data: bytes, content_type: str, text: str | None
    ) -> AttachmentRef:
        ref = AttachmentRef(id=uuid.uuid4().hex, name=name[:255], content_type=content_type, size=len(data))
        prefix = _prefix(user_id, ref.id)
        self.blobs.put(f"{prefix}/file", data, content_type)
        if text is not None:
            self.blobs.put(f"{prefix}/text", text.encode(), "text/plain; charset=utf-8")
        # Written last: an attachment exists once its metadata does.
        self.blobs.put(f"{prefix}/meta.json", ref.model_dump_json().encode(), "application/json")
        return ref

    def get(self, user_id: str, attachment_id: str) -> AttachmentRef:
        meta = self.blobs.get(f"{_prefix(user_id, attachment_id)}/meta.json")
        if meta is None:
            raise AttachmentNotFoundError(
                f"You have no attachment {attachment_id!r}. Upload the file to POST /attachments first."
            )
        return AttachmentRef.model_validate_json(meta)

    def load(self, user_id: str, ref: AttachmentRef) -> Attached:
        """The file's text; a file whose blobs are gone (an import from elsewhere) reads as a
        note saying so, so that the conversation still goes on."""
        if is_image(ref):
            return Attached(ref, "", self.blobs.get(f"{_prefix(user_id, ref.id)}/file"))
        text = self.blobs.get(f"{_prefix(user_id, ref.id)}/text")
        if text is None:
            return Attached(ref, "(This file's content is not available here.)")
        return Attached(ref, text.decode())

    def erase_user(self, user_id: str) -> ErasureReport:
        """Deletes every file the user attached (a user's leaving): how many, and their objects."""
        if not user_id:
            return ErasureReport()  # `attachments/` itself: everyone's files
        keys = self.blobs.delete_folder(_user_folder(user_id))
        # Each attachment has one meta.json (written last, as its existence).
        attached = sum(1 for key in keys if key.endswith("/meta.json"))
        return ErasureReport(attachments=attached, files=len(keys))

    def resolve(self, user_id: str, ids: Sequence[str]) -> list[Attached]:
        """The caller's files by id, in order (404 for an id not theirs)."""
        if len(set(ids)) != len(ids):
            raise InvalidRequestError("The same file is attached twice. Attach each file once.")
        return [self.load(user_id, self.get(user_id, attachment_id)) for attachment_id in ids]


def is_image(ref: AttachmentRef) -> bool:
    return ref.content_type.startswith("image/")


def _checked_image(name: str, data: bytes, content_type: str) -> None:
    """Raises unless the bytes are the image the name says."""
    if content_type == "image/webp":
        matches = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    else:
        matches = data.startswith(_IMAGE_MAGIC[content_type])
    if not matches:
        raise UnsupportedAttachmentError(
            f"{name!r} is named as {content_type.removeprefix('image/').upper()} but is not one. "
            "Attach the image itself, saved as PNG, JPEG, GIF or WebP."
        )
    return None


def with_images(generation: Generation, files: Sequence[Attached]) -> Generation:
    """The generation with the question's attached images (see with_image_blocks)."""
    return with_image_blocks(generation, [f.image_block() for f in files if f.is_image])


def with_image_blocks(generation: Generation, images: Sequence[dict[str, Any]]) -> Generation:
    """The generation with these images on its last message (a messages prompt), and its first
    call made again with them; the endpoint refuses them for a model without images."""
    prompt = generation.prompt.prompt
    if not images:
        return generation
    if isinstance(prompt, str):
        generation.endpoint.spec.check_takes_images()
        raise InvalidRequestError(
            f"{generation.endpoint.spec.name} takes a text prompt: it cannot see images."
        )
    messages: list[dict[str, Any]] = [dict(message) for message in prompt]
    messages[-1]["images"] = list(images)
    close = getattr(generation.events, "close", None)
    if close is not None:
        close()
    generation.prompt = generation.prompt.model_copy(update={"prompt": messages})
    generation.events = generation.endpoint.stream(messages, generation.params, mode=generation.mode)
    return generation


def left_out_files(context: PromptContext, generation: Generation) -> list[Source]:
    """Notes for the sources: the earlier files the prompt left out to fit the window (the
    adapter drops passages from the end, so those past the ones kept)."""
    dropped = context.sources[len(generation.sources) :]
    return [
        source.model_copy(update={"workspace": LEFT_OUT_WORKSPACE, "score": 0.0})
        for source in dropped
        if source.workspace == ATTACHMENT_WORKSPACE
    ]


def check_fits(
    endpoint: Endpoint, overrides: dict[str, Any], message: str, files: Sequence[Attached]
) -> None:
    """Raise `AttachmentsDoNotFitError` when the question's own files, with the message and the
    answer's tokens, do not fit the model's context window even with no history: by how much."""
    if not files:
        return
    if any(f.is_image for f in files):
        endpoint.spec.check_takes_images()  # 422 before any call
    files = [f for f in files if not f.is_image]
    if not files:
        return
    params = endpoint.spec.resolve_parameters(overrides)
    budget = endpoint.spec.context_window - params.max_new_tokens
    system = endpoint.adapter.system_prompt + "\n\n" + format_context([f.passage() for f in files])
    needed = estimate_tokens(endpoint.adapter.render(system, [], message))
    if needed > budget:
        names = ", ".join(repr(f.ref.name) for f in files)
        raise AttachmentsDoNotFitError(
            f"The attached files ({names}) and the message need about {needed} tokens, but only "
            f"{budget} fit in {endpoint.spec.name}'s context window next to its answer: about "
            f"{needed - budget} tokens too many. Attach less text, ask for fewer new tokens, or "
            "pick a model with a larger context window."
        )
