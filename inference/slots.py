"""How many requests a model decodes together, when nobody says: sized for the machine.

Each slot holds a whole context window of KV cache (the non-unified cache, as llama-server's
`-np` gives), so a slot's cost is known before the context is made:

    bytes per slot = context window x layers x (K + V) x KV heads x head size x 2 bytes (f16)

SmolLM2-135M at 2,048 tokens: 30 layers x 2 x 3 heads x 64 x 2 bytes = 22.5 KiB a token,
45 MiB a slot, 720 MiB for 16. Gemma 3 270M at 2,048: 18 layers x 2 x 1 x 256 x 2 = 18 KiB a
token, 36 MiB a slot.

The count is what a share of the memory available at start-up pays for, capped where more slots
stop paying: on a CPU every step reads the weights once whatever the batch, so throughput grows
with the batch only until the matrix work fills the cores; 16 is where llama-server with `-np 16`
and ours reach the same tokens/s on 2 cores (issue 25's table). Fewer slots than streams queue
the rest, which is what made p95 TTFT 5.8x llama-server's with the old fixed 8.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Beyond this many sequences a step on a CPU gains nothing: see the module docstring.
MAX_SLOTS = 16
#: Share of the memory available at start-up that one model's KV cache may take: the weights,
#: Python, the chat API and other models live in the rest.
MEMORY_SHARE = 0.25
#: llama.cpp keeps K and V in f16 by default.
KV_BYTES_PER_VALUE = 2


@dataclass(frozen=True)
class KvShape:
    """What one token costs in a model's KV cache, read from the GGUF's metadata."""

    layers: int
    kv_heads: int
    key_length: int
    value_length: int

    def bytes_per_token(self) -> int:
        return self.layers * self.kv_heads * (self.key_length + self.value_length) * KV_BYTES_PER_VALUE


def available_memory_bytes(meminfo: str = "/proc/meminfo") -> int | None:
    """MemAvailable from the kernel, and the cgroup's limit where that is lower (a container,
    a SageMaker instance's task); None where neither can be read."""
    figures: list[int] = []
    try:
        with open(meminfo, encoding="ascii") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    figures.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as limit:
            text = limit.read().strip()
        if text.isdigit():
            figures.append(int(text))
    except OSError:
        pass
    return min(figures) if figures else None


def default_slots(bytes_per_slot: int, available_bytes: int | None, *, models: int = 1) -> int:
    """The most slots that `MEMORY_SHARE` of the available memory (split over `models`) pays for,
    between 1 and `MAX_SLOTS`. Unknown memory gives the cap's half, the old default."""
    if available_bytes is None:
        return MAX_SLOTS // 2
    budget = available_bytes * MEMORY_SHARE / max(1, models)
    return max(1, min(MAX_SLOTS, int(budget // max(1, bytes_per_slot))))


def slots_from_environment(default: int | None = None) -> int | None:
    """INFERENCE_SLOTS when set (a positive whole number), else `default` (None: size it)."""
    text = os.environ.get("INFERENCE_SLOTS", "").strip()
    if not text:
        return default
    slots = int(text)
    if slots < 1:
        raise ValueError(f"INFERENCE_SLOTS must be at least 1, not {slots}")
    return slots
