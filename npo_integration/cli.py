"""``npo-integration``: the Faust CLI of this app (``worker``, ``tables``, ...) plus operator commands.

Operator commands (``npos ...``) talk to a running worker's admin API, so they
take the exact path the API takes and need no broker access or secrets key.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["npos"]:
        from npo_integration.commands.npos import npos

        npos.main(args=sys.argv[2:], prog_name="npo-integration npos")
        return

    from npo_integration.app import app

    import npo_integration.commands  # noqa: F401  (lists the operator commands in --help)

    app.main()


if __name__ == "__main__":
    main()
