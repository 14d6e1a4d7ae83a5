"""Resolving an unknown outcome by asking the NPO whether the enrolment
exists (``enrolment.lookup``).

An enrol call that timed out may or may not have enrolled the candidate.
Posting again is safe only if the NPO honours the Idempotency-Key; when the
config has a lookup, the enrolment is looked up first and, if found, taken as
the outcome. The lookup's path and params are templates over the assignment
(``{candidate.npo_user_ref}``, ``{offering.npo_offering_ref}``) and the enrol
request as built (``{request.body.candidate.external_id}``, ``{request.path_vars.course_id}``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from npo_integration.errors import FatalError
from npo_integration.expressions import MISSING, parse_path
from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.models.npo_config import EnrolmentLookup
from npo_integration.push.calls import HttpCall, ref_at
from npo_integration.transforms.contract import TransformError
from npo_integration.transforms.declarative.mapper import render


class EnrolmentLookupError(FatalError):
    """The lookup cannot be made or its answer cannot be read; the outcome stays unknown."""


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    found: bool
    npo_enrolment_ref: str | None = None


def _render(text: str, context: dict[str, Any], where: str, encode: Callable[[str], str]) -> str:
    """A lookup template is filled like a mapping's enrolment template:
    a missing value is an error."""
    try:
        return render(text, context, field=f"enrolment.lookup.{where}", strict=True, encode=encode)
    except TransformError as exc:
        raise EnrolmentLookupError(str(exc)) from None


def lookup_call(
    config: EnrolmentLookup, assignment: CandidateAssignmentEvent, request: Any
) -> HttpCall:
    """The GET that finds this assignment's enrolment; ``request`` is the
    enrol ``EnrolmentRequest``."""
    context = {
        **assignment.model_dump(mode="json"),
        "request": request.model_dump(mode="json") if request is not None else {},
    }
    path = _render(config.path, context, "path", lambda value: quote(value, safe=""))
    params = {
        name: _render(text, context, f"params.{name}", lambda value: value)
        for name, text in config.params.items()
    }
    return HttpCall("GET", path, params)


def read_answer(body: Any, config: EnrolmentLookup) -> LookupAnswer:
    """Found when the records at ``records_path`` are a non-empty list (or one object)."""
    found = parse_path(config.records_path, empty_is_root=True).get(body)
    if isinstance(found, dict):
        records: list[Any] = [found]
    elif isinstance(found, list):
        records = found
    else:
        shown = config.records_path or "(the body)"
        kind = "nothing" if found is MISSING else type(found).__name__
        raise EnrolmentLookupError(
            f"lookup answer: records_path {shown!r} is not a list: got {kind}"
        )
    if not records:
        return LookupAnswer(found=False)
    return LookupAnswer(found=True, npo_enrolment_ref=ref_at(records[0], config.id_path))
