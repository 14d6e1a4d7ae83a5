"""Push agent: candidate assignments (and enrolment commands) to NPO enrolments, exactly once each.

One agent reading two co-partitioned topics keyed by assignment_id: the
platform's assignments and our own enrolment commands (retries, re-drives).
Each message runs in its assignment's lane (``push/lanes.py``): one
assignment's events in order and never two of its calls at once, different
assignments concurrently, at most ``NPO_ENROLMENT_CONCURRENCY_PER_NPO`` calls
per NPO and ``NPO_ENROLMENT_CONCURRENCY`` per worker, so an NPO that answers
slowly holds only its own slots. A message is acknowledged when its work is
done. Retries are messages, not sleeps. The rules live in ``push.processor``.

Rebalances: work in a lane can outlive its partition's ownership, and the new
owner reads the same uncommitted message. So the ports fence each step
(``ownership.py``): no NPO call starts (nor its ``sending`` state is
written) once a rebalance is under way or the partition is not this worker's in
the generation the message was read in; an outcome is published and saved only
until the revocation has released the partition. A revocation cancels the lanes
of revoked partitions that have not started and waits up to
``settings.hand_over_seconds`` (the capped call timeout, plus the outcome's
sends) for calls in flight, then cancels them and waits for the states written
to be acknowledged. Abandoned work is not acknowledged: the new owner redoes it
from the durable state (a ``sending`` left behind is resolved by lookup or key).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from functools import partial
from typing import Annotated, Any, cast

from faust import Stream, StreamT
from faust.streams import current_event
from faust.types import TP, AppT, EventT
from mode.types.signals import BaseSignalT
from pydantic import Field, TypeAdapter

from npo_integration import metrics, tracing
from npo_integration.agents import erasure
from npo_integration.agents.dead_letters import dead_letter, payload_of
from npo_integration.agents.in_order_acks import Acknowledge, InOrderAcks
from npo_integration.app import app, settings
from npo_integration.errors import NpoIntegrationError
from npo_integration.http.response import NpoResponse
from npo_integration.models.codec import (
    MAX_PLATFORM_MESSAGE_BYTES,
    decode,
    encode,
    key_of,
    versioned_adapter,
)
from npo_integration.models.enrolment import IN_FLIGHT, EnrolmentCommand, EnrolmentState
from npo_integration.models.erasure import CandidateErase
from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.models.internal import EnrolmentLink, EnrolmentResult
from npo_integration.models.npo_config import NpoConfigVersion, NpoSource
from npo_integration.ownership import Ownership
from npo_integration.push.calls import HttpCall
from npo_integration.push.lanes import Lanes
from npo_integration.push.processor import EnrolmentProcessor, wrong_key
from npo_integration.retry_policy import UNTIL_DONE, RetryPolicy
from npo_integration.tables import enrolments, erased_candidates, npo_configs, state_purge
from npo_integration.topics import enrolment_links, enrolment_results, raw_topic
from npo_integration.transforms.contract import EnrolmentRequest
from npo_integration.transforms.invoke import plugin_call
from npo_integration.worker_resources import (
    batch_producer,
    http_client,
    plugin_registry,
    plugin_runner,
)

log = logging.getLogger(__name__)

ASSIGNMENTS_TOPIC = settings.topic_candidate_assignments
COMMANDS_TOPIC = settings.topic_enrolment_commands
RESULTS_TOPIC = enrolment_results.get_topic_name()
LINKS_TOPIC = enrolment_links.get_topic_name()
SWEEP_STEPS = frozenset({"enrolment.purge_npo", "enrolment.expire_settled"})
"""State sweep steps on one partition (``tables.state_purge.purge_enrolments``)."""
MAX_PENDING = 20_000
"""Messages read and not yet done at most; past it the agent stops reading until some finish."""

enrolment_inputs = raw_topic(ASSIGNMENTS_TOPIC, COMMANDS_TOPIC)
ownership = Ownership(app)


class NotOwner(BaseException):
    """Raised by a port when this worker may no longer act on the current message.

    A ``BaseException``, like a cancellation: the processor and ``outcomes.perform``
    turn every ``Exception`` into an outcome, and this is none, the work is abandoned."""


def _fence(*, finishing: bool) -> None:
    """Raise :class:`NotOwner` unless the current message may still start an NPO call
    (``finishing=False``) or send and save an outcome (``finishing=True``)."""
    event = current_event()
    if event is None:
        return  # not called for a message: nothing to fence (no port writes without one)
    message = event.message
    allowed = ownership.may_finish(message) if finishing else ownership.may_start(message)
    if not allowed:
        raise NotOwner(f"{message.tp.topic}[{message.tp.partition}]@{message.offset}")


async def _call_plugin(config: NpoSource, method: str, *args: Any) -> Any:
    """One call of the NPO's plug-in, bounded in time and checked against the contract."""
    call = plugin_call(plugin_registry.for_config(config), method, *args, key=config.npo_id)
    return await plugin_runner.call(call, timeout=settings.transform_timeout_seconds)


