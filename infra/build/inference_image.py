"""InferenceImage: the project's llama.cpp model server (inference/Dockerfile) in a private ECR repo.

Built once per stack and shared by every cpu-llamacpp endpoint; each endpoint picks its model with
INFERENCE_MODELS. The build context is the project root because the server imports chatbot/.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

#: What inference/Dockerfile copies from the project: the image's content.
IMAGE_SOURCES = (
    "inference/Dockerfile",
    "requirements.txt",
    "requirements-models.txt",
    "constraints.txt",
    "models.yaml",
    "chatbot",
    "inference",
)


@dataclass
class InferenceImageArgs:
    project_root: Path
    dockerfile: str = "inference/Dockerfile"
    force_delete: bool = True


def content_tag(root: Path, sources: tuple[str, ...] = IMAGE_SOURCES) -> str:
    """A tag that changes exactly when what goes into the image changes. The repository is
    immutable, so a fixed tag (`latest`) could be pushed only once."""
    digest = hashlib.sha256()
    for source in sources:
        path = root / source
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() if file.exists() else b"")
    return f"src-{digest.hexdigest()[:20]}"


class InferenceImage(pulumi.ComponentResource):
    image_uri: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(self, name: str, args: InferenceImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:llm:InferenceImage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            f"{name}-repo",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            image_tag_mutability="IMMUTABLE",
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
            force_delete=args.force_delete,
            opts=child,
        )
        image = awsx.ecr.Image(
            f"{name}-image",
            repository_url=repository.repository_url,
            context=str(args.project_root),
            dockerfile=str(args.project_root / args.dockerfile),
            image_tag=content_tag(args.project_root),
            platform="linux/amd64",  # SageMaker's CPU instances
            opts=child,
        )
        self.image_uri = image.image_uri
        self.repository_arn = repository.arn
        self.register_outputs({"image_uri": self.image_uri, "repository_arn": self.repository_arn})
