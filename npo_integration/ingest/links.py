"""Enrolment links: how progress reported by an NPO finds the platform's assignment.

The push path publishes an ``EnrolmentLink`` when an enrolment is confirmed
(``enrolment.linked``) or cancelled (``enrolment.unlinked``). The link is kept
under each key it can be found by: the NPO's enrolment id, and the NPO's user
and offering ids. Keys start with the npo_id; the link table is partitioned by
npo_id like the raw records, so the ingestion agent reads it locally.
"""

from __future__ import annotations

from npo_integration.models.events import Progress
from npo_integration.models.internal import EnrolmentLink


def ref_key(npo_id: str, npo_enrolment_ref: str) -> str:
    return f"{npo_id}/ref:{npo_enrolment_ref}"


def user_offering_key(npo_id: str, npo_user_ref: str, npo_offering_ref: str) -> str:
    return f"{npo_id}/user:{npo_user_ref}/offering:{npo_offering_ref}"


def keys_of(link: EnrolmentLink) -> list[str]:
    """Every key the link is stored under: both when both are known."""
    keys = []
    if link.npo_enrolment_ref:
        keys.append(ref_key(link.npo_id, link.npo_enrolment_ref))
    if link.npo_user_ref:
        keys.append(user_offering_key(link.npo_id, link.npo_user_ref, link.npo_offering_ref))
    return keys


def lookup_keys(npo_id: str, progress: Progress) -> list[str]:
    """Where to look for the link of a progress record, most specific first."""
    keys = []
    if progress.npo_enrolment_ref:
        keys.append(ref_key(npo_id, progress.npo_enrolment_ref))
    if progress.npo_user_ref and progress.npo_offering_ref:
        keys.append(user_offering_key(npo_id, progress.npo_user_ref, progress.npo_offering_ref))
    return keys


def describe(progress: Progress) -> str:
    parts = [
        f"{name}={value!r}"
        for name, value in (
            ("npo_enrolment_ref", progress.npo_enrolment_ref),
            ("npo_user_ref", progress.npo_user_ref),
            ("npo_offering_ref", progress.npo_offering_ref),
        )
        if value
    ]
    return ", ".join(parts) or "no enrolment, user or offering id"


def replaces(stored: EnrolmentLink | None, incoming: EnrolmentLink) -> bool:
    """Whether ``incoming`` should overwrite ``stored`` under a shared key.

    A link always does (a re-enrolment moves the key to the new assignment); an
    unlink only cancels the assignment it names, so a late cancellation of an
    old assignment cannot hide a newer one.
    """
    if incoming.event_type == "enrolment.linked" or stored is None:
        return True
    return stored.assignment_id == incoming.assignment_id
