"""``npo-integration npos add|list|show|versions|deactivate|pause|resume|erase``: the registry
from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import click

from npo_integration.cli.admin_client import AdminClient
from npo_integration.cli.status import status
from npo_integration.cli.table import echo_table
from npo_integration.errors import ConfigError
from npo_integration.registry.config_file import parse_configs

admin_url = click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")


def _print(payload: object) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True))


@click.group("npos")
def npos() -> None:
    """NPO integration configs (through a running worker's admin API; secrets are never shown)."""


@npos.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--no-wait", is_flag=True, help="return once the change is durable, not once applied")
@admin_url
def add(file: Path, no_wait: bool, url: str | None) -> None:
    """Create or replace the NPO config(s) in FILE (one JSON object or a list)."""
    text = file.read_text(encoding="utf-8")
    try:
        configs = parse_configs(text, origin=str(file))  # refuse a bad file before anything is sent
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    document = json.loads(text)
    documents = document if isinstance(document, list) else [document]
    client = AdminClient(url)
    query = "" if no_wait else "?wait=true"
    for config, original in zip(configs, documents, strict=True):
        # The file's own JSON goes to the API, which seals the secrets; they
        # never leave this host in clear.
        _print(client.call("PUT", f"/admin/npos/{config.npo_id}{query}", json.dumps(original)))


@npos.command("list")
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="at most this many NPOs (default: all)"
)
@click.option("--after", default=None, help="start after this npo_id")
@admin_url
def list_(limit: int | None, after: str | None, url: str | None) -> None:
    """NPOs in npo_id order with their active flag and current version, a page at a time."""
    client = AdminClient(url)
    shown = 0
    while limit is None or shown < limit:
        size = 1000 if limit is None else min(1000, limit - shown)
        query = f"?limit={size}" + (f"&after={quote(after)}" if after else "")
        page = client.call("GET", f"/admin/npos{query}")
        rows = [
            (
                npo["npo_id"],
                f"v{npo['version']}",
                "erased" if npo.get("erased") else "active" if npo["active"] else "inactive",
                npo["updated_at"],
                npo["display_name"],
            )
            for npo in page["npos"]
        ]
        echo_table(("NPO", "VERSION", "STATE", "UPDATED", "NAME"), rows, header=shown == 0)
        shown += len(page["npos"])
        after = page["next"]
        if after is None:
            break


@npos.command("show")
@click.argument("npo_id")
@admin_url
def show(npo_id: str, url: str | None) -> None:
    """The current config of NPO_ID, secrets redacted."""
    _print(AdminClient(url).call("GET", f"/admin/npos/{npo_id}"))


@npos.command("versions")
@click.argument("npo_id")
@admin_url
def versions(npo_id: str, url: str | None) -> None:
    """Every version of NPO_ID's config: what changed when, and from where."""
    _print(AdminClient(url).call("GET", f"/admin/npos/{npo_id}/versions"))


@npos.command("deactivate")
@click.argument("npo_id")
@admin_url
def deactivate(npo_id: str, url: str | None) -> None:
    """Stop pulls and enrolments for NPO_ID (its config and history stay)."""
    _print(AdminClient(url).call("POST", f"/admin/npos/{npo_id}/deactivate?wait=true"))


@npos.command("pause")
@click.argument("npo_id")
@admin_url
def pause(npo_id: str, url: str | None) -> None:
    """Stop pulls and enrolments for NPO_ID until `resume` (config and secrets stay stored)."""
    _print(AdminClient(url).call("POST", f"/admin/npos/{npo_id}/pause?wait=true"))


@npos.command("resume")
@click.argument("npo_id")
@admin_url
def resume(npo_id: str, url: str | None) -> None:
    """Pull and enrol for a paused or deactivated NPO_ID again, with its stored config."""
    _print(AdminClient(url).call("POST", f"/admin/npos/{npo_id}/resume?wait=true"))


