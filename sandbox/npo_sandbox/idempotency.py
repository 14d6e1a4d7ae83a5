"""Idempotency-Key handling shared by every flavour's enrol endpoint.

A client that times out cannot know whether its enrolment happened; replaying
the first answer for a repeated key lets it retry safely. NPOs configured with
``honours_idempotency: false`` ignore the header, so tests can prove the client
copes (by looking the enrolment up) when an NPO offers no such guarantee.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from .reqkeys import TOUCHED_ENROLMENTS
from .state import EnrolmentRecord, StoredReply

if TYPE_CHECKING:
    from .faults import Proceed
    from .state import SimulatedNpo

IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(request: web.Request) -> str | None:
    return request.headers.get(IDEMPOTENCY_HEADER) or None


def note_enrolment(request: web.Request, record: EnrolmentRecord) -> EnrolmentRecord:
    """Tell the guard which enrolment answered this request (new or existing)."""
    request.setdefault(TOUCHED_ENROLMENTS, []).append(record)
    return record


async def guard(request: web.Request, npo: SimulatedNpo, proceed: Proceed) -> web.StreamResponse:
    """Run an enrol handler at most once per key; repeats get the stored answer.

    Only answers that enrolled someone are stored, so a request rejected for
    bad input can be corrected and retried under the same key.
    """
    key = idempotency_key(request)
    if key is None or not npo.options.honours_idempotency:
        return await proceed()
    async with npo.key_locks.setdefault(key, asyncio.Lock()):
        stored = npo.replies.get(key)
        if stored is not None:
            for record in stored.enrolments:
                record.count += 1
            headers = {"Content-Type": stored.content_type, "Idempotent-Replayed": "true"}
            return web.Response(body=stored.body, status=stored.status, headers=headers)
        response = await proceed()
        touched: list[EnrolmentRecord] = request.get(TOUCHED_ENROLMENTS, [])
        if touched and isinstance(response, web.Response) and 200 <= response.status < 300:
            body = response.body if isinstance(response.body, bytes) else b""
            content_type = response.headers.get("Content-Type", "application/json")
            npo.replies[key] = StoredReply(response.status, body, content_type, touched)
        return response
