"""Operator commands, listed in the Faust CLI's help; ``cli.OPERATOR_COMMANDS`` dispatches them."""

from faust.cli.faust import cli

from npo_integration.cli import OPERATOR_COMMANDS, load_command

for _target in OPERATOR_COMMANDS.values():
    cli.add_command(load_command(_target))
