"""A fake Lamini server: `POST /v1/completions` as the `lamini` SDK calls it.

Its `url` is what `lamini.Lamini(..., api_url=...)` and the Lamini adapter's `base_url` take.
"""

from typing import Any

from tests.support.fakes.server import FakeProvider, InvalidRequest, optional_int, words_up_to


def _answer_one(prompt: Any, max_new_tokens: int | None) -> dict[str, str]:
    if not isinstance(prompt, str):
        raise InvalidRequest("prompt must be a string or a list of strings")
    output, _ = words_up_to(f"answer to: {prompt}", max_new_tokens)
    return {"output": output}


class FakeLamini(FakeProvider):
    """Answers `{"output": "answer to: <prompt>"}`, cut to `max_new_tokens` words.

    Like Lamini, it reports no finish reason and no token counts; errors are `{"detail": ...}`.
    """

    paths = ("/v1/completions",)

    def answer(self, path: str, body: dict[str, Any]) -> Any:
        if not isinstance(body.get("model_name"), str):
            raise InvalidRequest("model_name is required")
        prompt, limit = body.get("prompt"), optional_int(body, "max_new_tokens")
        if isinstance(prompt, list):  # the SDK's batch form
            return [_answer_one(p, limit) for p in prompt]
        return _answer_one(prompt, limit)

    def error_body(self, status: int, message: str) -> Any:
        return {"detail": message}
