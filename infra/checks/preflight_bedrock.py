"""Preflight's Bedrock rows: per model, is it still ACTIVE, may this account invoke it here, does
the chat API's role cover its inference profile's routes, and what on-demand quotas does it get?

Read-only calls: Bedrock GetFoundationModel (lifecycle, the names Service Quotas uses),
GetFoundationModelAvailability (access), GetInferenceProfile (routes), and the Service Quotas
list for `bedrock` (fetched once by the caller)."""

from __future__ import annotations

from typing import Any

from chatbot.models.deployment import BedrockDeployment
from infra.checks.preflight_types import Check
from infra.config import StackConfig
from infra.models.bedrock import PROFILE_DESTINATIONS, BedrockModelId

#: Below these a few users at once already meet throttling (new accounts start this low).
LOW_REQUESTS_PER_MINUTE = 20
LOW_TOKENS_PER_MINUTE = 20_000


def bedrock_checks(bedrock: Any, config: StackConfig, quotas: list[dict[str, Any]]) -> list[Check]:
    specs = [spec for spec in config.all_models() if isinstance(spec.deployment, BedrockDeployment)]
    if not specs:
        return [Check("bedrock-access", "skip", "no Bedrock models in this stack")]
    checks = []
    for spec in specs:
        parsed = BedrockModelId.parse(spec.deployment.model_id or "")
        details = bedrock.get_foundation_model(modelIdentifier=parsed.foundation_model)["modelDetails"]
        checks.append(lifecycle(spec.name, details))
        checks.append(_model_access(bedrock, spec.name, parsed.foundation_model))
        if parsed.geography is not None:
            checks.append(_profile_routes(bedrock, spec.name, parsed))
        checks.append(on_demand_quotas(spec.name, details, quotas, cross_region=parsed.geography is not None))
    return checks


def lifecycle(name: str, details: dict[str, Any]) -> Check:
    """LEGACY models have an end-of-life date, and accounts that have not used them cannot start."""
    model_id = details["modelId"]
    state = details.get("modelLifecycle", {})
    if state.get("status") == "LEGACY":
        end = state.get("endOfLifeTime")
        when = f"end of life {end:%Y-%m-%d}" if end else "no end-of-life date given"
        return Check(
            "bedrock-lifecycle",
            "fail",
            f"{name} ({model_id}) is LEGACY, {when}: new accounts cannot use it and it stops working "
            "then. Pick an ACTIVE model (Bedrock console, Model catalog) for deployment.model_id.",
        )
    return Check("bedrock-lifecycle", "ok", f"{name} ({model_id}): {state.get('status', 'ACTIVE')}")


def on_demand_quotas(
    name: str, details: dict[str, Any], quotas: list[dict[str, Any]], *, cross_region: bool
) -> Check:
    """Service Quotas names Bedrock's per-model quotas '<kind> model inference <unit> per minute for
    <provider> <model name>'; an inference profile draws on the cross-region ones."""
    kind = "Cross-region" if cross_region else "On-demand"
    model = f"{details.get('providerName', '')} {details.get('modelName', details['modelId'])}".strip()
    values = {}
    for unit in ("requests", "tokens"):
        wanted = f"{kind} model inference {unit} per minute for {model}".lower()
        values[unit] = next((q["Value"] for q in quotas if q["QuotaName"].lower() == wanted), None)
    requests, tokens = values["requests"], values["tokens"]
    if requests is None or tokens is None:
        return Check(
            "bedrock-quota",
            "warn",
            f"{name}: no {kind.lower()} quotas listed for {model}; look them up in Service Quotas (Amazon Bedrock)",
        )
    shown = f"{name} ({kind.lower()}): {requests:g} requests and {tokens:g} tokens per minute"
    if requests == 0 or tokens == 0:
        return Check(
            "bedrock-quota",
            "fail",
            f"{shown}: every call will be throttled. Request an increase in Service Quotas.",
        )
    if requests < LOW_REQUESTS_PER_MINUTE or tokens < LOW_TOKENS_PER_MINUTE:
        return Check(
            "bedrock-quota",
            "warn",
            f"{shown}, a new account's low quota: a few users at once will see 'the model is busy'. "
            "Request an increase in Service Quotas.",
        )
    return Check("bedrock-quota", "ok", shown)


def _model_access(bedrock: Any, name: str, model_id: str) -> Check:
    answer = bedrock.get_foundation_model_availability(modelId=model_id)
    problems = []
    if answer.get("regionAvailability") != "AVAILABLE":
        problems.append("it is not offered in this Region")
    if answer.get("authorizationStatus") != "AUTHORIZED":
        problems.append("this account is not authorised to use it")
    if answer.get("entitlementAvailability") != "AVAILABLE":
        problems.append("model access is not granted")
    agreement = answer.get("agreementAvailability", {})
    if agreement.get("status") != "AVAILABLE":
        problems.append(f"its offer agreement is {agreement.get('status', 'missing')}")
    if problems:
        return Check(
            "bedrock-access",
            "fail",
            f"{name} ({model_id}): {'; '.join(problems)}. Request access in the Bedrock console's "
            "'Model access' page (docs/DEPLOY.md), then run preflight again.",
        )
    return Check("bedrock-access", "ok", f"{name} ({model_id}): access granted")


def _profile_routes(bedrock: Any, name: str, parsed: BedrockModelId) -> Check:
    answer = bedrock.get_inference_profile(inferenceProfileIdentifier=parsed.model_id)
    routes = sorted({model["modelArn"].split(":")[3] for model in answer.get("models", [])})
    granted = PROFILE_DESTINATIONS[parsed.geography or ""]
    if missing := [region for region in routes if region not in granted]:
        return Check(
            "bedrock-profile",
            "fail",
            f"{name}: {parsed.model_id} routes to {', '.join(missing)}, which the chat API's role does "
            "not cover: add them to PROFILE_DESTINATIONS in infra/models/bedrock.py",
        )
    if answer.get("status") != "ACTIVE":
        return Check("bedrock-profile", "fail", f"{name}: {parsed.model_id} is {answer.get('status')}")
    return Check("bedrock-profile", "ok", f"{name}: {parsed.model_id} routes to {', '.join(routes)}")
