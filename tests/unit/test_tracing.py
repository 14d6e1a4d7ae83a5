"""W3C trace context: parsing, continuing a platform's trace, Kafka headers, the NPO header and
the log context's trace id."""

from __future__ import annotations

import uuid

from aiohttp import web

from npo_integration import tracing
from npo_integration.log_context import current_log_context

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


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
        span = tracing.continued(headers)
        assert span.trace_id == parent.trace_id and span.span_id != parent.span_id
    fresh = tracing.continued(None)
    bad = tracing.continued([("traceparent", b"nonsense")])
    assert len({fresh.trace_id, bad.trace_id, parent.trace_id}) == 3


def test_inside_a_traced_block_messages_are_child_spans_and_logs_carry_the_trace_id() -> None:
    span = tracing.start()
    assert tracing.current_headers() == ()
    with tracing.traced(span):
        assert current_log_context()["trace_id"] == span.trace_id
        [(name, value)] = tracing.current_headers()
        child = tracing.parse(value)
        assert name == "traceparent" and child is not None
        assert child.trace_id == span.trace_id and child.span_id != span.span_id
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
    span = tracing.start()
    with tracing.traced(span):
        await client.request(config, "GET", "/x")
    assert seen[0] is None
    sent = tracing.parse(seen[1])
    assert sent is not None and sent.trace_id == span.trace_id and sent.span_id != span.span_id
