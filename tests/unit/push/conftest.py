"""Fixtures for the push-path tests: NPO configs with enrolment,
assignments, fake ports and clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from npo_integration.http.response import NpoResponse
from npo_integration.models.enrolment import EnrolmentState
from npo_integration.models.events import Candidate, CandidateAssignmentEvent, OfferingRef
from npo_integration.models.internal import EnrolmentLink, EnrolmentResult
from npo_integration.models.npo_config import NpoConfigVersion, NpoIntegrationConfig
from npo_integration.push.calls import HttpCall
from npo_integration.registry.config_input import read_config
from npo_integration.transforms.contract import EnrolmentRequest
from npo_integration.transforms.plugins.simple import SimplePlugin

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

SIMPLE_ENROLMENT: dict[str, Any] = {
    "enabled": True,
    "enrol": {"method": "POST", "path": "/api/enrolments", "response_id_path": "enrolment_id"},
    "unenrol": {
        "method": "DELETE",
        "path": "/api/enrolments/{enrolment_id}",
        "body_format": "none",
    },
    "idempotency_key": "honoured",
    "max_attempts": 3,
}
SIMPLE_LOOKUP: dict[str, Any] = {
    "path": "/api/enrolments",
    "params": {
        "candidate_external_id": "{request.body.candidate.external_id}",
        "offering_id": "{offering.npo_offering_ref}",
    },
    "id_path": "enrolment_id",
}
LOOKUP_ENROLMENT: dict[str, Any] = {
    **SIMPLE_ENROLMENT,
    "idempotency_key": None,
    "lookup": SIMPLE_LOOKUP,
}
"""An NPO that ignores Idempotency-Key: its lookup alone resolves an unknown outcome."""


def make_config(npo_id: str = "acme", **changes: Any) -> NpoIntegrationConfig:
    document: dict[str, Any] = {
        "npo_id": npo_id,
        "display_name": "Acme Academy",
        "base_url": f"https://{npo_id}.example.org",
        "enrolment": SIMPLE_ENROLMENT,
        "transform": {"kind": "plugin", "name": "simple"},
        "retry": {"backoff_base_seconds": 1, "backoff_max_seconds": 8},
        **changes,
    }
    return read_config(document)


def version_of(config: NpoIntegrationConfig) -> NpoConfigVersion:
    return NpoConfigVersion(
        npo_id=config.npo_id,
        version=1,
        updated_at=T0,
        source="file",
        change="upsert",
        config=config,
    )


def make_assignment(
    assignment_id: str = "asg-1",
    *,
    npo_id: str = "acme",
    event_type: str = "candidate_assignment.created",
    npo_user_ref: str | None = "u-7",
    email: str | None = "ada@example.org",
) -> CandidateAssignmentEvent:
    return CandidateAssignmentEvent(
        event_type=event_type,  # type: ignore[arg-type]
        assignment_id=assignment_id,
        candidate=Candidate(
            candidate_id="cand-7", email=email, first_name="Ada", npo_user_ref=npo_user_ref
        ),
        offering=OfferingRef(offering_id="off-5", npo_id=npo_id, npo_offering_ref="off-0001"),
    )


def response(status: int, body: Any = None) -> NpoResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    return NpoResponse.build(
        status=status, url="https://acme.example.org/x", headers={}, raw=raw, charset=None, links={}
    )


Reply = NpoResponse | BaseException | Callable[[HttpCall], NpoResponse]


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakePorts:
    """In-memory tables and topics; scripted NPO replies; a journal of every effect, in order."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.states: dict[str, EnrolmentState] = {}
        self.durable: dict[str, EnrolmentState] = {}
        self.configs: dict[str, NpoConfigVersion] = {}
        self.results: list[EnrolmentResult] = []
        self.links: list[EnrolmentLink] = []
        self.dead: list[tuple[str, str]] = []
        self.sent: list[tuple[HttpCall, str | None]] = []
        self.replies: list[Reply] = []
        self.journal: list[str] = []
        self.plugin = SimplePlugin()
        self.erased_candidates: set[str] = set()
        self.in_changelog: dict[str, NpoConfigVersion] = {}
        """Configs another worker wrote that this one has not read yet: seen after a catch-up."""
        self.catches_up = True

    def add_config(self, config: NpoIntegrationConfig) -> None:
        self.configs[config.npo_id] = version_of(config)

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    # --- ports ---

    def load(self, assignment_id: str) -> EnrolmentState | None:
        return self.states.get(assignment_id)

    def save(self, state: EnrolmentState) -> None:
        self.states[state.assignment_id] = state
        self.journal.append(f"save {state.status}")

    async def persist(self) -> None:
        self.durable = dict(self.states)
        self.journal.append("persist")

    def held(self, npo_id: str, partition: int) -> Iterable[EnrolmentState]:
        return [s for s in self.states.values() if s.npo_id == npo_id and s.partition == partition]

    def erased(self, candidate_id: str) -> bool:
        return candidate_id in self.erased_candidates

    def config(self, npo_id: str) -> NpoConfigVersion | None:
        return self.configs.get(npo_id)

    async def catch_up_configs(self) -> bool:
        self.journal.append("catch_up")
        if self.catches_up:
            self.configs.update(self.in_changelog)
            self.in_changelog.clear()
        return self.catches_up

    async def publish_result(self, result: EnrolmentResult) -> None:
        self.results.append(result)
        self.journal.append(f"result {result.status}")

    async def publish_link(self, link: EnrolmentLink) -> None:
        self.links.append(link)
        self.journal.append(link.event_type)

    async def dead_letter(self, state: EnrolmentState, reason: str) -> None:
        self.dead.append((state.assignment_id, reason))
        self.journal.append("dead_letter")

    async def enrolment_request(
        self, config: NpoIntegrationConfig, assignment: CandidateAssignmentEvent
    ) -> EnrolmentRequest:
        return self.plugin.enrolment_request(assignment)

    async def unenrol_request(
        self, config: NpoIntegrationConfig, assignment: CandidateAssignmentEvent, ref: str
    ) -> EnrolmentRequest:
        return self.plugin.unenrol_request(assignment, ref)

    async def enrolment_ref(
        self, config: NpoIntegrationConfig, body: Any, assignment: CandidateAssignmentEvent
    ) -> str | None:
        return self.plugin.enrolment_ref(body, assignment)

    async def send(
        self, config: NpoIntegrationConfig, call: HttpCall, idempotency_key: str | None
    ) -> NpoResponse:
        self.sent.append((call, idempotency_key))
        self.journal.append(f"send {call.method} {call.path}")
        if not self.replies:
            raise AssertionError(f"unexpected NPO call {call}")
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            return reply(call)
        return reply


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ports(clock: FakeClock) -> FakePorts:
    ports = FakePorts(clock)
    ports.add_config(make_config())
    return ports
