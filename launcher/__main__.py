"""`python -m launcher`: start every layer of the product on 127.0.0.1 and keep it running.

Embedded Postgres (in this process), the model server, the chat API and the Streamlit app, each
waited for until healthy; Ctrl-C stops them all. Children write their logs to .data/logs/. A child
that exits is started again (launcher/supervisor.py), and the console says so.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from chatbot.errors import ChatbotError
from chatbot.postgres import database_url, default_data_dir, redact
from launcher.processes import StartupError, port_is_free
from launcher.stack import local_stack
from launcher.supervisor import ChildGaveUpError, ChildSpec, Supervisor


def _check_ports(host: str, ports: dict[str, int]) -> None:
    for name, port in ports.items():
        if not port_is_free(host, port):
            flag = {"model server": "MODEL_PORT", "chat API": "API_PORT", "web app": "UI_PORT"}[name]
            raise StartupError(
                f"Port {port} on {host} is taken, and the {name} needs it. Stop whatever uses it "
                f"(another `make chat`?) or pick another port: make chat {flag}=<port>."
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model-port", type=int, default=8080)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--ui-port", type=int, default=8501)
    parser.add_argument("--models", default="models.yaml")
    args = parser.parse_args(argv)

    data_dir = default_data_dir()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    model_url = f"http://{args.host}:{args.model_port}"
    api_url = f"http://{args.host}:{args.api_port}"
    ui_url = f"http://{args.host}:{args.ui_port}"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly on `kill` as on Ctrl-C
    # A script's background job (`make chat &`, nohup) starts with SIGINT ignored, and Python then
    # leaves it ignored: `kill -INT` would do nothing and the stack would run on. Ctrl-C stops it.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    supervisor = Supervisor(say=lambda line: print(line, flush=True))
    try:
        _check_ports(
            args.host,
            {"model server": args.model_port, "chat API": args.api_port, "web app": args.ui_port},
        )
        print("Starting the embedded Postgres...", flush=True)
        database = database_url(data_dir)
        print(f"  ready: {redact(database)}", flush=True)
        for spec in _children(args, logs, database):
            print(f"Starting the {spec.name}...", flush=True)
            process = supervisor.start(spec)
            print(f"  ready: {spec.health_url.rsplit('/', 1)[0]} (pid {process.pid})", flush=True)
        _print_usage(ui_url, api_url, model_url, logs)
        supervisor.watch()
    except (StartupError, ChatbotError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ChildGaveUpError as exc:
        print(f"error: {exc}\nStopping the local stack.", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
    finally:
        supervisor.stop()
    return 0


def _children(args: argparse.Namespace, logs: Path, database: str) -> list[ChildSpec]:
    """The servers of the stack (launcher/stack.py), in the order they start."""
    stack = local_stack(
        args.host, args.model_port, args.api_port, args.ui_port, database, models=Path(args.models)
    )
    return [
        ChildSpec(
            name=process.name,
            args=process.args,
            health_url=process.health_url,
            log_path=logs / process.log_name,
            env=process.env,
        )
        for process in stack
    ]


def _print_usage(ui_url: str, api_url: str, model_url: str, logs: Path) -> None:
    print(
        f"""
The local stack is running (Ctrl-C stops it):
  web app       {ui_url}      (open it; on a fresh machine, create the first account there: the administrator)
  chat API      {api_url}      (docs: {api_url}/docs)
  model server  {model_url}      (SageMaker Runtime API; counters: {model_url}/metrics)
  logs          {logs}/

Try it from another shell:
  TOKEN=$(.venv/bin/python -m lambdas.chat_api.token me)
  curl -N {api_url}/chat -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{{"model": "smollm2-135m", "message": "What is the capital of France?"}}'
""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
