"""Push agent: candidate assignments (and enrolment commands) to NPO enrolments, exactly once each.

One agent, one actor, reading two co-partitioned topics keyed by assignment_id:
the platform's assignments and our own enrolment commands (retries, re-drives).
One actor keeps each assignment's events in order and never lets two calls for
one assignment overlap; retries are messages, not sleeps, so one NPO that is
down never holds up the others. The rules live in ``push.processor``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from faust import StreamT

from npo_integration.app import app, settings
from npo_integration.dead_letters import dead_letter, payload_of
from npo_integration.errors import NpoIntegrationError
from npo_integration.http.response import NpoResponse
from npo_integration.models.codec import decode, encode, key_of
from npo_integration.models.enrolment import EnrolmentCommand, EnrolmentState
from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.models.internal import EnrolmentLink, EnrolmentResult
from npo_integration.models.npo_config import NpoConfigVersion, NpoIntegrationConfig
from npo_integration.push.calls import HttpCall
from npo_integration.push.processor import EnrolmentProcessor
from npo_integration.runtime import http_client, plugin_registry, plugin_runner
from npo_integration.tables import enrolments, npo_configs
from npo_integration.topics import enrolment_links, enrolment_results, raw_topic
from npo_integration.transforms.contract import EnrolmentRequest

log = logging.getLogger(__name__)

ASSIGNMENTS_TOPIC = settings.topic_candidate_assignments
COMMANDS_TOPIC = settings.topic_enrolment_commands
PERSIST_TIMEOUT_S = 10.0

enrolment_inputs = raw_topic(ASSIGNMENTS_TOPIC, COMMANDS_TOPIC)


async def _call_plugin(
    config: NpoIntegrationConfig, method: str, *args: Any, output: type[Any], optional: bool = False
) -> Any:
    """One call of the NPO's plug-in, bounded in time and checked against ``output``."""
    plugin = plugin_registry.for_config(config)
    return await plugin_runner.call(
        getattr(plugin, method),
        *args,
        timeout=settings.transform_timeout_seconds,
        key=config.npo_id,
        output=output,
        optional=optional,
    )


class FaustPorts:
    """The processor's ports on this worker: tables, topics, the plug-in runner and the HTTP client."""

    def load(self, assignment_id: str) -> EnrolmentState | None:
        return enrolments.get(assignment_id)

    def save(self, state: EnrolmentState) -> None:
        enrolments.put(state)

    async def persist(self) -> None:
        """Table writes are buffered: flush, so a worker recovering after a crash sees "sending".

        Faust's ``flush`` gives up after 0.1 s without progress, so it is repeated until the
        buffer is empty (bounded: past that, the Idempotency-Key alone protects the call).
        """
        producer = app.producer
        deadline = time.monotonic() + PERSIST_TIMEOUT_S
        await producer.flush()
        while producer.buffer.size and time.monotonic() < deadline:
            await producer.flush()
        if producer.buffer.size:
            log.warning(
                "enrolment state not flushed within %.0fs; calling the NPO anyway",
                PERSIST_TIMEOUT_S,
            )

    def held(self, npo_id: str, partition: int) -> Iterable[EnrolmentState]:
        return enrolments.of_npo(npo_id, partition)

    def config(self, npo_id: str) -> NpoConfigVersion | None:
        return npo_configs.current(npo_id)

    async def publish_result(self, result: EnrolmentResult) -> None:
        await (
            await enrolment_results.send(key=result.assignment_id.encode(), value=encode(result))
        )

    async def publish_link(self, link: EnrolmentLink) -> None:
        await (await enrolment_links.send(key=link.npo_id.encode(), value=encode(link)))

    async def dead_letter(self, state: EnrolmentState, reason: str) -> None:
        await dead_letter(
            source_topic=ASSIGNMENTS_TOPIC,
            reason=reason,
            payload=state.assignment.model_dump(mode="json"),
            key=state.assignment_id,
            npo_id=state.npo_id,
            record_key=state.assignment_id,
        )

    async def enrolment_request(
        self, config: NpoIntegrationConfig, assignment: CandidateAssignmentEvent
    ) -> EnrolmentRequest:
        request: EnrolmentRequest = await _call_plugin(config, "enrolment_request", assignment, output=EnrolmentRequest)
        return request

    async def unenrol_request(
        self,
        config: NpoIntegrationConfig,
        assignment: CandidateAssignmentEvent,
        npo_enrolment_ref: str,
    ) -> EnrolmentRequest:
        request: EnrolmentRequest = await _call_plugin(
            config, "unenrol_request", assignment, npo_enrolment_ref, output=EnrolmentRequest
        )
        return request

    async def enrolment_ref(
        self, config: NpoIntegrationConfig, body: Any, assignment: CandidateAssignmentEvent
    ) -> str | None:
        ref: str | None = await _call_plugin(config, "enrolment_ref", body, assignment, output=str, optional=True)
        return ref

    async def send(
        self, config: NpoIntegrationConfig, call: HttpCall, idempotency_key: str | None
    ) -> NpoResponse:
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
"""``processor.counters``: ignored, duplicate and stale inputs, outcomes (this worker, since start)."""


@app.agent(enrolment_inputs)
async def enrol_assignments(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        topic, partition = event.message.topic, event.message.partition
        log.debug(
            "enrolment input %s[%d]@%d key=%s",
            topic,
            partition,
            event.message.offset,
            key_of(event.key),
        )
        try:
            message: EnrolmentCommand | CandidateAssignmentEvent = (
                decode(EnrolmentCommand, event.value)
                if topic == COMMANDS_TOPIC
                else decode(CandidateAssignmentEvent, event.value)
            )
        except NpoIntegrationError as exc:
            await dead_letter(
                source_topic=topic,
                reason=str(exc),
                payload=payload_of(event.value),
                key=key_of(event.key),
            )
            continue
        try:
            if isinstance(message, EnrolmentCommand):
                await processor.on_command(message, partition)
            else:
                await processor.on_assignment(message, partition)
        except Exception as exc:  # noqa: BLE001 - the stream must go on; a call in flight has a watchdog
            log.exception("enrolment of key %s failed unexpectedly", key_of(event.key))
            await dead_letter(
                source_topic=topic,
                reason=f"unexpected {type(exc).__name__}: {exc}",
                payload=payload_of(event.value),
                key=key_of(event.key),
            )
