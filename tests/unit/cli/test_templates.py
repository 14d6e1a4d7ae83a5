"""``npo-integration templates``: the catalogue listed and shown with nothing of the service's
environment; an unknown name or version is one line."""

from __future__ import annotations

import json

from tests.unit.cli.test_help_and_errors import cli


def test_list_names_each_template_its_system_and_what_it_needs() -> None:
    done = cli("templates", "list")
    assert done.returncode == 0, done.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in done.stdout.splitlines()}
    assert rows["moodle"][1] == "1"
    assert rows["moodle"][3] == "npo_id, base_url, auth.key"
    assert {"canvas", "salesforce", "civicrm"} <= set(rows)
    # SKY API is one host for every customer: the template has the base URL, the NPO its keys
    assert rows["blackbaud"][3] == (
        "npo_id, auth.client_id, auth.client_secret, auth.subscription_key, auth.redirect_uri"
    )


def test_show_prints_the_template_as_json() -> None:
    done = cli("templates", "show", "moodle")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["template"] == "moodle@1"
    assert shown["params"]["role_id"]["default"] == 5
    assert shown["config"]["streams"]["offerings"]["params"]["wsfunction"] == (
        "core_course_get_courses"
    )


def test_an_unknown_template_or_version_is_one_line() -> None:
    for name, message in [
        ("nope", "template: unknown template 'nope' (known: "),
        ("moodle@9", "template: 'moodle' has no version '9' (known: moodle@1)"),
    ]:
        done = cli("templates", "show", name)
        assert done.returncode == 1
        assert done.stderr.startswith(f"npo-integration templates show: {message}"), done.stderr
        assert len(done.stderr.splitlines()) == 1
