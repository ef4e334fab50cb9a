"""The trigger's artefact, as `python -m infra.packaging sso_groups` builds it, runs on the
standard library alone: unpacked into a task root and imported as Lambda's runtime imports the
handler (`lambdas.sso_groups.handler.handler`), by an interpreter without site-packages (`-S`)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from infra.build.packaging import HANDLERS, build_function_zip
from infra.config import PROJECT_ROOT
from tests.lambdas.sso_groups.test_handler import ADMINS, MAPPING, federated, v1_event

RUN_HANDLER = """
import importlib, json, sys
module, _, name = sys.argv[1].rpartition(".")
event = json.loads(sys.stdin.read())
print(json.dumps(getattr(importlib.import_module(module), name)(event, None)))
"""


def test_the_zip_runs_the_documented_event_with_the_standard_library_alone(tmp_path: Path):
    with zipfile.ZipFile(build_function_zip(PROJECT_ROOT, "sso_groups")) as archive:
        archive.extractall(tmp_path)
    result = subprocess.run(
        [sys.executable, "-S", "-c", RUN_HANDLER, HANDLERS["sso_groups"]],
        input=json.dumps(v1_event(federated(f'["{ADMINS}"]'), ["beta-testers"])),
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(tmp_path),
            "CHATBOT_SSO_PROVIDER": "Entra",
            "CHATBOT_SSO_GROUPS_ATTRIBUTE": "custom:groups",
            "CHATBOT_SSO_ROLE_MAPPING": json.dumps(MAPPING),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)["response"]["claimsOverrideDetails"]
    assert response["groupOverrideDetails"]["groupsToOverride"] == ["beta-testers", "admin"]
