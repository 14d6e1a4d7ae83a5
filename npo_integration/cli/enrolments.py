"""``npo-integration enrolments list|redrive NPO_ID``, ``confirm|retry NPO_ID ASSIGNMENT_ID``:
the push path from the shell, via the admin API."""

from __future__ import annotations

import json

import click

from npo_integration.cli.admin_client import AdminClient
from npo_integration.cli.table import echo_table

admin_url = click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")


@click.group("enrolments")
def enrolments() -> None:
    """Enrolments of candidates into NPO offerings (through a running worker's admin API)."""


@enrolments.command("list")
@click.argument("npo_id")
@click.option("--status", default=None, help="only enrolments in this status (e.g. failed)")
@admin_url
def list_(npo_id: str, status: str | None, url: str | None) -> None:
    """NPO_ID's enrolments held by the worker asked: assignment,
    status, attempts, NPO id, reason."""
    query = f"?status={status}" if status else ""
    body = AdminClient(url).call("GET", f"/admin/npos/{npo_id}/enrolments{query}")
    rows = [
        (
            row["assignment_id"],
            row["status"],
            str(row["attempts"]),
            row["npo_enrolment_ref"] or "-",
            row["reason"] or "",
        )
        for row in body["enrolments"]
    ]
    echo_table(("ASSIGNMENT", "STATUS", "ATTEMPTS", "NPO REF", "REASON"), rows)
    counts = (
        ", ".join(f"{name}={count}" for name, count in sorted(body["counts"].items())) or "none"
    )
    click.echo(f"# partitions {body['partitions']}: {counts}", err=True)


@enrolments.command("redrive")
@click.argument("npo_id")
@click.option(
    "--no-wait", is_flag=True, help="return once the re-drive is requested, not once applied"
)
@admin_url
def redrive(npo_id: str, no_wait: bool, url: str | None) -> None:
    """Try NPO_ID's failed enrolments (and failed cancellations) again, with fresh attempts."""
    query = "" if no_wait else "?wait=true"
    body = AdminClient(url).call("POST", f"/admin/npos/{npo_id}/enrolments/redrive{query}")
    click.echo(json.dumps(body, indent=2, sort_keys=True))


@enrolments.command("confirm")
@click.argument("npo_id")
@click.argument("assignment_id")
@click.option("--ref", "npo_enrolment_ref", default=None, help="the NPO's id of the enrolment")
@click.option("--no-wait", is_flag=True, help="return once requested, not once applied")
@admin_url
def confirm(
    npo_id: str, assignment_id: str, npo_enrolment_ref: str | None, no_wait: bool, url: str | None
) -> None:
    """The NPO has ASSIGNMENT_ID's enrolment (its outcome was unknown): confirm and link it."""
    query = "" if no_wait else "?wait=true"
    body = json.dumps({"npo_enrolment_ref": npo_enrolment_ref})
    path = f"/admin/npos/{npo_id}/enrolments/{assignment_id}/confirm{query}"
    click.echo(json.dumps(AdminClient(url).call("POST", path, body), indent=2, sort_keys=True))


@enrolments.command("retry")
@click.argument("npo_id")
@click.argument("assignment_id")
@click.option("--no-wait", is_flag=True, help="return once requested, not once applied")
@admin_url
def retry(npo_id: str, assignment_id: str, no_wait: bool, url: str | None) -> None:
    """The NPO does not have ASSIGNMENT_ID's enrolment (its outcome was unknown): send it again."""
    query = "" if no_wait else "?wait=true"
    path = f"/admin/npos/{npo_id}/enrolments/{assignment_id}/retry{query}"
    click.echo(json.dumps(AdminClient(url).call("POST", path), indent=2, sort_keys=True))