class FaustPorts:
    """The processor's ports on this worker: tables, topics, the plug-in
    runner and the HTTP client."""

    def load(self, assignment_id: str) -> EnrolmentState | None:
        return enrolments.get(assignment_id)

    def save(self, state: EnrolmentState) -> None:
        # A call about to begin writes its in-flight state first: fenced like the call itself.
        _fence(finishing=state.status not in IN_FLIGHT)
        enrolments.put(state)

    async def persist(self) -> None:
        """Return once the states written so far are acknowledged by the broker, so a worker
        recovering after a crash sees "sending" (one wait serves every call starting meanwhile)."""
        await enrolments.wait_acked()

    def held(self, npo_id: str, partition: int) -> Iterable[EnrolmentState]:
        return enrolments.of_npo(npo_id, partition)

    def erased(self, candidate_id: str) -> bool:
        return erased_candidates.is_erased(candidate_id)

    def config(self, npo_id: str) -> NpoConfigVersion | None:
        return npo_configs.current(npo_id)

    async def catch_up_configs(self) -> bool:
        return await npo_configs.caught_up(settings.config_catch_up_seconds)

    async def publish_result(self, result: EnrolmentResult) -> None:
        # Until acknowledged: the NPO has acted, a broker away for a while must not turn the
        # outcome into a dead letter (the chaos suite's broker outage found that).
        await batch_producer.send_until_acked(
            RESULTS_TOPIC,
            result.assignment_id.encode(),
            encode(result),
            headers=tracing.current_headers(),
            before_each=partial(_fence, finishing=True),
        )

    async def publish_link(self, link: EnrolmentLink) -> None:
        await batch_producer.send_until_acked(
            LINKS_TOPIC,
            link.npo_id.encode(),
            encode(link),
            headers=tracing.current_headers(),
            before_each=partial(_fence, finishing=True),
        )

    async def dead_letter(self, state: EnrolmentState, reason: str) -> None:
        _fence(finishing=True)
        await dead_letter(
            source_topic=ASSIGNMENTS_TOPIC,
            reason=reason,
            payload=state.assignment.model_dump(mode="json"),
            key=state.assignment_id,
            npo_id=state.npo_id,
            record_key=state.assignment_id,
        )

    async def enrolment_request(
        self, config: NpoSource, assignment: CandidateAssignmentEvent
    ) -> EnrolmentRequest:
        request: EnrolmentRequest = await _call_plugin(config, "enrolment_request", assignment)
        return request

    async def unenrol_request(
        self,
        config: NpoSource,
        assignment: CandidateAssignmentEvent,
        npo_enrolment_ref: str,
    ) -> EnrolmentRequest:
        request: EnrolmentRequest = await _call_plugin(
            config, "unenrol_request", assignment, npo_enrolment_ref
        )
        return request

    async def enrolment_ref(
        self, config: NpoSource, body: Any, assignment: CandidateAssignmentEvent
    ) -> str | None:
        ref: str | None = await _call_plugin(config, "enrolment_ref", body, assignment)
        return ref

    async def send(
        self, config: NpoSource, call: HttpCall, idempotency_key: str | None
    ) -> NpoResponse:
        _fence(finishing=False)
        return await http_client.request(
            config,
            call.method,
            call.path,
            params=call.params or None,
            json=call.json,
            form=call.form,
            idempotency_key=idempotency_key,
            retry=False,
        )


