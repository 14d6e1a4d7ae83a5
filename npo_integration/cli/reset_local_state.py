"""``npo-integration reset-local-state [--data-dir DIR]``: remove a stopped worker's table stores.

The next start rebuilds them from the changelogs of the cluster it runs against
(``local_state.py``). It refuses while a worker holds the directory's lock, and
removes only the table stores and the recorded cluster (``cluster.json``),
naming each; it needs neither the broker nor the secrets key.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from npo_integration import local_state
from npo_integration.settings import Settings

DEFAULT_DATA_DIR: Path = Settings.model_fields["data_dir"].default
"""``NPO_DATA_DIR``'s default: the command reads no other setting (no secrets key needed)."""


@click.command("reset-local-state")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="NPO_DATA_DIR",
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="the worker's data directory (NPO_DATA_DIR)",
)
def reset_local_state(data_dir: Path) -> None:
    """Remove the table stores of the worker on DATA_DIR (it must be stopped); its next start
    rebuilds them from the changelogs."""
    if not data_dir.is_dir():
        raise click.ClickException(f"no data directory at {data_dir}")
    try:
        held = local_state.lock(data_dir)
    except local_state.DataDirInUse as exc:
        raise click.ClickException(f"{exc}; stop it first") from None
    except OSError as exc:
        raise click.ClickException(f"cannot lock {data_dir}: {exc.strerror}") from None
    try:
        removed = local_state.remove_table_stores(data_dir)
    except OSError as exc:
        raise click.ClickException(f"cannot remove the table stores: {exc}") from None
    finally:
        os.close(held)
    for path in removed:
        click.echo(f"removed {path}")
    if removed:
        click.echo(
            f"{data_dir}: table state removed; the next start rebuilds it from the changelogs"
        )
    else:
        click.echo(f"{data_dir}: no table state to remove")
