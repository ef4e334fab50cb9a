"""How a model is deployed: the part of a ModelSpec that only the Pulumi program reads."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator

from chatbot.models.request_config import Bound

DeploymentKind = Literal["package", "tgi", "lmi", "custom-script", "embeddings", "cpu-llamacpp", "bedrock"]
#: The folder, relative to the project root, of the sentence-embeddings inference script that
#: kind=embeddings packs by default.
SENTENCE_EMBEDDINGS_CODE = "runtime/sagemaker/sentence_embeddings"
#: GenerationParams a Bedrock model may take in Converse's additionalModelRequestFields.
BedrockRequestField = Literal["top_k", "seed", "repetition_penalty"]

#: What most Bedrock models accept through Converse's inferenceConfig (Anthropic, Meta, Mistral,
#: Amazon): temperature and topP in [0, 1], and a few stop sequences. A ModelSpec may narrow or widen.
BEDROCK_BOUNDS: dict[str, Bound] = {
    "temperature": Bound(ge=0, le=1),
    "top_p": Bound(ge=0, le=1),
    "max_new_tokens": Bound(ge=1),
    "stop": Bound(max_items=4),
}


class Autoscaling(BaseModel):
    """Scale an endpoint's instances on invocations per instance (SageMaker's own metric)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_instances: int = Field(1, ge=1)
    max_instances: int = Field(2, ge=1)
    #: Target invocations per instance per minute; above it SageMaker adds instances.
    target_invocations_per_instance: int = Field(20, ge=1)
    #: Seconds to wait after scaling in before scaling in again (instances take minutes to start).
    scale_in_cooldown_s: int = Field(600, ge=0)
    scale_out_cooldown_s: int = Field(120, ge=0)

    @model_validator(mode="after")
    def _range(self) -> Autoscaling:
        if self.max_instances < self.min_instances:
            raise ValueError("autoscaling.max_instances must be at least min_instances")
        return self


class Serverless(BaseModel):
    """SageMaker Serverless Inference: nothing runs, or bills, at idle; each call pays per
    GB-second. CPU only, at most 6 GB of memory, and a cold start of seconds after an idle spell:
    for small models such as embeddings, not for chat models that must answer at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 2048
    #: Calls served at once; further calls are throttled (the account's total is a quota).
    max_concurrency: int = Field(5, ge=1, le=200)


class _Deployment(BaseModel):
    """What every kind of deployment may say; each kind is a class of its own (below), told
    apart by `kind`, so code asks what a deployment is (`isinstance`), never compares strings."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    #: The fields this kind cannot do without.
    required: ClassVar[tuple[str, ...]] = ()
    #: False: the model runs elsewhere (Bedrock), with no SageMaker endpoint to deploy.
    on_sagemaker: ClassVar[bool] = True
    #: False: SageMaker Serverless Inference cannot run this kind.
    serverless_capable: ClassVar[bool] = True

    #: package: a SageMaker model package by ARN; tgi / lmi: a Hugging Face TGI or LMI (vLLM)
    #: image (`container` with `image: tgi|lmi` is the older spelling); custom-script: inference
    #: code packaged by CodeBuild; embeddings: the same, with this project's sentence-embeddings
    #: script; cpu-llamacpp: this project's `inference/` image serving a GGUF file on a CPU
    #: instance; bedrock: a Bedrock model called through the Converse API (no endpoint to deploy).
    kind: DeploymentKind
    #: kind=bedrock: the Bedrock model id or inference-profile id (e.g.
    #: `us.anthropic.claude-3-5-haiku-20241022-v1:0`). Locally: a model the model server serves.
    model_id: str | None = None
    #: kind=bedrock: the model's limits on inferenceConfig, checked before any call; None means
    #: BEDROCK_BOUNDS, what most Bedrock models accept.
    bedrock_bounds: dict[str, Bound] | None = None
    #: kind=bedrock: parameters sent in additionalModelRequestFields, for models that take them
    #: (Anthropic takes top_k; the local model server takes all three). Others are not sent.
    bedrock_request_fields: list[BedrockRequestField] = Field(default_factory=list)
    #: SageMaker instance type, e.g. ml.g5.2xlarge or ml.c7i.large.
    instance_type: str = "ml.g5.2xlarge"
    initial_instance_count: int = Field(1, ge=1)
    #: kind=package: the model package ARN per region (packages are regional).
    model_package_arns: dict[str, str] = Field(default_factory=dict)
    #: kind=tgi/lmi: the image family ("tgi", "lmi": looked up per region) or a full image URI
    #: of a compatible image; custom-script: an image family to run the code on.
    image: str | None = None
    #: Hugging Face repository for the tgi, lmi, custom-script and embeddings kinds.
    hf_model_id: str | None = None
    #: Environment variables for the container (never secrets).
    env: dict[str, str] = Field(default_factory=dict)
    #: kind=custom-script/embeddings: folder with the inference code, relative to the project root.
    code_dir: str | None = None
    #: kind=cpu-llamacpp: a packaged model name known to `inference.model_files` or a path.
    gguf: str | None = None
    #: kind=tgi/lmi: the image version in the pinned table (infra/components/regional.py); None = the default.
    image_version: str | None = None
    #: Seconds SageMaker waits for the container's /ping to answer after start (large models load slowly).
    startup_health_check_timeout_s: int = Field(600, ge=60, le=3600)
    #: Seconds SageMaker may spend downloading model data onto the instance.
    model_data_download_timeout_s: int = Field(900, ge=60, le=3600)
    #: kind=custom-script/embeddings: the packaging build fails the deployment after this many minutes.
    build_timeout_minutes: int = Field(30, ge=5, le=480)
    #: None keeps initial_instance_count instances.
    autoscaling: Autoscaling | None = None
    #: SageMaker Serverless Inference instead of instances (instance_type and autoscaling unused).
    serverless: Serverless | None = None
    #: An inference component on an endpoint whose instances scale to 0: nothing bills at idle,
    #: and the first request after an idle spell fails while an instance starts (minutes). At
    #: most initial_instance_count instances run; autoscaling and serverless are not for it.
    scale_to_zero: bool = False

    @model_validator(mode="after")
    def _fields_for_kind(self) -> _Deployment:
        missing = [field for field in self.required if not getattr(self, field)]
        if missing:
            raise ValueError(f"deployment kind {self.kind!r} needs {', '.join(missing)}")
        if self.serverless is not None:
            if not self.serverless_capable:
                raise ValueError(
                    f"serverless: kind {self.kind!r} cannot run on SageMaker Serverless Inference"
                )
            if self.autoscaling is not None:
                raise ValueError("serverless and autoscaling exclude each other (serverless scales itself)")
        if self.scale_to_zero:
            if not self.on_sagemaker or self.serverless is not None:
                raise ValueError(
                    "scale_to_zero is for SageMaker instance endpoints: bedrock and serverless already "
                    "cost nothing at idle"
                )
            if self.autoscaling is not None:
                raise ValueError(
                    "scale_to_zero and autoscaling exclude each other (scale_to_zero scales copies from 0 "
                    "up to initial_instance_count)"
                )
        return self


