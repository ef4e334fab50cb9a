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


def test_a_page_that_rebinds_its_name_to_the_loopback_is_refused(model_server_url: str):
    """DNS rebinding: evil.test now resolves to 127.0.0.1, so the page's requests are same-origin
    (Origin and Host both evil.test): the Host names no address this server was started on."""
    port = model_server_url.rsplit(":", 1)[1]
    rebound = {"Host": f"evil.test:{port}", "Origin": f"http://evil.test:{port}"}
    for answer in (
        httpx.post(model_server_url + INVOKE, content=body(max_new_tokens=2), headers=rebound),
        httpx.get(f"{model_server_url}/metrics", headers={"Host": f"evil.test:{port}"}),
    ):
        assert answer.status_code == 403, answer.text
        assert "evil.test" in answer.json()["message"]
    for own_name in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert httpx.get(f"{model_server_url}/ping", headers={"Host": own_name}).status_code == 200


def test_only_a_server_bound_to_the_loopback_checks_the_host():
    """In a SageMaker container the server binds 0.0.0.0 and the platform sends its own Host."""
    from inference.app import allowed_hosts

    assert allowed_hosts("0.0.0.0") is None
    assert allowed_hosts("10.0.0.5") is None
    assert allowed_hosts("127.0.0.1") == {"localhost", "127.0.0.1", "::1"}
    assert "box.internal" in (allowed_hosts("::1", "box.internal, other") or set())
