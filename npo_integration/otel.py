"""Exporting spans through the OpenTelemetry SDK, only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Unset (the default), nothing of OpenTelemetry is imported or started: ``tracing.py`` makes its
``traceparent`` headers on its own. Set, the worker records a span per pull and per enrolment
(``tracing.traced``), each NPO request as a child span of it (aiohttp client
instrumentation, which then writes the request's ``traceparent``), and exports them over
OTLP/HTTP (the SDK reads ``OTEL_EXPORTER_OTLP_*``, ``OTEL_SERVICE_NAME`` and the like itself).

A pull's span is a root span of the pull's own trace id (the ``trace_id`` field every message
of the pull carries), so the exported trace and the Kafka headers agree.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from npo_integration import tracing

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME = "npo-integration"


def start_exporting() -> bool:
    """With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, export spans over OTLP/HTTP; whether it did.
    Call before the NPO HTTP client's session is opened (the instrumentation hooks new ones)."""
    if not os.environ.get(ENDPOINT_VARIABLE):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    record_spans(BatchSpanProcessor(OTLPSpanExporter()))
    return True


def record_spans(processor: SpanProcessor) -> TracerProvider:
    """Spans of pulls, enrolments and NPO requests go to ``processor`` from now on (the
    provider is returned so a test can shut it down)."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from npo_integration.otel_spans import ForcedTraceIds, SdkSpans

    ids = ForcedTraceIds()
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME}
        ),
        id_generator=ids,
    )
    provider.add_span_processor(processor)
    # The query is left out of the recorded URL: an auth query parameter or personal data
    # may be in it (the NPO client's own log lines leave secret parameters out the same way).
    AioHttpClientInstrumentor().instrument(
        tracer_provider=provider, url_filter=lambda url: str(url.with_query(None))
    )
    tracing.export_with(SdkSpans(provider, ids))
    return provider


def stop_recording() -> None:
    """Undo :func:`record_spans` (tests)."""
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    AioHttpClientInstrumentor().uninstrument()
    tracing.export_with(None)
