from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chatbot.chat.attachments import Blobs, LocalBlobs, S3Blobs


@pytest.fixture(params=["local", "s3"])
def blobs(request, tmp_path: Path) -> Iterator[Blobs]:
    """Both blob stores: a local folder (the local stack) and an S3 bucket (moto: AWS's service)."""
    if request.param == "local":
        yield LocalBlobs(tmp_path / "blobs")
        return
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="documents")
        yield S3Blobs(s3, "documents")
