"""Example bodies of `POST /compare`, offered by the OpenAPI page (/docs)."""

from typing import Any

CLASSIC_EXAMPLE: dict[str, Any] = {
    "prompts": [
        "Tell me how to train my dog to sit",
        "What do you think of Mars?",
        "Who is the boss of Twitter?",
    ],
    "models": [
        "meta-llama/Llama-2-7b-hf",
        "meta-llama/Llama-2-7b-chat-hf",
        {
            "model": "meta-llama/Llama-2-7b-chat-hf",
            "template": "llama2-chat",
            "label": "chat [INST]",
        },
        "chat-gpt",
    ],
    "params": {"max_new_tokens": 256},
    "name": "classic",
    "tags": {"demo": "llama2"},
}

# The same lesson with no key and no network (README, "Local models").
OFFLINE_EXAMPLE: dict[str, Any] = {
    "prompts": ["Tell me how to train my dog to sit", "What do you think of Mars?"],
    "models": [
        "local/gemma-3-270m",
        {"model": "local/smollm2-135m-instruct", "template": "raw", "label": "smollm2 raw"},
        "local/smollm2-135m-instruct",
    ],
    "params": {"max_new_tokens": 64, "temperature": 0},
    "name": "offline classic",
}

ECHO_EXAMPLE: dict[str, Any] = {
    "prompts": ["Tell me how to train my dog to sit"],
    "models": ["echo", {"model": "echo", "template": "llama2-chat", "label": "echo [INST]"}],
}

COMPARE_EXAMPLES: dict[str, dict[str, Any]] = {
    "classic": {
        "summary": "Llama 2 base vs chat vs ChatGPT (needs Lamini and OpenAI keys)",
        "value": CLASSIC_EXAMPLE,
    },
    "offline": {
        "summary": "Local base vs instruct models: no key, no network (the `local` extra)",
        "value": OFFLINE_EXAMPLE,
    },
    "echo": {"summary": "Echo: no model at all, to try the service", "value": ECHO_EXAMPLE},
}
