"""How a model is deployed: the part of a ModelSpec that only the Pulumi program reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DeploymentKind = Literal["package", "container", "custom-script", "cpu-llamacpp"]


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: package: a SageMaker model package by ARN; container: a Hugging Face TGI or LMI image;
    #: custom-script: inference code packaged by CodeBuild; cpu-llamacpp: this project's
    #: `inference/` image serving a GGUF file on a CPU instance.
    kind: DeploymentKind
    #: SageMaker instance type, e.g. ml.g5.2xlarge or ml.c7i.large.
    instance_type: str = "ml.g5.2xlarge"
    initial_instance_count: int = Field(1, ge=1)
    #: kind=package: the model package ARN per region (packages are regional).
    model_package_arns: dict[str, str] = Field(default_factory=dict)
    #: kind=container: "tgi", "lmi" (looked up per region) or a full image URI.
    image: str | None = None
    #: Hugging Face repository for container and custom-script kinds.
    hf_model_id: str | None = None
    #: Environment variables for the container (never secrets).
    env: dict[str, str] = Field(default_factory=dict)
    #: kind=custom-script: folder with the inference code, relative to the project root.
    code_dir: str | None = None
    #: kind=cpu-llamacpp: a packaged model name known to `inference.model_files` or a path.
    gguf: str | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Deployment:
        required = {
            "package": ("model_package_arns",),
            "container": ("image", "hf_model_id"),
            "custom-script": ("code_dir", "hf_model_id"),
            "cpu-llamacpp": ("gguf",),
        }[self.kind]
        missing = [field for field in required if not getattr(self, field)]
        if missing:
            raise ValueError(f"deployment kind {self.kind!r} needs {', '.join(missing)}")
        return self
