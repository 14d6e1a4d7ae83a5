"""Bytes <-> models at the Kafka boundary, with errors that say what was wrong."""

from __future__ import annotations

from typing import Any, TypeVar, overload

from pydantic import BaseModel, TypeAdapter, ValidationError

from npo_integration.errors import SkippableError
from npo_integration.validation_errors import describe_validation_error

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

MAX_PLATFORM_MESSAGE_BYTES = 256 * 1024
"""A message on a platform topic (an assessed NPO, a candidate assignment) larger than this is
refused before it is parsed: what it would become (a config command, an enrolment's state in a
changelog) must fit in one Kafka message, and no real one comes near."""


class DecodeError(SkippableError):
    """A message or table value that does not parse as its model."""


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


@overload
def decode(model_type: type[M], raw: bytes | None, *, max_bytes: int | None = None) -> M: ...
@overload
def decode(model_type: TypeAdapter[T], raw: bytes | None, *, max_bytes: int | None = None) -> T: ...
def decode(
    model_type: type[M] | TypeAdapter[T], raw: bytes | None, *, max_bytes: int | None = None
) -> M | T:
    """``raw`` as the model (or the type of a ``TypeAdapter``), or
    ``DecodeError`` saying what is wrong (too large, not JSON, nested too deeply, invalid).

    pydantic's JSON parser refuses deep nesting and bytes that are not UTF-8 as validation
    errors, so no ``RecursionError`` or ``UnicodeDecodeError`` comes out of here."""
    name = model_type.__name__ if isinstance(model_type, type) else "message"
    if raw is None:
        raise DecodeError(f"{name}: empty value")
    if max_bytes is not None and len(raw) > max_bytes:
        raise DecodeError(f"{name}: message of {len(raw)} bytes, more than {max_bytes}")
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
