"""Reading an agent's topic as models: what does not parse is
dead-lettered and the stream goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

from faust import StreamT, TopicT
from faust.types import EventT
from pydantic import BaseModel, TypeAdapter

from npo_integration.agents.dead_letters import dead_letter, payload_of
from npo_integration.models.codec import DecodeError, decode, key_of

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


async def parsed(stream: StreamT[bytes], model: type[M], topic: TopicT) -> AsyncIterator[M]:
    """Each message as ``model``; yielded inside the event, so table writes land on its partition.

    A message that does not parse is dead-lettered as ``payload_of`` describes it, not in full.
    """
    async for event in stream.events():
        try:
            value = decode(model, event.value)
        except DecodeError as exc:
            await dead_letter(
                source_topic=topic.get_topic_name(),
                reason=str(exc),
                payload=payload_of(event.value),
                key=key_of(event.key),
            )
            continue
        yield value


async def decoded(
    events: Sequence[EventT[bytes]], model: type[M] | TypeAdapter[T], topic: TopicT
) -> list[Any]:
    """A batch's messages as ``model`` (a model or a type adapter), in order; what does
    not parse is dead-lettered."""
    values: list[Any] = []
    letters = []
    for event in events:
        try:
            values.append(decode(model, event.value))
        except DecodeError as exc:
            letters.append(
                dead_letter(
                    source_topic=topic.get_topic_name(),
                    reason=str(exc),
                    payload=payload_of(event.value),
                    key=key_of(event.key),
                )
            )
    if letters:
        await asyncio.gather(*letters)
    return values
