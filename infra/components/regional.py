"""Pinned per-region lookups: AWS-owned image registries and the Lambda Web Adapter layer.

Pinned here rather than asked of the sagemaker SDK at deploy time, so a deployment is reproducible
and the program needs no extra packages. Bump a version here, in one reviewed change.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatbot.errors import ConfigError

#: The account that publishes AWS Deep Learning Containers (TGI, LMI, PyTorch) in most regions.
_DLC_ACCOUNT = "763104351884"
#: Opt-in regions publish the same images from their own accounts.
_DLC_ACCOUNT_BY_REGION = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "eu-south-1": "692866216735",
    "me-south-1": "217643126080",
}
#: Regions this table has been checked for (DLC images and the adapter layer are published there).
SUPPORTED_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
    *_DLC_ACCOUNT_BY_REGION,
)


@dataclass(frozen=True)
class ImageFamily:
    repository: str
    #: version name -> image tag; the first entry is the default.
    tags: dict[str, str]


IMAGE_FAMILIES: dict[str, ImageFamily] = {
    # Hugging Face TGI: in maintenance mode since Dec 2025, kept working for existing configs.
    "tgi": ImageFamily(
        "huggingface-pytorch-tgi-inference",
        {
            "3.0.1": "2.4.0-tgi3.0.1-gpu-py311-cu124-ubuntu22.04-v2.0",
            "2.2.0": "2.3.0-tgi2.2.0-gpu-py310-cu121-ubuntu22.04-v2.1",
        },
    ),
    # Large Model Inference (DJL serving with vLLM): OpenAI-style chat, the maintained path.
    "lmi": ImageFamily("djl-inference", {"0.31.0": "0.31.0-lmi13.0.0-cu124"}),
    # Hugging Face inference toolkit on CPU: runs the custom-script kind's code/inference.py.
    "hf-pytorch-cpu": ImageFamily(
        "huggingface-pytorch-inference", {"2.1.0": "2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04"}
    ),
}

#: Lambda Web Adapter (x86_64), published by AWS from this account in every commercial region.
LAMBDA_WEB_ADAPTER_ACCOUNT = "753240598075"
LAMBDA_WEB_ADAPTER_VERSION = 25


def _check_region(region: str) -> None:
    if region not in SUPPORTED_REGIONS:
        raise ConfigError(
            f"aws:region: {region!r} is not in the pinned image table (infra/components/regional.py); "
            f"use one of {', '.join(SUPPORTED_REGIONS)} or add the region there."
        )


def dlc_account(region: str) -> str:
    _check_region(region)
    return _DLC_ACCOUNT_BY_REGION.get(region, _DLC_ACCOUNT)


def image_uri(family: str, region: str, version: str | None = None) -> str:
    """The pinned image URI of a Deep Learning Container family in a region."""
    if family not in IMAGE_FAMILIES:
        raise ConfigError(
            f"deployment.image: unknown image family {family!r}; use one of {sorted(IMAGE_FAMILIES)}"
        )
    images = IMAGE_FAMILIES[family]
    tag = images.tags.get(version) if version else next(iter(images.tags.values()))
    if tag is None:
        raise ConfigError(
            f"deployment.image_version: {family} has no pinned version {version!r}; use one of {sorted(images.tags)}"
        )
    return f"{dlc_account(region)}.dkr.ecr.{region}.amazonaws.com/{images.repository}:{tag}"


def image_repository_arn(family: str, region: str) -> str:
    """The ECR repository an execution role must be allowed to pull the family's image from."""
    return f"arn:aws:ecr:{region}:{dlc_account(region)}:repository/{IMAGE_FAMILIES[family].repository}"


def lambda_web_adapter_layer(region: str) -> str:
    _check_region(region)
    return f"arn:aws:lambda:{region}:{LAMBDA_WEB_ADAPTER_ACCOUNT}:layer:LambdaAdapterLayerX86:{LAMBDA_WEB_ADAPTER_VERSION}"


#: Instance families with local NVMe storage. SageMaker refuses a KMS key on their endpoint
#: configs (the local volume is encrypted by the instance's hardware instead), so the program
#: leaves the key out for them and the security rule accepts that, and only that, exception.
LOCAL_NVME_FAMILIES = frozenset(
    {"c5d", "m5d", "r5d", "g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "trn1"}
)


def has_local_nvme(instance_type: str) -> bool:
    """`ml.g5.2xlarge` -> True."""
    parts = instance_type.split(".")
    return len(parts) >= 2 and parts[1] in LOCAL_NVME_FAMILIES
