"""API-key routes: a signed-in user creates, lists and revokes the keys the gateway accepts.

Only a sign-in token manages keys (a key cannot make more keys). A new key is in the creation
answer and nowhere else: the store keeps its hash.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from chatbot.api.api_keys import CreatedKey, CreateKeyRequest, KeyInfo
from chatbot.api.records import utc_now
from chatbot.chat.api_keys import ApiKey, new_api_key
from chatbot.chat.store import HistoryStore
from lambdas.chat_api.auth import AuthError, presented_api_key
from lambdas.chat_api.dependencies import Service, current_caller

router = APIRouter(prefix="/api-keys", tags=["API keys"])


def signed_in_user(request: Request) -> str:
    """The user of a sign-in token; an API key is refused here with a message that says why."""
    if presented_api_key(request.headers) is not None:
        raise AuthError(
            "An API key cannot manage API keys. Sign in to the app (Settings) to create or revoke keys."
        )
    return current_caller(request).user_id


User = Annotated[str, Depends(signed_in_user)]


def key_info(key: ApiKey) -> KeyInfo:
    return KeyInfo(active=key.active, **key.model_dump(exclude={"user_id", "key_hash"}))


def _create(store: HistoryStore, user_id: str, name: str) -> CreatedKey:
    """The store refuses a key over the cap (TooManyApiKeysError), atomically."""
    key, record = new_api_key(user_id, name)
    return CreatedKey(key=key, info=key_info(store.create_api_key(record)))


@router.post("", status_code=201)
async def create_key(body: CreateKeyRequest, user: User, service: Service) -> CreatedKey:
    return await run_in_threadpool(_create, service.store, user, body.name)


@router.get("")
async def list_keys(user: User, service: Service) -> list[KeyInfo]:
    return [key_info(key) for key in await run_in_threadpool(service.store.list_api_keys, user)]


@router.delete("/{key_id}")
async def revoke_key(key_id: str, user: User, service: Service) -> KeyInfo:
    revoked = await run_in_threadpool(service.store.revoke_api_key, user, key_id, utc_now())
    return key_info(revoked)
