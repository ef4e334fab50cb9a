"""Many streams at once: our model server against llama.cpp's own llama-server.

Both serve the same SmolLM2 GGUF with the same CPU threads and the same number of parallel
sequences (our --slots = llama-server's -np, each with a whole context window), and get the same
prompts and sampling settings, 128 new tokens, streaming. At N = 1, 4, 8, 16 streams at once it
measures the aggregate tokens/s (all tokens / wall time), TTFT p50/p95, and how many streams
completed or were refused; the two servers take turns, round by round, and the figures are the
medians over the rounds. Prints one JSON line, with issue 25's targets checked: the tokens/s
ratio at least 0.97 at every N and 1.0 at 8 and 16, and our p95 TTFT at 16 streams within 1.5x
llama-server's (`targets`). `--concurrency 1 4 --new-tokens 32 --rounds 1` runs a small version.

The peer is a benchmark-only build of `tools/server` from the llama.cpp vendored in the pinned
llama-cpp-python sdist (the bindings' own llama.cpp), cached under .data/ (first run: ~10 min).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.model_files import model_path
from inference.slots import MAX_SLOTS
from tests.servers import ROOT, free_port, model_server

MODEL = "smollm2-135m"
GGUF = "smollm2-135m-instruct-q4_1"
CONTEXT_WINDOW = 2048
NEW_TOKENS = 128
CONCURRENCY = (1, 4, 8, 16)
SAMPLING = {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.15}
TOPICS = ["the sea", "a lighthouse", "a mountain village", "a clockmaker", "the moon", "a lost key", "rain"]
CHATML = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
TURNS = [
    "Tell me about the sea.",
    "Why is it salty?",
    "What lives in the deepest part?",
    "How do sailors find their way?",
    "Sum up our talk in one line.",
]

DATA = ROOT / ".data"
PEER_SOURCE = DATA / "llama.cpp-src"
PEER_BUILD = DATA / "llama-server-build"
PEER_BINARY = PEER_BUILD / "bin" / "llama-server"


def pinned_llama_cpp_python() -> str:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.startswith("llama_cpp_python==") or line.startswith("llama-cpp-python=="):
            return line.split("==", 1)[1].strip()
    raise SystemExit("constraints.txt does not pin llama-cpp-python")


def build_peer() -> Path:
    """llama-server from the pinned sdist's vendored llama.cpp, built once into .data/."""
    if PEER_BINARY.exists():
        return PEER_BINARY
    if not PEER_SOURCE.exists():
        with tempfile.TemporaryDirectory() as download:
            version = pinned_llama_cpp_python()
            print(f">> Downloading the llama-cpp-python {version} sdist for llama-server.", file=sys.stderr)
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                 "-d", download, f"llama-cpp-python=={version}"],
                check=True,
            )  # fmt: skip
            (archive,) = Path(download).glob("*.tar.gz")
            with tarfile.open(archive) as sdist:
                sdist.extractall(download, filter="data")
            (vendored,) = Path(download).glob("*/vendor/llama.cpp")
            vendored.rename(PEER_SOURCE)
    print(">> Building llama-server for the benchmark (once; about 10 minutes on 2 cores).", file=sys.stderr)
    subprocess.run(
        ["cmake", "-S", PEER_SOURCE, "-B", PEER_BUILD, "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_OPENSSL=OFF",
         "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DGGML_BACKEND_DL=OFF",
         "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    jobs = str(os.cpu_count() or 2)
    subprocess.run(["cmake", "--build", PEER_BUILD, "--target", "llama-server", "-j", jobs], check=True)
    return PEER_BINARY


@contextlib.contextmanager
def peer_server(threads: int, slots: int) -> Iterator[str]:
    port = free_port()
    args = [
        build_peer(), "-m", model_path(GGUF), "--host", "127.0.0.1", "--port", str(port),
        "-t", str(threads), "-tb", str(threads), "-np", str(slots), "-c", str(slots * CONTEXT_WINDOW),
        "--no-webui",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([str(arg) for arg in args], stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit(f"llama-server did not start:\n{log.read().decode()[-3000:]}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


@dataclass
class Stream:
    ttft_s: float | None = None
    tokens: int = 0
    refused: bool = False
    text: str = ""


def timed_stream(
    client: httpx.Client,
    path: str,
    body: dict,
    read: Callable[[dict, Stream], None],
    headers: dict | None = None,
) -> Stream:
    """POST a streaming request; TTFT is the time to the first server-sent event."""
    started, stream = time.perf_counter(), Stream()
    with client.stream("POST", path, json=body, headers=headers) as reply:
        if reply.status_code in (429, 503):
            return Stream(refused=True)
        reply.raise_for_status()
        for line in reply.iter_lines():
            if line.startswith("data:"):
                stream.ttft_s = stream.ttft_s or time.perf_counter() - started
                read(json.loads(line.removeprefix("data:")), stream)
    return stream


def ours_request(client: httpx.Client, prompt: str, seed: int) -> Stream:
    """TGI's streaming request on the SageMaker container contract."""

    def read(event: dict, stream: Stream) -> None:
        if event.get("details"):
            stream.tokens = event["details"]["generated_tokens"]
            stream.text = event["generated_text"]

    parameters = {"max_new_tokens": NEW_TOKENS, "seed": seed, **SAMPLING}
    body = {"inputs": prompt, "stream": True, "parameters": parameters}
    return timed_stream(client, "/invocations", body, read, {"X-Amzn-SageMaker-Target-Model": MODEL})


def peer_request(client: httpx.Client, prompt: str, seed: int) -> Stream:
    """llama-server's native /completion with the same sampling (its extra samplers off)."""

    def read(event: dict, stream: Stream) -> None:
        stream.text += event.get("content", "")
        if event.get("stop"):
            stream.tokens = event.get("tokens_predicted", 0)

    body = {
        "prompt": prompt,
        "stream": True,
        "n_predict": NEW_TOKENS,
        "seed": seed,
        "temperature": SAMPLING["temperature"],
        "top_p": SAMPLING["top_p"],
        "repeat_penalty": SAMPLING["repetition_penalty"],
        "repeat_last_n": 64,
        "top_k": 0,
        "min_p": 0.0,
        "cache_prompt": True,
    }
    return timed_stream(client, "/completion", body, read)


def at_once(url: str, request: Callable[[httpx.Client, str, int], Stream], count: int, run: int) -> dict:
    streams: list[Stream] = [Stream() for _ in range(count)]

    def one(index: int) -> None:
        # A new opening per run and stream: neither server finds the prompt in its cache.
        prompt = CHATML.format(
            f"(run {run}, reader {index}) Write a long story about {TOPICS[index % len(TOPICS)]}."
        )
        with httpx.Client(base_url=url, timeout=600) as client:
            streams[index] = request(client, prompt, 1000 * (run + 1) + index)

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done = [stream for stream in streams if not stream.refused and stream.ttft_s is not None]
    ttfts = sorted(stream.ttft_s for stream in done if stream.ttft_s is not None)
    return {
        "tokens_per_s": sum(stream.tokens for stream in done) / elapsed,
        "ttft_p50_s": statistics.median(ttfts) if ttfts else None,
        "ttft_p95_s": ttfts[max(0, round(len(ttfts) * 0.95) - 1)] if ttfts else None,
        "completed": len(done),
        "refused": sum(stream.refused for stream in streams),
    }


def conversation(url: str, request: Callable[[httpx.Client, str, int], Stream], run: int) -> dict:
    """TTFT of a conversation's first and fifth turn: the fifth re-sends the whole history."""
    history, ttfts = "", []
    for turn, message in enumerate(TURNS):
        prompt = history + CHATML.format(f"(run {run}) {message}" if turn == 0 else message)
        # A connection per request, as in at_once: llama-server closes a streamed one.
        with httpx.Client(base_url=url, timeout=600) as client:
            stream = request(client, prompt, run + 1)
        ttfts.append(stream.ttft_s)
        history = prompt + stream.text + "<|im_end|>\n"
    return {"turn1_ttft_s": ttfts[0], "turn5_ttft_s": ttfts[-1], "turn5_prompt_chars": len(prompt)}


def median_of(runs: list[dict]) -> dict:
    return {key: round(statistics.median(run[key] for run in runs), 3) for key in runs[0]}


#: Issue 25's targets: tokens/s ratio (ours / llama-server's) at each N, and p95 TTFT ratio at 16.
MIN_TOKENS_RATIO = {1: 0.97, 4: 0.97, 8: 1.0, 16: 1.0}
MAX_P95_TTFT_RATIO_AT_16 = 1.5


def targets(figures: dict[str, object], counts: list[int]) -> dict[str, object]:
    """Which of the targets the figures meet (only those the run measured)."""
    checks: dict[str, object] = {}
    for count in counts:
        ratio = figures[f"n{count}"]["tokens_per_s_ratio"]  # type: ignore[index]
        minimum = MIN_TOKENS_RATIO.get(count, 0.97)
        checks[f"n{count}_tokens_per_s_ratio_at_least_{minimum}"] = ratio >= minimum
    if 16 in counts:
        ratio = figures["n16"]["ttft_p95_ratio"]  # type: ignore[index]
        checks[f"n16_ttft_p95_ratio_at_most_{MAX_P95_TTFT_RATIO_AT_16}"] = ratio <= MAX_P95_TTFT_RATIO_AT_16
    checks["all_met"] = all(checks.values())
    return checks


def main() -> None:
    global NEW_TOKENS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=list(CONCURRENCY), help="streams at once"
    )
    parser.add_argument("--new-tokens", type=int, default=NEW_TOKENS)
    parser.add_argument("--no-conversation", action="store_true", help="skip the prompt-cache conversation")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument(
        "--slots",
        type=int,
        default=None,
        help="our slots (default: the server's own sizing); llama-server gets -np of this, or 16",
    )
    args = parser.parse_args()
    NEW_TOKENS = args.new_tokens  # read by the two request builders
    build_peer()
    load_at_start = round(os.getloadavg()[0], 2)
    results: dict[str, dict[int, list[dict]]] = {"ours": {}, "peer": {}}
    ours_args = ["--only", MODEL, "--threads", str(args.threads)]
    if args.slots is not None:
        ours_args += ["--slots", str(args.slots)]
    peer_slots = args.slots or MAX_SLOTS
    with model_server(*ours_args) as ours_url, peer_server(args.threads, peer_slots) as peer_url:
        servers = {"ours": (ours_url, ours_request), "peer": (peer_url, peer_request)}
        for url, request in servers.values():  # both load their weights before timing
            at_once(url, request, 1, -1)
        for run in range(args.rounds):
            for count in args.concurrency:
                order = ["ours", "peer"] if run % 2 == 0 else ["peer", "ours"]
                for name in order:
                    url, request = servers[name]
                    results[name].setdefault(count, []).append(at_once(url, request, count, run))
            for name in ("ours", "peer") if not args.no_conversation else ():
                url, request = servers[name]
                results[name].setdefault(0, []).append(conversation(url, request, run))
        metrics = httpx.get(f"{ours_url}/metrics").json()[MODEL]
    figures: dict[str, object] = {
        "model": MODEL,
        "new_tokens": args.new_tokens,
        "threads": args.threads,
        "ours_slots": metrics["slots"],
        "peer_slots": peer_slots,
        "rounds": args.rounds,
        "load_avg_1m_start": load_at_start,
        "load_avg_1m_end": round(os.getloadavg()[0], 2),
        "ours_mean_batch_size": metrics["mean_batch_size"],
    }
    for count in args.concurrency:
        ours, peer = median_of(results["ours"][count]), median_of(results["peer"][count])
        figures[f"n{count}"] = {
            "ours": ours,
            "peer": peer,
            "tokens_per_s_ratio": round(ours["tokens_per_s"] / peer["tokens_per_s"], 3),
            "ttft_p95_ratio": round(ours["ttft_p95_s"] / peer["ttft_p95_s"], 3),
        }
    if not args.no_conversation:
        ours, peer = median_of(results["ours"][0]), median_of(results["peer"][0])
        figures["prompt_cache"] = {"ours": ours, "peer": peer}
    figures["targets"] = targets(figures, args.concurrency)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
