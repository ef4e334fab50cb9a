"""A grammar llama.cpp refuses fails its own request only: the engine's other requests go on."""

from __future__ import annotations

import asyncio

from inference.engine import Finished, ModelEngine, SamplingSettings
from inference.model_files import model_path


async def _run(engine: ModelEngine, settings: SamplingSettings) -> Finished:
    job = engine.submit(engine.tokenize("Hello"), settings)
    async for item in job.events():
        finished = item if isinstance(item, Finished) else item.finished
        if finished is not None:
            return finished
    raise AssertionError("a job always ends with a finished event")


def test_a_broken_grammar_fails_its_request_and_the_other_one_finishes():
    engine = ModelEngine(
        model_path("smollm2-135m-instruct-q4_1"), context_window=512, n_threads=1, max_queue=4, slots=2
    )
    try:
        engine.warm_up()

        async def both() -> tuple[Finished, Finished]:
            broken = SamplingSettings(max_new_tokens=4, temperature=None, grammar="root ::= (")
            plain = SamplingSettings(max_new_tokens=4, temperature=None)
            return await asyncio.gather(_run(engine, broken), _run(engine, plain))

        broken, plain = asyncio.run(both())
        assert broken.reason == "error"
        assert "grammar" in (broken.error or "")
        assert plain.reason in ("length", "eos_token")
        assert plain.generated_tokens > 0
        assert engine.stats.snapshot()["failed"] == 1
    finally:
        engine.close()
