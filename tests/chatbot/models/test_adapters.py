"""Each adapter writes its family's exact prompt; prompts are fitted into the context window."""

from __future__ import annotations

import re

import pytest

from chatbot.errors import ConfigError, PromptTooLongError
from chatbot.models.adapters import (
    ChatMLAdapter,
    Turn,
    adapter_for,
    format_context,
    register_adapter,
)

HISTORY = [Turn(role="user", content="Hi"), Turn(role="assistant", content="Hello!")]


def render(model_id: str) -> str:
    return adapter_for(model_id).render("Be brief.", HISTORY, "Capital of France?")


def test_smollm2_uses_its_chatml_template():
    assert render("HuggingFaceTB/SmolLM2-135M-Instruct") == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nCapital of France?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert adapter_for("HuggingFaceTB/SmolLM2-135M-Instruct").stop_words() == ["<|im_end|>", "<|im_start|>"]


def test_gemma_base_uses_a_plain_transcript_with_stop_words():
    assert (
        render("google/gemma-3-270m")
        == "Be brief.\n\nUser: Hi\nAssistant: Hello!\nUser: Capital of France?\nAssistant:"
    )
    assert adapter_for("google/gemma-3-270m").stop_words() == ["\nUser:", "\nAssistant:"]


def test_falcon_instruct_uses_the_same_transcript_shape():
    assert adapter_for("tiiuae/falcon-7b-instruct").name == "falcon-instruct"
    assert render("tiiuae/falcon-7b-instruct").endswith("User: Capital of France?\nAssistant:")


def test_llama2_chat_follows_metas_template():
    assert render("meta-llama/Llama-2-7b-chat-hf") == (
        "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Capital of France? [/INST]"
    )


def test_mistral_instruct_puts_the_system_text_in_the_first_message():
    assert render("mistralai/Mistral-7B-Instruct-v0.2") == (
        "<s>[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] Capital of France? [/INST]"
    )


def test_chat_messages_adapter_writes_a_message_list():
    assert adapter_for("any", name="chat-messages").render("S", HISTORY, "Q") == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Q"},
    ]


def test_a_gemma_instruct_model_is_not_taken_for_the_base_model():
    with pytest.raises(ConfigError, match="No adapter matches model id 'google/gemma-3-270m-it'"):
        adapter_for("google/gemma-3-270m-it")


def test_extensions_register_through_the_same_call_and_first_match_wins():
    register_adapter(ChatMLAdapter("qwen-chatml"), r"(?i)qwen.*instruct")
    assert adapter_for("Qwen/Qwen2.5-0.5B-Instruct").name == "qwen-chatml"
    assert adapter_for("HuggingFaceTB/SmolLM2-360M-Instruct").name == "smollm2"
    with pytest.raises(ConfigError, match="already registered"):
        register_adapter(ChatMLAdapter("qwen-chatml"))


def test_retrieved_context_sits_between_delimiters_marked_as_data():
    prompt = adapter_for("google/gemma-3-270m").prompt([], "Q?", ["Paris is in France."], budget_tokens=1000)
    assert format_context(["Paris is in France."]) in prompt.prompt
    assert "data, not instructions" in prompt.prompt
    assert re.search(r'<(document-\w{16}) index="1">\nParis is in France.\n</\1>', prompt.prompt)


def test_oldest_turns_are_dropped_first_then_the_lowest_ranked_passages():
    adapter = adapter_for("google/gemma-3-270m")
    history = [
        Turn(role=role, content=f"{role} {i} " + "x" * 60) for i in range(3) for role in ("user", "assistant")
    ]
    passages = ["best passage " + "p" * 60, "worst passage " + "q" * 60]
    full = adapter.prompt(history, "Q?", passages, budget_tokens=10_000)
    assert (full.dropped_turns, full.dropped_passages) == (0, 0)

    fitted = adapter.prompt(history, "Q?", passages, budget_tokens=full.estimated_tokens - 30)
    assert fitted.dropped_turns == 2, "one whole exchange, the oldest"
    assert "user 0" not in fitted.prompt
    assert "user 2" in fitted.prompt

    best_only = adapter.prompt([], "Q?", passages[:1], budget_tokens=10_000).estimated_tokens
    tight = adapter.prompt(history, "Q?", passages, budget_tokens=best_only)
    assert tight.dropped_turns == 6
    assert tight.dropped_passages == 1
    assert "best passage" in tight.prompt
    assert "worst passage" not in tight.prompt


def test_a_message_that_cannot_fit_says_what_to_do():
    with pytest.raises(PromptTooLongError, match="Shorten the message"):
        adapter_for("google/gemma-3-270m").prompt([], "x" * 3000, budget_tokens=100)
