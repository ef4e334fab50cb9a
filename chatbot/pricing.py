"""The price table of model hosting: the one source for the stack's cost estimate
(infra/checks/pricing.py) and for the leaderboard's $ per 1,000 output tokens (chatbot/chat/costs.py).

It lives in the core library because the chat API's Lambda carries `chatbot/` but not `infra/`.
On-demand list prices in USD for one region, copied by hand from AWS's public price pages: an
estimate for comparing models and stacks, not a quote. Update the table and its date together.
"""

from __future__ import annotations

PRICES_AS_OF = "2026-11-24"
PRICES_REGION = "us-east-1"

#: SageMaker real-time inference, per instance-hour.
SAGEMAKER_HOURLY = {
    "ml.t2.medium": 0.056,
    "ml.m5.large": 0.115,
    "ml.c5.large": 0.102,
    "ml.c6i.large": 0.102,
    "ml.c7i.large": 0.107,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.12xlarge": 7.09,
    "ml.g6.xlarge": 1.006,
    "ml.g6.2xlarge": 1.222,
}

#: Bedrock on-demand, USD per 1,000 output tokens, by model id (without an inference profile's
#: region prefix such as "us.").
BEDROCK_OUTPUT_PER_1K_TOKENS = {
    "anthropic.claude-3-haiku-20240307-v1:0": 0.00125,
    "anthropic.claude-3-5-haiku-20241022-v1:0": 0.004,
    "anthropic.claude-3-5-sonnet-20241022-v2:0": 0.015,
    "anthropic.claude-3-7-sonnet-20250219-v1:0": 0.015,
    "amazon.nova-micro-v1:0": 0.00014,
    "amazon.nova-lite-v1:0": 0.00024,
    "amazon.nova-pro-v1:0": 0.0032,
    "meta.llama3-1-8b-instruct-v1:0": 0.00022,
    "meta.llama3-1-70b-instruct-v1:0": 0.00099,
    "mistral.mistral-7b-instruct-v0:2": 0.0002,
}

#: Bedrock on-demand, USD per 1,000 input tokens, keyed like BEDROCK_OUTPUT_PER_1K_TOKENS.
BEDROCK_INPUT_PER_1K_TOKENS = {
    "anthropic.claude-3-haiku-20240307-v1:0": 0.00025,
    "anthropic.claude-3-5-haiku-20241022-v1:0": 0.0008,
    "anthropic.claude-3-5-sonnet-20241022-v2:0": 0.003,
    "anthropic.claude-3-7-sonnet-20250219-v1:0": 0.003,
    "amazon.nova-micro-v1:0": 0.000035,
    "amazon.nova-lite-v1:0": 0.00006,
    "amazon.nova-pro-v1:0": 0.0008,
    "meta.llama3-1-8b-instruct-v1:0": 0.00022,
    "meta.llama3-1-70b-instruct-v1:0": 0.00099,
    "mistral.mistral-7b-instruct-v0:2": 0.00015,
}


def bedrock_model_key(model_id: str) -> str:
    """The price tables' key: a model id without an inference profile's geography prefix."""
    prefix, _, rest = model_id.partition(".")
    return rest if prefix in ("us", "eu", "apac", "global") and rest else model_id
