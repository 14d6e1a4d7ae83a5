"""Operator commands: they talk to a running worker's admin API (``reset-local-state`` works on a
stopped worker's data directory instead); ``cli.main`` dispatches them."""

from __future__ import annotations

import importlib

import click

# command name -> "module:click object"; add a line to add an operator command.
OPERATOR_COMMANDS: dict[str, str] = {
    "npos": "npo_integration.cli.npos:npos",
    "fetch": "npo_integration.cli.fetch:fetch",
    "ingest": "npo_integration.cli.ingest:ingest",
    "enrolments": "npo_integration.cli.enrolments:enrolments",
    "candidates": "npo_integration.cli.candidates:candidates",
    "templates": "npo_integration.cli.templates:templates",
    "reset-local-state": "npo_integration.cli.reset_local_state:reset_local_state",
}


def load_command(target: str) -> click.Command:
    module, _, attr = target.partition(":")
    command: click.Command = getattr(importlib.import_module(module), attr)
    return command
