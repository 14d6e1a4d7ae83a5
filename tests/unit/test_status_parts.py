"""The parts of the status views and /ops that need no worker: the dead-letter window, the recent
pulls, the ops session and CSRF tokens, and the escaping of what the pages show."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import make_mocked_request
from pydantic import SecretStr

from npo_integration.app import settings
from npo_integration.models.state import PullState, StreamPullState
from npo_integration.models.status import DeadLetterWindow, RecentDeadLetter
from npo_integration.pull.recent import RecentPulls
from npo_integration.views import admin_auth, ops_auth, ops_html

NOW = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def letter(event_id: str, at: datetime) -> RecentDeadLetter:
    return RecentDeadLetter(event_id=event_id, at=at, source_topic="raw", reason="no title")


def test_the_dead_letter_window_counts_the_last_24_hours_once_per_letter() -> None:
    window = DeadLetterWindow(npo_id="n")
    for i, hours_ago in enumerate([0, 1, 23, 25, 30]):
        window = window.with_letter(letter(f"e{i}", NOW - timedelta(hours=hours_ago)), NOW)
    assert window.last_24h(NOW) == 3
    assert window.with_letter(letter("e0", NOW), NOW).last_24h(NOW) == 3  # redelivered
    assert window.last_24h(NOW + timedelta(hours=2)) == 2
    assert len(window.hourly) == 3  # hours older than the window are dropped
    many = window
    for i in range(20):
        many = many.with_letter(letter(f"m{i}", NOW), NOW)
    assert len(many.recent) == 10 and many.recent[0].at == NOW


def run(stream: str, **fields: object) -> PullState:
    return PullState(npo_id="n", streams={stream: StreamPullState(**fields)})  # type: ignore[arg-type]


def test_recent_pulls_follow_the_pull_states_a_worker_writes() -> None:
    recent = RecentPulls(runs=2, npos=2)
    old = NOW - timedelta(days=1)
    # a first write seen while running starts a run: the stored last success is not a new run
    recent.observe(run("offerings", running_since=NOW, last_success_at=old))
    assert recent.of("n") == []
    recent.observe(run("offerings", last_success_at=NOW, records_last_run=4))
    recent.observe(run("offerings", running_since=NOW, last_success_at=NOW))
    later = NOW + timedelta(minutes=5)
    failed = run("offerings", last_success_at=NOW, last_error_at=later, last_error="HTTP 500")
    recent.observe(failed)
    recent.observe(failed)  # the same state again is no new run
    runs = recent.of("n")
    assert [(r.ok, r.records, r.error) for r in runs] == [(False, 0, "HTTP 500"), (True, 4, None)]
    for npo_id in ("a", "b"):
        recent.observe(
            PullState(npo_id=npo_id, streams={"offerings": StreamPullState(last_success_at=NOW)})
        )
    assert recent.of("n") == [] and len(recent.of("b")) == 1  # the NPOs pulled most lately


def test_recent_pulls_drop_only_the_npo_that_leaves_the_list() -> None:
    recent = RecentPulls(runs=2, npos=2)
    for npo_id in ("a", "b", "c"):  # "a" leaves the list when "c" comes
        recent.observe(
            PullState(npo_id=npo_id, streams={"offerings": StreamPullState(last_success_at=NOW)})
        )
    # "b" stayed: the same state written again (a cursor saved, a retry due) is no new run
    recent.observe(
        PullState(npo_id="b", streams={"offerings": StreamPullState(last_success_at=NOW)})
    )
    assert recent.of("a") == [] and len(recent.of("b")) == 1 and len(recent.of("c")) == 1


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    value = secrets.token_urlsafe(32)
    monkeypatch.setattr(
        admin_auth, "settings", settings.model_copy(update={"admin_token": SecretStr(value)})
    )
    return value


def test_an_ops_session_is_signed_with_the_token_and_expires(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = ops_auth.new_session(now=1_000_000)
    assert token not in session
    assert ops_auth.valid_session(session, now=1_000_000 + 60)
    assert not ops_auth.valid_session(session, now=1_000_000 + ops_auth.SESSION_SECONDS + 1)
    issued, _, signature = session.partition(".")
    assert not ops_auth.valid_session(f"{int(issued) + 1}.{signature}", now=1_000_000 + 60)
    assert not ops_auth.valid_session("garbage", now=1_000_000)
    csrf = ops_auth.csrf_token(session)
    other = csrf[:-1] + ("1" if csrf.endswith("0") else "0")
    assert ops_auth.csrf_ok(session, csrf) and not ops_auth.csrf_ok(session, other)
    monkeypatch.setattr(
        admin_auth, "settings", settings.model_copy(update={"admin_token": SecretStr("x" * 40)})
    )
    assert not ops_auth.valid_session(session, now=1_000_000 + 60)  # a new token ends sessions
    signature = ops_auth.message_signature("pull: accepted")
    assert ops_auth.message_ok("pull: accepted", signature)
    assert not ops_auth.message_ok("visit evil.example", signature)
    assert not ops_auth.message_ok("pull: accepted", "")


def test_the_session_cookie_is_http_only_strict_and_secure_over_https(token: str) -> None:
    plain = make_mocked_request("POST", "/ops/login")
    header = ops_auth.cookie_header(plain, "v")
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/ops" in header
    assert "Secure" not in header
    behind_tls = make_mocked_request("POST", "/ops/login", headers={"X-Forwarded-Proto": "https"})
    assert ops_auth.cookie_header(behind_tls, "v").endswith("; Secure")
    request = make_mocked_request(
        "GET", "/ops", headers={"Cookie": f"{ops_auth.COOKIE}={ops_auth.new_session()}"}
    )
    assert ops_auth.session_of(request) is not None
    assert ops_auth.session_of(make_mocked_request("GET", "/ops", headers={"Cookie": "x"})) is None


def test_the_pages_escape_what_they_show() -> None:
    line = {
        "npo_id": "<script>",
        "display_name": "A & B",
        "state": "active",
        "config_version": 1,
        "health": "ok",
        "failing_streams": [],
        "last_run_at": None,
        "staleness_seconds": 90.0,
        "never_succeeded": False,
        "unprocessed": 0,
        "dead_letters_24h": 0,
        "worker_url": "http://w",
    }
    answer = {
        "sort": "staleness",
        "offset": 0,
        "total": 1,
        "workers": [{"url": "w"}],
        "npos": [line],
    }
    html = ops_html.npo_list(answer, csrf="c", limit=100)
    assert "<script>" not in html and "&lt;script&gt;" in html and "A &amp; B" in html
    assert 'id="npos"' in html and "1.5 min" in html
    assert "<script" not in ops_html.login("<script>")
