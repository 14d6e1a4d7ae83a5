"""The JSON form of a declarative mapping: an NPO integrated by configuration alone.

The platform fields a mapping may target, and the assignment values an enrolment template may
use, are read from the event models. Everything is checked here, when the config is validated,
so a broken mapping is refused before it is stored. See docs/plugins.md for the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.fields import FieldInfo

from npo_integration.expressions import PathText, TemplateSyntaxError, TemplateText, parse_template
from npo_integration.models.events import CandidateAssignmentEvent, Offering, Progress
from npo_integration.transforms.declarative.coerce import DATE_FORMATS

TypeName = Literal["int", "float", "str", "bool"]
FieldKind = Literal["str", "int", "float", "datetime"]


@dataclass(frozen=True, slots=True)
class PlatformField:
    kind: FieldKind
    required: bool = False
    choices: tuple[str, ...] = ()


_KINDS: dict[Any, FieldKind] = {
    str: "str",
    int: "int",
    float: "float",
    datetime: "datetime",
    AwareDatetime: "datetime",
}


def _types_of(annotation: Any) -> list[Any]:
    """The types a field annotation admits, ``Annotated`` and unions
    unwrapped, ``None`` left out."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _types_of(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return [found for arg in get_args(annotation) for found in _types_of(arg)]
    return [] if annotation is type(None) else [annotation]


def _platform_field(name: str, info: FieldInfo) -> PlatformField:
    [annotation] = _types_of(info.annotation)  # one type per platform field (optional or not)
    if get_origin(annotation) is Literal:
        return PlatformField("str", info.is_required(), tuple(get_args(annotation)))
    if annotation not in _KINDS:
        raise TypeError(f"platform field {name!r} has a type no mapping can produce: {annotation}")
    return PlatformField(_KINDS[annotation], info.is_required())


def platform_fields(model: type[BaseModel]) -> dict[str, PlatformField]:
    """What a mapping may target in ``model``: each field's kind, whether required, its choices."""
    return {name: _platform_field(name, info) for name, info in model.model_fields.items()}


def template_values(model: type[BaseModel]) -> frozenset[str]:
    """The values a template may substitute from ``model``: its
    fields, nested models' as ``a.b``."""
    found: set[str] = set()
    for name, info in model.model_fields.items():
        inner = info.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found.update(f"{name}.{field}" for field in inner.model_fields)
        else:
            found.add(name)
    return frozenset(found)


OFFERING_FIELDS = platform_fields(Offering)
PROGRESS_FIELDS = platform_fields(Progress)
ASSIGNMENT_VALUES = template_values(CandidateAssignmentEvent)
"""What enrolment templates may substitute (``CandidateAssignmentEvent`` fields)."""

