"""The push path's own records: one enrolment's state (table value) and the commands that move it.

The state is what makes "exactly one enrolment per assignment" hold across
crashes, redeliveries and rebalances: it is written before each NPO call and
after it, keyed by assignment_id like the candidate-assignments topic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from npo_integration.models.codec import Versioned
from npo_integration.models.events import CandidateAssignmentEvent, Event, NpoId

EnrolmentStatus = Literal[
    "pending",  # enrol: waiting for its next attempt (due_at)
    "sending",  # enrol: an attempt is in flight (written before the call)
    "confirmed",  # the NPO enrolled the candidate (npo_enrolment_ref)
    "failed",  # enrol failed for good (reason); an operator may re-drive it
    "unknown",  # enrol outcome unknown; no replay, no lookup: an operator confirms or re-sends
    "cancel_pending",  # unenrol: waiting for its next attempt
    "cancelling",  # unenrol: an attempt is in flight
    "cancelled",  # unenrolled at the NPO, or nothing was enrolled there
    "cancel_not_supported",  # cancelled on the platform; the NPO's config has no unenrol endpoint
    "cancel_failed",  # unenrol failed for good; an operator may re-drive it
]
"""``cancelled`` also stands for a cancel that came before its ``created``: the tombstone
that keeps a late ``created`` from enrolling the candidate."""
Operation = Literal["enrol", "unenrol"]

IN_FLIGHT: frozenset[str] = frozenset({"sending", "cancelling"})
WAITING: frozenset[str] = frozenset({"pending", "cancel_pending"})
REDRIVABLE: frozenset[str] = frozenset({"failed", "cancel_failed"})
UNENROL_STATUSES: frozenset[str] = frozenset(
    {"cancel_pending", "cancelling", "cancel_failed", "cancelled", "cancel_not_supported"}
)
FINAL: frozenset[str] = frozenset(
    {"confirmed", "failed", "cancelled", "cancel_not_supported", "cancel_failed"}
)
"""Statuses nothing acts on unless a new input comes (an operator's re-drive, a cancel).
``unknown`` is not one: it waits for an operator's decision."""


class EnrolmentState(Versioned):
    """``npo-enrolments`` table value, key assignment_id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    assignment_id: str = Field(min_length=1)
    npo_id: NpoId
    partition: int = Field(
        ge=0, description="partition of the assignment's events; commands go there"
    )
    assignment: CandidateAssignmentEvent = Field(description="the created event: what to enrol")
    status: EnrolmentStatus
    attempts: int = Field(
        0, ge=0, description="NPO calls of the current operation since its start or re-drive"
    )
    maybe_applied: bool = Field(
        False,
        description=(
            "an earlier attempt may have taken effect at the NPO: resolve before re-sending"
        ),
    )
    cancel_requested: bool = Field(
        False, description="cancelled on the platform while the enrolment was unresolved"
    )
    due_at: AwareDatetime | None = Field(
        None,
        description="when to look again: the next attempt, or the watchdog of a call in flight",
    )
    npo_enrolment_ref: str | None = None
    reason: str | None = None
    redrives: int = Field(0, ge=0)
    created_at: AwareDatetime
    updated_at: AwareDatetime
    erased_at: AwareDatetime | None = Field(
        None,
        description="its candidate's personal data was erased: kept for bookkeeping, not acted on",
    )
    erasure_id: str | None = None

    @property
    def operation(self) -> Operation:
        return "unenrol" if self.status in UNENROL_STATUSES else "enrol"

    @property
    def settled(self) -> bool:
        """Nothing is due: a final status (or erased: never acted on again) and no ``due_at``.

        A final status is stored only after its outcome event was acknowledged by the broker
        (``push.processor``: publish until acked, then save), so a settled state has no outcome
        left to send. ``updated_at`` is then when it settled."""
        return self.due_at is None and (self.status in FINAL or self.erased_at is not None)

    def expired(self, now: datetime, retention: timedelta) -> bool:
        """Settled for at least ``retention``: the enrolment retention sweep may delete it."""
        return self.settled and now - self.updated_at >= retention


class EnrolmentDue(Versioned):
    """``npo-enrolment-due`` table value, key assignment_id: only enrolments that need a later look.

    Kept apart from the states so the retry timer scans the few waiting
    enrolments, not every enrolment ever made.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    npo_id: NpoId
    partition: int = Field(ge=0)
    due_at: AwareDatetime


class EnrolmentCommand(Event, Versioned):
    """``npo-integration.enrolment-commands``: internal nudges to the enrolment agent.

    ``enrolment.retry`` (key assignment_id, sent to the state's partition): look
    at an enrolment whose ``due_at`` has passed. ``enrolment.redrive_npo`` (one per
    partition): re-drive the failed enrolments of ``npo_id`` held on that partition.
    ``enrolment.confirm`` / ``enrolment.resend`` (key assignment_id): an operator's
    decision on an ``unknown`` enrolment: the NPO has it (``npo_enrolment_ref`` when
    known), or it has not and the enrolment is sent again. ``enrolment.purge_npo`` (one per
    partition): delete a deactivated NPO's enrolments past its retention (``tables.state_purge``).
    ``enrolment.expire_settled`` (one per partition, no ``npo_id``): delete the settled
    enrolments of that partition older than ``NPO_ENROLMENT_RETENTION_DAYS``, whatever their NPO.
    """

    event_type: Literal[
        "enrolment.retry",
        "enrolment.redrive_npo",
        "enrolment.confirm",
        "enrolment.resend",
        "enrolment.purge_npo",
        "enrolment.expire_settled",
    ]
    npo_id: NpoId | None = Field(None, description="required but for enrolment.expire_settled")
    assignment_id: str | None = None
    due_at: AwareDatetime | None = None
    npo_enrolment_ref: str | None = Field(None, min_length=1, max_length=500)
    requested_by: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _npo_id_given(self) -> Self:
        if self.npo_id is None and self.event_type != "enrolment.expire_settled":
            raise ValueError(f"{self.event_type} needs an npo_id")
        return self
