"""What this worker knows of an NPO: the pieces the status views put together.

An NPO's pull state, unprocessed records, removal holds, dead-letter window, recent pulls, the
pull's circuit breakers and its schema drift findings (``ingest/drift.py``) all live on the worker
that owns the NPO's partition (the same number in every topic and table): ``owner_status`` reads
them there. Its enrolments are keyed by assignment and spread over every partition:
``enrolment_share`` is one worker's part of them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from npo_integration.agents.ingest import shapes
from npo_integration.app import app, settings
from npo_integration.models.events import utc_now
from npo_integration.models.npo_config import NpoConfigVersion, OAuth2AuthorizationCodeAuth
from npo_integration.models.state import PullState
from npo_integration.partitioning import partition_for
from npo_integration.pull.recent import recent_pulls
from npo_integration.tables import dead_letter_window, enrolments, oauth_grants, pull_state
from npo_integration.tables.npo_configs import ConfigSummary
from npo_integration.tables.record_state import unprocessed
from npo_integration.timers.periodic import owned_partitions
from npo_integration.topics import enrolment_commands, fetch_requests
from npo_integration.views.removals import held
from npo_integration.worker_resources import http_client, worker_id

TOP_REASONS = 5
OVERDUE_GRACE_SECONDS = 60.0
"""A stream whose next run is this late (and not running) is ``overdue``: no worker pulls it."""

Health = Literal["ok", "failing", "overdue", "never pulled", "paused"]
HEALTH_ORDER: dict[str, int] = {
    "failing": 0,
    "overdue": 1,
    "never pulled": 2,
    "ok": 3,
    "paused": 4,
}
"""Worst first, for sorting."""

pull_state.subscribe(recent_pulls.observe)


def worker() -> dict[str, Any]:
    """Who answers: this process (a restarted worker gets a new id) and its web address."""
    return {"worker_id": worker_id, "url": str(app.conf.canonical_url)}


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round((now - at).total_seconds(), 1)


class StreamHealth(BaseModel):
    """One stream's line of the status (from the durable pull state)."""

    model_config = ConfigDict(frozen=True)

    stream: str
    health: Health
    last_run_at: datetime | None
    staleness_seconds: float | None


def stream_health(stream: str, pulls: PullState, active: bool, now: datetime) -> StreamHealth:
    state = pulls.stream(stream)
    ends = [at for at in (state.last_success_at, state.last_error_at) if at is not None]
    health: Health
    if not active:
        health = "paused"
    elif state.consecutive_failures > 0:
        health = "failing"
    elif (
        state.running_since is None
        and state.next_run_at is not None
        and (now - state.next_run_at).total_seconds() > OVERDUE_GRACE_SECONDS
    ):
        health = "overdue"
    elif state.last_success_at is None:
        health = "never pulled"
    else:
        health = "ok"
    return StreamHealth(
        stream=stream,
        health=health,
        last_run_at=max(ends) if ends else None,
        staleness_seconds=_age(state.last_success_at, now),
    )


def worst(healths: list[Health], active: bool) -> Health:
    if not active:
        return "paused"
    if not healths:
        return "never pulled"
    return min(healths, key=lambda h: HEALTH_ORDER[h])


def staleness(lines: list[StreamHealth]) -> float | None:
    """The NPO's staleness: the age of its stalest stream's last success; ``inf`` when a stream
    never succeeded (the stalest of all), ``None`` without streams."""
    if not lines:
        return None
    ages = [line.staleness_seconds for line in lines]
    return float("inf") if any(a is None for a in ages) else max(a for a in ages if a is not None)


def owner_status(version: NpoConfigVersion) -> dict[str, Any]:
    """The NPO's status as its partition's owner holds it (call on the owner: the view is routed
    there); enrolments are gathered apart (``enrolment_share`` on every worker)."""
    npo_id, config = version.npo_id, version.config
    now = utc_now()
    pulls = pull_state.get(npo_id)
    streams: list[dict[str, Any]] = []
    lines: list[StreamHealth] = []
    for key, source, stream in config.all_streams():
        state = pulls.stream(key)
        line = stream_health(key, pulls, config.active and stream.enabled, now)
        if stream.enabled:
            lines.append(line)
        streams.append(
            {
                "stream": key,
                "source": source.name,
                "enabled": stream.enabled,
                "schedule_seconds": stream.schedule_seconds,
                "health": line.health if stream.enabled else "disabled",
                "last_run_at": _iso(line.last_run_at),
                "running_since": _iso(state.running_since),
                "last_success_at": _iso(state.last_success_at),
                "next_run_at": _iso(state.next_run_at),
                "staleness_seconds": line.staleness_seconds,
                "cursor": state.cursor,
                "records_last_run": state.records_last_run,
                "consecutive_failures": state.consecutive_failures,
                "last_error": state.last_error,
                "last_error_at": _iso(state.last_error_at),
            }
        )
    entries = unprocessed.of_npo(npo_id)
    reasons = Counter(entry.reason for entry in entries).most_common(TOP_REASONS)
    window = dead_letter_window.get(npo_id)
    stale = staleness(lines)
    grants = oauth_status(version)
    health = worst([line.health for line in lines], config.active)
    if any(grant["grant"] != "active" for grant in grants):
        health = "failing"  # no call can succeed until an operator consents (npos authorize)
    return {
        "npo_id": npo_id,
        "display_name": config.display_name,
        "state": _state(config.active, erased=version.change == "erase"),
        "last_change": version.change,
        "config_version": version.version,
        "config_updated_at": version.updated_at.isoformat(),
        "health": health,
        "staleness_seconds": None if stale is None or stale == float("inf") else stale,
        "never_succeeded": stale == float("inf"),
        "owner": {
            **worker(),
            "partition": partition_for(npo_id, settings.topic_partitions),
            "holds_partition": partition_for(npo_id, settings.topic_partitions)
            in owned_partitions(fetch_requests),
        },
        "streams": streams,
        "circuit_breakers": {
            source.name: http_client.circuit_state(source.state_key) or "closed (not called yet)"
            for source in config.all_sources()
        },
        "unprocessed": {
            "count": len(entries),
            "top_reasons": [{"reason": r, "count": n} for r, n in reasons],
        },
        "removal_holds": held(npo_id),
        "oauth_grants": grants,
        "schema_drift": [finding.model_dump(mode="json") for finding in shapes.of_npo(npo_id)],
        "dead_letters": {
            "last_24h": window.last_24h(now),
            "recent": [letter.model_dump(mode="json") for letter in window.recent],
        },
        "recent_pulls": [run.model_dump(mode="json") for run in recent_pulls.of(npo_id)],
    }


