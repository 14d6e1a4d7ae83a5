"""The HTML of ``/ops``: plain server-rendered pages, every value escaped (``html.escape``).

No script, no build: forms post, links navigate, a reload refreshes. The data are the admin API's
answers (``/admin/status/npos`` and ``/admin/npos/{id}/status``), rendered as they are.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #1d2733; background: #f7f8fa; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #c9d1db; padding: 0.3em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #e4e9f0; }
.health { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; }
.ok { background: #cdeccf; color: #17521c; }
.failing { background: #f6c9c9; color: #7a1212; }
.overdue, .never-pulled { background: #fbe3b5; color: #6b4700; }
.paused, .disabled { background: #dde1e6; color: #3c4650; }
.message { background: #fff7d6; border: 1px solid #e5cf7a; padding: 0.5em; }
.error { background: #fbe0e0; border: 1px solid #d99; padding: 0.5em; }
form.inline { display: inline; margin-right: 0.5em; }
header { display: flex; justify-content: space-between; align-items: center; }
"""


def _e(value: Any) -> str:
    return "-" if value is None or value == "" else escape(str(value))


def when(value: str | None) -> str:
    """An ISO time from the API as ``2026-05-01 12:30:05 UTC`` (the API answers in UTC)."""
    if not value:
        return "-"
    try:
        at = datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return escape(value)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def age(seconds: float | None, never: bool = False) -> str:
    if never:
        return "never succeeded"
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def health(value: str) -> str:
    css = value.replace(" ", "-")
    return f'<span class="health {escape(css)}">{escape(value)}</span>'


def page(title: str, body: str, csrf: str | None = None) -> str:
    logout = (
        f'<form class="inline" method="post" action="/ops/logout">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<button type="submit">Log out</button></form>'
        if csrf
        else ""
    )
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f'<header><h1><a href="/ops">NPO integration</a> &middot; {escape(title)}</h1>'
        f"{logout}</header>{body}</body></html>"
    )


def login(error: str | None = None) -> str:
    problem = f'<p class="error">{escape(error)}</p>' if error else ""
    return page(
        "log in",
        f'{problem}<form method="post" action="/ops/login">'
        '<label>Admin token <input type="password" name="token" autocomplete="off" required>'
        '</label> <button type="submit">Log in</button></form>',
    )


def _table(headers: list[str], rows: list[list[str]], table_id: str = "") -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _incomplete(workers: list[dict[str, Any]]) -> str:
    missing = [w for w in workers if w.get("error")]
    return "".join(
        f'<p class="error">Worker {_e(w.get("url"))} did not answer: {_e(w["error"])}</p>'
        for w in missing
    )


def npo_list(answer: dict[str, Any], csrf: str, limit: int) -> str:
    """Every NPO's health line, with links to sort and page."""
    sort, offset, total = answer["sort"], answer["offset"], answer["total"]
    rows = [
        [
            health(n["health"]),
            f'<a href="/ops/npos/{quote(n["npo_id"], safe="")}">{_e(n["npo_id"])}</a>',
            _e(n["display_name"]),
            _e(n["state"]),
            f"v{_e(n['config_version'])}",
            when(n["last_run_at"]),
            age(n["staleness_seconds"], n["never_succeeded"]),
            _e(", ".join(n["failing_streams"])),
            _e(n["unprocessed"]),
            _e(n["dead_letters_24h"]),
            _e(n["worker_url"]),
        ]
        for n in answer["npos"]
    ]
    sorts = " ".join(
        f'<a href="/ops?{urlencode({"sort": s})}">{"<b>" + s + "</b>" if s == sort else s}</a>'
        for s in ("staleness", "npo_id")
    )
    pages = []
    if offset > 0:
        back = urlencode({"sort": sort, "offset": max(0, offset - limit)})
        pages.append(f'<a href="/ops?{back}">previous</a>')
    if offset + limit < total:
        pages.append(
            f'<a href="/ops?{urlencode({"sort": sort, "offset": offset + limit})}">next</a>'
        )
    body = (
        f"{_incomplete(answer['workers'])}"
        f"<p>NPOs: {total}, on {len(answer['workers'])} workers. Sorted by {sorts}. "
        f"Reload the page to refresh. {' '.join(pages)}</p>"
        + _table(
            [
                "Health",
                "NPO",
                "Name",
                "State",
                "Config",
                "Last run",
                "Staleness",
                "Failing streams",
                "Unprocessed",
                "Dead letters 24 h",
                "Worker",
            ],
            rows,
            "npos",
        )
    )
    return page("NPOs", body, csrf)


