"""Runs a declarative mapping: records to platform models, assignments to enrolment requests.

Paths, templates and conversions only: nothing in a mapping is ever evaluated as code.
Every failure is a ``TransformError`` naming the platform field, the NPO path and the reason.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, Literal, TypeVar, overload
from zoneinfo import ZoneInfo

from pydantic import BaseModel, JsonValue, ValidationError

from npo_integration.expressions import (
    MISSING,
    Escape,
    EscapeError,
    Missing,
    Path,
    PathError,
    kind_of,
    parse_path,
    parse_template,
)
from npo_integration.models.events import CandidateAssignmentEvent, Offering, Progress
from npo_integration.transforms.contract import CONTRACT_VERSION, EnrolmentRequest, TransformError
from npo_integration.transforms.declarative import coerce
from npo_integration.transforms.declarative.spec import (
    Condition,
    DeclarativeMapping,
    EnrolmentMapping,
    FieldRule,
    PlatformField,
    RecordMapping,
    RequestTemplate,
)
from npo_integration.validation_errors import describe_validation_error, first_field

M = TypeVar("M", bound=BaseModel)
_TEXT = PlatformField("str")


def _source(rule: FieldRule) -> str | None:
    return rule.path if rule.path is not None else rule.template


@overload
def render(
    text: str,
    context: Any,
    *,
    field: str,
    strict: Literal[True],
    escape: Escape | None = None,
) -> str: ...


@overload
def render(
    text: str,
    context: Any,
    *,
    field: str,
    strict: bool,
    escape: Escape | None = None,
) -> str | Missing: ...


def render(
    text: str,
    context: Any,
    *,
    field: str,
    strict: bool,
    escape: Escape | None = None,
) -> str | Missing:
    """``text`` with each ``{path}`` replaced by its value in ``context``, written as text
    and escaped by ``escape`` for where the text goes.

    A missing value makes the result ``MISSING``, or, when ``strict``, a ``TransformError``;
    so is a value ``escape`` refuses.
    """

    def value_of(placeholder: Path) -> str | Missing:
        try:
            value = placeholder.get_strict(context)
            if isinstance(value, Missing):
                if strict:
                    reason = f"{{{placeholder.text}}} has no value"
                    raise TransformError(reason, field=field, path=placeholder.text)
                return value
            return coerce.to_str(value)
        except (PathError, coerce.CoercionError) as exc:
            raise TransformError(str(exc), field=field, path=placeholder.text) from None

    try:
        return parse_template(text).render(value_of, escape=escape)
    except EscapeError as exc:
        raise TransformError(str(exc), field=field) from None


def apply_rule(rule: FieldRule, record: Any, *, field: str, spec: PlatformField) -> Any:
    """The value of one platform field, or ``MISSING`` when the field is optional and absent."""
    where = _source(rule)
    try:
        value = _extract(rule, record, field)
        if value is MISSING:
            if rule.default is not None:
                return _to_platform_kind(rule.default, spec)
            if rule.required if rule.required is not None else spec.required:
                raise TransformError("required value is missing or null", field=field, path=where)
            return MISSING
        return _to_platform_kind(_convert(rule, value), spec)
    except (PathError, coerce.CoercionError) as exc:
        raise TransformError(str(exc), field=field, path=where) from None


def _extract(rule: FieldRule, record: Any, field: str) -> Any:
    """Steps up to the value map: the NPO's value, or ``MISSING``."""
    if rule.const is not None:
        return rule.const
    if rule.path is not None:
        value = parse_path(rule.path).get_strict(record)
    else:
        value = render(str(rule.template), record, field=field, strict=False)
    if value is MISSING:
        return MISSING
    if rule.null_if and coerce.text_key(value) in {coerce.text_key(v) for v in rule.null_if}:
        return MISSING
    if rule.strip_html:
        value = coerce.strip_html(value)
    return value if rule.map is None else _mapped(rule, value)


def _convert(rule: FieldRule, value: Any) -> Any:
    """Steps after the value map: type, scale, clamp, date."""
    if rule.type is not None:
        value = coerce.CONVERTERS[rule.type](value)
    if rule.scale is not None:
        value = coerce.scale(value, rule.scale)
    if rule.clamp is not None:
        value = min(max(coerce.to_float(value), rule.clamp[0]), rule.clamp[1])
    if rule.date is not None:
        zone = ZoneInfo(rule.timezone) if rule.timezone else UTC
        value = coerce.parse_date(value, rule.date, zone)
    return value


def _mapped(rule: FieldRule, value: Any) -> Any:
    assert rule.map is not None
    key = coerce.text_key(value)
    if key in rule.map:
        mapped = rule.map[key]
        return MISSING if mapped is None else mapped
    if rule.fallback is not None:
        return rule.fallback
    known = ", ".join(repr(k) for k in rule.map)
    raise coerce.CoercionError(
        f"value {value!r} is not in map (known: {known}) and there is no fallback"
    )


