"""An NPO assessed on the platform brings its API details: they become a config command.

The platform may send credentials in clear on its own topic; they are sealed
here, before anything of this service stores or forwards them.
"""

from __future__ import annotations

import logging

from faust import StreamT

from npo_integration.app import app
from npo_integration.dead_letters import dead_letter, payload_of
from npo_integration.errors import NpoIntegrationError
from npo_integration.models.codec import decode, key_of
from npo_integration.models.events import NpoAssessed
from npo_integration.registry.redaction import redact_document
from npo_integration.registry.submit import send_command, upsert_command
from npo_integration.topics import npo_assessed

log = logging.getLogger(__name__)


@app.agent(npo_assessed)
async def register_assessed_npos(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        try:
            assessed = decode(NpoAssessed, event.value)
            if assessed.integration is None:
                log.info("NPO %s assessed without an API; nothing to integrate", assessed.npo_id)
                continue
            if assessed.integration.npo_id != assessed.npo_id:
                raise NpoIntegrationError(
                    f"integration.npo_id {assessed.integration.npo_id!r} does not match npo_id {assessed.npo_id!r}"
                )
            command = upsert_command(assessed.integration, "npo-assessed")
        except NpoIntegrationError as exc:
            await dead_letter(
                source_topic=npo_assessed.get_topic_name(),
                reason=str(exc),
                payload=redact_document(payload_of(event.value)),
                key=key_of(event.key),
            )
            continue
        await send_command(command)
