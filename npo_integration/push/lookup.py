"""Resolving an unknown outcome by asking the NPO whether the enrolment
exists (``enrolment.lookup``).

An enrol call that timed out may or may not have enrolled the candidate.
Posting again is safe only if the NPO honours the Idempotency-Key; when the
config has a lookup, the enrolment is looked up first and, if found, taken as
the outcome. The lookup's path, params and ``match`` values are templates over
the assignment (``{candidate.npo_user_ref}``, ``{offering.npo_offering_ref}``)
and the enrol request as built (``{request.body.candidate.external_id}``).

Found means proven, never guessed: a record counts only if every ``match``
path holds the rendered value; without ``match`` the NPO's filter is trusted
for one record at most. Several candidates for "this assignment's enrolment"
is an :class:`EnrolmentLookupError`, so the processor fails the enrolment for
an operator rather than link another candidate's.

Values are escaped for where they go: a URL path segment is percent-encoded
(dot segments refused), a param declared ``quote: soql`` becomes a SOQL
literal; other params go as they are, for the HTTP client encodes each whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from npo_integration.errors import FatalError
from npo_integration.expressions import MISSING, QUOTES, Escape, parse_path, url_path_segment
from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.models.npo_config import EnrolmentLookup
from npo_integration.push.calls import HttpCall, ref_at
from npo_integration.transforms.contract import TransformError
from npo_integration.transforms.declarative import coerce
from npo_integration.transforms.declarative.mapper import render

SHOWN_REFS = 5
"""How many of several matching records' ids an error names."""


class EnrolmentLookupError(FatalError):
    """The lookup cannot be made or its answer cannot be read, or the answer does not
    single out this assignment's enrolment; the outcome stays unknown."""


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    found: bool
    npo_enrolment_ref: str | None = None


def _context(assignment: CandidateAssignmentEvent, request: Any) -> dict[str, Any]:
    return {
        **assignment.model_dump(mode="json"),
        "request": request.model_dump(mode="json") if request is not None else {},
    }


def _render(text: str, context: dict[str, Any], where: str, escape: Escape | None = None) -> str:
    """A lookup template is filled like a mapping's enrolment template:
    a missing value is an error, not a wider search."""
    try:
        return render(text, context, field=f"enrolment.lookup.{where}", strict=True, escape=escape)
    except TransformError as exc:
        raise EnrolmentLookupError(str(exc)) from None


def lookup_call(
    config: EnrolmentLookup, assignment: CandidateAssignmentEvent, request: Any
) -> HttpCall:
    """The GET that finds this assignment's enrolment; ``request`` is the
    enrol ``EnrolmentRequest``. The ``match`` values are rendered too, so an
    assignment that lacks one fails here, before the NPO is asked."""
    context = _context(assignment, request)
    path = _render(config.path, context, "path", url_path_segment)
    params = {
        name: _render(
            param.template,
            context,
            f"params.{name}",
            None if param.quote is None else QUOTES[param.quote],
        )
        for name, param in config.params.items()
    }
    _expected(config, context)
    return HttpCall("GET", path, params)


def read_answer(
    body: Any, config: EnrolmentLookup, assignment: CandidateAssignmentEvent, request: Any
) -> LookupAnswer:
    """Found when exactly one record at ``records_path`` is this assignment's (see module)."""
    records = _records(body, config)
    expected = _expected(config, _context(assignment, request))
    if expected:
        records = [record for record in records if _matches(record, expected)]
    elif len(records) > 1:
        raise EnrolmentLookupError(
            f"the lookup answered {len(records)} records {_refs(records, config)} and has no "
            "match to tell which is this assignment's enrolment; add enrolment.lookup.match"
        )
    if not records:
        return LookupAnswer(found=False)
    if len(records) > 1:
        raise EnrolmentLookupError(
            f"{len(records)} records the lookup answered {_refs(records, config)} match this "
            f"assignment ({_shown(expected)}): cannot tell which is its enrolment"
        )
    return LookupAnswer(found=True, npo_enrolment_ref=ref_at(records[0], config.id_path))


def _records(body: Any, config: EnrolmentLookup) -> list[Any]:
    found = parse_path(config.records_path, empty_is_root=True).get(body)
    if isinstance(found, dict):
        return [found]
    if isinstance(found, list):
        return found
    shown = config.records_path or "(the body)"
    kind = "nothing" if found is MISSING else type(found).__name__
    raise EnrolmentLookupError(f"lookup answer: records_path {shown!r} is not a list: got {kind}")


def _expected(config: EnrolmentLookup, context: dict[str, Any]) -> dict[str, str]:
    """Record path -> the value it must hold; an empty value identifies nothing."""
    expected = {}
    for path, text in config.match.items():
        value = _render(text, context, f"match.{path}")
        if not value:
            raise EnrolmentLookupError(
                f"enrolment.lookup.match.{path}: {text!r} is empty for this assignment, "
                "so it cannot identify its enrolment"
            )
        expected[path] = value
    return expected


def _matches(record: Any, expected: dict[str, str]) -> bool:
    """Every path holds its value, compared as text (``9`` and ``"9"`` alike); null,
    absent or an object never matches."""
    for path, value in expected.items():
        actual = parse_path(path).get(record)
        if not isinstance(actual, str | int | float) or coerce.to_str(actual) != value:
            return False
    return True


def _refs(records: list[Any], config: EnrolmentLookup) -> str:
    refs = [ref_at(record, config.id_path) or "?" for record in records[:SHOWN_REFS]]
    more = f", and {len(records) - SHOWN_REFS} more" if len(records) > SHOWN_REFS else ""
    return f"(ids {', '.join(refs)}{more})"


def _shown(expected: dict[str, str]) -> str:
    return ", ".join(f"{path} = {value!r}" for path, value in expected.items())