def _to_platform_kind(value: Any, spec: PlatformField) -> Any:
    """Conversions every mapping needs: numeric ids as text, ISO-8601 text as dates."""
    if spec.kind == "str" and isinstance(value, int | float) and not isinstance(value, bool):
        return coerce.to_str(value)
    if spec.kind == "datetime" and not hasattr(value, "tzinfo"):
        if not isinstance(value, str):
            raise coerce.CoercionError(
                f"found {kind_of(value)} {value!r}; "
                "set date (e.g. epoch_seconds) to read it as a date"
            )
        return coerce.parse_date(value, "iso8601")
    return value


def passes_filter(conditions: list[Condition], record: Any) -> bool:
    for condition in conditions:
        try:
            value = parse_path(condition.path).get_strict(record)
        except PathError as exc:
            raise TransformError(str(exc), field="filter", path=condition.path) from None
        present = value is not MISSING
        key = coerce.text_key(value) if present else None
        if condition.exists is not None:
            ok = present == condition.exists
        elif condition.equals is not None:
            ok = present and key == coerce.text_key(condition.equals)
        elif condition.not_equals is not None:
            ok = not present or key != coerce.text_key(condition.not_equals)
        elif condition.in_ is not None:
            ok = present and key in {coerce.text_key(v) for v in condition.in_}
        else:
            ok = not present or key not in {coerce.text_key(v) for v in condition.not_in or ()}
        if not ok:
            return False
    return True


def map_record(mapping: RecordMapping, record: Any, model: type[M], section: str) -> M | None:
    """``None`` if the record fails the filter, else the model built by the field rules."""
    if not passes_filter(mapping.filter, record):
        return None
    values: dict[str, Any] = {}
    for name, rule in mapping.fields.items():
        spec = mapping.platform_fields[name]
        value = apply_rule(rule, record, field=f"{section}.{name}", spec=spec)
        if value is not MISSING:
            values[name] = value
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _explain(exc, mapping, section) from None


def _explain(exc: ValidationError, mapping: RecordMapping, section: str) -> TransformError:
    name = first_field(exc)
    rule = mapping.fields.get(name)
    reason = describe_validation_error(exc, limit=1, name=None, show_input=True)
    return TransformError(reason, field=f"{section}.{name}", path=_source(rule) if rule else None)


def render_request(
    template: RequestTemplate, context: dict[str, Any], section: str
) -> EnrolmentRequest:
    def body(value: JsonValue, where: str) -> JsonValue:
        if isinstance(value, str):
            return render(value, context, field=where, strict=True)
        if isinstance(value, dict):
            return {key: body(item, f"{where}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [body(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return value

    def strings(values: dict[str, str], where: str) -> dict[str, str]:
        return {
            key: render(text, context, field=f"{where}.{key}", strict=True)
            for key, text in values.items()
        }

    return EnrolmentRequest(
        path_vars=strings(template.path_vars, f"{section}.path_vars"),
        query=strings(template.query, f"{section}.query"),
        body=None if template.body is None else body(template.body, f"{section}.body"),
    )


class DeclarativePlugin:
    """The transform plug-in of a declarative mapping (``transform.kind: declarative``)."""

    __slots__ = ("_mapping", "name")
    contract_version = CONTRACT_VERSION

    def __init__(self, mapping: DeclarativeMapping, *, name: str = "declarative") -> None:
        self._mapping = mapping
        self.name = name

    @property
    def mapping(self) -> DeclarativeMapping:
        return self._mapping

    def offering(self, record: Any) -> Offering | None:
        if self._mapping.offering is None:
            raise TransformError("the declarative mapping has no offering section")
        return map_record(self._mapping.offering, record, Offering, "offering")

    def progress(self, record: Any) -> Progress | None:
        if self._mapping.progress is None:
            raise TransformError("the declarative mapping has no progress section")
        return map_record(self._mapping.progress, record, Progress, "progress")

    def enrolment_request(self, assignment: CandidateAssignmentEvent) -> EnrolmentRequest:
        enrolment = self._require_enrolment()
        return render_request(enrolment, _context(assignment), "enrolment")

    def unenrol_request(
        self, assignment: CandidateAssignmentEvent, npo_enrolment_ref: str
    ) -> EnrolmentRequest:
        enrolment = self._require_enrolment()
        if enrolment.unenrol is None:
            raise TransformError("the declarative mapping has no enrolment.unenrol template")
        context = {**_context(assignment), "npo_enrolment_ref": npo_enrolment_ref}
        return render_request(enrolment.unenrol, context, "enrolment.unenrol")

    def enrolment_ref(self, response_body: Any, assignment: CandidateAssignmentEvent) -> str | None:
        rule = self._require_enrolment().enrolment_ref
        if rule is None:
            return None
        context = {**_context(assignment), "response": response_body}
        value = apply_rule(rule, context, field="enrolment_ref", spec=_TEXT)
        if value is MISSING:
            return None
        try:
            return coerce.to_str(value) or None
        except coerce.CoercionError as exc:
            raise TransformError(str(exc), field="enrolment_ref", path=_source(rule)) from None

    def _require_enrolment(self) -> EnrolmentMapping:
        if self._mapping.enrolment is None:
            raise TransformError("the declarative mapping has no enrolment section")
        return self._mapping.enrolment


def _context(assignment: CandidateAssignmentEvent) -> dict[str, Any]:
    return assignment.model_dump(mode="json")
