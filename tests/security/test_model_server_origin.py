"""Item 15: the local model server answers programs, never a web page.

A page on any site can make a visitor's browser POST to 127.0.0.1 without a CORS preflight when
the body is `text/plain` (or has no type): such a request must not reach a model. boto3's clients,
which send no Origin and JSON or no Content-Type, work unchanged."""

from __future__ import annotations

import json

import httpx

from tests.inference.test_app import body

INVOKE = "/endpoints/smollm2-135m/invocations"


def test_a_cross_site_text_plain_post_is_refused_before_any_model_runs(model_server_url: str):
    answer = httpx.post(
        model_server_url + INVOKE,
        content=body(max_new_tokens=2),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert answer.status_code == 415
    assert "application/json" in answer.json()["message"]


def test_a_page_of_another_site_is_refused_whatever_it_sends(model_server_url: str):
    for content_type in ({}, {"Content-Type": "application/json"}):
        answer = httpx.post(
            model_server_url + INVOKE,
            content=body(max_new_tokens=2),
            headers={"Origin": "https://evil.example", **content_type},
        )
        assert answer.status_code == 403
        assert "evil.example" in answer.json()["message"]
    converse = httpx.post(
        f"{model_server_url}/model/smollm2-135m/converse",
        json={"messages": [{"role": "user", "content": [{"text": "hi"}]}]},
        headers={"Origin": "http://attacker.test"},
    )
    assert converse.status_code == 403


def test_boto3_clients_still_work_with_and_without_a_content_type(runtime_clients):
    for content_type in ({}, {"ContentType": "application/json"}):
        response = runtime_clients.sagemaker.invoke_endpoint(
            EndpointName="smollm2-135m", Body=body(max_new_tokens=2), **content_type
        )
        assert json.loads(response["Body"].read())[0]["generated_text"] is not None
    converse = runtime_clients.bedrock.converse(
        modelId="smollm2-135m",
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        inferenceConfig={"maxTokens": 2},
    )
    assert converse["output"]["message"]["content"]
