"""``npo-integration npos add|list|show|versions|deactivate``: the registry from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import click

from npo_integration.commands.admin_client import AdminClient
from npo_integration.errors import ConfigError
from npo_integration.registry.config_file import parse_configs

admin_url = click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")


def _print(payload: object) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True))


@click.group("npos")
def npos() -> None:
    """NPO integration configs (through a running worker's admin API; secrets are never shown)."""


@npos.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-wait", is_flag=True, help="return once the change is durable, not once applied")
@admin_url
def add(file: Path, no_wait: bool, url: str | None) -> None:
    """Create or replace the NPO config(s) in FILE (one JSON object or a list)."""
    text = file.read_text(encoding="utf-8")
    try:
        configs = parse_configs(text, origin=str(file))  # refuse a bad file before anything is sent
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    document = json.loads(text)
    documents = document if isinstance(document, list) else [document]
    client = AdminClient(url)
    query = "" if no_wait else "?wait=true"
    for config, original in zip(configs, documents, strict=True):
        # The file's own JSON goes to the API, which seals the secrets; they never leave this host in clear.
        _print(client.call("PUT", f"/admin/npos/{config.npo_id}{query}", json.dumps(original)))


@npos.command("list")
@admin_url
def list_(url: str | None) -> None:
    """Every NPO with its active flag and current version."""
    for npo in AdminClient(url).call("GET", "/admin/npos")["npos"]:
        state = "active" if npo["active"] else "inactive"
        click.echo(f"{npo['npo_id']}\tv{npo['version']}\t{state}\t{npo['updated_at']}\t{npo['display_name']}")


@npos.command("show")
@click.argument("npo_id")
@admin_url
def show(npo_id: str, url: str | None) -> None:
    """The current config of NPO_ID, secrets redacted."""
    _print(AdminClient(url).call("GET", f"/admin/npos/{npo_id}"))


@npos.command("versions")
@click.argument("npo_id")
@admin_url
def versions(npo_id: str, url: str | None) -> None:
    """Every version of NPO_ID's config: what changed when, and from where."""
    _print(AdminClient(url).call("GET", f"/admin/npos/{npo_id}/versions"))


@npos.command("deactivate")
@click.argument("npo_id")
@admin_url
def deactivate(npo_id: str, url: str | None) -> None:
    """Stop pulls and enrolments for NPO_ID (its config and history stay)."""
    _print(AdminClient(url).call("POST", f"/admin/npos/{npo_id}/deactivate?wait=true"))


@npos.command("reseal")
@admin_url
def reseal(url: str | None) -> None:
    """Re-encrypt every NPO's secrets with the first key of NPO_SECRETS_KEYS (after a rotation)."""
    _print(AdminClient(url).call("POST", "/admin/secrets/reseal"))
