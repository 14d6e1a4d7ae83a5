"""W3C trace context (``traceparent``) along a record's way: pull, raw record, platform event,
enrolment call, outcome.

A trace starts where work starts: a pull request (``timers/pull_scheduler.request_pull``) or a
platform assignment event (continued from its ``traceparent`` Kafka header, else started).
It travels as the ``traceparent`` header of every Kafka message made for it and of every HTTP
request to the NPO (``http/client.py`` reads :func:`current_traceparent`). With
``OTEL_EXPORTER_OTLP_ENDPOINT`` set, ``otel.py`` records the spans (:func:`export_with`).

The ``trace_id`` fields already stored in topics and tables stay as they are: a new pull's
``trace_id`` is a W3C trace id (32 hex digits), and :func:`w3c_trace_id` maps an older one
(any text) to a stable W3C trace id, so every message of one pull shares one trace id.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final, Protocol

from npo_integration.log_context import log_context

HEADER: Final = "traceparent"
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_INVALID_TRACE_ID: Final = "0" * 32
_INVALID_SPAN_ID: Final = "0" * 16

KafkaHeaders = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class TraceParent:
    """One span's place in a trace: ``00-<trace id>-<parent span id>-<flags>``."""

    trace_id: str
    span_id: str
    flags: str = "01"

    def __str__(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def headers(self) -> KafkaHeaders:
        """As Kafka message headers."""
        return ((HEADER, str(self).encode()),)


def _new_span_id() -> str:
    """Random, not secret (W3C asks for uniqueness; OpenTelemetry's SDK draws ids the same way):
    every event published gets one, and the OS's random source showed in the profile of
    ingesting changed records (about 2%)."""
    while True:
        span = f"{random.getrandbits(64):016x}"
        if span != _INVALID_SPAN_ID:
            return span


def new_trace_id() -> str:
    """A fresh W3C trace id (what a new pull's ``trace_id`` field holds)."""
    while True:
        trace = secrets.token_hex(16)
        if trace != _INVALID_TRACE_ID:
            return trace


def w3c_trace_id(trace_id: str) -> str:
    """The W3C trace id of a ``trace_id`` field: itself if it is one (every pull's since
    tracing, and the uuid hex of earlier ones), else a stable hash of it (older or hand-made)."""
    if _TRACE_ID.match(trace_id) and trace_id != _INVALID_TRACE_ID:
        return trace_id
    return hashlib.sha256(trace_id.encode()).hexdigest()[:32]


def start(trace_id: str | None = None) -> TraceParent:
    """A root span: of the trace ``trace_id`` (a ``trace_id`` field), else a new trace."""
    return TraceParent(w3c_trace_id(trace_id) if trace_id else new_trace_id(), _new_span_id())


def parse(value: str | bytes | None) -> TraceParent | None:
    """A ``traceparent`` value, or ``None`` when absent or malformed (W3C: then start anew)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == _INVALID_TRACE_ID or span_id == _INVALID_SPAN_ID:
        return None
    return TraceParent(trace_id, span_id, flags)


Headers = Iterable[tuple[str, bytes | None]] | Mapping[str, bytes | None] | None
"""Kafka message headers as clients hand them over: pairs (aiokafka) or a mapping (Faust)."""


def from_headers(headers: Headers) -> TraceParent | None:
    """The ``traceparent`` among Kafka message headers (the first), or ``None``."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if name.lower() == HEADER:
            return parse(value)
    return None


class SpanExporting(Protocol):
    """Where spans are recorded when exporting is on (``otel.py``); none by default (no cost)."""

    def span(
        self, name: str, trace_id: str, parent: TraceParent | None
    ) -> AbstractContextManager[TraceParent]:
        """A recorded span of trace ``trace_id``, a child of ``parent`` (else a root)."""


_exporting: SpanExporting | None = None


def export_with(exporting: SpanExporting | None) -> None:
    """Record every span from now on through ``exporting`` (``None``: stop)."""
    global _exporting
    _exporting = exporting


_current: ContextVar[TraceParent | None] = ContextVar("npo_traceparent", default=None)


def current_traceparent() -> TraceParent | None:
    """The span the running code belongs to (set by :func:`traced`), or ``None``."""
    return _current.get()


def current_headers() -> KafkaHeaders:
    """Kafka headers for a message sent now: the current span as its parent (none outside)."""
    span = _current.get()
    return span.headers() if span is not None else ()


def headers_for(trace_id: str) -> KafkaHeaders:
    """Kafka headers for a message of the trace ``trace_id`` (a ``trace_id`` field): the current
    span when it is of that trace, else a span of its own in it."""
    span = _current.get()
    wanted = w3c_trace_id(trace_id)
    if span is not None and span.trace_id == wanted:
        return span.headers()
    return start(wanted).headers()


@contextmanager
def traced(
    name: str, *, parent: TraceParent | None = None, trace_id: str | None = None
) -> Iterator[TraceParent]:
    """The span of one piece of work: a child of ``parent`` (a message's ``traceparent``), else
    a root span of the trace ``trace_id`` (a ``trace_id`` field), else of a new trace.

    Within the block, NPO requests and messages sent carry it, and log lines its trace id
    (``trace_id`` of :func:`~npo_integration.log_context.log_context`)."""
    trace = parent.trace_id if parent is not None else None
    trace = trace or (w3c_trace_id(trace_id) if trace_id else new_trace_id())
    recorded = (
        _exporting.span(name, trace, parent)
        if _exporting is not None
        else nullcontext(TraceParent(trace, _new_span_id(), parent.flags if parent else "01"))
    )
    with recorded as span:
        token = _current.set(span)
        try:
            with log_context(trace_id=span.trace_id):
                yield span
        finally:
            _current.reset(token)
