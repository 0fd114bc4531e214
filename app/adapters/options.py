"""Adapter options from the catalogue, validated when the adapter is built."""

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from app.adapters.base import ProviderError
from app.domain import ModelSpec

OptionsT = TypeVar("OptionsT", bound=BaseModel)


class AdapterConfigError(ProviderError):
    """A catalogue entry cannot become an adapter; every call to it fails with this message."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


def parse_options(model: type[OptionsT], spec: ModelSpec) -> OptionsT:
    """`spec.options` as `model`, or an `AdapterConfigError` naming the model and the problem."""
    try:
        return model.model_validate(spec.options)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors()
        )
        raise AdapterConfigError(
            f"model {spec.name}: invalid {spec.adapter} options: {problems}"
        ) from None
