"""``npo-integration npos diff FILE``: replay a mapping change over the NPO's kept records through
a running worker's ``POST /admin/npos/{id}/diff`` (nothing published unless ``--apply``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from npo_integration.cli.admin_client import AdminClient
from npo_integration.cli.preview import config_documents
from npo_integration.registry.replay import MAX_EXAMPLES


@click.command("diff")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--examples",
    type=click.IntRange(0, MAX_EXAMPLES),
    default=3,
    show_default=True,
    help="changed records shown per stream",
)
@click.option(
    "--apply",
    is_flag=True,
    help="register the config, then re-emit only the records whose events changed",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--url", envvar="NPO_ADMIN_URL", default=None, help="worker web address")
def diff(file: Path, examples: int, apply: bool, output: str, url: str | None) -> None:
    """Replay the config in FILE over its NPO's kept offering records and report how many
    platform events would change, which fields (with examples), and which records would newly
    fail or newly pass. Nothing is registered or published unless --apply."""
    documents = config_documents(file)
    if len(documents) != 1:
        raise click.ClickException(f"{file}: one config per diff, found {len(documents)}")
    [document] = documents
    npo_id = str(document["npo_id"])
    body = {"config": document, "examples": examples, "apply": apply}
    answer = AdminClient(url).call(
        "POST", f"/admin/npos/{quote(npo_id, safe='')}/diff", json.dumps(body), ok=(200, 202)
    )
    if output == "json":
        click.echo(json.dumps(answer, indent=2))
    else:
        for line in render(answer):
            click.echo(line)
    if answer.get("error"):
        raise click.ClickException(answer["error"])


def render(answer: dict[str, Any]) -> list[str]:
    """The diff as text: per stream, the counts, the fields, examples and the records listed."""
    lines = [
        f"NPO {answer['npo_id']} (v{answer['current_version']}): "
        f"{answer['events_changed']} platform event(s) would change"
    ]
    for stream in answer["streams"]:
        lines += [
            "",
            f"stream {stream['key']}: {stream['records']} kept record(s) replayed, "
            f"{stream['events_changed']} event(s) would change ({stream['changed']} changed, "
            f"{len(stream['newly_filtered'])} newly filtered, "
            f"{len(stream['newly_included'])} newly included), "
            f"{stream['newly_failing_count']} newly failing, "
            f"{stream['newly_passing_count']} newly passing, {stream['unchanged']} unchanged",
        ]
        lines += [f"  field {f['field']}: {f['records']} record(s)" for f in stream["fields"]]
        for example in stream["examples"]:
            lines.append(f"  e.g. {example['record_id'] or example['record_key']}:")
            lines += [
                f"    {name}: {json.dumps(before)} -> {json.dumps(after)}"
                for name, (before, after) in example["changes"].items()
            ]
        for listed in stream["newly_failing"]:
            lines.append(
                f"  newly failing {listed['record_id'] or listed['record_key']}: "
                f"{_where(listed)}{listed['error']}"
            )
        for listed in stream["newly_passing"]:
            lines.append(f"  newly passing {listed['record_id'] or listed['record_key']}")
        lines += [f"  newly filtered {key}" for key in stream["newly_filtered"]]
        lines += [f"  newly included {key}" for key in stream["newly_included"]]
    if answer.get("not_replayed"):
        lines += ["", f"not replayed (no kept records): {', '.join(answer['not_replayed'])}"]
    if answer.get("applied"):
        lines += [
            "",
            f"applied as v{answer['version']}; {answer['re_emitted']} record(s) re-emitted",
        ]
    return lines


def _where(listed: dict[str, Any]) -> str:
    parts = [
        f"field {listed['field']}" if listed.get("field") else "",
        f"(NPO path {listed['path']})" if listed.get("path") else "",
    ]
    where = " ".join(p for p in parts if p)
    return f"{where}: " if where else ""
