"""``npo-integration``: the Faust CLI of this app (``worker``,
``tables``, ...) plus operator commands.

Operator commands talk to a running worker's admin API, so they take the exact
path the API takes and need neither broker access nor the secrets key; they
are dispatched before the app (and its settings) is even imported.
"""

from __future__ import annotations

import sys

from npo_integration.cli import OPERATOR_COMMANDS, load_command


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name in OPERATOR_COMMANDS:
        load_command(OPERATOR_COMMANDS[name]).main(
            args=sys.argv[2:], prog_name=f"npo-integration {name}"
        )
        return

    from faust.cli.faust import cli

    from npo_integration.app import app

    for target in OPERATOR_COMMANDS.values():  # listed in the Faust CLI's --help
        cli.add_command(load_command(target))
    app.main()


if __name__ == "__main__":
    main()
