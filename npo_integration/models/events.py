"""Events on the topics the platform sees. Every event has ``event_id``,
``event_type``, ``occurred_at``.

Imports nothing else from ``npo_integration.models``: the transforms and the config's declarative
spec build on these models (``NpoAssessed``, which carries a config, is in ``models.assessment``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

NPO_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
NpoId = Annotated[
    str, Field(pattern=NPO_ID_PATTERN, description="lowercase, digits, - _ .; 1-63 chars")
]


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(default_factory=new_event_id, min_length=1)
    event_type: str
    occurred_at: AwareDatetime = Field(default_factory=utc_now)


# --- inputs from the platform -------------------------------------------------


Email = Annotated[
    str,
    StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 320}),
]
"""An email address by its shape (one ``@``, a dotted domain, no spaces), kept as given:
the NPO that receives it is the judge of the rest. A pattern, not ``EmailStr``: its full
parse cost more than the rest of decoding an assignment (bench/enrolment.py), and quoted
local parts are valid addresses."""


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate_id: str = Field(min_length=1)
    email: Email | None = None
    first_name: str = ""
    last_name: str = ""
    npo_user_ref: str | None = Field(None, description="the candidate's id at the NPO, if known")


class OfferingRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offering_id: str = Field(min_length=1, description="platform offering id")
    npo_id: NpoId
    npo_offering_ref: str = Field(min_length=1, description="the offering's id at the NPO")


class CandidateAssignmentEvent(Event):
    """``spotlight.candidate-assignments``, key assignment_id."""

    event_type: Literal["candidate_assignment.created", "candidate_assignment.cancelled"]
    assignment_id: str = Field(min_length=1)
    candidate: Candidate
    offering: OfferingRef


# --- outputs to the platform --------------------------------------------------


OfferingKind = Literal["course", "mentoring", "programme", "other"]


class Offering(BaseModel):
    """An offering in the platform's vocabulary, whatever the NPO called it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    npo_offering_ref: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    kind: OfferingKind = "course"
    status: Literal["open", "closed", "draft"] = "open"
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    capacity: int | None = Field(None, ge=0)
    url: str | None = None


class OfferingEvent(Event):
    """``spotlight.npo-offerings``, key ``npo_id/npo_offering_ref``."""

    event_type: Literal["npo_offering.created", "npo_offering.updated"]
    npo_id: NpoId
    offering: Offering


class OfferingRemoved(Event):
    """``spotlight.npo-offerings``, key ``npo_id/npo_offering_ref``: the offering is gone at the
    NPO (absent from a complete sweep, or filtered out by its mapping). The platform closes it;
    if it comes back, it is announced again with ``npo_offering.created``."""

    event_type: Literal["npo_offering.removed"] = "npo_offering.removed"
    npo_id: NpoId
    npo_offering_ref: str = Field(min_length=1)
    removed_at: AwareDatetime
    reason: Literal["absent", "filtered"] = Field(
        description="absent: not in a complete sweep; filtered: returned, but the mapping skips it"
    )


AssignmentStatus = Literal["enrolled", "in_progress", "completed", "withdrawn", "failed"]


class Progress(BaseModel):
    """A candidate's progress at the NPO, before it is tied to a platform assignment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    npo_enrolment_ref: str | None = Field(None, description="the NPO's id for the enrolment")
    npo_offering_ref: str | None = None
    npo_user_ref: str | None = Field(None, description="the candidate's id or email at the NPO")
    status: AssignmentStatus
    progress: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    score: float | None = None
    updated_at: AwareDatetime | None = None


class CandidateAssignmentUpdated(Event):
    """``spotlight.candidate-assignment-updated``, key assignment_id."""

    event_type: Literal["candidate_assignment.updated"] = "candidate_assignment.updated"
    assignment_id: str
    npo_id: NpoId
    status: AssignmentStatus
    progress: float | None = Field(None, ge=0.0, le=1.0)
    score: float | None = None
    npo_updated_at: AwareDatetime | None = None
