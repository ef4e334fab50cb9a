"""Quotas as an admission of the generation pipeline (see `chatbot.chat.pipeline`).

`admit` reserves each answer of the request (a chat's one, each lane of a compare or arena round,
a `/v1` call): its estimated prompt tokens plus `max_new_tokens`, clipping `max_new_tokens` to what
remains (the answer is then generated with the clipped value), or refusing the whole request with
a 429 (the answers already reserved are given back). Each answer settles to its billable counts
when it ends, however it ends; the grant's end gives back whatever no answer settled. A process
that dies settles nothing: the ledger's holds expire.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence

from chatbot.chat.costs import Hosting
from chatbot.chat.pipeline import Admission, Generation, Grant, Settled
from chatbot.models.deployment import BedrockDeployment
from chatbot.models.spec import ModelSpec
from chatbot.policy.quotas import QuotaStore, Reservation, TokenPrice
from chatbot.pricing import BEDROCK_INPUT_PER_1K_TOKENS, BEDROCK_OUTPUT_PER_1K_TOKENS, bedrock_model_key


def token_price(spec: ModelSpec, hosting: Hosting) -> TokenPrice:
    """USD per token: Bedrock's list prices; $0 for a model on this machine. A SageMaker model's
    price per token needs its measured speed (the leaderboard's): until then it counts $0."""
    if hosting == "local":
        return TokenPrice()
    deployment = spec.deployment
    model_id = deployment.model_id if isinstance(deployment, BedrockDeployment) else None
    if model_id is None:
        return TokenPrice()
    key = bedrock_model_key(model_id)
    return TokenPrice(
        input=BEDROCK_INPUT_PER_1K_TOKENS.get(key, 0.0) / 1000,
        output=BEDROCK_OUTPUT_PER_1K_TOKENS.get(key, 0.0) / 1000,
    )


class QuotaAdmission(Admission):
    def __init__(
        self,
        quotas: QuotaStore,
        *,
        roles: Iterable[str] = (),
        key_id: str | None = None,
        hosting: Hosting = "local",
    ):
        self._quotas = quotas
        self._roles = tuple(roles)
        self._key_id = key_id
        self._hosting = hosting

    def admit(self, user_id: str, generations: Sequence[Generation]) -> Grant:
        taken: list[tuple[Generation, Reservation]] = []
        try:
            for generation in generations:
                reservation = self._quotas.admit(
                    user_id,
                    roles=self._roles,
                    model=generation.endpoint.spec.name,
                    prompt_tokens=generation.prompt.estimated_tokens,
                    max_new_tokens=generation.params.max_new_tokens,
                    price=token_price(generation.endpoint.spec, self._hosting),
                    key_id=self._key_id,
                )
                taken.append((generation, reservation))
        except BaseException:
            for _, reservation in taken:
                with contextlib.suppress(Exception):  # else its hold expires
                    self._quotas.release(reservation)
            raise
        for generation, reservation in taken:
            if reservation.max_new_tokens < generation.params.max_new_tokens:
                generation.clip_max_new_tokens(reservation.max_new_tokens)
        return _QuotaGrant(self._quotas, taken)


class _QuotaGrant(Grant):
    def __init__(self, quotas: QuotaStore, taken: list[tuple[Generation, Reservation]]):
        self._quotas = quotas
        self._open = {id(generation): reservation for generation, reservation in taken}
        self._lock = threading.Lock()  # lanes settle from threads of their own

    def _take(self, generation: Generation | None = None) -> list[Reservation]:
        with self._lock:
            if generation is None:
                left, self._open = list(self._open.values()), {}
                return left
            found = self._open.pop(id(generation), None)
            return [found] if found else []

    def settle(self, generation: Generation, settled: Settled) -> None:
        for reservation in self._take(generation):
            usage = settled.billable
            self._quotas.settle(reservation, usage.prompt_tokens or 0, usage.completion_tokens or 0)

    def end(self) -> None:
        for reservation in self._take():
            self._quotas.release(reservation)
