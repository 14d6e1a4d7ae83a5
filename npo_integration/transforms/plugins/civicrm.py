"""CiviCRM APIv4 (``/civicrm/ajax/api4/{Entity}/{action}``): events, their participants as
progress, enrolment by ``Participant.create``.

APIv4 takes its parameters as one JSON string in a ``params`` form field, which a declarative
mapping cannot build safely (a value would be pasted into JSON unescaped); this plug-in writes
it with ``json.dumps`` and accepts only CiviCRM's whole-number ids. Events ``{"id", "title",
"summary", "description" (HTML), "start_date", "end_date" ("YYYY-MM-DD HH:MM:SS", site time),
"is_active", "max_participants"}``; participants ``{"id", "contact_id", "event_id",
"status_id:name", "register_date"}``. CiviCRM has no progress measure: ``progress`` is 1.0 once
the participant attended.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from npo_integration.models.events import (
    CandidateAssignmentEvent,
    Offering,
    OfferingKind,
    Progress,
)
from npo_integration.transforms.contract import CONTRACT_VERSION, EnrolmentRequest, TransformError
from npo_integration.transforms.plugins._common import as_object, build, number, ref, text

_PARTICIPANT_STATUS = {
    "Registered": "enrolled",
    "Pending from pay later": "enrolled",
    "Pending from incomplete transaction": "enrolled",
    "On waitlist": "enrolled",
    "Awaiting approval": "enrolled",
    "Partially paid": "enrolled",
    "Attended": "completed",
    "No-show": "withdrawn",
    "Cancelled": "withdrawn",
    "Rejected": "withdrawn",
    "Expired": "withdrawn",
    "Transferred": "withdrawn",
    "Pending refund": "withdrawn",
}


class CiviCrmOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_url: str | None = Field(
        None, description="e.g. https://crm.example.org/civicrm/event/info?id={id}"
    )
    timezone: str = Field("UTC", description="the site's time zone, which CiviCRM's dates are in")
    role: str = Field("Attendee", description="role:name given on enrolment")
    kind: OfferingKind = Field("programme", description="the platform kind of an event")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


def _id(value: str | None, what: str, path: str) -> int:
    """A CiviCRM id: a whole number, or a ``TransformError`` (nothing else goes into params)."""
    if value is None or not value.isdigit():
        raise TransformError(f"CiviCRM ids are whole numbers; got {value!r}", field=what, path=path)
    return int(value)


class CiviCrmPlugin:
    """Code plug-in for CiviCRM APIv4's Event and Participant entities."""

    __slots__ = ("_options", "_zone")
    name = "civicrm"
    contract_version = CONTRACT_VERSION

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self._options = CiviCrmOptions.model_validate(options or {})
        self._zone = ZoneInfo(self._options.timezone)

    def _time(self, record: dict[str, Any], key: str, field: str) -> datetime | None:
        value = record.get(key)
        if value in (None, ""):
            return None
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise TransformError(f"not a CiviCRM date: {value!r}", field=field, path=key) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=self._zone)

    def offering(self, record: Any) -> Offering | None:
        event = as_object(record, "event")
        event_id = ref(event, "id", "offering.npo_offering_ref")
        url = self._options.event_url
        capacity = number(event.get("max_participants"), "offering.capacity", "max_participants")
        values = {
            "npo_offering_ref": event_id,
            "title": text(event, "title", "offering.title"),
            "description": text(event, "description", "offering.description", html=True)
            or text(event, "summary", "offering.description")
            or "",
            "kind": self._options.kind,
            "status": "open" if event.get("is_active") in (True, 1, "1") else "closed",
            "starts_at": self._time(event, "start_date", "offering.starts_at"),
            "ends_at": self._time(event, "end_date", "offering.ends_at"),
            "capacity": None if capacity is None else int(capacity),
            "url": url.replace("{id}", event_id) if url else None,
        }
        return build(Offering, "offering", values, {"title": "title"})

    def progress(self, record: Any) -> Progress | None:
        participant = as_object(record, "participant")
        state = ref(participant, "status_id:name", "progress.status")
        if state not in _PARTICIPANT_STATUS:
            raise TransformError(
                f"unknown participant status {state!r}",
                field="progress.status",
                path="status_id:name",
            )
        status = _PARTICIPANT_STATUS[state]
        values = {
            "npo_enrolment_ref": ref(participant, "id", "progress.npo_enrolment_ref"),
            "npo_offering_ref": text(participant, "event_id", "progress.npo_offering_ref"),
            "npo_user_ref": text(participant, "contact_id", "progress.npo_user_ref"),
            "status": status,
            "progress": 1.0 if status == "completed" else None,
            "updated_at": self._time(participant, "register_date", "progress.updated_at"),
        }
        return build(Progress, "progress", values, {})

    def enrolment_request(self, assignment: CandidateAssignmentEvent) -> EnrolmentRequest:
        contact = _id(
            assignment.candidate.npo_user_ref, "values.contact_id", "candidate.npo_user_ref"
        )
        event = _id(
            assignment.offering.npo_offering_ref, "values.event_id", "offering.npo_offering_ref"
        )
        values = {
            "contact_id": contact,
            "event_id": event,
            "status_id:name": "Registered",
            "role_id:name": [self._options.role],
        }
        return EnrolmentRequest(body={"params": json.dumps({"values": values})})

    def unenrol_request(
        self, assignment: CandidateAssignmentEvent, npo_enrolment_ref: str
    ) -> EnrolmentRequest:
        participant = _id(npo_enrolment_ref, "where.id", "npo_enrolment_ref")
        return EnrolmentRequest(body={"params": json.dumps({"where": [["id", "=", participant]]})})

    def enrolment_ref(self, response_body: Any, assignment: CandidateAssignmentEvent) -> str | None:
        values = as_object(response_body, "Participant.create answer").get("values")
        if not isinstance(values, list) or not values or not isinstance(values[0], dict):
            raise TransformError(
                "expected values: [participant]", field="enrolment_ref", path="values"
            )
        return text(values[0], "id", "enrolment_ref")
