"""llama.cpp's batch API through llama-cpp-python's low-level bindings, and nothing else.

One `NativeModel` is a loaded GGUF and one llama.cpp context whose KV cache holds `slots`
independent sequences (seq_id 0..slots-1), each with room for the whole context window. One
`decode` call runs one batch that can mix sequences: a generated token for each decoding
sequence and chunks of prompts being prefilled. Every method must be called on the one
thread that owns the model (llama.cpp contexts are not thread-safe).
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

from inference.slots import KvShape, available_memory_bytes, default_slots

# llama.cpp logs every tensor it loads through llama-cpp-python's logger; keep errors only.
logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
llama_cpp.llama_backend_init()

#: Tokens per llama_decode call: the decoding sequences' tokens plus prompt chunks. llama-server
#: uses one physical batch (ubatch) of 512 too; a long prompt is prefilled over several steps, so
#: sequences already decoding get a token every step instead of waiting for the whole prompt.
BATCH_TOKENS = 512
#: How far back the repetition penalty looks (llama-cpp-python's own default).
PENALTY_LAST_N = 64


class DecodeError(RuntimeError):
    """llama_decode failed; the sequences in that batch cannot continue."""


@dataclass(frozen=True, slots=True)
class BatchEntry:
    token: int
    position: int
    seq_id: int
    #: Whether llama.cpp computes logits for this token (a prompt's last token, a generated one).
    wants_logits: bool


class SequenceSampler:
    """One sequence's own sampler chain, with its own random generator seeded from `seed`:
    a sequence samples the same tokens whatever else shares its batch."""

    def __init__(
        self,
        vocab_size: int,
        *,
        seed: int,
        temperature: float | None,
        top_k: int,
        top_p: float,
        repetition_penalty: float,
        grammar: llama_cpp.llama_sampler_p | None = None,
    ):
        """`grammar` (from `NativeModel.grammar_sampler`) goes first: every later sampler sees
        only the tokens it allows. The chain owns it from here on."""
        self._chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        self._penalties: llama_cpp.llama_sampler_p | None = None
        if grammar is not None:
            self._add(grammar)
        if repetition_penalty != 1.0:
            self._penalties = llama_cpp.llama_sampler_init_penalties(
                vocab_size, PENALTY_LAST_N, repetition_penalty, 0, 0
            )
            self._add(self._penalties)
        if temperature is None:
            self._add(llama_cpp.llama_sampler_init_greedy())
            return
        if top_k > 0:
            self._add(llama_cpp.llama_sampler_init_top_k(top_k))
        if top_p < 1.0:
            self._add(llama_cpp.llama_sampler_init_top_p(top_p, 1))
        self._add(llama_cpp.llama_sampler_init_temp(temperature))
        self._add(llama_cpp.llama_sampler_init_dist(seed))

    def _add(self, sampler: llama_cpp.llama_sampler_p) -> None:
        llama_cpp.llama_sampler_chain_add(self._chain, sampler)  # the chain owns and frees it

    def remember(self, tokens: list[int]) -> None:
        """Let the repetition penalty see the prompt, as TGI's does. Only the penalty: a grammar
        must not read the prompt (it would refuse it), and the other samplers keep no history."""
        if self._penalties is None:
            return
        for token in tokens[-PENALTY_LAST_N:]:
            llama_cpp.llama_sampler_accept(self._penalties, token)

    def sample(self, context: llama_cpp.llama_context_p, batch_index: int) -> int:
        """Sample from the logits of the batch's `batch_index`-th token, and remember the token."""
        return llama_cpp.llama_sampler_sample(self._chain, context, batch_index)

    def close(self) -> None:
        if self._chain is not None:
            llama_cpp.llama_sampler_free(self._chain)
            self._chain = None


