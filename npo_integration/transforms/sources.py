"""An NPO's offering references stay unique across its sources: the platform sees a source's
references with its prefix (``crm:a0P...``), the source's plug-in its own (``a0P...``).

The ``main`` source (a config of one system, stored before sources) keeps unprefixed references,
so nothing published before changes key; a reference of it that starts with another source's
prefix would be ambiguous, and is refused (the record is dead-lettered).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.transforms.contract import EnrolmentRequest, TransformError, TransformPlugin

PREFIXED_PROGRESS_FIELDS = ("npo_offering_ref", "npo_enrolment_ref")
"""A progress record's references of the source's own objects: prefixed, so they match the
enrolment link of an assignment to one of the source's offerings (``push.messages.link_of``)."""


class SourcePlugin:
    """A source's plug-in seen from the platform: references prefixed on the way out of
    ``offering``/``progress``, and taken off the assignment's offering on the way in."""

    def __init__(self, inner: TransformPlugin, prefix: str, reserved: tuple[str, ...]) -> None:
        self.inner = inner
        self.name = inner.name
        self.contract_version = inner.contract_version
        self._prefix = prefix
        self._reserved = reserved

    def offering(self, record: Any) -> Any:
        return self._platform(self.inner.offering(record), ("npo_offering_ref",))

    def progress(self, record: Any) -> Any:
        return self._platform(self.inner.progress(record), PREFIXED_PROGRESS_FIELDS)

    def enrolment_request(self, assignment: CandidateAssignmentEvent) -> EnrolmentRequest:
        return self.inner.enrolment_request(self.local(assignment))

    def unenrol_request(
        self, assignment: CandidateAssignmentEvent, npo_enrolment_ref: str
    ) -> EnrolmentRequest:
        return self.inner.unenrol_request(self.local(assignment), npo_enrolment_ref)

    def enrolment_ref(self, response_body: Any, assignment: CandidateAssignmentEvent) -> Any:
        return self.inner.enrolment_ref(response_body, self.local(assignment))

    def local(self, assignment: CandidateAssignmentEvent) -> CandidateAssignmentEvent:
        """The assignment as the source knows it: its offering's reference without the prefix."""
        return local_assignment(assignment, self._prefix)

    def _platform(self, out: Any, fields: tuple[str, ...]) -> Any:
        values = out.model_dump() if isinstance(out, BaseModel) else out
        if not isinstance(values, dict):
            return out  # None (skip) or garbage, which the contract check reports
        update: dict[str, str] = {}
        for field in fields:
            ref = values.get(field)
            if not isinstance(ref, str) or not ref:
                continue
            clash = next((p for p in self._reserved if ref.startswith(p)), None)
            if clash is not None:
                raise TransformError(
                    f"reference {ref!r} starts with {clash!r}, another source's prefix: "
                    "it would name that source's record",
                    field=field,
                )
            update[field] = self._prefix + ref
        if isinstance(out, BaseModel):
            return out.model_copy(update=update)
        return {**values, **update}


def local_assignment(assignment: CandidateAssignmentEvent, prefix: str) -> CandidateAssignmentEvent:
    """The assignment with its offering's reference without ``prefix`` (as the source calls it)."""
    if not prefix:
        return assignment
    offering = assignment.offering
    ref = offering.npo_offering_ref.removeprefix(prefix)
    return assignment.model_copy(
        update={"offering": offering.model_copy(update={"npo_offering_ref": ref})}
    )


def for_source(plugin: TransformPlugin, prefix: str, reserved: tuple[str, ...]) -> TransformPlugin:
    """``plugin`` itself for a source whose references need nothing (one system: as before)."""
    if not prefix and not reserved:
        return plugin
    return SourcePlugin(plugin, prefix, reserved)
