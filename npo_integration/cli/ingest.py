"""``npo-integration ingest redrive|unprocessed NPO_ID``: the ingestion path from the shell."""

from __future__ import annotations

import json

import click

from npo_integration.cli.admin_client import AdminClient
from npo_integration.cli.table import echo_table

admin_url = click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")


@click.group("ingest")
def ingest() -> None:
    """Ingestion of NPO records (through a running worker's admin API)."""


@ingest.command("redrive")
@click.argument("npo_id")
@admin_url
def redrive(npo_id: str, url: str | None) -> None:
    """Re-drive every unprocessed (dead-lettered) record of NPO_ID now, whatever its attempts."""
    answer = AdminClient(url).call("POST", f"/admin/npos/{npo_id}/dead-letters/redrive")
    click.echo(json.dumps(answer, indent=2, sort_keys=True))


@ingest.command("unprocessed")
@click.argument("npo_id")
@admin_url
def unprocessed(npo_id: str, url: str | None) -> None:
    """The records of NPO_ID that did not become events, with the reasons."""
    answer = AdminClient(url).call("GET", f"/admin/npos/{npo_id}/records?state=unprocessed")
    rows = [(r["record_key"], str(r["attempts"]), r["reason"]) for r in answer["records"]]
    echo_table(("RECORD", "ATTEMPTS", "REASON"), rows)
    click.echo(f"{answer['count']} unprocessed", err=True)
