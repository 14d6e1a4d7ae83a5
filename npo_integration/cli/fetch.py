"""``npo-integration fetch NPO_ID [--stream S]``: run an NPO's pull now, through the admin API."""

from __future__ import annotations

import json

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
@click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")
def fetch(npo_id: str, stream: str | None, url: str | None) -> None:
    """Request a pull of NPO_ID now; prints the trace id of each requested pull."""
    query = f"?stream={stream}" if stream else ""
    click.echo(
        json.dumps(AdminClient(url).call("POST", f"/admin/npos/{npo_id}/fetch{query}"), indent=2)
    )
