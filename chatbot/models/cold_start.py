"""A local stand-in for a SageMaker model that scales to zero, so that `make chat` and the tests
meet what AWS does after an idle spell: the model refuses calls while "cold" (the same no-capacity
refusal SageMaker sends, mapped by the same code to ModelWarmingUpError), the first refusal starts
it, and once `warm_up_s` have passed it answers as the model it wraps.

    endpoint = ColdStartEndpoint(SageMakerEndpoint(spec, local_client), warm_up_s=60)
    endpoint.ensure_ready()   # ModelWarmingUpError (503, Retry-After) until warm
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

from botocore.exceptions import ClientError

from chatbot.models.endpoints import NO_CAPACITY_MESSAGE, Endpoint, from_client_error, model_events
from chatbot.models.events import EventStream
from chatbot.models.request_config import ParsedChunk
from chatbot.models.spec import GenerationParams, StreamingMode
from chatbot.models.stop_words import StopWordFilter


class ColdStartEndpoint(Endpoint):
    """`inner`, behind a cold start: cold until first called, then warming for `warm_up_s`."""

    def __init__(self, inner: Endpoint, warm_up_s: float):
        super().__init__(inner.spec, inner.adapter)
        self.inner = inner
        self.warm_up_s = warm_up_s
        #: When the first refused call started the warm-up (time.monotonic()); None: cold, idle.
        self._started: float | None = None
        self._lock = threading.Lock()
        #: Calls refused for want of a copy (what SageMaker's NoCapacityInvocationFailures counts).
        self.refused = 0

    def is_warm(self) -> bool:
        with self._lock:
            return self._started is not None and time.monotonic() - self._started >= self.warm_up_s

    def cool_down(self) -> None:
        """No copy runs any more (as after the scale-in of an idle spell)."""
        with self._lock:
            self._started = None

    def ensure_ready(self) -> None:
        if not self.is_warm():
            raise self._refusal()
        self.inner.ensure_ready()

    def stream(
        self,
        prompt: str | list[dict[str, str]],
        params: GenerationParams,
        *,
        mode: StreamingMode | None = None,
    ) -> EventStream:
        if self.is_warm():
            return self.inner.stream(prompt, params, mode=mode)
        # What a stream to a cold SageMaker model gives: Start, then the refusal as an error.
        return model_events(self.spec, self._refused_source(), StopWordFilter([]))

    def _refused_source(self) -> Generator[ParsedChunk, None, None]:
        raise self._refusal()
        yield  # a generator: the refusal comes when the stream is read, as the call's would

    def _refusal(self) -> Exception:
        with self._lock:
            self.refused += 1
            if self._started is None:
                self._started = time.monotonic()  # the refusal is what starts a copy
        error = {"Error": {"Code": "ValidationError", "Message": NO_CAPACITY_MESSAGE}}
        response = {**error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return from_client_error(self.spec, ClientError(response, "InvokeEndpoint"))
