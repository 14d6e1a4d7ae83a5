"""``npo-integration fetch NPO_ID [--stream S] [--full-refresh | --re-emit]``: run an NPO's pull
now, through the admin API."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import click

from npo_integration.cli.admin_client import AdminClient


@click.command("fetch")
@click.argument("npo_id")
@click.option(
    "--stream",
    type=str,
    default=None,
    help="only this stream, by key: offerings, assignments, SOURCE/STREAM",
)
@click.option(
    "--full-refresh", is_flag=True, help="forget the cursor and pull everything from the start"
)
@click.option(
    "--re-emit",
    is_flag=True,
    help="a full refresh that also sends every current record to the platform again",
)
@click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")
def fetch(
    npo_id: str, stream: str | None, full_refresh: bool, re_emit: bool, url: str | None
) -> None:
    """Request a pull of NPO_ID now; prints the trace id of each requested pull."""
    query = urlencode(
        {
            **({"stream": stream} if stream else {}),
            **({"full_refresh": "true"} if full_refresh or re_emit else {}),
            **({"re_emit": "true"} if re_emit else {}),
        }
    )
    path = f"/admin/npos/{quote(npo_id)}/fetch" + (f"?{query}" if query else "")
    click.echo(json.dumps(AdminClient(url).call("POST", path), indent=2))
