"""endpoint_req_config keeps sagemaker-fastchat's meaning and fixes its known bugs."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from chatbot.errors import ModelCallError, ParameterError
from chatbot.models.request_config import OPENAI_CHAT, TGI, EndpointRequestConfig
from chatbot.models.spec import GenerationParams


def tgi_body(**params) -> dict:
    wire = GenerationParams(**params).wire_values(["<|im_end|>"])
    return json.loads(TGI.build_body("Hi", wire, stream=True))


def test_each_request_starts_from_a_copy_of_the_defaults_with_parameters_at_their_paths():
    body = tgi_body(max_new_tokens=12, temperature=0.5, top_p=0.8, top_k=7, seed=3)
    assert body == {
        "inputs": "Hi",
        "parameters": {
            "max_new_tokens": 12,
            "temperature": 0.5,
            "top_p": 0.8,
            "top_k": 7,
            "repetition_penalty": 1.1,
            "stop": ["<|im_end|>"],
            "seed": 3,
            "do_sample": True,
            "details": True,
        },
        "stream": True,
    }
    assert TGI.request.defaults["inputs"] == "Hello", "the defaults must not be modified"


def test_a_parameter_without_a_value_is_left_out_instead_of_crashing():
    wire = GenerationParams(stop=None, seed=None).wire_values([])
    body = json.loads(TGI.build_body("Hi", wire, stream=False))
    assert "stop" not in body["parameters"]
    assert "seed" not in body["parameters"]


def test_values_at_an_exclusive_edge_mean_off_and_are_not_sent_to_tgi():
    body = tgi_body(top_p=1.0, top_k=0)
    assert "top_p" not in body["parameters"]
    assert "top_k" not in body["parameters"]


def test_temperature_zero_is_greedy_decoding_without_sampling_knobs():
    body = tgi_body(temperature=0)
    assert body["parameters"]["do_sample"] is False
    assert not {"temperature", "top_p", "top_k"} & set(body["parameters"])


def test_openai_chat_accepts_temperature_zero_as_a_value():
    wire = GenerationParams(temperature=0).wire_values([])
    body = json.loads(OPENAI_CHAT.build_body([{"role": "user", "content": "Hi"}], wire, stream=True))
    assert body["temperature"] == 0
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert body["max_tokens"] == 256


def test_a_value_beyond_the_backends_bounds_is_rejected_before_any_call():
    config = EndpointRequestConfig.model_validate(
        {
            **TGI.model_dump(),
            "request": {**TGI.request.model_dump(), "bounds": {"max_new_tokens": {"le": 100}}},
        }
    )
    with pytest.raises(ParameterError, match=r"max_new_tokens=500 is outside .*le 100"):
        config.build_body("Hi", GenerationParams(max_new_tokens=500).wire_values([]), stream=True)


def test_more_stop_words_than_tgi_accepts_are_cut_to_four():
    body = tgi_body(stop=["a", "b", "c", "d", "e"])
    assert body["parameters"]["stop"] == ["<|im_end|>", "a", "b", "c"]


def test_a_mapped_path_missing_from_the_defaults_is_a_config_error_at_load_time():
    broken = TGI.model_dump()
    broken["request"]["mapping"]["seed"] = "$.parameters.random_seed"
    with pytest.raises(ValidationError, match=r"request.mapping.seed points at '\$.parameters.random_seed'"):
        EndpointRequestConfig.model_validate(broken)


def test_unknown_parameters_and_missing_text_mapping_are_rejected():
    broken = TGI.model_dump()
    broken["request"]["mapping"]["temprature"] = "$.parameters.temperature"
    with pytest.raises(ValidationError, match="unknown request parameters"):
        EndpointRequestConfig.model_validate(broken)
    broken = TGI.model_dump()
    del broken["response"]["mapping"]["text"]
    with pytest.raises(ValidationError, match="must map 'text'"):
        EndpointRequestConfig.model_validate(broken)


def test_an_invalid_jsonpath_names_the_field():
    broken = TGI.model_dump()
    broken["response"]["mapping"]["text"] = "$.token[text"
    with pytest.raises(
        ValidationError, match=r"response.mapping.text: '\$.token\[text' is not a valid JSONPath"
    ):
        EndpointRequestConfig.model_validate(broken)


def test_the_adapter_output_must_match_the_endpoints_input_kind():
    with pytest.raises(ParameterError, match="takes 'prompt' input"):
        TGI.build_body([{"role": "user", "content": "Hi"}], {}, stream=True)


def test_tgi_token_events_parse_to_text():
    chunk = TGI.parse_line('data:{"index":1,"token":{"id":5,"text":" Hi","logprob":-0.1,"special":false}}')
    assert chunk.text == " Hi"
    assert chunk.finish_reason is None


def test_special_tokens_never_reach_the_text():
    line = (
        'data:{"index":9,"token":{"id":2,"text":"</s>","logprob":0,"special":true},'
        '"generated_text":"Hi","details":{"finish_reason":"eos_token","generated_tokens":9,"input_length":4}}'
    )
    chunk = TGI.parse_line(line)
    assert chunk.text == ""
    assert chunk.special
    assert (chunk.finish_reason, chunk.completion_tokens, chunk.prompt_tokens) == ("eos_token", 9, 4)


def test_an_error_event_without_text_becomes_an_error_not_a_crash():
    chunk = TGI.parse_line('data:{"error":"CUDA out of memory","error_type":"generation"}')
    assert chunk.text == ""
    assert chunk.error == "CUDA out of memory"
    assert chunk.tokens is None, "an error is not a token"


def test_openai_stream_lines_parse_and_the_done_marker_is_skipped():
    assert OPENAI_CHAT.parse_line('data: {"choices":[{"index":0,"delta":{"content":"Bon"}}]}').text == "Bon"
    assert (
        OPENAI_CHAT.parse_line('data: {"choices":[{"delta":{"content":null},"finish_reason":"stop"}]}').text
        == ""
    )
    usage = OPENAI_CHAT.parse_line('data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}')
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 3)
    assert OPENAI_CHAT.parse_line("data: [DONE]") is None


def test_complete_responses_parse_with_their_own_mapping():
    tgi = TGI.parse_complete(
        b'[{"generated_text":"Paris","details":{"finish_reason":"eos_token","generated_tokens":2}}]'
    )
    assert (tgi.text, tgi.finish_reason, tgi.completion_tokens) == ("Paris", "eos_token", 2)
    openai = OPENAI_CHAT.parse_complete(
        b'{"choices":[{"message":{"content":"Paris"},"finish_reason":"stop"}]}'
    )
    assert openai.text == "Paris"


def test_a_line_that_is_not_json_is_a_model_call_error_that_shows_the_line():
    with pytest.raises(ModelCallError, match="not JSON.*oops"):
        TGI.parse_line("data:oops")


def test_each_tgi_stream_event_is_one_token_and_a_complete_body_says_how_many():
    assert TGI.parse_line('data:{"token":{"id":5,"text":"Hi","special":false}}').tokens == 1
    assert TGI.parse_line('data:{"token":{"id":2,"text":"</s>","special":true}}').tokens == 1
    complete = TGI.parse_complete(b'[{"generated_text":"Hi there","details":{"generated_tokens":3}}]')
    assert complete.tokens == 3
