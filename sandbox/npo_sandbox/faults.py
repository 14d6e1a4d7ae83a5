"""Fault injection: slow, dead or misbehaving NPOs on demand.

Faults are set per NPO and per endpoint kind (or ``any``). Latency and
``down`` apply to every request; ``fail_next`` is a queue of one-shot faults,
each consumed by one authenticated request, so a test can script the exact
failure sequence a client must survive. ``rename_fields`` is schema drift: every record the
endpoint answers with has those top-level fields renamed, until the fault is cleared.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .reqkeys import ABORTED

if TYPE_CHECKING:
    from .state import SimulatedNpo

log = logging.getLogger(__name__)

EndpointKind = Literal[
    "offerings", "progress", "enrol", "unenrol", "token", "lookup", "other", "any"
]
Proceed = Callable[[], Awaitable[web.StreamResponse]]
BadBody = Literal[
    "deep_body", "not_utf8", "oversized_record", "deep_record", "truncated", "reset_mid_body"
]
"""Hostile answers: a body nested 5000 levels deep; the real answer with bytes that are not UTF-8
in a record; the real answer with a first record of 2 MB, or nested 200 levels deep; the first
half of the real answer as a complete response (truncated JSON); the real answer's headers and
first half, then the connection reset (``reset_mid_body``)."""
DEEP_LEVELS = 5000


MOODLE_INVALID_TOKEN = {
    "exception": "moodle_exception",
    "errorcode": "invalidtoken",
    "message": "Invalid token",
}


class FaultAction(BaseModel):
    """One one-shot fault; exactly one of the trigger fields is set."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=None, ge=100, le=599)
    retry_after: int | str | None = None
    malformed: bool = False
    content_type: str = "text/html"
    wrong_shape: bool = False
    body: Any = None
    hang_ms: int | None = Field(default=None, ge=0)
    error_in_200: bool = False
    commit_then_hang_ms: int | None = Field(default=None, ge=0)
    commit_then_status: int | None = Field(default=None, ge=500, le=599)
    bad_body: BadBody | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> FaultAction:
        triggers = [
            self.status is not None,
            self.malformed,
            self.wrong_shape,
            self.hang_ms is not None,
            self.error_in_200,
            self.commit_then_hang_ms is not None,
            self.commit_then_status is not None,
            self.bad_body is not None,
        ]
        if sum(triggers) != 1:
            raise ValueError(
                "a fault needs exactly one of status, malformed, wrong_shape, hang_ms, "
                "error_in_200, commit_then_hang_ms, commit_then_status, bad_body"
            )
        return self


@dataclass(slots=True)
class FaultSpec:
    """Standing faults of one endpoint kind of one NPO."""

    latency_ms: int | None = None
    down: bool = False
    down_mode: Literal["503", "reset"] = "503"
    fail_next: deque[FaultAction] = field(default_factory=deque)
    rename_fields: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "rename_fields": dict(self.rename_fields),
            "latency_ms": self.latency_ms,
            "down": self.down,
            "down_mode": self.down_mode,
            "fail_next": [a.model_dump(exclude_defaults=True) for a in self.fail_next],
        }


class FaultUpdate(BaseModel):
    """Admin request body: set fields override, ``fail_next`` entries are appended."""

    model_config = ConfigDict(extra="forbid")

    endpoint: EndpointKind = "any"
    latency_ms: int | None = Field(default=None, ge=0)
    down: bool | None = None
    down_mode: Literal["503", "reset"] | None = None
    fail_next: list[FaultAction] = Field(default_factory=list)
    rename_fields: dict[str, str] | None = Field(
        default=None, description="old -> new top-level field name in every answered record"
    )


def apply_update(faults: dict[str, FaultSpec], update: FaultUpdate) -> None:
    """Merge ``update`` into an NPO's faults."""
    spec = faults.setdefault(update.endpoint, FaultSpec())
    if update.latency_ms is not None:
        spec.latency_ms = update.latency_ms
    if update.down is not None:
        spec.down = update.down
    if update.down_mode is not None:
        spec.down_mode = update.down_mode
    if update.rename_fields is not None:
        spec.rename_fields = dict(update.rename_fields)
    spec.fail_next.extend(update.fail_next)


def _specs(npo: SimulatedNpo, kind: str) -> list[FaultSpec]:
    """The kind's own faults first, then the NPO-wide ``any`` faults."""
    return [spec for spec in (npo.faults.get(kind), npo.faults.get("any")) if spec is not None]


async def before_auth(request: web.Request, npo: SimulatedNpo, kind: str) -> web.Response | None:
    """Apply latency, then ``down``; a response means the request ends here."""
    specs = _specs(npo, kind)
    if not specs:
        return None
    latency = next((s.latency_ms for s in specs if s.latency_ms is not None), None)
    if latency:
        await asyncio.sleep(latency / 1000)
    down = next((s for s in specs if s.down), None)
    if down is None:
        return None
    if down.down_mode == "reset":
        log.debug("npo %s is down: dropping connection", npo.npo_id)
        request[ABORTED] = True
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=503)
    return web.json_response({"error": "unavailable", "message": "NPO is down"}, status=503)


