"""W3C trace context: parsing, continuing a platform's trace, Kafka headers, the NPO header and
the log context's trace id."""

from __future__ import annotations

import uuid

from aiohttp import web

from npo_integration import otel, tracing
from npo_integration.log_context import current_log_context

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PULL = uuid.uuid4().hex


def test_a_valid_traceparent_is_parsed_and_written_back_unchanged() -> None:
    span = tracing.parse(VALID)
    assert span == tracing.TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert str(span) == VALID and tracing.parse(VALID.encode()) == span


def test_a_malformed_or_invalid_traceparent_is_none() -> None:
    for bad in (
        None,
        "",
        "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # no flags
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        VALID + "-extra",  # version 00 has nothing after the flags
    ):
        assert tracing.parse(bad) is None, bad


def test_a_uuid_trace_id_is_its_own_w3c_trace_id_and_an_older_one_maps_stably() -> None:
    hex_id = uuid.uuid4().hex
    assert tracing.w3c_trace_id(hex_id) == hex_id
    legacy = tracing.w3c_trace_id("trace-fetch")
    assert legacy == tracing.w3c_trace_id("trace-fetch") and len(legacy) == 32
    assert tracing.parse(str(tracing.start("trace-fetch"))) is not None
    assert tracing.new_trace_id() != tracing.new_trace_id()


def test_a_message_with_a_traceparent_is_continued_and_one_without_starts_a_trace() -> None:
    parent = tracing.parse(VALID)
    assert parent is not None
    for headers in ([("other", b"x"), ("traceparent", VALID.encode())], {"traceparent": VALID}):
        found = tracing.from_headers(headers)
        assert found == parent
        with tracing.traced("enrolment", parent=found) as span:
            assert span.trace_id == parent.trace_id and span.span_id != parent.span_id
    assert tracing.from_headers(None) is None
    assert tracing.from_headers([("traceparent", b"nonsense")]) is None
    with tracing.traced("enrolment", parent=None) as fresh:
        assert fresh.trace_id != parent.trace_id
    with tracing.traced("pull", trace_id="trace") as pull:
        assert pull.trace_id == tracing.w3c_trace_id("trace")


def test_inside_a_traced_block_messages_name_its_span_and_logs_carry_its_trace_id() -> None:
    assert tracing.current_headers() == ()
    with tracing.traced("pull") as span:
        assert current_log_context()["trace_id"] == span.trace_id
        [(name, value)] = tracing.current_headers()
        assert name == "traceparent" and tracing.parse(value) == span
        assert tracing.headers_for(span.trace_id) == span.headers()
        # a message of another trace (a raw record fetched by another pull) keeps its own
        [(_, other)] = tracing.headers_for("trace")
        assert tracing.parse(other).trace_id == tracing.w3c_trace_id("trace")  # type: ignore[union-attr]
    assert tracing.current_traceparent() is None and "trace_id" not in current_log_context()


async def test_the_npo_gets_the_traceparent_of_the_current_span_and_none_outside(
    client, serve, config_factory
) -> None:
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("traceparent"))
        return web.json_response({})

    config = config_factory(await serve(web.get("/x", handle)))
    await client.request(config, "GET", "/x")
    with tracing.traced("pull") as span:
        await client.request(config, "GET", "/x")
    assert seen[0] is None and tracing.parse(seen[1]) == span


async def test_with_exporting_on_spans_are_recorded_with_the_npo_request_as_a_child(
    client, serve, config_factory
) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("traceparent"))
        return web.json_response({})

    base = await serve(web.get("/x", handle))
    exported = InMemorySpanExporter()
    provider = otel.record_spans(SimpleSpanProcessor(exported))
    try:
        config = config_factory(base)
        await client.close()  # the instrumentation hooks sessions opened from now on
        await client.start()
        with tracing.traced("pull", trace_id=PULL) as pull:
            await client.request(config, "GET", "/x", params={"api_key": "s3cret"})
        platform = tracing.parse(VALID)
        with tracing.traced("enrolment", parent=platform) as enrolment:
            pass
    finally:
        otel.stop_recording()
        provider.shutdown()
    spans = {s.name: s for s in exported.get_finished_spans()}
    root, call = spans["pull"], spans["GET"]
    assert f"{root.context.trace_id:032x}" == PULL == pull.trace_id  # the pull's own trace id
    assert root.parent is None and f"{root.context.span_id:016x}" == pull.span_id
    assert call.parent is not None and call.parent.span_id == root.context.span_id
    assert not [v for v in (call.attributes or {}).values() if "s3cret" in str(v)]  # no query
    sent = tracing.parse(seen[0])  # the NPO saw the HTTP client span as the parent
    assert sent is not None and sent.trace_id == PULL
    assert sent.span_id == f"{call.context.span_id:016x}"
    child = spans["enrolment"]
    assert platform is not None and child.parent is not None and child.parent.is_remote
    assert f"{child.parent.span_id:016x}" == platform.span_id
    assert f"{child.context.trace_id:032x}" == platform.trace_id == enrolment.trace_id


def test_without_the_endpoint_nothing_of_opentelemetry_is_started(monkeypatch) -> None:
    monkeypatch.delenv(otel.ENDPOINT_VARIABLE, raising=False)
    assert otel.start_exporting() is False
    with tracing.traced("pull") as span:
        assert span.trace_id  # made by tracing.py alone
