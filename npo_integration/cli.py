"""``npo-integration``: the Faust CLI of this app (``worker``, ``tables``, ...) plus operator commands.

Operator commands talk to a running worker's admin API, so they take the exact
path the API takes and need neither broker access nor the secrets key; they
are dispatched before the app (and its settings) is even imported.
"""

from __future__ import annotations

import importlib
import sys

import click

# command name -> "module:click object"; add a line to add an operator command.
OPERATOR_COMMANDS: dict[str, str] = {
    "npos": "npo_integration.commands.npos:npos",
    "fetch": "npo_integration.commands.fetch:fetch",
    "ingest": "npo_integration.commands.ingest:ingest",
    "enrolments": "npo_integration.commands.enrolments:enrolments",
}


def load_command(target: str) -> click.Command:
    module, _, attr = target.partition(":")
    command: click.Command = getattr(importlib.import_module(module), attr)
    return command


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name in OPERATOR_COMMANDS:
        load_command(OPERATOR_COMMANDS[name]).main(args=sys.argv[2:], prog_name=f"npo-integration {name}")
        return

    from npo_integration.app import app

    import npo_integration.commands  # noqa: F401  (lists the operator commands in --help)

    app.main()


if __name__ == "__main__":
    main()