def renamed(npo: SimulatedNpo, kind: str, response: web.StreamResponse) -> web.StreamResponse:
    """The answer with the ``rename_fields`` of its records applied (schema drift), if any."""
    renames = next((s.rename_fields for s in _specs(npo, kind) if s.rename_fields), None)
    body = getattr(response, "body", None)
    if not renames or not isinstance(body, bytes) or response.status != 200:
        return response
    document = json.loads(body)
    todo = [document]
    while todo:  # every object inside a list is a record
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            for record in item:
                if isinstance(record, dict):
                    for old, new in renames.items():
                        if old in record:
                            record[new] = record.pop(old)
            todo.extend(item)
    return web.json_response(document, status=response.status)


def take_action(npo: SimulatedNpo, kind: str) -> FaultAction | None:
    """Pop the next one-shot fault for this kind, or from ``any``."""
    for spec in _specs(npo, kind):
        if spec.fail_next:
            return spec.fail_next.popleft()
    return None


async def perform(
    action: FaultAction, proceed: Proceed, request: web.Request | None = None
) -> web.StreamResponse:
    """Answer as ``action`` says, calling ``proceed`` when the real handler must run."""
    if action.status is not None:
        headers = {"Retry-After": str(action.retry_after)} if action.retry_after is not None else {}
        body = {"error": "injected_fault", "status": action.status}
        return web.json_response(body, status=action.status, headers=headers)
    if action.malformed:
        return web.Response(
            body=b"<html>oops</html>", status=200, headers={"Content-Type": action.content_type}
        )
    if action.wrong_shape:
        return web.json_response(action.body if action.body is not None else "unexpected")
    if action.error_in_200:
        return web.json_response(MOODLE_INVALID_TOKEN)
    if action.bad_body is not None:
        return await _bad_body(action.bad_body, proceed, request)
    if action.hang_ms is not None:
        await asyncio.sleep(action.hang_ms / 1000)
        return await proceed()
    response = await proceed()
    if action.commit_then_status is not None:
        # A gateway gave up on the application, which went on and committed (a 504's HTML page).
        status = action.commit_then_status
        page = f"<html><body><h1>{status} Gateway Error</h1></body></html>"
        return web.Response(text=page, status=status, content_type="text/html")
    await asyncio.sleep((action.commit_then_hang_ms or 0) / 1000)
    return response


_MARK = "\x00not-utf8\x00"


def _first_record(document: Any) -> dict[str, Any] | None:
    """The first object inside a list (a record of the page), breadth first."""
    todo = [document]
    while todo:
        item = todo.pop(0)
        if isinstance(item, list):
            found = next((x for x in item if isinstance(x, dict)), None)
            if found is not None:
                return found
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.values())
    return None


async def _cut_body(request: web.Request, body: bytes, reset: bool) -> web.StreamResponse:
    """Half of ``body``: as the whole answer, or announced in full and cut by a reset."""
    half = body[: len(body) // 2]
    if not reset:
        return web.Response(body=half, headers={"Content-Type": "application/json"})
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(half)
    request[ABORTED] = True
    if request.transport is not None:
        request.transport.abort()
    return response


async def _bad_body(
    kind: BadBody, proceed: Proceed, request: web.Request | None = None
) -> web.StreamResponse:
    if kind in ("truncated", "reset_mid_body"):
        response = await proceed()
        body = getattr(response, "body", None)
        if not isinstance(body, bytes) or request is None:
            return response
        return await _cut_body(request, body, reset=kind == "reset_mid_body")
    if kind == "deep_body":
        text = '{"data": ' + "[" * DEEP_LEVELS + "]" * DEEP_LEVELS + "}"
        return web.Response(text=text, content_type="application/json")
    response = await proceed()
    body = getattr(response, "body", None)
    if not isinstance(body, bytes):
        return response
    document = json.loads(body)
    record = _first_record(document)
    if record is None:
        return response
    if kind == "deep_record":
        nested: Any = "bottom"
        for _ in range(200):
            nested = [nested]
        record["nested"] = nested
    elif kind == "oversized_record":
        record["padding"] = "x" * (2 * 1024 * 1024)
    else:  # not_utf8: the longest text of the record gets two bytes that are not UTF-8
        texts = [k for k, v in record.items() if isinstance(v, str)]
        if not texts:
            return response
        key = max(texts, key=lambda k: len(record[k]))
        record[key] += _MARK
    raw = json.dumps(document, ensure_ascii=False).encode()
    raw = raw.replace(json.dumps(_MARK)[1:-1].encode(), b"\xff\xfe")
    return web.Response(
        body=raw, status=response.status, headers={"Content-Type": "application/json"}
    )