processor = EnrolmentProcessor(FaustPorts())
"""``processor.counters``: ignored, duplicate and stale inputs, outcomes
(this worker, since start); exported as ``npo_enrolment_events_total``."""
metrics.registry.register(metrics.EventCountsCollector(processor.counters))


lanes = Lanes(
    per_group=settings.enrolment_concurrency_per_npo,
    total=settings.enrolment_concurrency,
    max_pending=MAX_PENDING,
)


Command = EnrolmentCommand | CandidateErase
_commands: TypeAdapter[Command] = versioned_adapter(
    Annotated[Command, Field(discriminator="event_type")]
)
ERASE_RETRY = RetryPolicy(
    max_attempts=UNTIL_DONE, base_seconds=1.0, max_seconds=30.0, jitter="none"
)
"""An erasure step that fails (the broker does not acknowledge) is tried again while the
partition is this worker's: an accepted erasure is never dropped."""


def _decoded(topic: str, value: bytes) -> Command | CandidateAssignmentEvent:
    if topic == COMMANDS_TOPIC:
        return decode(_commands, value)
    return decode(CandidateAssignmentEvent, value, max_bytes=MAX_PLATFORM_MESSAGE_BYTES)


@app.agent(enrolment_inputs)
async def enrol_assignments(stream: StreamT[bytes]) -> None:
    # Agents are handed a faust.Stream: Faust's StreamT interface does not declare noack.
    inputs = cast(Stream[bytes], stream).noack()

    async def acknowledge(event: EventT[bytes]) -> None:
        # Faust forgot the partition's acknowledgements when its revocation began; an ack now
        # would count in the next generation. Not acknowledged, it is read again, found done.
        if ownership.may_start(event.message):
            await inputs.ack(event)

    async for event in inputs.events():
        topic, partition = event.message.topic, event.message.partition
        acks.read(event)
        try:
            message = _decoded(topic, event.value)
        except NpoIntegrationError as exc:
            await dead_letter(
                source_topic=topic,
                reason=str(exc),
                payload=payload_of(event.value),
                key=key_of(event.key),
            )
            await acks.done(event, acknowledge)
            continue
        if isinstance(message, CandidateAssignmentEvent):
            misplaced = wrong_key(key_of(event.key), message.assignment_id)
            if misplaced is not None:  # its state lives on another partition: not ours to touch
                await dead_letter(
                    source_topic=topic,
                    reason=misplaced,
                    payload=payload_of(event.value),
                    key=key_of(event.key),
                    npo_id=message.offering.npo_id,
                )
                await acks.done(event, acknowledge)
                continue
        if isinstance(message, CandidateErase):
            # Blanks enrolments of a partition: after what is running there, not beside it.
            await lanes.drain()
            await _erase(acknowledge, event, message, partition)
            continue
        if isinstance(message, EnrolmentCommand) and message.event_type in SWEEP_STEPS:
            if message.event_type == "enrolment.purge_npo":
                await lanes.drain()  # after what is running on the partition, not beside it
            # A settled enrolment has nothing running: a lane that acts on one meanwhile (a
            # cancel) writes its state again after this synchronous step, so no drain (each tick).
            try:
                await state_purge.purge_enrolments(message, partition)
            except Exception:
                log.exception(
                    "state sweep step %s (NPO %s) on partition %d failed; the next tick asks again",
                    message.event_type,
                    message.npo_id,
                    partition,
                )
            await acks.done(event, acknowledge)
            continue
        if isinstance(message, EnrolmentCommand) and message.event_type == "enrolment.redrive_npo":
            # Re-marks failed enrolments of a partition: after what is running there, not beside it.
            await lanes.drain()
            await _handle(acknowledge, event, message, partition)
            continue
        if isinstance(message, EnrolmentCommand):
            key, npo_id = message.assignment_id or "", message.npo_id or ""
        else:
            key, npo_id = message.assignment_id, message.offering.npo_id
        # The task copies this context: its table writes land on this event's partition.
        await lanes.submit(
            key,
            npo_id,
            partial(_handle, acknowledge, event, message, partition),
            tag=event.message.tp,
        )


