"""The OpenTelemetry SDK side of ``tracing.traced`` (imported only when exporting is on)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from npo_integration.tracing import TraceParent

_forced_trace_id: ContextVar[int | None] = ContextVar("npo_forced_trace_id", default=None)


class ForcedTraceIds(RandomIdGenerator):
    """Random ids, but a root span started by :class:`SdkSpans` gets the trace id it asks for
    (a pull's ``trace_id``): the SDK lets no caller choose it otherwise."""

    def generate_trace_id(self) -> int:
        forced = _forced_trace_id.get()
        return forced if forced is not None else super().generate_trace_id()


class SdkSpans:
    """``tracing.SpanExporting`` through an SDK tracer provider."""

    def __init__(self, provider: TracerProvider, ids: ForcedTraceIds) -> None:
        self._tracer = provider.get_tracer("npo_integration")
        self._ids = ids

    @contextmanager
    def span(self, name: str, trace_id: str, parent: TraceParent | None) -> Iterator[TraceParent]:
        if parent is not None:  # a remote parent: the platform's span (or another service's)
            remote = SpanContext(
                int(parent.trace_id, 16),
                int(parent.span_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(int(parent.flags, 16)),
            )
            context = trace.set_span_in_context(NonRecordingSpan(remote))
            token = None
        else:  # a root span of the given trace id; no outer span may be its parent
            context = trace.set_span_in_context(trace.INVALID_SPAN)
            token = _forced_trace_id.set(int(trace_id, 16))
        try:
            span = self._tracer.start_span(name, context=context)
        finally:
            if token is not None:
                _forced_trace_id.reset(token)
        own = span.get_span_context()
        with trace.use_span(span, end_on_exit=True):  # records an exception, ends the span
            yield TraceParent(
                f"{own.trace_id:032x}", f"{own.span_id:016x}", f"{int(own.trace_flags):02x}"
            )
