"""kind bedrock: nothing to deploy, only what the chat API may invoke.

A ModelSpec of kind bedrock names a foundation model (`anthropic.claude-haiku-4-5-20251001-v1:0`)
or a cross-Region inference profile (`us.anthropic.claude-haiku-4-5-20251001-v1:0`). IAM checks a
Converse call against the ARN it names; through a profile, Bedrock also checks the foundation
model's ARN in the Region it routes the request to, so the role needs that model in every
destination Region of the profile's geography, and only through that profile (the
`bedrock:InferenceProfileArn` condition). `python -m infra.preflight` compares these Regions with
what AWS says the profile routes to (GetInferenceProfile).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from chatbot.errors import ConfigError
from chatbot.models.spec import ModelSpec
from infra.components.iam import Statement, allow
from infra.models.base import Container, Site, registry_item

if TYPE_CHECKING:
    from infra.components.llm import LargeLanguageModel

#: Converse calls InvokeModel; ConverseStream calls InvokeModelWithResponseStream.
INVOKE_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
#: Destination Regions of the geographic cross-Region inference profiles, by id prefix (AWS's
#: "Supported Regions and models for inference profiles" page, as of chatbot/pricing.PRICES_AS_OF).
#: A model's own profile may route to fewer: preflight reads the exact list from AWS.
PROFILE_DESTINATIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
}


@dataclass(frozen=True)
class BedrockModelId:
    """A Bedrock model id, split into its inference-profile geography (if any) and foundation model."""

    model_id: str
    geography: str | None
    foundation_model: str

    @classmethod
    def parse(cls, model_id: str) -> BedrockModelId:
        prefix, _, rest = model_id.partition(".")
        if prefix in PROFILE_DESTINATIONS and rest:
            return cls(model_id, prefix, rest)
        if prefix == "global":
            raise ConfigError(
                f"{model_id}: global inference profiles route to every commercial Region; use a "
                f"geographic one ({', '.join(f'{g}.' for g in PROFILE_DESTINATIONS)}) or the model id"
            )
        return cls(model_id, None, model_id)

    def foundation_model_arn(self, region: str) -> str:
        return f"arn:aws:bedrock:{region}::foundation-model/{self.foundation_model}"

    def profile_arn(self, region: str, account: str) -> str:
        return f"arn:aws:bedrock:{region}:{account}:inference-profile/{self.model_id}"

    def check_source_region(self, region: str) -> None:
        """A geographic profile is called from one of its own Regions."""
        if self.geography and region not in PROFILE_DESTINATIONS[self.geography]:
            raise ConfigError(
                f"{self.model_id}: the {self.geography}. inference profile is not offered in {region} "
                f"(its Regions: {', '.join(PROFILE_DESTINATIONS[self.geography])})"
            )


def invoke_statements(specs: list[ModelSpec], region: str, account: pulumi.Input[str]) -> list[Statement]:
    """The chat API's Bedrock grants: InvokeModel(WithResponseStream) on exactly these models."""
    direct: list[pulumi.Input[str]] = []
    statements: list[Statement] = []
    for spec in specs:
        parsed = BedrockModelId.parse(spec.deployment.model_id or "")
        if parsed.geography is None:
            direct.append(parsed.foundation_model_arn(region))
            continue
        profile = pulumi.Output.from_input(account).apply(functools.partial(parsed.profile_arn, region))
        direct.append(profile)
        statements.append(
            allow(
                INVOKE_ACTIONS,
                [parsed.foundation_model_arn(r) for r in PROFILE_DESTINATIONS[parsed.geography]],
                {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
            )
        )
    if direct:
        statements.insert(0, allow(INVOKE_ACTIONS, direct))
    return statements


class BedrockModel:
    """A chat model that Bedrock serves: its registry item, and no resource at all."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.endpoint_name: pulumi.Output[str] = pulumi.Output.from_input(spec.deployment.model_id or "")
        self.registry_item: pulumi.Output[str] = pulumi.Output.from_input(
            registry_item(spec, spec.endpoint_name)
        )


def caller_account(parent: pulumi.Resource) -> pulumi.Output[str]:
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id


def check(spec: ModelSpec, site: Site) -> None:
    try:
        BedrockModelId.parse(spec.deployment.model_id or "").check_source_region(site.region)
    except ConfigError as exc:
        raise ConfigError(f"{site.where}.model_id: {exc}") from None


def container(llm: LargeLanguageModel) -> Container:
    raise TypeError(f"{llm.args.spec.name}: Bedrock serves it; it has no SageMaker model (use BedrockModel)")
