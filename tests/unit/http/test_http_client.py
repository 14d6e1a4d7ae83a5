"""NpoHttpClient.request: retries, classification, timeouts, circuit, and what goes on the wire."""

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from npo_integration.http import NpoHttpClient
from npo_integration.http.client import SentRequest
from npo_integration.http.errors import (
    CircuitOpenError,
    NpoRequestError,
    NpoResponseError,
    NpoTimeoutError,
    NpoUnavailableError,
)


class Script:
    """A handler answering from a list of (status, body, headers), then repeating the last one."""

    def __init__(self, *answers: tuple[int, object, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, object]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            {"headers": dict(request.headers), "body": body, "query": dict(request.query)}
        )
        status, payload, headers = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(payload, str):
            return web.Response(status=status, text=payload, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    @property
    def hits(self) -> int:
        return len(self.requests)


OK = (200, {"ok": True}, {})


async def test_429_with_retry_after_then_success(client, serve, config_factory, fake_sleep) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    script = Script(
        (429, {"message": "slow down"}, {"Retry-After": "3"}),
        (429, "", {"Retry-After": later}),
        OK,
    )
    base = await serve(web.get("/x", script.handle))
    response = await client.request(config_factory(base), "GET", "/x")
    assert response.json == {"ok": True} and script.hits == 3
    assert fake_sleep.calls[0] >= 3
    assert 15 <= fake_sleep.calls[1] <= 20


async def test_500_twice_then_success(client, serve, config_factory, fake_sleep) -> None:
    script = Script((500, "oops", {}), (502, "bad gateway", {}), OK)
    base = await serve(web.get("/x", script.handle))
    assert (await client.request(config_factory(base), "GET", "/x")).status == 200
    assert script.hits == 3 and len(fake_sleep.calls) == 2
    assert all(0 <= d <= 1.0 for d in fake_sleep.calls)  # full jitter under base * 2**(n-1)


async def test_persistent_5xx_gives_up_after_max_attempts(client, serve, config_factory) -> None:
    script = Script((503, {"message": "down for maintenance"}, {}))
    base = await serve(web.get("/x", script.handle))
    with pytest.raises(NpoUnavailableError) as info:
        await client.request(config_factory(base), "GET", "/x")
    assert script.hits == 3
    assert info.value.status == 503 and "down for maintenance" in str(info.value)


async def test_permanent_404_is_not_retried(client, serve, config_factory, fake_sleep) -> None:
    script = Script((404, {"message": "course 7 not found"}, {}))
    base = await serve(web.get("/courses/7", script.handle))
    with pytest.raises(NpoRequestError) as info:
        await client.request(config_factory(base), "GET", "/courses/7")
    assert script.hits == 1 and fake_sleep.calls == []
    assert str(info.value) == f"GET {base}/courses/7 -> HTTP 404: course 7 not found"


async def test_retry_false_raises_retriable_errors_at_once(client, serve, config_factory) -> None:
    script = Script((503, "", {"Retry-After": "5"}))
    base = await serve(web.get("/x", script.handle))
    with pytest.raises(NpoUnavailableError) as info:
        await client.request(config_factory(base), "GET", "/x", retry=False)
    assert script.hits == 1 and info.value.retry_after == 5


def hanging(counter: list[dict[str, str]]):
    async def handler(request: web.Request) -> web.Response:
        counter.append(dict(request.headers))
        await asyncio.Event().wait()  # never answers; the client's timeout ends it
        raise AssertionError("unreachable")

    return handler


async def test_get_timeout_is_retried_and_outcome_known(client, serve, config_factory) -> None:
    calls: list[dict[str, str]] = []
    base = await serve(web.get("/slow", hanging(calls)))
    config = config_factory(base, timeout_seconds=0.05, retry={"max_attempts": 2})
    with pytest.raises(NpoTimeoutError) as info:
        await client.request(config, "GET", "/slow")
    assert len(calls) == 2 and info.value.outcome_unknown is False


async def test_post_timeout_means_outcome_unknown_and_is_not_blindly_retried(
    client, serve, config_factory
) -> None:
    calls: list[dict[str, str]] = []
    base = await serve(web.post("/enrol", hanging(calls)))
    config = config_factory(base, timeout_seconds=0.05)
    with pytest.raises(NpoTimeoutError) as info:
        await client.request(config, "POST", "/enrol", json={"user": "u1"})
    assert info.value.outcome_unknown is True and len(calls) == 1


async def test_post_timeout_with_idempotency_key_is_retried_with_the_same_key(
    client, serve, config_factory
) -> None:
    calls: list[dict[str, str]] = []
    base = await serve(web.post("/enrol", hanging(calls)))
    config = config_factory(base, timeout_seconds=0.05)
    with pytest.raises(NpoTimeoutError):
        await client.request(
            config, "POST", "/enrol", json={"user": "u1"}, idempotency_key="enr-42"
        )
    assert [c["Idempotency-Key"] for c in calls] == ["enr-42"] * 3


async def test_connection_refused_is_retriable_with_known_outcome(
    client, serve, config_factory
) -> None:
    base = await serve(web.get("/x", Script(OK).handle))
    port = int(base.rsplit(":", 1)[1])
    closed = f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}"
    with pytest.raises(NpoUnavailableError, match="cannot connect") as info:
        await client.request(config_factory(closed), "POST", "/x", json={}, retry=False)
    assert info.value.outcome_unknown is False


