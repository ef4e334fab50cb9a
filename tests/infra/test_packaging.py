"""The Lambda artefacts AWS will run, built as files for the Lambda platform (Python 3.12 on
Amazon Linux 2023): what `python -m infra.packaging <function>` writes under .data/lambda/.

The first build downloads the wheels (about 80 MB); later builds reuse the cached layer."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography import x509

from chatbot.postgres import RDS_CA_BUNDLE
from infra.build import packaging
from infra.checks.offline import OfflineRun
from infra.config import PROJECT_ROOT
from tests.infra.support import one

MB = 1024 * 1024


@pytest.fixture(scope="module", params=sorted(set(packaging.HANDLERS) - set(packaging.STANDALONE)))
def artifacts(request) -> packaging.Artifacts:
    return packaging.build(PROJECT_ROOT, request.param)


def test_the_command_builds_both_artefacts_and_exits_0():
    for function in sorted(packaging.HANDLERS):
        result = subprocess.run(
            [sys.executable, "-m", "infra.packaging", function],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "MB zipped" in result.stdout


def test_the_layer_holds_wheels_for_the_lambda_platform(artifacts: packaging.Artifacts):
    # numpy, lxml and cryptography ship only manylinux_2_27/2_28/2_34 wheels for cp312.
    site = artifacts.layer_dir / "python"
    wheel_tags = (next(site.glob("numpy-*.dist-info")) / "WHEEL").read_text()
    assert "cp312-cp312-manylinux" in wheel_tags
    assert any(site.glob("numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so"))


def test_what_the_runtime_provides_is_left_out(artifacts: packaging.Artifacts):
    site = artifacts.layer_dir / "python"
    for name in packaging.RUNTIME_PROVIDED:
        assert not (site / name).exists(), name
        assert not list(site.glob(f"{name}-*.dist-info")), name


def test_function_and_layers_fit_lambdas_unzipped_limit(artifacts: packaging.Artifacts):
    sizes = artifacts.sizes()
    unzipped = sizes["layer_unzipped"] + sizes["function_unzipped"] + packaging.WEB_ADAPTER_ALLOWANCE
    assert unzipped < packaging.UNZIPPED_LIMIT, f"{unzipped / MB:.0f} MB unzipped"
    assert sizes["function_zip"] < packaging.INLINE_UPLOAD_LIMIT, "the function zip is uploaded inline"


def test_layers_go_through_s3_whatever_their_size(dev: OfflineRun):
    # PublishLayerVersion takes 50 MB inline; the chat API's layer is near or over it.
    for layer in dev.graph.of_type("aws:lambda/layerVersion:LayerVersion"):
        assert "code" not in layer.inputs, layer.urn
        assert layer.inputs["s3Bucket"], layer.urn
        assert layer.inputs["s3Key"].endswith(".zip"), layer.urn


def test_run_sh_is_executable_inside_the_function_zip():
    # Pulumi re-zips a folder without Unix modes (pulumi/pulumi#3593): the program hands it this zip.
    zip_path = packaging.build_function_zip(PROJECT_ROOT, "chat_api")
    with zipfile.ZipFile(zip_path) as archive:
        mode = archive.getinfo(packaging.HANDLERS["chat_api"]).external_attr >> 16
        names = set(archive.namelist())
    assert mode & 0o777 == 0o755
    assert {"lambdas/__init__.py", "chatbot/postgres.py"} <= names
    assert not any("__pycache__" in name or name.endswith("requirements.txt") for name in names)


def test_the_program_deploys_the_zip_it_built(dev: OfflineRun):
    code = one(dev.graph, "aws:lambda/function:Function", "chat-function").inputs["code"]
    assert code.path.endswith(".data/lambda/chat_api/function.zip")


def test_the_same_sources_give_the_same_zip():
    first = packaging.build_function_zip(PROJECT_ROOT, "chat_api").read_bytes()
    assert packaging.build_function_zip(PROJECT_ROOT, "chat_api").read_bytes() == first


def test_an_unknown_function_is_refused_with_the_choices():
    result = subprocess.run(
        [sys.executable, "-m", "infra.packaging", "nope"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "chat_api" in result.stderr


def test_each_layer_ships_the_rds_certificate_authorities_where_the_functions_look(
    artifacts: packaging.Artifacts,
):
    with zipfile.ZipFile(artifacts.layer_zip) as layer:
        shipped = layer.read(str(packaging.RDS_CA_IN_LAYER))
    assert shipped == packaging.RDS_CA_SOURCE.read_bytes()
    assert Path("/opt") / packaging.RDS_CA_IN_LAYER == RDS_CA_BUNDLE  # Lambda mounts layers at /opt


def test_the_rds_bundle_is_the_one_its_provenance_names_and_covers_the_2024_roots():
    provenance = (packaging.RDS_CA_SOURCE.parent / "PROVENANCE.md").read_text()
    assert hashlib.sha256(packaging.RDS_CA_SOURCE.read_bytes()).hexdigest() in provenance
    certificates = x509.load_pem_x509_certificates(packaging.RDS_CA_SOURCE.read_bytes())
    names = {certificate.subject.rfc4514_string() for certificate in certificates}
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        # The 2024 roots RDS signs server certificates with (rds-ca-rsa2048-g1 is the default).
        assert any(f"Amazon RDS {region} Root CA RSA2048 G1" in name for name in names), region
    assert all(
        certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        for certificate in certificates
    )
