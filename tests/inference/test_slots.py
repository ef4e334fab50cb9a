"""Slots sized for the machine: a slot's KV cache cost read from the GGUF, and the count that a
share of the free memory pays for."""

from __future__ import annotations

import pytest

from inference.llama_native import NativeModel
from inference.model_files import model_path
from inference.slots import MAX_SLOTS, KvShape, available_memory_bytes, default_slots, slots_from_environment

MiB = 2**20
GiB = 2**30


def test_a_slot_costs_the_context_window_times_layers_kv_heads_and_head_sizes_in_f16():
    smollm2 = KvShape(layers=30, kv_heads=3, key_length=64, value_length=64)
    assert smollm2.bytes_per_token() == 30 * 3 * (64 + 64) * 2 == 23_040
    assert smollm2.bytes_per_token() * 2048 / MiB == 45.0


@pytest.mark.parametrize(
    ("gguf", "expected"),
    [
        # What llama.cpp itself prints on loading: n_layer, n_head_kv, n_embd_head_k / _v.
        ("smollm2-135m-instruct-q4_1", KvShape(layers=30, kv_heads=3, key_length=64, value_length=64)),
        ("gemma3-270m-q4_k_m", KvShape(layers=18, kv_heads=1, key_length=256, value_length=256)),
    ],
)
def test_the_kv_shape_is_read_from_the_model_file(gguf: str, expected: KvShape):
    model = NativeModel(model_path(gguf), context_window=256, slots=1, n_threads=1)
    try:
        assert model.kv_shape() == expected
        assert model.kv_bytes_per_slot == expected.bytes_per_token() * 256
    finally:
        model.close()


def test_a_machine_with_memory_to_spare_gets_the_cap_where_more_slots_stop_paying():
    assert default_slots(45 * MiB, 20 * GiB) == MAX_SLOTS == 16


def test_a_small_machine_gets_what_a_quarter_of_its_free_memory_holds_split_over_its_models():
    assert default_slots(45 * MiB, 1 * GiB) == 5  # 256 MiB / 45 MiB
    assert default_slots(45 * MiB, 1 * GiB, models=2) == 2  # 128 MiB / 45 MiB


def test_every_model_gets_at_least_one_slot_and_unknown_memory_gets_the_old_default():
    assert default_slots(45 * MiB, 10 * MiB) == 1
    assert default_slots(45 * MiB, None) == 8


def test_the_free_memory_is_read_from_the_kernel(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:    2000000 kB\n")
    available = available_memory_bytes(str(meminfo))
    assert available is not None
    assert available <= 2_000_000 * 1024


def test_inference_slots_in_the_environment_overrides_the_sizing(monkeypatch):
    monkeypatch.delenv("INFERENCE_SLOTS", raising=False)
    assert slots_from_environment() is None
    monkeypatch.setenv("INFERENCE_SLOTS", "4")
    assert slots_from_environment() == 4
    monkeypatch.setenv("INFERENCE_SLOTS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        slots_from_environment()