async def test_server_dropping_a_post_means_outcome_unknown(client, serve, config_factory) -> None:
    async def drop(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    base = await serve(web.post("/enrol", drop))
    with pytest.raises(NpoUnavailableError) as info:
        await client.request(config_factory(base), "POST", "/enrol", json={"a": 1})
    assert info.value.outcome_unknown is True


MOODLE_ERROR = {
    "exception": "moodle_exception",
    "errorcode": "invalidtoken",
    "message": "Invalid token - token not found",
}


async def test_moodle_error_inside_a_200_is_an_error_not_data(
    client, serve, config_factory
) -> None:
    script = Script((200, MOODLE_ERROR, {}))
    base = await serve(web.get("/webservice/rest/server.php", script.handle))
    config = config_factory(base, error_in_body={"path": "exception"})
    with pytest.raises(NpoResponseError) as info:
        await client.request(
            config,
            "GET",
            "/webservice/rest/server.php",
            params={"wsfunction": "core_course_get_courses"},
        )
    assert info.value.code == "invalidtoken" and info.value.status == 200
    assert "[invalidtoken] Invalid token - token not found" in str(info.value)
    assert script.hits == 1


async def test_moodle_success_bodies_pass_and_error_check_is_opt_in(
    client, serve, config_factory
) -> None:
    courses = Script((200, [{"id": 1, "fullname": "Intro"}], {}))
    error = Script((200, MOODLE_ERROR, {}))
    base = await serve(web.get("/ok", courses.handle), web.get("/err", error.handle))
    moodle = config_factory(base, error_in_body={})
    assert (await client.request(moodle, "GET", "/ok")).json == [{"id": 1, "fullname": "Intro"}]
    plain = config_factory(base)
    assert (await client.request(plain, "GET", "/err")).json == MOODLE_ERROR


async def test_circuit_opens_fails_fast_then_probes_and_closes(
    client, serve, config_factory, clock
) -> None:
    script = Script((500, "down", {}), (500, "down", {}), OK)
    base = await serve(web.get("/x", script.handle))
    breaker = {"failure_threshold": 2, "reset_after_seconds": 30}
    config = config_factory(base, circuit_breaker=breaker)
    for _ in range(2):
        with pytest.raises(NpoUnavailableError):
            await client.request(config, "GET", "/x", retry=False)
    assert client.circuit_state("test-npo") == "open"
    with pytest.raises(CircuitOpenError) as info:
        await client.request(config, "GET", "/x")  # fails fast, and is not retried
    assert script.hits == 2 and info.value.retry_after == pytest.approx(30)

    clock.advance(30)
    assert client.circuit_state("test-npo") == "half_open"
    assert (await client.request(config, "GET", "/x")).status == 200
    assert client.circuit_state("test-npo") == "closed" and script.hits == 3


async def test_failed_probe_reopens(client, serve, config_factory, clock) -> None:
    script = Script((503, "down", {}))
    base = await serve(web.get("/x", script.handle))
    breaker = {"failure_threshold": 1, "reset_after_seconds": 10}
    config = config_factory(base, circuit_breaker=breaker)
    with pytest.raises(NpoUnavailableError):
        await client.request(config, "GET", "/x", retry=False)
    clock.advance(10)
    with pytest.raises(NpoUnavailableError):
        await client.request(config, "GET", "/x", retry=False)
    assert client.circuit_state("test-npo") == "open" and script.hits == 2


async def test_4xx_does_not_trip_the_circuit(client, serve, config_factory) -> None:
    script = Script((404, "nope", {}))
    base = await serve(web.get("/x", script.handle))
    config = config_factory(base, circuit_breaker={"failure_threshold": 1})
    for _ in range(3):
        with pytest.raises(NpoRequestError):
            await client.request(config, "GET", "/x")
    assert client.circuit_state("test-npo") == "closed" and script.hits == 3


async def test_rate_limit_applies_per_npo(box, serve, config_factory, clock, fake_sleep) -> None:
    script = Script(OK)
    base = await serve(web.get("/x", script.handle))
    limit = {"requests_per_second": 2, "burst": 1}
    limited = config_factory(base, rate_limit=limit)
    other = config_factory(base, npo_id="other-npo", rate_limit=limit)
    async with NpoHttpClient(box, allow_private=True, clock=clock, sleep=fake_sleep) as client:
        for _ in range(3):
            await client.request(limited, "GET", "/x")
        await client.request(other, "GET", "/x")
    assert fake_sleep.calls == [pytest.approx(0.5), pytest.approx(0.5)]


async def test_what_goes_on_the_wire(client, serve, config_factory) -> None:
    script = Script((201, {"id": "enr-1"}, {}))
    base = await serve(web.post("/enrol", script.handle), web.put("/form", script.handle))
    config = config_factory(base, headers={"X-Tenant": "spotlight"})
    response = await client.request(
        config,
        "POST",
        "enrol",
        json={"user": "u1"},
        headers={"X-Trace": "t1"},
        idempotency_key="k-1",
    )
    assert response.status == 201 and response.json == {"id": "enr-1"}
    sent = script.requests[0]
    headers = sent["headers"]
    assert isinstance(headers, dict)
    assert headers["User-Agent"] == "spotlight-npo-integration"
    assert headers["Accept"] == "application/json"
    assert headers["X-Tenant"] == "spotlight" and headers["X-Trace"] == "t1"
    assert headers["Idempotency-Key"] == "k-1"
    assert sent["body"] == b'{"user": "u1"}'

    await client.request(config, "PUT", "/form", form={"userid": "7", "courseid": "9"})
    assert script.requests[1]["body"] == b"userid=7&courseid=9"


async def test_body_size_limit(box, serve, config_factory) -> None:
    base = await serve(web.get("/big", Script((200, "x" * 5000, {})).handle))
    async with NpoHttpClient(box, allow_private=True, max_body_bytes=1000) as client:
        with pytest.raises(NpoResponseError, match="larger than 1000 bytes"):
            await client.request(config_factory(base), "GET", "/big")


async def test_usage_errors(box, config_factory) -> None:
    config = config_factory("https://npo.example.org")
    client = NpoHttpClient(box, allow_private=False)
    with pytest.raises(ValueError, match="either json or form"):
        await client.request(config, "POST", "/x", json={}, form={"a": "b"})
    await client.close()  # closing an unstarted client is fine


async def test_a_request_before_start_opens_the_session(box, serve, config_factory) -> None:
    """Faust starts the worker's services after table recovery; an agent may call an NPO first."""
    script = Script(OK)
    base = await serve(web.get("/x", script.handle))
    client = NpoHttpClient(box, allow_private=True)
    try:
        response = await client.request(config_factory(base), "GET", "/x")
        assert response.status == 200 and len(script.requests) == 1
    finally:
        await client.close()


async def test_an_observer_is_told_of_each_request_sent(box, serve, config_factory) -> None:
    script = Script((500, "oops", {}), OK)
    base = await serve(web.get("/x", script.handle))
    sent: list[SentRequest] = []
    config = config_factory(base, headers={"X-Tenant": "spotlight"})
    async with NpoHttpClient(box, allow_private=True, observer=sent.append) as client:
        with pytest.raises(NpoUnavailableError):
            await client.request(config, "GET", "/x", params={"page": "2"}, retry=False)
        await client.request(config, "GET", "/x")
    assert [(s.method, s.url, s.status) for s in sent] == [
        ("GET", f"{base}/x?page=2", 500),
        ("GET", f"{base}/x", 200),
    ]
    assert sent[0].headers["X-Tenant"] == "spotlight" and sent[0].seconds >= 0
