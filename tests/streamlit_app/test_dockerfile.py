"""streamlit_app/Dockerfile, checked without a Docker daemon: what it copies exists, the app
imports nothing it does not copy, and it runs as the ECS service expects."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.servers import ROOT
from tests.streamlit_app.image import DOCKERFILE, copied_files, lay_out_app_files


def test_everything_it_copies_is_in_the_project():
    missing = [source for source, _ in copied_files() if not (ROOT / source).exists()]
    assert missing == []


def test_the_app_imports_nothing_beyond_what_the_image_holds(tmp_path):
    lay_out_app_files(tmp_path)
    script = (
        "import importlib, pkgutil, streamlit_app\n"
        "for module in pkgutil.walk_packages(streamlit_app.__path__, 'streamlit_app.'):\n"
        "    if '.app_pages' not in module.name and module.name != 'streamlit_app.streamlit_app':\n"
        "        importlib.import_module(module.name)\n"
    )
    # Run from the copy only: the project root is not on sys.path, so a missing file fails the import.
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_it_runs_unprivileged_with_a_health_check_on_streamlits_endpoint():
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.MULTILINE)
    assert users == ["app"]
    assert "/_stcore/health" in DOCKERFILE.split("HEALTHCHECK", 1)[1]
    assert re.search(r"^EXPOSE 8501$", DOCKERFILE, re.MULTILINE)  # infra/components/web_edge.py APP_PORT
    assert "STREAMLIT_SERVER_ADDRESS=0.0.0.0" in DOCKERFILE
    assert 'ENTRYPOINT ["python", "-m", "streamlit_app.serve"]' in DOCKERFILE


def test_its_pins_are_the_projects_pins():
    project = {}
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt"):
        for line in (ROOT / name).read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                package, version = line.split("==", 1)
                project.setdefault(package.strip().lower().split("[")[0], version.strip())
    image = (ROOT / "streamlit_app" / "requirements.txt").read_text().splitlines()
    pins = [line.split("==") for line in image if "==" in line and not line.startswith("#")]
    assert pins
    assert [(name, version) for name, version in pins if project.get(name.lower()) != version] == []
