"""A request's identity for the response cache: which answers may stand in for one another.

Two pairs ask the same thing when they go to the same adapter, upstream model and endpoint
(with the same adapter options), with the same rendered prompt, the same params and the same
sample number. The number is part of it so that a run's repeated samples never answer one
another: sample 2 of today's run may reuse sample 2 of yesterday's, not today's sample 1.

Only deterministic sampling is reusable (temperature 0, or a seed); other pairs get no
fingerprint. It is the first 128 bits of a SHA-256, stored as a uuid: fixed width, cheap to
compare and index; a collision among 2^64 stored answers is about as likely as not, far
beyond any database here.
"""

import hashlib
import uuid

import orjson

from app.catalogue.service import Catalogue
from app.domain import Contender, GenerationParams


def deterministic(params: GenerationParams) -> bool:
    """Whether these params ask for the same answer every time."""
    return params.temperature == 0 or params.seed is not None


class Fingerprints:
    """The fingerprints of one contender's pairs, for one sample number."""

    def __init__(self, catalogue: Catalogue, contender: Contender, sample: int) -> None:
        params = contender.sample_params(sample)
        self._identity: bytes | None = None
        spec = catalogue.get(contender.model)
        if spec is None or not deterministic(params):
            return
        self._identity = orjson.dumps(
            {
                "adapter": spec.adapter,
                "upstream": spec.upstream,
                "endpoint": catalogue.endpoint(spec),
                "options": spec.options,
                "params": params.model_dump(mode="json", exclude_none=True),
                "sample": sample,
            },
            option=orjson.OPT_SORT_KEYS,
        )

    def of(self, rendered_prompt: str) -> uuid.UUID | None:
        """The fingerprint of the pair sending `rendered_prompt` (as stored), or None."""
        if self._identity is None:
            return None
        digest = hashlib.sha256(self._identity + b"\x00" + rendered_prompt.encode())
        return uuid.UUID(bytes=digest.digest()[:16])
