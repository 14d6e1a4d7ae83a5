"""The walking-skeleton NPO (``/npos/simple``): a small JSON API with page-numbered lists.

- offerings ``{"id", "title", "description" (HTML), "kind", "starts_on", "capacity",
  "updated_at"}``;
- progress ``{"enrolment_id", "offering_id", "candidate_external_id", "state",
  "percent" (0-100), "updated_at"}``;
- enrol ``POST /api/enrolments`` with a JSON candidate, answered ``{"enrolment_id"}``;
  unenrol ``DELETE /api/enrolments/{enrolment_id}``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from npo_integration.models.events import CandidateAssignmentEvent, Offering, Progress
from npo_integration.transforms.contract import CONTRACT_VERSION, EnrolmentRequest, TransformError
from npo_integration.transforms.plugins._common import as_object, build, date, number, ref, text

_KINDS = {"course": "course", "mentoring": "mentoring", "programme": "programme"}
_STATES = frozenset({"enrolled", "in_progress", "completed", "withdrawn", "failed"})


class SimpleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["open", "closed", "draft"] = "open"


class SimplePlugin:
    """Code plug-in for the simulated ``simple`` NPO."""

    __slots__ = ("_options",)
    name = "simple"
    contract_version = CONTRACT_VERSION

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self._options = SimpleOptions.model_validate(options or {})

    def offering(self, record: Any) -> Offering | None:
        rec = as_object(record, "offering")
        values = {
            "npo_offering_ref": ref(rec, "id", "offering.npo_offering_ref"),
            "title": ref(rec, "title", "offering.title"),
            "description": text(rec, "description", "offering.description", html=True) or "",
            "kind": _KINDS.get(str(rec.get("kind") or "course").lower(), "other"),
            "status": self._options.status,
            "starts_at": date(rec, "starts_on", "offering.starts_at"),
            "capacity": rec.get("capacity"),
        }
        return build(Offering, "offering", values, {"capacity": "capacity"})

    def progress(self, record: Any) -> Progress | None:
        rec = as_object(record, "progress")
        state = ref(rec, "state", "progress.status")
        if state not in _STATES:
            raise TransformError(f"unknown state {state!r}", field="progress.status", path="state")
        percent = number(rec.get("percent"), "progress.progress", "percent")
        values = {
            "npo_enrolment_ref": text(rec, "enrolment_id", "progress.npo_enrolment_ref"),
            "npo_offering_ref": text(rec, "offering_id", "progress.npo_offering_ref"),
            "npo_user_ref": text(rec, "candidate_external_id", "progress.npo_user_ref"),
            "status": state,
            "progress": None if percent is None else percent / 100,
            "updated_at": date(rec, "updated_at", "progress.updated_at"),
        }
        return build(Progress, "progress", values, {"progress": "percent"})

    def enrolment_request(self, assignment: CandidateAssignmentEvent) -> EnrolmentRequest:
        candidate = assignment.candidate
        if not candidate.email:
            raise TransformError(
                "the NPO requires an email", field="candidate.email", path="candidate.email"
            )
        return EnrolmentRequest(
            body={
                "candidate": {
                    "email": candidate.email,
                    "first_name": candidate.first_name,
                    "last_name": candidate.last_name,
                    "external_id": candidate.npo_user_ref or candidate.candidate_id,
                },
                "offering_id": assignment.offering.npo_offering_ref,
            }
        )

    def unenrol_request(
        self, assignment: CandidateAssignmentEvent, npo_enrolment_ref: str
    ) -> EnrolmentRequest:
        return EnrolmentRequest(path_vars={"enrolment_id": npo_enrolment_ref})

    def enrolment_ref(self, response_body: Any, assignment: CandidateAssignmentEvent) -> str | None:
        return text(as_object(response_body, "enrol response"), "enrolment_id", "enrolment_ref")
