"""$ per 1,000 output tokens of each model, from the one price table (chatbot/pricing.py).

- Bedrock: its list price per output token.
- SageMaker: the instance's hourly price over the throughput measured on the model's own
  answers (median tokens/s of one stream; batching several streams would cost less per token).
- Local (the model server on this machine): $0, labelled local.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from chatbot.models.deployment import BedrockDeployment
from chatbot.models.spec import ModelSpec
from chatbot.pricing import BEDROCK_OUTPUT_PER_1K_TOKENS, PRICES_AS_OF, PRICES_REGION, SAGEMAKER_HOURLY

Hosting = Literal["local", "aws"]
CostBasis = Literal["local", "bedrock", "sagemaker", "unknown"]


class ModelCost(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: None when there is no price (an instance type not in the table, no measured speed).
    usd_per_1k_output_tokens: float | None
    basis: CostBasis
    #: How the figure was reached, in words.
    note: str


def model_cost(spec: ModelSpec | None, hosting: Hosting, tokens_per_s: float | None) -> ModelCost:
    if hosting == "local":
        return ModelCost(usd_per_1k_output_tokens=0.0, basis="local", note="local: runs on this machine")
    if spec is None:
        return ModelCost(usd_per_1k_output_tokens=None, basis="unknown", note="not in the model catalog")
    deployment = spec.deployment
    bedrock_id = deployment.model_id if isinstance(deployment, BedrockDeployment) else None
    if bedrock_id is not None:
        price = BEDROCK_OUTPUT_PER_1K_TOKENS.get(
            bedrock_id.split(".", 1)[-1] if _profiled(bedrock_id) else bedrock_id
        )
        note = f"Bedrock list price ({PRICES_REGION}, {PRICES_AS_OF})"
        return ModelCost(
            usd_per_1k_output_tokens=price, basis="bedrock", note=note if price else "no list price"
        )
    hourly = SAGEMAKER_HOURLY.get(deployment.instance_type)
    if hourly is None or not tokens_per_s:
        missing = "no measured speed" if hourly else f"no price for {deployment.instance_type}"
        return ModelCost(usd_per_1k_output_tokens=None, basis="sagemaker", note=missing)
    per_1k = hourly / (tokens_per_s * 3600) * 1000
    note = f"{deployment.instance_type} at ${hourly}/h over {tokens_per_s:.1f} tokens/s"
    return ModelCost(usd_per_1k_output_tokens=per_1k, basis="sagemaker", note=note)


def _profiled(model_id: str) -> bool:
    """An inference profile's id starts with a region group: us., eu., apac., global."""
    return model_id.split(".", 1)[0] in {"us", "eu", "apac", "global"}
