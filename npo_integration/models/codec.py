"""Bytes <-> models at the Kafka boundary, with errors that say what was wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import from_json, to_json

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


class UnknownVersionError(DecodeError):
    """A stored value or internal message written by a newer release (its ``v`` is unknown here)."""


VERSION_FIELD = "v"


class Versioned(BaseModel):
    """A value this service stores (a table value) or sends to itself (an internal topic): it
    carries its schema version, so a worker of another release reads it or says why not.

    ``v`` is 1 when absent (values written before versions existed). A model whose stored shape
    changes incompatibly lists its new version in the ``Literal`` (``Literal[1, 2]``, default the
    newest) and migrates the older one in a ``mode="before"`` validator. Fields added with a
    default need no new version: ``decode`` tolerates fields it does not know (an older worker
    reading a newer worker's value), and refuses a version it does not know in one line
    (docs/contracts.md, "Stored values and upgrades")."""

    v: Literal[1] = Field(1, description="schema version of the stored value (absent: 1)")


def encode(model: BaseModel) -> bytes:
    """The model's JSON, as ``model_dump_json`` writes it, as the bytes pydantic-core makes:
    ``model_dump_json`` decodes them to a string, which was encoded back here (0.7 µs of the 2 an
    offering event cost; every event, state and table value goes through here)."""
    return model.__pydantic_serializer__.to_json(model)


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
        return _validate(model_type, raw)
    except ValidationError as exc:
        if not _is_versioned(model_type):
            raise DecodeError(f"{name}: {describe_validation_error(exc)}") from None
        error = exc
    return _decode_tolerant(model_type, raw, error, name)


def _validate(model_type: type[M] | TypeAdapter[T], raw: bytes) -> M | T:
    if isinstance(model_type, TypeAdapter):
        return model_type.validate_json(raw)
    # ``model_validate_json`` without its Python wrapper (as ``validated``): a record's state is
    # decoded for every changed record
    return model_type.__pydantic_validator__.validate_json(raw)  # type: ignore[no-any-return]


_versioned_adapters: set[int] = set()


def versioned_adapter(tp: Any) -> TypeAdapter[Any]:
    """A ``TypeAdapter`` (a union of ``Versioned`` models, say) that ``decode`` reads as stored
    values: tolerant of added fields, strict about versions."""
    adapter: TypeAdapter[Any] = TypeAdapter(tp)
    _versioned_adapters.add(id(adapter))
    return adapter


def _is_versioned(model_type: type[BaseModel] | TypeAdapter[Any]) -> bool:
    if isinstance(model_type, TypeAdapter):
        return id(model_type) in _versioned_adapters
    return issubclass(model_type, Versioned)


MAX_TOLERANT_PASSES = 4


def _decode_tolerant(
    model_type: type[M] | TypeAdapter[T], raw: bytes, error: ValidationError, name: str
) -> M | T:
    """The slow path of a stored value that failed validation: an unknown schema version is
    refused in one line; fields this release does not know (a newer release added them) are
    dropped and the rest validated again. Off the hot path: a value of this release's shape
    validates the first time."""
    data: Any = None
    for _ in range(MAX_TOLERANT_PASSES):
        errors = error.errors()
        for e in errors:
            loc = e["loc"]
            if e["type"] == "literal_error" and loc and loc[-1] == VERSION_FIELD and len(loc) <= 2:
                expected = e.get("ctx", {}).get("expected", "?")
                raise UnknownVersionError(
                    f"{name}: schema version {e['input']!r} unknown to this release (it reads"
                    f" {expected}): written by a newer release; finish the upgrade"
                    " (docs/contracts.md, 'Stored values and upgrades')"
                )
        if not all(e["type"] == "extra_forbidden" for e in errors):
            break
        if data is None:
            data = from_json(raw)
        for e in errors:
            _drop(data, e["loc"])
        try:
            return _validate(model_type, to_json(data))
        except ValidationError as exc:
            error = exc
    raise DecodeError(f"{name}: {describe_validation_error(error)}") from None


def _drop(data: Any, loc: tuple[int | str, ...]) -> None:
    """Delete the field at ``loc`` (a validation error's location) from parsed JSON. A step of
    ``loc`` that is not in the data is a union member's tag (pydantic names the member it tried),
    skipped."""
    node = data
    for step in loc[:-1]:
        in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if in_list or (isinstance(node, dict) and step in node):
            node = node[step]
    if isinstance(node, dict):
        node.pop(loc[-1], None)


@dataclass(frozen=True, slots=True)
class _Layout:
    """What ``trusted_json`` needs of a model, looked up once per model (``issubclass`` on a
    pydantic model costs as much as the rest of ``trusted_json``)."""

    fields: tuple[str, ...]
    unversioned: tuple[str, ...] | None  # a ``Versioned`` model's fields without ``v``
    version_prefix: bytes  # ``{"v":<its default>,``, as pydantic writes it


_layouts: dict[type[BaseModel], _Layout] = {}


def _layout(model_type: type[BaseModel]) -> _Layout:
    fields = tuple(model_type.__pydantic_fields__)
    if not issubclass(model_type, Versioned) or fields[:1] != (VERSION_FIELD,):
        return _Layout(fields, None, b"")
    version = model_type.__pydantic_fields__[VERSION_FIELD].default
    return _Layout(fields, fields[1:], to_json({VERSION_FIELD: version})[:-1] + b",")


def validated(model_type: type[M], values: Mapping[str, Any]) -> M:
    """``model_type(**values)``, validated by pydantic-core without ``BaseModel.__init__``'s
    Python wrapper: the hot paths' way to make a model (a page's records, a batch's intents and
    states, an offering's event).

    About a microsecond less per model than calling the class, and the values are a mapping, not
    keyword arguments: packing a RawRecord's 11 into ``**values`` cost 0.4 µs more. Skipping
    validation does not pay here: setting a model's slots from Python cost more than
    pydantic-core validating these flat models (RawItem 3.7 µs against 1.6 µs; a RecordState 7.3
    against 4.9).
    """
    return model_type.__pydantic_validator__.validate_python(values)  # type: ignore[no-any-return]


def trusted_json(model_type: type[BaseModel], values: dict[str, Any]) -> bytes:
    """``encode(model_type(**values))``, without making the model: for values that are
    only written (a processed record's state, a pending batch): making a RecordState and
    serialising it cost 10 to 12 µs here, this under 2. The JSON of the values themselves, so
    they must be every field in the model's order (a ``Versioned`` model's ``v`` may be left
    out: its default is written first); otherwise it falls back to ``model_construct``. A unit
    test holds the two equal for each model used this way."""
    layout = _layouts.get(model_type)
    if layout is None:
        layout = _layouts[model_type] = _layout(model_type)
    names = tuple(values)
    if names == layout.fields:
        return to_json(values)
    if names and names == layout.unversioned:
        return layout.version_prefix + to_json(values)[1:]
    return encode(model_type.model_construct(**values))  # fields in order, defaults filled


_strings: TypeAdapter[str] = TypeAdapter(str)


def json_string(value: str) -> bytes:
    """``value`` as ``encode`` writes it inside a model (quoted, escaped): a byte pattern to look
    for in stored values before parsing them."""
    return _strings.dump_json(value)


def key_of(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace")