_TRANSFORM_OPTIONS = (
    "default",
    "required",
    "null_if",
    "strip_html",
    "map",
    "fallback",
    "type",
    "scale",
    "clamp",
    "date",
    "timezone",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _path_shorthand(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


class FieldRule(_Strict):
    """Where one platform field's value comes from, and how it is converted.

    Steps, in order: take ``path``/``const``/``template``; a missing or ``null_if``
    value becomes ``default`` (or is an error if the field is required);
    ``strip_html``; ``map`` (+ ``fallback``); ``type``; ``scale``; ``clamp``; ``date``.
    A ``null`` option means "not set". A bare string is short for ``{"path": ...}``.
    """

    path: PathText | None = Field(None, description="where the value is: a.b[0].c")
    const: JsonValue = Field(None, description="a fixed value")
    template: TemplateText | None = Field(None, description="text with {path} substitutions")
    default: JsonValue = Field(None, description="used when the value is missing or null")
    required: bool | None = Field(None, description="missing is an error (default: per field)")
    null_if: list[JsonValue] | None = Field(None, description="values meaning 'missing'")
    strip_html: bool = False
    map: dict[str, JsonValue] | None = Field(None, description="NPO value (text) -> platform value")
    fallback: JsonValue = Field(None, description="the platform value of anything not in map")
    type: TypeName | None = None
    scale: float | None = Field(None, description="multiply by this (0.01 turns 0-100 into 0-1)")
    clamp: tuple[float, float] | None = Field(None, description="[min, max] after scaling")
    date: str | None = Field(None, description="iso8601 | epoch_seconds | epoch_millis | strptime")
    timezone: str | None = Field(None, description="IANA zone of naive dates (default UTC)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _path_shorthand(value)

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Write only the options that are set: a stored mapping reads as the operator wrote it."""
        return {
            key: value
            for key, value in handler(self).items()
            if value is not None and not (key == "strip_html" and value is False)
        }

    @model_validator(mode="after")
    def _coherent(self) -> FieldRule:
        sources = [n for n in ("path", "const", "template") if getattr(self, n) is not None]
        if len(sources) != 1:
            raise ValueError(
                f"a field rule needs exactly one of path, const, template; got {sources or 'none'}"
            )
        if self.const is not None:
            extra = [n for n in _TRANSFORM_OPTIONS if getattr(self, n) not in (None, False)]
            if extra:
                raise ValueError(f"const cannot be combined with {', '.join(extra)}")
        if self.fallback is not None and self.map is None:
            raise ValueError("fallback needs a map")
        if self.map is not None and not self.map:
            raise ValueError("map is empty")
        if self.required and self.default is not None:
            raise ValueError("required and default contradict each other")
        if self.date is not None:
            if self.date not in DATE_FORMATS and "%" not in self.date:
                raise ValueError(
                    f"date must be one of {', '.join(DATE_FORMATS)} or a strptime format with %"
                )
            clash = [name for name in ("type", "scale", "clamp") if getattr(self, name) is not None]
            if clash:
                raise ValueError(f"date cannot be combined with {', '.join(clash)}")
        if self.timezone is not None:
            if self.date is None:
                raise ValueError("timezone needs date")
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {self.timezone!r}") from None
        if (self.scale is not None or self.clamp is not None) and self.type in ("str", "bool"):
            raise ValueError(f"scale and clamp need a number, not type {self.type}")
        if self.clamp is not None and self.clamp[0] > self.clamp[1]:
            raise ValueError("clamp must be [min, max] with min <= max")
        return self

    def outputs(self) -> list[Any]:
        """The values this rule can produce without reading the record (for vocabulary checks)."""
        if self.const is not None:
            return [self.const]
        found = [self.default] if self.default is not None else []
        if self.map is not None:
            found += [v for v in self.map.values() if v is not None]
            found += [self.fallback] if self.fallback is not None else []
        return found


Rule = Annotated[FieldRule, BeforeValidator(_path_shorthand)]


class Condition(_Strict):
    """One test of a record filter; a record passes the filter when all its conditions hold.

    Values are compared by their text form (``1`` equals ``"1"``). A missing value
    equals nothing, is in no list, and is therefore ``not_equals``/``not_in`` anything.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    path: PathText
    equals: JsonValue = None
    not_equals: JsonValue = None
    in_: list[JsonValue] | None = Field(None, alias="in")
    not_in: list[JsonValue] | None = None
    exists: bool | None = None

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        names = ("equals", "not_equals", "in_", "not_in", "exists")
        ops = [name for name in names if getattr(self, name) is not None]
        if len(ops) != 1:
            shown = [op.rstrip("_") for op in ops]
            raise ValueError(
                f"filter on {self.path!r} needs exactly one of equals, not_equals, in, not_in, "
                f"exists; got {shown or 'none'}"
            )
        return self


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class RecordMapping(_Strict):
    """``filter`` (a record failing it is not of this kind) and one rule per platform field."""

    platform_fields: ClassVar[dict[str, PlatformField]] = {}

    filter: Annotated[list[Condition], BeforeValidator(_as_list)] = Field(default_factory=list)
    fields: dict[str, Rule]

    @model_validator(mode="after")
    def _fits_platform(self) -> RecordMapping:
        known = self.platform_fields
        unknown = sorted(set(self.fields) - set(known))
        if unknown:
            raise ValueError(f"unknown platform field(s) {unknown}; known: {', '.join(known)}")
        for name, spec in known.items():
            rule = self.fields.get(name)
            if rule is None:
                if spec.required:
                    raise ValueError(f"platform field {name!r} is required and has no rule")
                continue
            _check_rule_for_field(name, spec, rule)
        return self


def _check_rule_for_field(name: str, spec: PlatformField, rule: FieldRule) -> None:
    if spec.required and rule.required is False and rule.default is None:
        raise ValueError(f"{name}: the platform requires this field; it cannot be required: false")
    if rule.date is not None and spec.kind != "datetime":
        raise ValueError(f"{name}: date only applies to date fields")
    if spec.kind == "datetime" and rule.type is not None:
        raise ValueError(f"{name}: use date, not type, for a date field")
    if (rule.scale is not None or rule.clamp is not None) and spec.kind not in ("int", "float"):
        raise ValueError(f"{name}: scale and clamp only apply to number fields")
    if spec.choices:
        bad = [value for value in rule.outputs() if value not in spec.choices]
        if bad:
            raise ValueError(f"{name}: {bad} not in the platform vocabulary {list(spec.choices)}")


class OfferingMapping(RecordMapping):
    platform_fields: ClassVar[dict[str, PlatformField]] = OFFERING_FIELDS


class ProgressMapping(RecordMapping):
    platform_fields: ClassVar[dict[str, PlatformField]] = PROGRESS_FIELDS


class RequestTemplate(_Strict):
    """An enrol/unenrol request; string values are templates: ``{candidate.email}``.

    ``body`` is a JSON object (nested as deep as needed) or, for ``body_format: form``,
    flat fields with bracketed keys (``"enrolments[0][userid]": "{candidate.npo_user_ref}"``).
    Keys are literal; non-string values are sent as they are.
    """

    path_vars: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    body: dict[str, JsonValue] | None = None

    def templates(self) -> list[tuple[str, str]]:
        """Every (location, template text) of this request."""
        found = [(f"path_vars.{key}", value) for key, value in self.path_vars.items()]
        found += [(f"query.{key}", value) for key, value in self.query.items()]
        found += _body_strings(self.body, "body")
        return found


def _body_strings(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [
            pair for key, item in value.items() for pair in _body_strings(item, f"{where}.{key}")
        ]
    if isinstance(value, list):
        return [
            pair for i, item in enumerate(value) for pair in _body_strings(item, f"{where}[{i}]")
        ]
    return []


def _check_values(
    location: str, text: str, allowed: frozenset[str], roots: frozenset[str] = frozenset()
) -> None:
    try:
        found = parse_template(text).placeholders
    except TemplateSyntaxError as exc:
        raise ValueError(f"{location}: {exc}") from None
    for holder in found:
        if holder.text not in allowed and holder.steps[0] not in roots:
            raise ValueError(
                f"{location}: unknown value {{{holder.text}}}; use one of "
                f"{', '.join('{' + v + '}' for v in sorted(allowed | roots))}"
            )


class EnrolmentMapping(RequestTemplate):
    """The enrol request, an optional ``unenrol`` request and the ``enrolment_ref`` rule.

    ``unenrol`` may also use ``{npo_enrolment_ref}``. ``enrolment_ref`` is read from
    ``{response...}`` (the enrol response body) and the assignment, e.g.
    ``{"path": "response.id"}``, or for Moodle (which answers ``null``)
    ``{"template": "{candidate.npo_user_ref}:{offering.npo_offering_ref}"}``.
    """

    unenrol: RequestTemplate | None = None
    enrolment_ref: Rule | None = None

    @model_validator(mode="after")
    def _known_values(self) -> EnrolmentMapping:
        for location, text in self.templates():
            _check_values(location, text, ASSIGNMENT_VALUES)
        if self.unenrol is not None:
            for location, text in self.unenrol.templates():
                allowed = ASSIGNMENT_VALUES | {"npo_enrolment_ref"}
                _check_values(f"unenrol.{location}", text, allowed)
        rule = self.enrolment_ref
        if rule is not None:
            if rule.const is not None:
                raise ValueError("enrolment_ref: use path or template, not const")
            clash = [n for n in ("date", "scale", "clamp") if getattr(rule, n) is not None]
            if clash or rule.type not in (None, "str"):
                shown = ", ".join(clash) or f"type {rule.type}"
                raise ValueError(f"enrolment_ref is text: {shown} not allowed")
            text = rule.template if rule.template is not None else "{" + str(rule.path) + "}"
            _check_values("enrolment_ref", text, ASSIGNMENT_VALUES, frozenset({"response"}))
        return self


class DeclarativeMapping(_Strict):
    """A declarative transform: ``offering``, ``progress``, ``enrolment``, each optional."""

    offering: OfferingMapping | None = None
    progress: ProgressMapping | None = None
    enrolment: EnrolmentMapping | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> DeclarativeMapping:
        if self.offering is None and self.progress is None and self.enrolment is None:
            raise ValueError(
                "a declarative mapping needs at least one of offering, progress, enrolment"
            )
        return self