class NativeModel:
    def __init__(
        self,
        model_path: Path,
        *,
        context_window: int,
        slots: int | None,
        n_threads: int,
        models_sharing_memory: int = 1,
    ):
        """`slots=None` sizes the KV cache for the machine (`inference/slots.py`)."""
        self.context_window = context_window
        model_params = llama_cpp.llama_model_default_params()
        self._model = llama_cpp.llama_model_load_from_file(str(model_path).encode(), model_params)
        if not self._model:
            raise RuntimeError(f"llama.cpp could not load the model file {model_path}")
        self.kv_bytes_per_slot = self.kv_shape().bytes_per_token() * context_window
        if slots is None:
            slots = default_slots(
                self.kv_bytes_per_slot, available_memory_bytes(), models=models_sharing_memory
            )
        self.slots = slots
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.vocab_size = llama_cpp.llama_vocab_n_tokens(self._vocab)
        params = llama_cpp.llama_context_default_params()
        #: Sliding-window layers keep only this many recent positions (0: every position is kept,
        #: as with llama.cpp's default full-size SWA cache, which lets any cached prefix be reused).
        self.sliding_window = 0 if params.swa_full else llama_cpp.llama_model_n_swa(self._model)
        # One KV stream per slot (llama.cpp's non-unified cache, as llama-server with -np uses):
        # every sequence gets the whole context window, and one sequence's cells never lengthen
        # another's attention.
        params.n_ctx = context_window * slots
        params.n_seq_max = slots
        params.kv_unified = False
        params.n_batch = params.n_ubatch = BATCH_TOKENS
        params.n_threads = params.n_threads_batch = n_threads
        params.no_perf = True
        self._context = llama_cpp.llama_init_from_model(self._model, params)
        if not self._context:
            llama_cpp.llama_model_free(self._model)
            raise RuntimeError(
                f"llama.cpp could not create a context for {slots} slots of {context_window} tokens"
            )
        self._memory = llama_cpp.llama_get_memory(self._context)
        self._batch = llama_cpp.llama_batch_init(BATCH_TOKENS, 0, 1)
        self._piece = ctypes.create_string_buffer(256)

    def kv_shape(self) -> KvShape:
        """Layers, KV heads and head sizes from the GGUF (key_length is absent from Llama-style
        files, whose heads are the embedding split evenly)."""
        buffer = ctypes.create_string_buffer(64)

        def metadata(key: str) -> str | None:
            found = llama_cpp.llama_model_meta_val_str(self._model, key.encode(), buffer, len(buffer))
            return buffer.value.decode() if found >= 0 else None

        architecture = metadata("general.architecture") or ""
        even_split = llama_cpp.llama_model_n_embd(self._model) // llama_cpp.llama_model_n_head(self._model)
        key_length = metadata(f"{architecture}.attention.key_length")
        value_length = metadata(f"{architecture}.attention.value_length")
        return KvShape(
            layers=llama_cpp.llama_model_n_layer(self._model),
            kv_heads=llama_cpp.llama_model_n_head_kv(self._model),
            key_length=int(key_length) if key_length else even_split,
            value_length=int(value_length) if value_length else even_split,
        )

    @property
    def context(self) -> llama_cpp.llama_context_p:
        return self._context

    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        # special=True: chat templates write control tokens such as <|im_start|> as text.
        capacity = len(data) + 2
        tokens = (llama_cpp.llama_token * capacity)()
        count = llama_cpp.llama_tokenize(self._vocab, data, len(data), tokens, capacity, True, True)
        if count < 0:
            raise RuntimeError(f"llama.cpp could not tokenize a prompt of {len(data)} bytes")
        return list(tokens[:count])

    def piece(self, token: int, *, special: bool) -> bytes:
        """A token's bytes; a multi-byte character may be split over several tokens."""
        length = llama_cpp.llama_token_to_piece(self._vocab, token, self._piece, len(self._piece), 0, special)
        return self._piece.raw[: max(length, 0)]

    def grammar_sampler(self, grammar: str) -> llama_cpp.llama_sampler_p:
        """A sampler that allows only text matching the GBNF `grammar` (root rule `root`)."""
        sampler = llama_cpp.llama_sampler_init_grammar(self._vocab, grammar.encode(), b"root")
        if not sampler:
            raise ValueError("llama.cpp could not parse the grammar")
        return sampler

    def is_end_of_generation(self, token: int) -> bool:
        return llama_cpp.llama_vocab_is_eog(self._vocab, token)

    def keep_prefix(self, seq_id: int, keep: int) -> int:
        """Drop a sequence's cached positions from `keep` on; returns how many stay usable.

        Sliding-window layers hold only recent positions, so a cut far behind the end cannot be
        continued: then the whole sequence goes (llama-server makes the same check)."""
        if keep > 0 and self.sliding_window:
            oldest_kept = llama_cpp.llama_memory_seq_pos_min(self._memory, seq_id)
            if oldest_kept >= max(0, keep - self.sliding_window):
                keep = 0
        if keep > 0 and not llama_cpp.llama_memory_seq_rm(self._memory, seq_id, keep, -1):
            keep = 0
        if keep == 0:
            llama_cpp.llama_memory_seq_rm(self._memory, seq_id, -1, -1)
        return keep

    def warm_up(self) -> None:
        tokens = self.tokenize("Hello")
        self.decode([BatchEntry(token, position, 0, True) for position, token in enumerate(tokens)])
        self.keep_prefix(0, 0)

    def decode(self, entries: list[BatchEntry]) -> None:
        batch = self._batch
        for index, entry in enumerate(entries):
            batch.token[index] = entry.token
            batch.pos[index] = entry.position
            batch.n_seq_id[index] = 1
            batch.seq_id[index][0] = entry.seq_id
            batch.logits[index] = entry.wants_logits
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self._context, batch)
        if status != 0:
            raise DecodeError(f"llama_decode returned {status} for a batch of {len(entries)} tokens")

    def close(self) -> None:
        if self._context:
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._context)
            llama_cpp.llama_model_free(self._model)
            self._context = None
