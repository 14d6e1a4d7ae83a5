"""Operator commands added to the Faust CLI (``npo-integration npos ...``, ``fetch ...``)."""

from faust.cli.faust import cli

from npo_integration.commands.npos import npos

cli.add_command(npos)
