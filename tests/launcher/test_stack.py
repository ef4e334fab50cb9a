"""The local stack is defined once (launcher/stack.py): `make chat`, the tests and the benchmarks
start the same processes, each configured through its deployable's own settings, and every one
of them ends with its parent, however the parent ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from lambdas.chat_api.settings import ChatApiSettings
from launcher.stack import chat_api_settings, local_stack
from streamlit_app.settings import UiSettings
from tests.servers import ROOT, free_port
from tests.waiting import eventually


def test_each_server_reads_back_the_environment_the_stack_writes_for_it():
    model_server, api, web = local_stack("127.0.0.1", 8080, 8000, 8501, "postgresql://db/chatbot")

    api_settings = ChatApiSettings.from_env(api.env)
    assert api_settings.sagemaker_endpoint_url == model_server.url == "http://127.0.0.1:8080"
    assert api_settings.database.url == "postgresql://db/chatbot"
    assert api_settings.models_file == Path("models.yaml")
    assert UiSettings.from_env(web.env).chat_api_url == api.url == "http://127.0.0.1:8000"
    assert [process.health_url for process in (model_server, api, web)] == [
        "http://127.0.0.1:8080/ping",
        "http://127.0.0.1:8000/health",
        "http://127.0.0.1:8501/_stcore/health",
    ]


def test_settings_beyond_the_stacks_own_are_named_by_field_not_by_variable():
    settings = chat_api_settings("http://models", "postgresql://db/x", max_message_chars=2000)
    assert settings.to_env()["CHATBOT_MAX_MESSAGE_CHARS"] == "2000"


def test_a_child_that_reads_no_stdin_still_ends_when_its_parent_is_killed():
    # llama.cpp's server (a benchmark's peer) never reads the pipe that --exit-with-stdin watches:
    # a benchmark killed outright left it serving.
    port = free_port()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
    finally:
        parent.kill()
    assert eventually(lambda: _alive(child), lambda alive: not alive, timeout_s=30) is False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    return state != "Z"


#: Starts a server that ignores its stdin, prints its pid, and waits to be killed.
PARENT = """
import sys, tempfile, time
from launcher.processes import start_server
port = sys.argv[1]
log = tempfile.TemporaryFile()
child = start_server(["-m", "http.server", "--bind", "127.0.0.1", port], f"http://127.0.0.1:{port}/", log=log)
print(child.pid, flush=True)
time.sleep(600)
"""
