"""Link keys: by the NPO's enrolment id, by the NPO's user and offering, and which write wins."""

from __future__ import annotations

from npo_integration.ingest import links
from npo_integration.models.events import Progress
from npo_integration.models.internal import EnrolmentLink


def link(
    event_type: str = "enrolment.linked",
    assignment: str = "asg-1",
    npo_enrolment_ref: str | None = None,
    npo_user_ref: str | None = None,
) -> EnrolmentLink:
    return EnrolmentLink(
        event_type=event_type,  # type: ignore[arg-type]
        npo_id="acme",
        assignment_id=assignment,
        candidate_id="cand-1",
        npo_enrolment_ref=npo_enrolment_ref,
        npo_user_ref=npo_user_ref,
        npo_offering_ref="c-1",
    )


def test_a_link_is_stored_under_both_keys_when_both_are_known() -> None:
    both = link(npo_enrolment_ref="enr-9", npo_user_ref="u-7")
    assert links.keys_of(both) == ["acme/ref:enr-9", "acme/user:u-7/offering:c-1"]
    assert links.keys_of(link(npo_enrolment_ref="enr-9")) == ["acme/ref:enr-9"]
    assert links.keys_of(link(npo_user_ref="u-7")) == ["acme/user:u-7/offering:c-1"]
    assert links.keys_of(link()) == []


def test_progress_looks_up_the_enrolment_id_first_then_user_and_offering() -> None:
    full = Progress(
        status="in_progress", npo_enrolment_ref="enr-9", npo_user_ref="u-7", npo_offering_ref="c-1"
    )
    assert links.lookup_keys("acme", full) == ["acme/ref:enr-9", "acme/user:u-7/offering:c-1"]
    no_offering = Progress(status="in_progress", npo_user_ref="u-7")
    assert links.lookup_keys("acme", no_offering) == []
    assert "no enrolment, user or offering id" in links.describe(Progress(status="enrolled"))
    assert "npo_user_ref='u-7'" in links.describe(no_offering)


def test_a_link_always_replaces_but_an_unlink_cancels_only_its_own_assignment() -> None:
    old = link(assignment="asg-1", npo_user_ref="u-7")
    new = link(assignment="asg-2", npo_user_ref="u-7")
    assert links.replaces(old, new)
    assert links.replaces(None, link("enrolment.unlinked", npo_user_ref="u-7"))
    assert links.replaces(old, link("enrolment.unlinked", assignment="asg-1", npo_user_ref="u-7"))
    assert not links.replaces(
        new, link("enrolment.unlinked", assignment="asg-1", npo_user_ref="u-7")
    )
