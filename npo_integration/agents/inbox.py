"""Reading an agent's topic as models: what does not parse is dead-lettered and the stream goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from faust import StreamT, TopicT
from pydantic import BaseModel

from npo_integration.dead_letters import dead_letter, payload_of
from npo_integration.models.codec import DecodeError, decode, key_of

M = TypeVar("M", bound=BaseModel)


async def parsed(stream: StreamT[bytes], model: type[M], topic: TopicT, *, keep_payload: bool = True) -> AsyncIterator[M]:
    """Each message as ``model``; yielded inside the event, so table writes land on its partition.

    ``keep_payload=False`` leaves the original out of the dead letter, for topics
    whose messages may carry secrets.
    """
    async for event in stream.events():
        try:
            value = decode(model, event.value)
        except DecodeError as exc:
            await dead_letter(
                source_topic=topic.get_topic_name(),
                reason=str(exc),
                payload=payload_of(event.value) if keep_payload else None,
                key=key_of(event.key),
            )
            continue
        yield value
