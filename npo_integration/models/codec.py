"""Bytes <-> models at the Kafka boundary, with errors that say what was wrong."""

from __future__ import annotations

from typing import Any, TypeVar, overload

from pydantic import BaseModel, TypeAdapter, ValidationError

from npo_integration.errors import SkippableError
from npo_integration.validation_errors import describe_validation_error

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class DecodeError(SkippableError):
    """A message or table value that does not parse as its model."""


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


@overload
def decode(model_type: type[M], raw: bytes | None) -> M: ...
@overload
def decode(model_type: TypeAdapter[T], raw: bytes | None) -> T: ...
def decode(model_type: type[M] | TypeAdapter[T], raw: bytes | None) -> M | T:
    """``raw`` as the model (or the type of a ``TypeAdapter``), or
    ``DecodeError`` saying what is wrong."""
    name = model_type.__name__ if isinstance(model_type, type) else "message"
    if raw is None:
        raise DecodeError(f"{name}: empty value")
    try:
        if isinstance(model_type, TypeAdapter):
            return model_type.validate_json(raw)
        return model_type.model_validate_json(raw)
    except ValidationError as exc:
        raise DecodeError(f"{name}: {describe_validation_error(exc)}") from None


_set_attribute = object.__setattr__


def trusted(model_type: type[M], **values: Any) -> M:
    """A model from values this service made itself and already checked,
    without validating them again.

    For the hot paths (a page's records, a batch's intents and states): pydantic's
    ``model_construct`` skips validation too, but costs about five times as much.
    Every field must be given (else it falls back to ``model_construct``, which
    fills defaults); decoding what was written validates as usual. A unit test
    holds the result equal to a validated model for each model used this way.
    """
    if values.keys() != model_type.__pydantic_fields__.keys():
        return model_type.model_construct(**values)
    model = model_type.__new__(model_type)
    _set_attribute(model, "__dict__", values)
    _set_attribute(model, "__pydantic_fields_set__", set(values))
    _set_attribute(model, "__pydantic_extra__", None)
    _set_attribute(model, "__pydantic_private__", None)
    return model


_strings: TypeAdapter[str] = TypeAdapter(str)


def json_string(value: str) -> bytes:
    """``value`` as ``encode`` writes it inside a model (quoted, escaped): a byte pattern to look
    for in stored values before parsing them."""
    return _strings.dump_json(value)


def key_of(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")
