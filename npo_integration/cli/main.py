"""``npo-integration``: the Faust CLI of this app (``worker``,
``tables``, ...) plus operator commands.

Operator commands talk to a running worker's admin API, so they take the exact
path the API takes and need neither broker access nor the secrets key; they
are dispatched before the app (and its settings) is even imported. So is help:
``npo-integration --help`` and any command's ``--help`` work with nothing set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from npo_integration.cli import OPERATOR_COMMANDS, load_command

PROG = "npo-integration"
APP_LESS = frozenset({"--help", "--version"})
"""Arguments Faust's CLI answers without an app: no settings are read for them."""
EVENT_LOOP = "uvloop"
"""The worker's event loop unless ``FAUST_LOOP`` says otherwise (``aio`` for asyncio's own).

uvloop cuts the worker's CPU per fetched page by about a tenth (bench/pull_sweep.py, A/B in one
sitting); Faust reads ``FAUST_LOOP`` when ``faust`` is first imported, so it is set before that."""
HELP = """Spotlight NPO Integration: pulls NPO offerings and progress, pushes enrolments.

\b
Faust's commands (`worker -l info` starts a worker) need NPO_SECRETS_KEYS;
npos, fetch, ingest, enrolments and candidates call a running worker's
admin API (NPO_ADMIN_URL, NPO_ADMIN_TOKEN); templates lists the connector
catalogue; reset-local-state removes a stopped worker's table stores
(NPO_DATA_DIR). Settings: see the README."""


def run(command: click.Command, args: Sequence[str], prog_name: str) -> int:
    """Run ``command`` and return its exit code; a failure is one line on stderr
    (``npo-integration npos add: ...``), never click's usage block or a traceback."""
    try:
        code = command.main(args=list(args), prog_name=prog_name, standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else prog_name
        click.echo(f"{where}: {exc.format_message().rstrip('.')} (see --help)", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"{_command_path(command, args, prog_name)}: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo(f"{prog_name}: aborted", err=True)
        return 1
    return code if isinstance(code, int) else 0  # click's exit code (help: 0); a command's None


def _command_path(command: click.Command, args: Sequence[str], prog_name: str) -> str:
    """``npo-integration npos add``: the subcommand ``args`` name, as far as they name one."""
    path = [prog_name]
    for arg in args:
        if not isinstance(command, click.Group) or arg not in command.commands:
            break
        command = command.commands[arg]
        path.append(arg)
    return " ".join(path)


def root_command() -> click.Group:
    """Faust's CLI with this service's help text and the operator commands added."""
    from faust.cli.faust import cli

    cli.help = HELP
    for target in OPERATOR_COMMANDS.values():
        cli.add_command(load_command(target))
    return cli


def main() -> None:
    args = sys.argv[1:]
    name = args[0] if args else ""
    if name in OPERATOR_COMMANDS:
        sys.exit(run(load_command(OPERATOR_COMMANDS[name]), args[1:], f"{PROG} {name}"))

    os.environ.setdefault("FAUST_LOOP", EVENT_LOOP)
    cli = root_command()
    unknown = not name.startswith("-") and name not in cli.commands
    if not args or unknown or APP_LESS.intersection(args):  # click answers these without the app
        sys.exit(run(cli, args or ["--help"], PROG))

    from npo_integration.app import app

    app.main()


if __name__ == "__main__":
    main()
