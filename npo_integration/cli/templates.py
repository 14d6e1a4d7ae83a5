"""``npo-integration templates list|show NAME``: the connector catalogue shipped with this
release (read locally: no worker, broker or secret needed)."""

from __future__ import annotations

import json

import click

from npo_integration.catalogue import catalogue, find_template
from npo_integration.cli.table import echo_table
from npo_integration.errors import ConfigError


@click.group("templates")
def templates() -> None:
    """The connector catalogue: config templates of the systems NPOs run."""


@templates.command("list")
def list_() -> None:
    """Every template and version: its system and what an NPO must give."""
    rows = [
        (template.name, str(template.version), template.system, ", ".join(template.needs))
        for versions in catalogue().values()
        for template in versions.values()
    ]
    echo_table(("NAME", "VERSION", "SYSTEM", "NEEDS"), rows)


@templates.command("show")
@click.argument("name")
def show(name: str) -> None:
    """The template NAME (``moodle``: its latest version, or ``moodle@1``) as JSON: its
    parameters, the auth it takes and the config it resolves to."""
    try:
        template = find_template(name)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    document = {"template": template.ref, "needs": template.needs, **template.model_dump()}
    click.echo(json.dumps(document, indent=2))
