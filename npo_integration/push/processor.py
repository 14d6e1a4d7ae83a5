"""One event in, the NPO calls and state changes it implies out: the push path's rules in one place.

Faust-free: the agent hands in ports (the tables, the topics, the plug-in
runner, the HTTP client), tests hand in fakes. The rules that make an
enrolment happen exactly once:

- the state is saved as ``sending`` and acknowledged by the broker *before* each
  call, so a crash mid-call is seen on redelivery and resolved instead of posted
  blindly; when the broker does not acknowledge it, nothing is sent (retried later);
- every attempt carries the same ``Idempotency-Key`` (derived from the assignment);
- an outcome that may have taken effect (timeout, crash, 5xx to a POST) is
  resolved first, as the NPO's config declares: by re-sending under the same key
  (``idempotency_key: honoured``: the NPO answers with the first response), else
  by the ``lookup``; with neither, the enrolment becomes ``unknown`` and waits
  for an operator's confirm or re-send, never a blind second POST;
- "already enrolled" (``enrolment.already_enrolled``: a 409 by default) is a
  success: the lookup finds the NPO's enrolment id and the link is published;
- a cancel before its created leaves a ``cancelled`` tombstone, so the late
  created enrols nobody;
- results are published before the final state is saved, so a crash in
  between re-publishes the same decision (same event id) rather than losing it;
- a retriable failure never blocks the stream: the state records when to try
  again and a timer turns due retries into commands.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from npo_integration.errors import NpoIntegrationError
from npo_integration.http.response import NpoResponse
from npo_integration.models.enrolment import IN_FLIGHT, EnrolmentCommand, EnrolmentState, Operation
from npo_integration.models.events import CandidateAssignmentEvent, OfferingRef, utc_now
from npo_integration.models.internal import EnrolmentLink, EnrolmentResult
from npo_integration.models.npo_config import NpoConfigVersion, NpoSource
from npo_integration.push import machine
from npo_integration.push.calls import HttpCall, build_call, ref_at
from npo_integration.push.identity import idempotency_key
from npo_integration.push.lookup import EnrolmentLookupError, LookupAnswer, lookup_call, read_answer
from npo_integration.push.messages import link_of, result_of
from npo_integration.push.outcomes import (
    Answered,
    Refused,
    Unavailable,
    already_enrolled,
    perform,
    retry_policy,
)
from npo_integration.transforms.contract import EnrolmentRequest
from npo_integration.transforms.sources import local_assignment

log = logging.getLogger(__name__)

NO_CONFIG = "the NPO has no integration config"

GONE_STATUSES = frozenset({404, 410})
"""An unenrol answered with these finds nothing to remove: the goal (not enrolled) holds."""


class EnrolmentPorts(Protocol):
    """Everything the processor needs from the outside world."""

    def load(self, assignment_id: str) -> EnrolmentState | None: ...

    def save(self, state: EnrolmentState) -> None:
        """Store with the current event (changelog partition = the event's partition)."""

    async def persist(self) -> None:
        """Return once the saved states are acknowledged by the broker; raise if they are not
        (then no call is made). Called before every NPO call."""

    def held(self, npo_id: str, partition: int) -> Iterable[EnrolmentState]:
        """The NPO's enrolments stored on ``partition`` of this worker."""

    def erased(self, candidate_id: str) -> bool:
        """The candidate's personal data was erased: nothing of theirs is acted on again."""

    def config(self, npo_id: str) -> NpoConfigVersion | None: ...

    async def catch_up_configs(self) -> bool:
        """Return once this worker's configs hold every config written before the call (another
        worker's registration is read from a changelog); ``False`` when they do not within the
        bound (``NPO_CONFIG_CATCH_UP_SECONDS``). Awaited in the assignment's lane only."""

    async def publish_result(self, result: EnrolmentResult) -> None: ...

    async def publish_link(self, link: EnrolmentLink) -> None: ...

    async def dead_letter(self, state: EnrolmentState, reason: str) -> None: ...

    async def enrolment_request(
        self, config: NpoSource, assignment: CandidateAssignmentEvent
    ) -> EnrolmentRequest: ...

    async def unenrol_request(
        self,
        config: NpoSource,
        assignment: CandidateAssignmentEvent,
        npo_enrolment_ref: str,
    ) -> EnrolmentRequest: ...

    async def enrolment_ref(
        self, config: NpoSource, body: Any, assignment: CandidateAssignmentEvent
    ) -> str | None: ...

    async def send(
        self, config: NpoSource, call: HttpCall, idempotency_key: str | None
    ) -> NpoResponse:
        """One attempt through the shared client (``retry=False``: the processor owns retries)."""


def source_of(version: NpoConfigVersion | None, offering: OfferingRef) -> NpoSource | None:
    """The source the offering came from (by its reference's prefix): its enrolment endpoint,
    lookup and unknown-outcome policy are the assignment's."""
    return None if version is None else version.config.source_of_offering(offering.npo_offering_ref)


def not_enrolling(version: NpoConfigVersion | None, offering: OfferingRef) -> str | None:
    """Why assignments to this offering are not ours to enrol, or ``None`` when they are."""
    if version is None:
        return "no_integration"
    source = source_of(version, offering)
    enrolment = source.enrolment if source is not None else None
    if enrolment is None or not enrolment.enabled or enrolment.enrol is None:
        return "enrolment_disabled"
    return None


def wrong_key(key: str | None, assignment_id: str) -> str | None:
    """Why an assignment message may not be processed under its Kafka key, or ``None``.

    The key decides the partition, and the enrolment state lives on the partition
    of its assignment_id: a message keyed otherwise would be handled beside, not
    after, that assignment's other events (and its state written elsewhere).
    """
    if key == assignment_id:
        return None
    return f"message key {key!r} is not its assignment_id {assignment_id!r}"


def unavailable(
    version: NpoConfigVersion | None, operation: Operation, offering: OfferingRef
) -> str | None:
    """Why the operation cannot run now; the operation then fails with this reason (re-drivable)."""
    if version is None:
        return NO_CONFIG
    if not version.config.active:
        return "the NPO's integration is inactive"
    config = source_of(version, offering)
    if config is None:
        return f"no source of the NPO has offering {offering.npo_offering_ref!r}"
    if operation == "enrol" and (not config.enrolment.enabled or config.enrolment.enrol is None):
        return "enrolment is disabled in the NPO's config"
    if operation == "unenrol" and config.enrolment.unenrol is None:
        return "the NPO's config has no unenrol endpoint"
    return None


class EnrolmentProcessor:
    """Applies assignment events and enrolment commands, one at a time, in partition order."""

    def __init__(
        self,
        ports: EnrolmentPorts,
        *,
        clock: Callable[[], datetime] = utc_now,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self._ports = ports
        self._clock = clock
        self._random = random_fraction
        self.counters: Counter[str] = Counter()
        """Ignored and duplicate events, outcomes; read by operators' views and tests."""

    # --- inputs ------------------------------------------------------------------

    async def on_assignment(self, event: CandidateAssignmentEvent, partition: int) -> None:
        if self._ports.erased(event.candidate.candidate_id):
            self.counters["ignored_erased"] += 1
            log.info(
                "%s of assignment %s ignored: its candidate was erased",
                event.event_type,
                event.assignment_id,
            )
            return
        if event.event_type == "candidate_assignment.created":
            await self._on_created(event, partition)
        else:
            await self._on_cancelled(event, partition)

    async def on_command(self, command: EnrolmentCommand, partition: int) -> None:
        if command.event_type == "enrolment.redrive_npo":
            self._redrive(command.npo_id or "", partition)
            return
        if command.event_type in ("enrolment.confirm", "enrolment.resend"):
            await self._operator_decision(command)
            return
        state = self._ports.load(command.assignment_id or "")
        if state is None or state.erased_at is not None or not machine.is_due(state, self._clock()):
            self.counters["stale_commands"] += 1
            return
        await self._work(machine.resumed(state))

    async def _on_created(self, event: CandidateAssignmentEvent, partition: int) -> None:
        state = self._ports.load(event.assignment_id)
        if state is None:
            npo_id = event.offering.npo_id
            version, caught_up = await self._settled_config(npo_id)
            why = not_enrolling(version, event.offering)
            if why == "no_integration":
                await self._no_config(event, partition, caught_up=caught_up)
                return
            if why is not None:
                self.counters[f"ignored_{why}"] += 1
                log.debug("assignment %s ignored: %s (npo %s)", event.assignment_id, why, npo_id)
                return
            await self._work(machine.new(event, partition, self._clock()), version)
        elif state.status in IN_FLIGHT:
            self.counters["resumed"] += 1
            log.warning(
                "assignment %s was %s when interrupted; resolving",
                state.assignment_id,
                state.status,
            )
            await self._work(machine.resumed(state))
        else:
            late = state.status == "cancelled" and state.attempts == 0
            self.counters["created_after_cancel" if late else "duplicates"] += 1
            log.info(
                "assignment %s created again; it is %s already: nothing sent",
                state.assignment_id,
                state.status,
            )

    async def _settled_config(self, npo_id: str) -> tuple[NpoConfigVersion | None, bool]:
        """The NPO's config, and whether this worker's configs were known to be complete when it
        was read: a config missing here is looked for again once they have caught up with every
        config written so far (another worker may have just stored it)."""
        version = self._ports.config(npo_id)
        if version is not None:
            return version, True
        caught_up = await self._ports.catch_up_configs()
        version = self._ports.config(npo_id)
        if version is not None:
            self.counters["config_seen_after_catch_up"] += 1
            log.info("npo %s: config seen once this worker's configs caught up", npo_id)
        return version, caught_up

    async def _no_config(
        self, event: CandidateAssignmentEvent, partition: int, *, caught_up: bool
    ) -> None:
        """An assignment of an NPO with no config: a ``failed`` outcome (re-drivable once it has
        one, logged at info by ``_finish``), never a silent drop. When this worker's configs did
        not catch up in time, the config may exist: dead-lettered too, for an operator."""
        reason = NO_CONFIG
        if not caught_up:
            reason += " (this worker's copy of the configs was still behind its changelog)"
        self.counters["no_config" if caught_up else "no_config_behind"] += 1
        state = machine.new(event, partition, self._clock())
        await self._fail(state, reason, dead_letter=not caught_up)

    async def _on_cancelled(self, event: CandidateAssignmentEvent, partition: int) -> None:
        state = self._ports.load(event.assignment_id)
        now = self._clock()
        if state is None:
            version, _ = await self._settled_config(event.offering.npo_id)
            if not_enrolling(version, event.offering) is not None:
                self.counters["ignored_cancel_unknown"] += 1
                log.info(
                    "assignment %s cancelled; it was never enrolled by this service",
                    event.assignment_id,
                )
                return
            # Before its created (or the created was lost): remember the cancel, so a late
            # created enrols nobody.
            await self._finish(machine.cancelled_first(event, partition, now))
            return
        status = state.status
        if status in ("pending", "failed") and not state.maybe_applied:
            # No attempt can have taken effect at the NPO: nothing to undo there.
            reason = (
                f"the enrolment had failed ({state.reason}); nothing to undo"
                if status == "failed"
                else "cancelled before the NPO enrolled the candidate"
            )
            await self._finish(machine.cancelled(state, reason, now))
        elif status == "pending":
            # An earlier attempt may have enrolled the candidate: resolve
            # at the next attempt, then undo.
            self._ports.save(machine.request_cancel(state, now))
        elif status == "failed":
            # Gave up with the outcome unknown: resolve now (lookup or same key), then undo.
            again = machine.redriven(state, now)
            assert again is not None
            await self._work(machine.request_cancel(again, now))
        elif status in ("sending", "cancelling"):
            await self._work(machine.resumed(machine.request_cancel(state, now)))
        elif status == "confirmed":
            await self._cancel_confirmed(state)
        elif status == "unknown":
            # Only an operator can tell whether the candidate is enrolled: undo after a confirm.
            self._ports.save(machine.request_cancel(state, now))
            log.warning(
                "assignment %s cancelled while its enrolment is unknown: an operator decides",
                state.assignment_id,
            )
        else:
            self.counters["duplicates"] += 1
            log.info("assignment %s cancelled again; it is %s already", state.assignment_id, status)

    def _redrive(self, npo_id: str, partition: int) -> None:
        now = self._clock()
        count = 0
        for state in list(self._ports.held(npo_id, partition)):
            if state.erased_at is not None:
                continue  # bookkeeping only: its candidate is erased
            again = machine.redriven(state, now)
            if again is not None:
                self._ports.save(again)
                count += 1
        self.counters["redriven"] += count
        log.info(
            "re-drive of %s on partition %d: %d failed enrolment(s) due again",
            npo_id,
            partition,
            count,
        )

    async def _operator_decision(self, command: EnrolmentCommand) -> None:
        """An operator settles an ``unknown`` enrolment: confirmed at the NPO, or not there."""
        state = self._ports.load(command.assignment_id or "")
        if state is None or state.status != "unknown" or state.erased_at is not None:
            self.counters["stale_commands"] += 1
            log.info(
                "%s of assignment %s ignored: it is %s, not unknown",
                command.event_type,
                command.assignment_id,
                "not held" if state is None else state.status,
            )
            return
        self.counters[command.event_type.replace(".", "_")] += 1
        if command.event_type == "enrolment.confirm":
            await self._confirmed(state, command.npo_enrolment_ref)
            return
        again = machine.resent_by_operator(state, self._clock())
        if again.cancel_requested:
            reason = "cancelled; an operator found the NPO had not enrolled the candidate"
            await self._finish(machine.cancelled(again, reason, self._clock()))
            return
        await self._work(again)

    # --- the work of one operation ----------------------------------------------

    async def _work(self, state: EnrolmentState, version: NpoConfigVersion | None = None) -> None:
        """Run the state's operation with ``version`` of the NPO's config (when the caller has just
        read it), else its current one: one config read per piece of work, and its source is the
        one the outcome's link names."""
        if version is None:
            version = self._ports.config(state.npo_id)
        problem = unavailable(version, state.operation, state.assignment.offering)
        source = source_of(version, state.assignment.offering)
        if problem is not None or source is None:
            await self._fail(state, problem or "no source", dead_letter=False)
            return
        if state.operation == "enrol":
            await self._enrol(state, source)
        else:
            await self._unenrol(state, source)

    async def _enrol(self, state: EnrolmentState, config: NpoSource) -> None:
        endpoint = config.enrolment.enrol
        assert endpoint is not None  # checked by unavailable()
        try:
            request = await self._ports.enrolment_request(config, state.assignment)
            call = build_call(endpoint, request)
        except NpoIntegrationError as exc:  # the plug-in failed (or failed to load), or misfits
            await self._fail(state, f"cannot build the enrol request: {exc}", dead_letter=True)
            return
        if state.maybe_applied and not config.enrolment.resolves_unknown_outcomes:
            await self._unknown(state, state.reason or "an earlier attempt's outcome is unknown")
            return
        begun = await self._begin(state, config)
        if begun is None:
            return  # not durable: nothing sent
        state = begun
        if state.maybe_applied:
            resolved = await self._resolve_first(state, config, request)
            if resolved is None:
                return  # decided without posting
            state = resolved
        key = idempotency_key("enrol", state.assignment_id)
        outcome = await perform(lambda: self._ports.send(config, call, key), method=call.method)
        if isinstance(outcome, Answered):
            ref = ref_at(outcome.body, endpoint.response_id_path) or await self._plugin_ref(
                config, outcome.body, state
            )
            await self._confirmed(state, ref, config)
        elif isinstance(outcome, Refused) and already_enrolled(
            outcome, config.enrolment.already_enrolled
        ):
            await self._already_enrolled(state, config, request, outcome)
        elif isinstance(outcome, Refused):
            await self._fail(state, outcome.reason, dead_letter=False)
        elif outcome.outcome_unknown and not config.enrolment.resolves_unknown_outcomes:
            await self._unknown(state, outcome.reason)
        else:
            await self._retry(state, config, outcome)

    async def _unenrol(self, state: EnrolmentState, config: NpoSource) -> None:
        endpoint = config.enrolment.unenrol
        assert endpoint is not None  # checked by unavailable()
        ref = state.npo_enrolment_ref
        if ref is None:
            await self._fail(state, "no NPO enrolment id to unenrol with", dead_letter=True)
            return
        try:
            request = await self._ports.unenrol_request(config, state.assignment, ref)
            call = build_call(endpoint, request)
        except NpoIntegrationError as exc:
            await self._fail(state, f"cannot build the unenrol request: {exc}", dead_letter=True)
            return
        begun = await self._begin(state, config)
        if begun is None:
            return  # not durable: nothing sent
        state = begun
        key = idempotency_key("unenrol", state.assignment_id)
        outcome = await perform(lambda: self._ports.send(config, call, key), method=call.method)
        if isinstance(outcome, Answered):
            final = machine.cancelled(state, "unenrolled at the NPO", self._clock())
            await self._finish(final, unlink=True, source=config)
        elif isinstance(outcome, Refused) and outcome.status in GONE_STATUSES:
            reason = "the NPO has no such enrolment any more"
            final = machine.cancelled(state, reason, self._clock())
            await self._finish(final, unlink=True, source=config)
        elif isinstance(outcome, Refused):
            await self._fail(state, outcome.reason, dead_letter=False)
        else:
            await self._retry(state, config, outcome)

    async def _begin(self, state: EnrolmentState, config: NpoSource) -> EnrolmentState | None:
        """Record the attempt durably before the NPO can act on it; ``None`` (and no call) when
        the broker does not acknowledge it: the attempt is put back, to be retried later."""
        begun = machine.begin(state, self._clock(), config.timeout_seconds)
        self._ports.save(begun)
        try:
            await self._ports.persist()
        except Exception as exc:
            self.counters["not_durable"] += 1
            reason = f"the {begun.status} state was not acknowledged by the broker: {exc!r}"
            await self._retry(begun, config, Unavailable(reason, counted=False))
            return None
        return begun

    async def _resolve_first(
        self, state: EnrolmentState, config: NpoSource, request: EnrolmentRequest
    ) -> EnrolmentState | None:
        """Before posting again after an unknown outcome: the state to post with, or ``None``
        when the lookup decided (found it, must retry, or cannot tell)."""
        if config.enrolment.idempotency_key == "honoured":
            return state  # the NPO answers the same key with its first answer: the post is safe
        resolution = await self._resolve(state, config, request)
        if resolution is None:
            # Neither key nor lookup (the config changed since): an operator decides.
            await self._unknown(state, state.reason or "an earlier attempt's outcome is unknown")
            return None
        if isinstance(resolution, LookupAnswer) and resolution.found:
            log.info(
                "assignment %s: lookup found the enrolment at %s", state.assignment_id, state.npo_id
            )
            await self._confirmed(state, resolution.npo_enrolment_ref, config)
            return None
        if isinstance(resolution, LookupAnswer):
            state = machine.not_applied(state)
            if not state.cancel_requested:
                return state
            reason = "cancelled; the NPO had not enrolled the candidate"
            await self._finish(machine.cancelled(state, reason, self._clock()))
            return None
        if isinstance(resolution, Unavailable):
            await self._retry(state, config, resolution)
            return None
        reason = (
            f"an earlier attempt's outcome is unknown and the lookup failed: {resolution.reason}"
        )
        await self._fail(state, reason, dead_letter=True)
        return None

    async def _already_enrolled(
        self,
        state: EnrolmentState,
        config: NpoSource,
        request: EnrolmentRequest,
        refusal: Refused,
    ) -> None:
        """The NPO says the candidate is enrolled already: confirmed, with the enrolment's id
        from the lookup (without a lookup, linked by the candidate's and offering's NPO ids)."""
        self.counters["already_enrolled"] += 1
        log.info(
            "assignment %s: %s says already enrolled: %s",
            state.assignment_id,
            state.npo_id,
            refusal.reason,
        )
        resolution = await self._resolve(state, config, request)
        if resolution is None:
            await self._confirmed(state, None, config)
        elif isinstance(resolution, LookupAnswer) and resolution.found:
            await self._confirmed(state, resolution.npo_enrolment_ref, config)
        elif isinstance(resolution, LookupAnswer):
            reason = (
                "the NPO says already enrolled, but its lookup finds no enrolment: "
                f"{refusal.reason}"
            )
            await self._fail(state, reason, dead_letter=True)
        elif isinstance(resolution, Unavailable):
            await self._retry(state, config, resolution)
        else:
            reason = f"the NPO says already enrolled, and the lookup failed: {resolution.reason}"
            await self._fail(state, reason, dead_letter=True)

    async def _resolve(
        self, state: EnrolmentState, config: NpoSource, request: EnrolmentRequest
    ) -> LookupAnswer | Refused | Unavailable | None:
        """Ask the NPO whether the enrolment exists; ``None`` when the config has no lookup."""
        lookup = config.enrolment.lookup
        if lookup is None:
            return None
        try:
            call = lookup_call(
                lookup, local_assignment(state.assignment, config.ref_prefix), request
            )
        except EnrolmentLookupError as exc:
            return Refused(str(exc))
        outcome = await perform(lambda: self._ports.send(config, call, None))
        if not isinstance(outcome, Answered):
            return outcome
        try:
            local = local_assignment(state.assignment, config.ref_prefix)
            return read_answer(outcome.body, lookup, local, request)
        except EnrolmentLookupError as exc:
            return Refused(str(exc))

    async def _plugin_ref(self, config: NpoSource, body: Any, state: EnrolmentState) -> str | None:
        try:
            return await self._ports.enrolment_ref(config, body, state.assignment)
        except NpoIntegrationError as exc:
            log.warning(
                "assignment %s enrolled, but its NPO enrolment id is unknown: %s",
                state.assignment_id,
                exc,
            )
            return None

    # --- outcomes -----------------------------------------------------------------

    async def _confirmed(
        self, state: EnrolmentState, ref: str | None, source: NpoSource | None = None
    ) -> None:
        """Linked and confirmed; ``source``: the one the call went to (else the current one)."""
        now = self._clock()
        final = machine.confirmed(state, ref, now)
        prefix = self._ref_prefix(final, source)
        await self._ports.publish_link(link_of(final, linked=True, now=now, ref_prefix=prefix))
        await self._ports.publish_result(result_of(final, now))
        self.counters["confirmed"] += 1
        log.info(
            "assignment %s enrolled at %s as %s (attempt %d)",
            final.assignment_id,
            final.npo_id,
            ref,
            final.attempts,
        )
        if final.cancel_requested:
            await self._cancel_confirmed(final)  # saves the unenrol's own states
        else:
            self._ports.save(final)

    async def _unknown(self, state: EnrolmentState, reason: str) -> None:
        """No re-send, no lookup: the outcome event says ``unknown``; an operator decides."""
        why = f"outcome unknown (no honoured Idempotency-Key, no lookup): {reason}"
        await self._finish(machine.unknown(state, why, self._clock()))
        log.warning(
            "assignment %s at %s: outcome unknown, waiting for an operator "
            "(npo-integration enrolments confirm|retry)",
            state.assignment_id,
            state.npo_id,
        )

    def _ref_prefix(self, state: EnrolmentState, source: NpoSource | None = None) -> str:
        """The prefix of the source's references, which its enrolment link's carries too."""
        if source is None:
            source = source_of(self._ports.config(state.npo_id), state.assignment.offering)
        return source.ref_prefix if source is not None else ""

    async def _cancel_confirmed(self, state: EnrolmentState) -> None:
        source = source_of(self._ports.config(state.npo_id), state.assignment.offering)
        if source is not None and source.enrolment.unenrol is None:
            await self._finish(machine.cancel_not_supported(state, self._clock()))
            return
        await self._work(machine.start_unenrol(state, self._clock()))

    async def _retry(self, state: EnrolmentState, config: NpoSource, outcome: Unavailable) -> None:
        now = self._clock()
        policy = retry_policy(config)
        delay = policy.delay(
            state.attempts, fraction=self._random(), retry_after=outcome.retry_after
        )
        later = machine.retry_later(state, outcome, now + timedelta(seconds=delay), now)
        if outcome.counted and policy.exhausted(later.attempts):
            reason = f"gave up after {later.attempts} attempt(s): {outcome.reason}"
            await self._fail(later, reason, dead_letter=True)
            return
        self._ports.save(later)
        self.counters["retries_scheduled"] += 1
        log.warning(
            "%s of assignment %s at %s: attempt %d/%d failed, next in %.1fs: %s",
            state.operation,
            state.assignment_id,
            state.npo_id,
            later.attempts,
            policy.max_attempts,
            delay,
            outcome.reason,
        )

    async def _fail(self, state: EnrolmentState, reason: str, *, dead_letter: bool) -> None:
        now = self._clock()
        if state.operation == "enrol" and state.cancel_requested and not state.maybe_applied:
            final = machine.cancelled(state, f"cancelled; the enrolment had failed: {reason}", now)
        else:
            if state.operation == "unenrol":
                reason = f"unenrol failed: {reason}"
            final = machine.failed(state, reason, now)
        await self._finish(final)
        if dead_letter:
            await self._ports.dead_letter(final, reason)

    async def _finish(
        self, final: EnrolmentState, *, unlink: bool = False, source: NpoSource | None = None
    ) -> None:
        """Publish a final outcome, then store it (a crash in between
        re-publishes the same event)."""
        now = self._clock()
        if unlink:
            prefix = self._ref_prefix(final, source)
            await self._ports.publish_link(link_of(final, linked=False, now=now, ref_prefix=prefix))
        await self._ports.publish_result(result_of(final, now))
        self._ports.save(final)
        self.counters[final.status] += 1
        log.info(
            "assignment %s at %s: %s (%s)",
            final.assignment_id,
            final.npo_id,
            final.status,
            final.reason,
        )
