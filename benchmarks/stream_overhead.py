"""How much the model server path costs next to llama.cpp in process, and next to the peer.

Four paths, same model, prompts, parameters, seed and CPU threads, interleaved run by run:
- in process: llama-cpp-python's bare decode loop (`Llama.generate` + detokenize) in this
  process, the fastest way to call llama.cpp from Python: the baseline for the ratio;
- in process, high level: `create_completion(stream=True)`, what most code calls;
- ours: the model layer (`Endpoint.stream`) -> boto3 sagemaker-runtime -> `python -m inference`;
- peer: httpx -> `python -m llama_cpp.server` (llama-cpp-python's OpenAI-compatible server).

tokens/s is the decode rate after the first token; TTFT is from the request to the first text.
Prints one JSON line of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import llama_cpp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatbot.models.catalog import load_catalog
from chatbot.models.clients import sagemaker_runtime_client
from chatbot.models.endpoints import Endpoint, SageMakerEndpoint
from chatbot.models.events import TokenEvent
from inference.model_files import model_path
from tests.servers import free_port, model_server, running_server

MODEL = "smollm2-135m"
SAMPLING: dict[str, float] = {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.15}
TOP_K = 40
TOPICS = ["the sea", "a lighthouse", "a mountain village", "a clockmaker", "the moon", "a lost key", "rain"]


class Timing:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None
        self.last = self.started
        self.tokens = 0

    def token(self) -> None:
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        self.tokens += 1

    def figures(self) -> tuple[float, float]:
        assert self.first is not None, "no tokens arrived"
        return (self.tokens - 1) / (self.last - self.first), (self.first - self.started) * 1000


def in_process_generate(llm: llama_cpp.Llama, prompt: str, max_tokens: int, seed: int) -> Timing:
    timing = Timing()
    llm.set_seed(seed)
    tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
    generated = llm.generate(
        tokens,
        temp=SAMPLING["temperature"],
        top_p=SAMPLING["top_p"],
        top_k=TOP_K,
        min_p=0.0,
        repeat_penalty=SAMPLING["repetition_penalty"],
    )
    for count, token in enumerate(generated, 1):
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            break
        llm.detokenize([token])
        timing.token()
        if count >= max_tokens:
            break
    generated.close()
    return timing


def in_process(llm: llama_cpp.Llama, prompt: str, max_tokens: int, seed: int) -> Timing:
    timing = Timing()
    for chunk in llm.create_completion(
        prompt,
        max_tokens=max_tokens,
        stream=True,
        seed=seed,
        min_p=0.0,
        temperature=SAMPLING["temperature"],
        top_p=SAMPLING["top_p"],
        top_k=TOP_K,
        repeat_penalty=SAMPLING["repetition_penalty"],
    ):
        if chunk["choices"][0]["text"]:
            timing.token()
    return timing


def through_our_server(endpoint: Endpoint, prompt: str, max_tokens: int, seed: int) -> Timing:
    params = endpoint.spec.resolve_parameters({**SAMPLING, "max_new_tokens": max_tokens, "seed": seed})
    timing = Timing()
    for event in endpoint.stream(prompt, params):
        if isinstance(event, TokenEvent):
            timing.token()
    return timing


def through_peer(url: str, prompt: str, max_tokens: int, seed: int) -> Timing:
    request = {
        "prompt": prompt,
        "max_tokens": max_tokens,
        "stream": True,
        "seed": seed,
        "min_p": 0.0,
        "temperature": SAMPLING["temperature"],
        "top_p": SAMPLING["top_p"],
        "top_k": TOP_K,
        "repeat_penalty": SAMPLING["repetition_penalty"],
    }
    timing = Timing()
    with httpx.stream("POST", f"{url}/v1/completions", json=request, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["text"]:
                timing.token()
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    args = parser.parse_args()

    spec = load_catalog("models.yaml").get(MODEL)
    gguf = str(model_path(spec.deployment.gguf))
    llm = llama_cpp.Llama(gguf, n_ctx=spec.context_window, n_threads=args.threads, verbose=False)
    peer_port = free_port()
    peer_args = ["-m", "llama_cpp.server", "--model", gguf, "--n_ctx", str(spec.context_window)]
    peer_args += ["--n_threads", str(args.threads), "--host", "127.0.0.1", "--port", str(peer_port)]
    peer_url = f"http://127.0.0.1:{peer_port}"

    with (
        model_server("--only", MODEL, "--threads", str(args.threads)) as our_url,
        running_server(peer_args, f"{peer_url}/v1/models"),
    ):
        endpoint = SageMakerEndpoint(spec, sagemaker_runtime_client(endpoint_url=our_url))
        paths: dict[str, Callable[[str, int], Timing]] = {
            "in_process": lambda prompt, seed: in_process_generate(llm, prompt, args.max_tokens, seed),
            "create_completion": lambda prompt, seed: in_process(llm, prompt, args.max_tokens, seed),
            "ours": lambda prompt, seed: through_our_server(endpoint, prompt, args.max_tokens, seed),
            "peer": lambda prompt, seed: through_peer(peer_url, prompt, args.max_tokens, seed),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        for run in range(-1, args.runs):  # run -1 warms every path up and is not counted
            topic = TOPICS[run % len(TOPICS)]
            prompt = endpoint.fit_prompt(
                [], f"Write a long story about {topic}.", spec.default_parameters
            ).prompt
            for name, path in paths.items():
                figures = path(prompt, 1000 + run).figures()
                if run >= 0:
                    results[name].append(figures)

    def median(name: str, index: int) -> float:
        return statistics.median(figures[index] for figures in results[name])

    print(
        json.dumps(
            {
                "model": MODEL,
                "runs": args.runs,
                "max_new_tokens": args.max_tokens,
                "n_threads": args.threads,
                "tokens_per_s_in_process": round(median("in_process", 0), 1),
                "tokens_per_s_create_completion": round(median("create_completion", 0), 1),
                "tokens_per_s_ours": round(median("ours", 0), 1),
                "tokens_per_s_llama_cpp_server": round(median("peer", 0), 1),
                "tokens_per_s_ratio_vs_inprocess": round(median("ours", 0) / median("in_process", 0), 3),
                "tokens_per_s_ratio_vs_llama_cpp_server": round(median("ours", 0) / median("peer", 0), 3),
                "ttft_ms_in_process": round(median("in_process", 1), 1),
                "ttft_ms_ours": round(median("ours", 1), 1),
                "ttft_ms_llama_cpp_server": round(median("peer", 1), 1),
                "ttft_overhead_ms": round(median("ours", 1) - median("in_process", 1), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