async def _handle(
    acknowledge: Acknowledge,
    event: EventT[bytes],
    message: EnrolmentCommand | CandidateAssignmentEvent,
    partition: int,
) -> None:
    if not ownership.may_start(event.message):
        _abandoned(event, "before it started")
        return
    # The platform's traceparent header continues its trace (NPO call, outcome); else a new one.
    with tracing.traced("enrolment", parent=tracing.from_headers(event.message.headers)):
        await _handled(acknowledge, event, message, partition)


async def _handled(
    acknowledge: Acknowledge,
    event: EventT[bytes],
    message: EnrolmentCommand | CandidateAssignmentEvent,
    partition: int,
) -> None:
    try:
        if isinstance(message, EnrolmentCommand):
            await processor.on_command(message, partition)
        else:
            await processor.on_assignment(message, partition)
    except NotOwner:
        _abandoned(event, "midway")
        return
    except Exception as exc:
        log.exception("enrolment of key %s failed unexpectedly", key_of(event.key))
        try:
            _fence(finishing=True)
        except NotOwner:
            _abandoned(event, "failed")
            return
        await dead_letter(
            source_topic=event.message.topic,
            reason=f"unexpected {type(exc).__name__}: {exc}",
            payload=payload_of(event.value),
            key=key_of(event.key),
        )
    await acks.done(event, acknowledge)


async def _erase(
    acknowledge: Acknowledge, event: EventT[bytes], command: CandidateErase, partition: int
) -> None:
    """One step of an erasure, tried until done while the partition is this worker's (else the
    new owner reads the command again and does the step)."""
    attempt = 0
    while ownership.may_start(event.message):
        try:
            done = await erasure.erase_step(
                command, partition, lambda: ownership.may_finish(event.message)
            )
        except Exception as exc:
            attempt += 1
            delay = ERASE_RETRY.delay(attempt)
            log.warning(
                "erasure %s, partition %d failed (%r); trying again in %.1fs",
                command.erasure_id,
                partition,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            continue
        if done is not None and ownership.may_start(event.message):
            await acks.done(event, acknowledge)
            return
        break
    _abandoned(event, "erasing")


def _abandoned(event: EventT[bytes], when: str) -> None:
    abandoned[when] += 1
    log.info(
        "enrolment message %s[%d]@%d (key %s) abandoned %s: its partition is being handed over",
        event.message.topic,
        event.message.partition,
        event.message.offset,
        key_of(event.key),
        when,
    )


acks = InOrderAcks()
"""The agent's messages acknowledged in the order read, per partition (``in_order_acks.py``)."""

abandoned: Counter[str] = Counter()
"""Messages whose work this worker gave up in a rebalance, by when (since start)."""


@app.on_partitions_revoked.connect
async def _hand_over(sender: AppT, /, *args: Any, signal: BaseSignalT[Any], **_: Any) -> None:
    """Before this worker rejoins the group (nobody else owns the partitions meanwhile): give
    up what has not started, let calls in flight end within the grace, make their states
    durable, then fence off everything read before."""
    revoked: set[TP] = args[0]  # the signal's one argument: the partitions revoked
    mine = {tp for tp in revoked if tp.topic in (ASSIGNMENTS_TOPIC, COMMANDS_TOPIC)}
    if not mine:
        return
    released = await lanes.release(mine, grace=settings.hand_over_seconds)
    acks.forget(mine)
    try:
        await enrolments.wait_acked()
    except Exception as exc:  # the rebalance must go on; the new owner resolves what is left
        log.warning("enrolment states not acknowledged at hand-over: %r", exc)
    ownership.released(mine)
    if released.waiting or released.running:
        log.info(
            "hand-over: %d enrolment call(s) in flight waited for (%d cancelled after %.0fs), "
            "%d queued message(s) abandoned",
            released.running,
            released.cancelled,
            settings.hand_over_seconds,
            released.waiting,
        )
