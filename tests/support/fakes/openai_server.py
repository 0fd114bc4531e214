"""A fake OpenAI-compatible server: `/v1/chat/completions` and `/v1/completions`.

Its base URL, as the OpenAI adapter wants it, is `server.url + "/v1"`. Standalone, for
benchmarks and trying the service:
`python -m tests.support.fakes.openai_server --port 9999 --latency-ms 50`; with `--tally`,
`GET /stats` says how many requests came and how many repeated an earlier one.
"""

import argparse
import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from tests.support.fakes.server import (
    FakeProvider,
    InvalidRequest,
    optional_int,
    serve_until_cancelled,
    words_up_to,
)

log = logging.getLogger(__name__)

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"


def _chat_prompt(body: dict[str, Any]) -> tuple[str, str]:
    """The last user message, and all the message text that counts as the prompt."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty list")
    try:
        contents = [(str(m["role"]), str(m["content"])) for m in messages]
    except (KeyError, TypeError):
        raise InvalidRequest("each message needs a 'role' and a 'content'") from None
    users = [content for role, content in contents if role == "user"]
    return (users[-1] if users else contents[-1][1]), " ".join(c for _, c in contents)


class FakeOpenAI(FakeProvider):
    """Answers "answer to: <prompt>", cut to `max_tokens` words with finish_reason "length".

    `reply`, when set, answers instead: it is given the prompt (the last user message) and
    returns the answer's text, e.g. a judge's verdict that depends on what it was shown.
    """

    paths = (CHAT_PATH, COMPLETIONS_PATH)
    _ids: ClassVar[Iterator[int]] = itertools.count(1)
    reply: Callable[[str], str] | None = None

    def answer(self, path: str, body: dict[str, Any]) -> Any:
        if not isinstance(body.get("model"), str):
            raise InvalidRequest("you must provide a model parameter")
        chat = path == CHAT_PATH
        if chat:
            prompt, sent = _chat_prompt(body)
        elif isinstance(body.get("prompt"), str):
            prompt = sent = body["prompt"]
        else:
            raise InvalidRequest("'prompt' must be a string")
        text = self.reply(prompt) if self.reply is not None else f"answer to: {prompt}"
        output, cut = words_up_to(text, optional_int(body, "max_tokens"))
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length" if cut else "stop"}
        if chat:
            choice["message"] = {"role": "assistant", "content": output}
        else:
            choice["text"] = output
        prompt_tokens, completion_tokens = len(sent.split()), len(output.split())
        return {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-fake-{next(self._ids)}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def error_body(self, status: int, message: str) -> Any:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def main() -> None:
    """Serve on 127.0.0.1 until killed, recording no requests (a tally at most), logging none."""
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server.")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--required-key", default=None, help="answer 401 to any other key")
    parser.add_argument(
        "--tally", action="store_true", help="count requests by body; GET /stats tells"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("fake OpenAI on http://127.0.0.1:%d/v1", args.port)
    server = FakeOpenAI(
        port=args.port,
        latency_ms=args.latency_ms,
        required_key=args.required_key,
        record=False,  # unbounded memory under a benchmark otherwise
        tally=args.tally,  # 16 bytes and a count per distinct request
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_until_cancelled(server))


if __name__ == "__main__":
    main()
