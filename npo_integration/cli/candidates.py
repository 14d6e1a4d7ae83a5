"""``npo-integration candidates erase CANDIDATE_ID``: a candidate's right to erasure from the
shell, via the admin API."""

from __future__ import annotations

import json
from urllib.parse import quote

import click

from npo_integration.cli.admin_client import AdminClient

admin_url = click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")


@click.group("candidates")
def candidates() -> None:
    """Candidates' personal data (through a running worker's admin API)."""


@candidates.command("erase")
@click.argument("candidate_id")
@click.option("--no-wait", is_flag=True, help="return once the erasure is requested, not once done")
@admin_url
def erase(candidate_id: str, no_wait: bool, url: str | None) -> None:
    """Erase CANDIDATE_ID's personal data from every table of the service: enrolments are kept
    for bookkeeping with name, email and NPO user id blanked; links and unprocessed progress
    records are deleted. Prints the erasure id and, once done, what was removed."""
    query = "" if no_wait else "?wait=true"
    path = f"/admin/candidates/{quote(candidate_id, safe='')}/erase{query}"
    body = AdminClient(url).call("POST", path)
    click.echo(json.dumps(body, indent=2, sort_keys=True))
    if not no_wait and body.get("status") != "erased":
        click.echo(
            f"# erasure {body.get('erasure_id')} accepted, not finished within the wait: it goes "
            "on; a candidate.erased event reports it",
            err=True,
        )
