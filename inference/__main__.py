"""`python -m inference --config models.yaml --host 127.0.0.1 --port 8080`"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from chatbot.errors import ConfigError
from chatbot.lifecycle import exit_when_stdin_closes
from chatbot.models.catalog import load_catalog
from chatbot.models.deployment import CpuLlamaCppDeployment
from inference.app import ServedModel, allowed_hosts, create_app
from inference.engine import ModelEngine
from inference.model_files import model_path
from inference.slots import slots_from_environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve cpu-llamacpp models over the SageMaker APIs.")
    parser.add_argument("--config", default=os.environ.get("INFERENCE_CONFIG", "models.yaml"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--only",
        default=os.environ.get("INFERENCE_MODELS"),
        help="comma-separated model names to serve (default: every cpu-llamacpp model in the file)",
    )
    # llama.cpp threads spin while they wait for each other: leave a core for HTTP and the
    # client, or every wake-up of the event loop stalls decoding (measured: 2.4x slower on 2 cores).
    default_threads = max(1, (os.cpu_count() or 2) - 1)
    parser.add_argument("--threads", type=int, default=default_threads, help="CPU threads per model")
    parser.add_argument(
        "--slots",
        type=int,
        default=slots_from_environment(),
        help="requests per model that decode together (continuous batching); more wait in the queue "
        "(default: INFERENCE_SLOTS, else as many as a quarter of the free memory holds, at most 16)",
    )
    parser.add_argument("--max-queue", type=int, default=8, help="requests waiting per model before 429")
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="exit when stdin closes (lets a parent process, such as a test run, never leave it behind)",
    )
    args = parser.parse_args(argv)
    if args.exit_with_stdin:
        exit_when_stdin_closes()

    try:
        specs = [
            spec for spec in load_catalog(args.config) if isinstance(spec.deployment, CpuLlamaCppDeployment)
        ]
        if args.only:
            wanted = set(args.only.split(","))
            unknown = wanted - {spec.name for spec in specs}
            if unknown:
                raise ConfigError(f"--only names models not in {args.config}: {sorted(unknown)}")
            specs = [spec for spec in specs if spec.name in wanted]
        models = {
            spec.endpoint_name: ServedModel(
                spec,
                ModelEngine(
                    model_path(spec.deployment.gguf),
                    context_window=spec.context_window,
                    n_threads=args.threads,
                    max_queue=args.max_queue,
                    slots=args.slots,
                    models_sharing_memory=len(specs),
                ),
            )
            for spec in specs
        }
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for model in models.values():
        model.engine.warm_up()
    print(f"serving {', '.join(models)} on http://{args.host}:{args.port}", flush=True)
    hosts = allowed_hosts(args.host, os.environ.get("INFERENCE_ALLOWED_HOSTS", ""))
    uvicorn.run(create_app(models, hosts=hosts), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
