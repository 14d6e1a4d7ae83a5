"""An NPO assessed on the platform brings its API details: they become a config command.

The platform may send credentials in clear on its own topic; they are sealed
here, before anything of this service stores or forwards them. Messages are
taken in batches and their commands sent together (one wait for all), so a
platform onboarding thousands of NPOs at once is not one broker round trip each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from faust import StreamT
from faust.types import EventT

from npo_integration.agents.batches import partition_batches
from npo_integration.agents.dead_letters import dead_letter, payload_of
from npo_integration.app import app
from npo_integration.errors import NpoIntegrationError
from npo_integration.models.assessment import NpoAssessed
from npo_integration.models.codec import MAX_PLATFORM_MESSAGE_BYTES, key_of
from npo_integration.models.internal import ConfigCommand
from npo_integration.registry.config_input import decode_with_config
from npo_integration.registry.redaction import redact_document
from npo_integration.retry_policy import UNTIL_DONE, RetryPolicy
from npo_integration.timers.periodic import owned_partitions
from npo_integration.topics import config_commands, npo_assessed
from npo_integration.worker_resources import config_submitter

log = logging.getLogger(__name__)

BATCH = 500
"""npo-assessed messages taken together."""
SEND_RETRY = RetryPolicy(max_attempts=UNTIL_DONE, base_seconds=0.5, max_seconds=5.0, jitter="none")
"""A batch's commands are sent again until the broker has them all (its messages stay unacked)."""


def _command(event: EventT[bytes], letters: list[Awaitable[None]]) -> ConfigCommand | None:
    """The sealed upsert the message asks for; ``None`` when there is nothing to
    integrate or it is refused (its dead letter added to ``letters``, to send)."""
    try:
        assessed = decode_with_config(
            NpoAssessed, event.value, at=("integration",), max_bytes=MAX_PLATFORM_MESSAGE_BYTES
        )
    except NpoIntegrationError as exc:
        # Unparsed: where its secrets are is unknown, so it is kept only as a masked summary.
        letters.append(_dead_letter(event, str(exc), payload_of(event.value)))
        return None
    try:
        if assessed.integration is None:
            log.info("NPO %s assessed without an API; nothing to integrate", assessed.npo_id)
            return None
        if assessed.integration.npo_id != assessed.npo_id:
            raise NpoIntegrationError(
                f"integration.npo_id {assessed.integration.npo_id!r} "
                f"does not match npo_id {assessed.npo_id!r}"
            )
        return config_submitter.upsert_command(assessed.integration, "npo-assessed")
    except NpoIntegrationError as exc:
        # Parsed, then refused: kept as sent, secrets and credential-looking values masked.
        shown = assessed.model_dump(mode="json", context={"redact": True}, exclude_unset=True)
        letters.append(
            _dead_letter(event, str(exc), redact_document(shown), npo_id=assessed.npo_id)
        )
        return None


async def _dead_letter(
    event: EventT[bytes], reason: str, payload: Any, *, npo_id: str | None = None
) -> None:
    await dead_letter(
        source_topic=npo_assessed.get_topic_name(),
        reason=reason,
        payload=payload,
        key=key_of(event.key),
        npo_id=npo_id,
    )


@app.agent(npo_assessed)
async def register_assessed_npos(stream: StreamT[bytes]) -> None:
    async for groups in partition_batches(app, stream, size=BATCH):
        # made one after another, not a task each: nothing in the making waits
        letters: list[Awaitable[None]] = []
        commands = [c for _, events in groups for e in events if (c := _command(e, letters))]
        if letters:
            await asyncio.gather(*letters)
        # this worker's config agent applies the commands of the partitions it owns from the
        # objects made here (no second decode); no wait for it: an agent waiting on another
        # agent of the same worker holds the consumer, which feeds both (Faust's flow control)
        applied_here = owned_partitions(config_commands)
        attempt = 0
        while True:  # the batch is acknowledged only once its commands are durable: nothing is lost
            try:
                await config_submitter.send_commands(commands, applied_here=applied_here)
                break
            except Exception as exc:
                attempt += 1
                delay = SEND_RETRY.delay(attempt)
                log.warning(
                    "%d config command(s) not sent (%r); again in %.1fs", len(commands), exc, delay
                )
                await asyncio.sleep(delay)
