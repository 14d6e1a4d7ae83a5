"""``python -m npo_integration.cli``: the same as the ``npo-integration`` command."""

from npo_integration.cli.main import main

main()