class PackageDeployment(_Deployment):
    """A SageMaker model package (e.g. from AWS Marketplace) by its regional ARN."""

    required = ("model_package_arns",)
    serverless_capable = False
    kind: Literal["package"] = "package"


class ContainerDeployment(_Deployment):
    """An AWS-published Hugging Face serving image that downloads hf_model_id at start: the base
    of the TGI and LMI kinds, which differ in the image and the environment it reads."""

    required = ("image", "hf_model_id")


class TgiDeployment(ContainerDeployment):
    """Hugging Face Text Generation Inference (or an image of one's own that reads TGI's settings)."""

    kind: Literal["tgi"] = "tgi"
    image: str | None = "tgi"


class LmiDeployment(ContainerDeployment):
    """Large Model Inference (DJL serving with vLLM), or an image of one's own that reads LMI's settings."""

    kind: Literal["lmi"] = "lmi"
    image: str | None = "lmi"


class CustomScriptDeployment(_Deployment):
    """Inference code of this project's (code_dir) plus hf_model_id, packed by CodeBuild."""

    required = ("code_dir", "hf_model_id")
    kind: Literal["custom-script"] = "custom-script"


class EmbeddingsDeployment(_Deployment):
    """An embeddings model (sentence-transformers) served by this project's sentence-embeddings
    script, packed by CodeBuild like custom-script."""

    required = ("code_dir", "hf_model_id")
    kind: Literal["embeddings"] = "embeddings"
    code_dir: str | None = SENTENCE_EMBEDDINGS_CODE


class CpuLlamaCppDeployment(_Deployment):
    """This project's llama.cpp image (inference/) serving a GGUF file on a CPU instance."""

    required = ("gguf",)
    kind: Literal["cpu-llamacpp"] = "cpu-llamacpp"


class BedrockDeployment(_Deployment):
    """A Bedrock model called through the Converse API: nothing to deploy."""

    required = ("model_id",)
    on_sagemaker = False
    serverless_capable = False
    kind: Literal["bedrock"] = "bedrock"


def _container_as_its_family(fields: Any) -> Any:
    """`kind: container` is the older spelling of tgi and lmi (stack files and registry items
    written before they were kinds of their own): the image family says which. An image URI
    ran with TGI's settings, so it stays tgi. That spelling names its image: none is assumed."""
    if isinstance(fields, dict) and fields.get("kind") == "container":
        family = "lmi" if fields.get("image") == "lmi" else "tgi"
        return {**fields, "kind": family, "image": fields.get("image")}
    return fields


#: A ModelSpec's deployment: one class per kind, picked by `kind`.
AnyDeployment = Annotated[
    Annotated[
        PackageDeployment
        | TgiDeployment
        | LmiDeployment
        | CustomScriptDeployment
        | EmbeddingsDeployment
        | CpuLlamaCppDeployment
        | BedrockDeployment,
        Field(discriminator="kind"),
    ],
    BeforeValidator(_container_as_its_family),
]
_DEPLOYMENTS: TypeAdapter[AnyDeployment] = TypeAdapter(AnyDeployment)
#: The base of every kind's class, for type hints that take any.
DeploymentBase = _Deployment


def parse_deployment(fields: Any) -> DeploymentBase:
    """A deployment of the kind `fields` names (raises ValueError naming what is wrong)."""
    return _DEPLOYMENTS.validate_python(fields)


def Deployment(**fields: Any) -> DeploymentBase:  # noqa: N802  # called as the one class it was
    """A deployment of the kind `fields` names: kept for callers written when one class held
    every kind (prefer `parse_deployment`, or the kind's own class)."""
    return parse_deployment(fields)
