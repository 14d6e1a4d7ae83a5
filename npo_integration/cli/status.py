"""``npo-integration npos status [NPO_ID]``: one NPO's status across workers, or every NPO's
health on one line each, stalest first (the admin API's ``/admin/npos/{id}/status`` and
``/admin/status/npos``)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import click

from npo_integration.cli.admin_client import AdminClient


def _age(seconds: float | None, never: bool) -> str:
    if never:
        return "never"
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def line(npo: dict[str, Any]) -> str:
    """One NPO's health as a tab-separated line."""
    failing = ",".join(npo["failing_streams"]) or "-"
    return "\t".join(
        [
            npo["health"],
            npo["npo_id"],
            npo["state"],
            f"v{npo['config_version']}",
            f"stale {_age(npo['staleness_seconds'], npo['never_succeeded'])}",
            f"failing {failing}",
            f"unprocessed {npo['unprocessed']}",
            f"dead letters 24h {npo['dead_letters_24h']}",
            npo["worker_url"],
        ]
    )


@click.command("status")
@click.argument("npo_id", required=False)
@click.option("--sort", type=click.Choice(["staleness", "npo_id"]), default="staleness")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, help="lines of the list")
@click.option("--offset", type=click.IntRange(0), default=0, help="lines of the list skipped")
@click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")
def status(npo_id: str | None, sort: str, limit: int, offset: int, url: str | None) -> None:
    """NPO_ID's status (JSON), gathered from every worker; without NPO_ID, one health line per
    NPO: health, id, state, version, staleness, failing streams, unprocessed, dead letters."""
    client = AdminClient(url)
    if npo_id is not None:
        click.echo(json.dumps(client.call("GET", f"/admin/npos/{npo_id}/status"), indent=2))
        return
    query = urlencode({"sort": sort, "limit": limit, "offset": offset})
    page = client.call("GET", f"/admin/status/npos?{query}")
    for npo in page["npos"]:
        click.echo(line(npo))
    for worker in page["workers"]:
        if worker.get("error"):
            click.echo(f"incomplete: {worker['url']}: {worker['error']}", err=True)