ACTIONS = (
    ("pull", "Pull now"),
    ("pause", "Pause"),
    ("resume", "Resume"),
    ("redrive", "Re-drive unprocessed records"),
    ("redrive-enrolments", "Re-drive failed enrolments"),
)


def _actions(npo_id: str, csrf: str) -> str:
    base = f"/ops/npos/{quote(npo_id, safe='')}"
    return "".join(
        f'<form class="inline" method="post" action="{base}/{name}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<button type="submit" name="action" value="{name}">{escape(label)}</button></form>'
        for name, label in ACTIONS
    )


def npo_detail(status: dict[str, Any], csrf: str, message: str | None) -> str:
    npo_id = status["npo_id"]
    owner = status["owner"]
    notice = f'<p class="message" id="message">{escape(message)}</p>' if message else ""
    summary = _table(
        ["Health", "State", "Config", "Staleness", "Owner", "Partition"],
        [
            [
                health(status["health"]),
                f"{_e(status['state'])} (last change: {_e(status['last_change'])})",
                f"v{_e(status['config_version'])} of {when(status['config_updated_at'])}",
                age(status["staleness_seconds"], status["never_succeeded"]),
                f"{_e(owner['url'])} ({_e(owner['worker_id'][:8])})",
                _e(owner["partition"]),
            ]
        ],
        "summary",
    )
    streams = _table(
        [
            "Stream",
            "Health",
            "Last run",
            "Last success",
            "Next run",
            "Records",
            "Failures",
            "Last error",
            "Cursor",
        ],
        [
            [
                _e(s["stream"]),
                health(s["health"]),
                when(s["last_run_at"]),
                when(s["last_success_at"]),
                when(s["next_run_at"]),
                _e(s["records_last_run"]),
                _e(s["consecutive_failures"]),
                _e(s["last_error"]),
                _e(s["cursor"]),
            ]
            for s in status["streams"]
        ],
        "streams",
    )
    breakers = _table(
        ["Source", "Circuit breaker (pulls, on the owner)"],
        [[_e(k), _e(v)] for k, v in status["circuit_breakers"].items()],
    )
    pulls = _table(
        ["Ended", "Stream", "Outcome", "Records", "Error"],
        [
            [
                when(p["ended_at"]),
                _e(p["stream"]),
                "ok" if p["ok"] else "failed",
                _e(p["records"]),
                _e(p["error"]),
            ]
            for p in status["recent_pulls"]
        ],
        "recent-pulls",
    )
    unprocessed = status["unprocessed"]
    reasons = _table(
        ["Reason", "Records"],
        [[_e(r["reason"]), _e(r["count"])] for r in unprocessed["top_reasons"]],
    )
    letters = status["dead_letters"]
    dead = _table(
        ["At", "From", "Record", "Reason"],
        [
            [when(d["at"]), _e(d["source_topic"]), _e(d["record_key"]), _e(d["reason"])]
            for d in letters["recent"]
        ],
        "dead-letters",
    )
    holds = _table(
        ["Stream", "Hold"],
        [[_e(k), _e(v.get("status"))] for k, v in status["removal_holds"].items()],
    )
    enrolments = status["enrolments"]
    shares = _table(
        ["Worker", "Partitions", "Enrolments by status", "Circuit breakers", "Error"],
        [
            [
                _e(w.get("url")),
                _e(", ".join(str(p) for p in w.get("partitions", []))),
                _e(", ".join(f"{k}: {v}" for k, v in sorted((w.get("counts") or {}).items()))),
                _e(", ".join(f"{k}: {v}" for k, v in (w.get("circuit_breakers") or {}).items())),
                _e(w.get("error")),
            ]
            for w in enrolments["workers"]
        ],
    )
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(enrolments["counts"].items())) or "none"
    body = (
        f"{notice}{summary}<h2>Actions</h2><p>{_actions(npo_id, csrf)}</p>"
        f"<h2>Streams</h2>{streams}<h2>Circuit breakers</h2>{breakers}"
        f"<h2>Recent pulls (this owner, since it took the NPO)</h2>{pulls}"
        f"<h2>Unprocessed records: {_e(unprocessed['count'])}</h2>{reasons}"
        f"<h2>Removal holds</h2>{holds}"
        f"<h2>Dead letters: {_e(letters['last_24h'])} in the last 24 h</h2>{dead}"
        f"<h2>Enrolments: {escape(counts)}</h2>{shares}"
    )
    return page(f"{npo_id} ({status['display_name']})", body, csrf)


def failure(title: str, message: str, csrf: str | None) -> str:
    return page(title, f'<p class="error">{escape(message)}</p>', csrf)