@npos.command("erase")
@click.argument("npo_id")
@click.option("--yes", is_flag=True, help="do not ask for confirmation (scripts)")
@admin_url
def erase(npo_id: str, yes: bool, url: str | None) -> None:
    """NPO_ID left the platform: make it inactive, drop its secrets and earlier config versions,
    and have its state (record states, unprocessed records, holds, enrolments) deleted now, not
    after NPO_STATE_RETENTION_DAYS. Not undone by `resume`: `add` a config to register it again."""
    if not yes:
        click.confirm(
            f"Erase NPO {npo_id}? Its secrets, config history and state are deleted", abort=True
        )
    _print(AdminClient(url).call("POST", f"/admin/npos/{quote(npo_id, safe='')}/erase?wait=true"))


@npos.command("authorize")
@click.argument("npo_id")
@click.option("--source", default="main", show_default=True, help="the source whose grant")
@click.option(
    "--code",
    default=None,
    help="the code from the consent's redirect (or the whole redirect URL); asked for if absent",
)
@admin_url
def authorize(npo_id: str, source: str, code: str | None, url: str | None) -> None:
    """Consent to NPO_ID's OAuth2 grant (auth oauth2_authorization_code): prints the URL to open,
    then exchanges the code the NPO redirects back with. Run it again after a revocation."""
    client = AdminClient(url)
    path = f"/admin/npos/{quote(npo_id, safe='')}/oauth"
    state = None
    if code is None:
        consent = client.call("GET", f"{path}/consent?source={quote(source, safe='')}")
        state = consent["state"]
        click.echo("Open this URL, consent, and paste the address it redirects to:")
        click.echo(consent["url"])
        code = click.prompt("redirect URL or code", hide_input=True)
    try:
        exchanged = _code_from(code.strip(), state)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    body = json.dumps({"source": source, "code": exchanged})
    _print(client.call("POST", f"{path}/code", body))


def _code_from(text: str, state: str | None) -> str:
    """The code of a pasted redirect URL (its ``state`` checked against ours), or ``text``."""
    if "code=" not in text:
        if not text:
            raise ValueError("no code given")
        return text
    query = parse_qs(urlsplit(text).query or text.split("?", 1)[-1])
    codes, states = query.get("code", []), query.get("state", [])
    if len(codes) != 1:
        raise ValueError("the redirect URL has no single code parameter")
    if states and state is not None and states[0] != state:
        raise ValueError(
            "the redirect's state is not this consent's (an old or foreign redirect): consent again"
        )
    return codes[0]


@npos.command("reseal")
@admin_url
def reseal(url: str | None) -> None:
    """Re-encrypt every NPO's secrets with the first key of NPO_SECRETS_KEYS (after a rotation)."""
    _print(AdminClient(url).call("POST", "/admin/secrets/reseal"))


@npos.group("removals")
def removals() -> None:
    """Mass removals held for an operator (a sweep that would remove too many offerings)."""


_stream = click.option(
    "--stream",
    type=str,
    default=None,
    help="one stream by key: offerings, assignments, SOURCE/STREAM (default: every stream)",
)


@removals.command("show")
@click.argument("npo_id")
@admin_url
def removals_show(npo_id: str, url: str | None) -> None:
    """NPO_ID's held mass removals, with their counts."""
    _print(AdminClient(url).call("GET", f"/admin/npos/{npo_id}/removals"))


@removals.command("confirm")
@click.argument("npo_id")
@_stream
@admin_url
def removals_confirm(npo_id: str, stream: str | None, url: str | None) -> None:
    """Let NPO_ID's next complete sweep remove what it lacks, however many."""
    query = f"?stream={stream}" if stream else ""
    _print(AdminClient(url).call("POST", f"/admin/npos/{npo_id}/removals/confirm{query}"))


@removals.command("reject")
@click.argument("npo_id")
@_stream
@admin_url
def removals_reject(npo_id: str, stream: str | None, url: str | None) -> None:
    """Drop NPO_ID's held removals: nothing is removed (a sweep as bad is held again)."""
    query = f"?stream={stream}" if stream else ""
    _print(AdminClient(url).call("POST", f"/admin/npos/{npo_id}/removals/reject{query}"))


from npo_integration.cli.preview import check  # noqa: E402  npos check: the preview
from npo_integration.cli.replay import diff  # noqa: E402  npos diff: replay a mapping change

npos.add_command(check)
npos.add_command(diff)
npos.add_command(status)  # cli/status.py: the status views across workers