def oauth_status(version: NpoConfigVersion) -> list[dict[str, Any]]:
    """Each authorization-code source's grant: ``missing`` (never consented), ``active`` or
    ``revoked`` by the NPO (invalid_grant). Never a token: those stay sealed in the table."""
    stored = oauth_grants.get(version.npo_id)
    lines: list[dict[str, Any]] = []
    for source in version.config.all_sources():
        if not isinstance(source.auth, OAuth2AuthorizationCodeAuth):
            continue
        grant = None if stored is None else stored.sources.get(source.name)
        line: dict[str, Any] = {"source": source.name, "grant": "missing"}
        if grant is not None:
            line = {
                "source": source.name,
                "grant": grant.status,
                "generation": grant.generation,
                "refreshed_at": _epoch_iso(grant.refreshed_at),
                "revoked_at": _epoch_iso(grant.revoked_at),
                "revoked_reason": grant.revoked_reason,
            }
        if line["grant"] != "active":
            line["action"] = f"npo-integration npos authorize {version.npo_id}"
        lines.append(line)
    return lines


def _epoch_iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def enrolment_share(version: NpoConfigVersion) -> dict[str, Any]:
    """This worker's part of the NPO's enrolments (counts by status, on its partitions) and the
    circuit breakers its enrolment calls use."""
    npo_id, config = version.npo_id, version.config
    return {
        **worker(),
        "partitions": sorted(owned_partitions(enrolment_commands)),
        "counts": dict(Counter(state.status for state in enrolments.of_npo(npo_id))),
        "circuit_breakers": {
            source.name: state
            for source in config.all_sources()
            if (state := http_client.circuit_state(source.state_key)) is not None
        },
    }


def _state(active: bool, *, erased: bool) -> str:
    """``erased`` (left the platform: ``npo_config.erase``), else ``active`` or ``paused``."""
    return "erased" if erased else "active" if active else "paused"


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def owned_lines(stored: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """One health line per NPO of ``stored`` whose partition this worker owns, from its pull state
    (the streams it has pulled), unprocessed records and dead-letter window."""
    mine = owned_partitions(fetch_requests)
    now = utc_now()
    ours = [
        (npo_id, raw)
        for npo_id, raw in stored
        if partition_for(npo_id, settings.topic_partitions) in mine
    ]
    ids = {npo_id for npo_id, _ in ours}
    pending = Counter(e.raw.npo_id for e in unprocessed.items() if e.raw.npo_id in ids)
    lines: list[dict[str, Any]] = []
    for _, raw in ours:
        listed = ConfigSummary.model_validate_json(raw)
        pulls = pull_state.get(listed.npo_id)
        active = listed.config.active
        streams = [stream_health(name, pulls, active, now) for name in sorted(pulls.streams)]
        stale = staleness(streams)
        lines.append(
            {
                "npo_id": listed.npo_id,
                "display_name": listed.config.display_name,
                "state": _state(active, erased=listed.erased),
                "config_version": listed.version,
                "health": worst([s.health for s in streams], active),
                "failing_streams": [s.stream for s in streams if s.health == "failing"],
                "last_run_at": _iso(
                    max((s.last_run_at for s in streams if s.last_run_at), default=None)
                ),
                "staleness_seconds": None if stale in (None, float("inf")) else stale,
                "never_succeeded": stale == float("inf") or not streams,
                "unprocessed": pending.get(listed.npo_id, 0),
                "dead_letters_24h": dead_letter_window.get(listed.npo_id).last_24h(now),
                "worker_url": str(app.conf.canonical_url),
            }
        )
    return lines


def staleness_order(line: dict[str, Any]) -> tuple[int, float, str]:
    """Stalest first: never succeeded, then by the age of the last success; then by npo_id."""
    age = line["staleness_seconds"]
    return (0 if line["never_succeeded"] else 1, -(age or 0.0), line["npo_id"])
