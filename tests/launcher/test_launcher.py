from __future__ import annotations

import socket
import subprocess
import sys

from launcher.processes import ROOT, free_port


def test_a_taken_port_is_a_clear_error_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "launcher", "--model-port", str(port), "--api-port", str(free_port())],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"CHATBOT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is taken, and the model server needs it." in result.stderr
    assert "make chat MODEL_PORT=<port>" in result.stderr
