"""Resolving a template input: the config it makes, overrides, provenance and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from npo_integration.catalogue import catalogue, find_template, resolve_template
from npo_integration.catalogue.merge_patch import merge_patch
from npo_integration.catalogue.resolve import resolve_config_input
from npo_integration.errors import ConfigError
from npo_integration.registry.config_input import read_config

ROOT = Path(__file__).resolve().parents[3]
CREDENTIALS: dict[str, dict[str, str]] = {
    "moodle": {"key": "moodle-token"},
    "canvas": {"token": "canvas-token"},
    "salesforce": {"client_id": "spotlight", "client_secret": "sf-secret"},
    "civicrm": {"key": "Bearer civi-key"},
    "blackbaud": {
        "client_id": "spotlight",
        "client_secret": "bb-secret",
        "subscription_key": "bb-subscription-key",
        "redirect_uri": "https://ops.example.org/oauth/callback",
    },
}


def moodle(**extra: Any) -> dict[str, Any]:
    return {
        "npo_id": "code-school",
        "template": "moodle@1",
        "base_url": "https://lms.example.org/",
        "auth": {"key": "moodle-token"},
        **extra,
    }


def test_every_template_resolves_with_its_defaults_into_a_valid_config() -> None:
    refs = [t.ref for versions in catalogue().values() for t in versions.values()]
    assert {"moodle@1", "canvas@1", "salesforce@1", "civicrm@1", "blackbaud@1"} <= set(refs)
    for versions in catalogue().values():
        for template in versions.values():
            data = {
                "npo_id": "npo-1",
                "template": template.ref,
                "base_url": "https://api.example.org",
                "auth": CREDENTIALS[template.name],
            }
            config = read_config(resolve_template(data))
            assert config.template is not None
            assert (config.template.name, config.template.version) == (
                template.name,
                template.version,
            )
            assert config.sources[0].base_url == "https://api.example.org"


def test_moodle_needs_only_npo_id_base_url_and_token() -> None:
    config = read_config(resolve_template(moodle()))
    source = config.sources[0]
    assert config.display_name == "code-school (Moodle)"
    assert source.auth.kind == "api_key_query"
    assert source.auth.param == "wstoken"  # type: ignore[union-attr]
    assert source.auth.key.get_secret_value() == "moodle-token"  # type: ignore[union-attr]
    assert {s.name for s in source.streams} == {"offerings", "assignments"}
    mapping = source.transform.mapping  # type: ignore[union-attr]
    # a runtime placeholder written {{id}} in the template is the mapping's {id}
    assert mapping.offering.fields["url"].template == (
        "https://lms.example.org/course/view.php?id={id}"
    )
    assert mapping.enrolment.body["enrolments[0][roleid]"] == 5


def test_params_fill_the_config_with_their_type() -> None:
    resolved = resolve_template(moodle(params={"role_id": "3", "page_size": 25}))
    assert resolved["enrolment"] is not None
    body = resolved["transform"]["mapping"]["enrolment"]["body"]
    assert body["enrolments[0][roleid]"] == 3
    assert resolved["streams"]["assignments"]["pagination"]["limit"] == 25


def test_latest_version_when_none_is_named() -> None:
    resolved = resolve_template(moodle(template="moodle"))
    assert resolved["template"] == {"name": "moodle", "version": max(catalogue()["moodle"])}


def test_overrides_are_a_json_merge_patch_on_the_resolved_config() -> None:
    overrides = {
        "transform": {
            "mapping": {
                "offering": {
                    "fields": {"title": {"path": "shortname"}, "ends_at": None},
                    "filter": [
                        {"path": "format", "not_in": ["site"]},
                        {"path": "visible", "equals": 1},
                    ],
                }
            }
        },
        "streams": {"offerings": {"schedule_seconds": 60}},
    }
    resolved = resolve_template(moodle(overrides=overrides))
    offering = resolved["transform"]["mapping"]["offering"]
    assert offering["fields"]["title"] == {"path": "shortname"}
    assert "ends_at" not in offering["fields"]
    assert offering["fields"]["npo_offering_ref"] == {"path": "id"}  # the rest is the template's
    assert len(offering["filter"]) == 2
    assert resolved["streams"]["offerings"]["schedule_seconds"] == 60
    read_config(resolved)


def test_another_auth_kind_replaces_the_templates() -> None:
    auth = {"kind": "bearer", "token": "t"}
    assert resolve_template(moodle(auth=auth))["auth"] == auth


def test_a_full_config_passes_through_and_a_template_input_is_resolved() -> None:
    full = {"npo_id": "x", "template": {"name": "moodle", "version": 1}}
    assert resolve_config_input(full) is full
    assert resolve_config_input(moodle())["template"] == {"name": "moodle", "version": 1}


def test_resolution_is_pure() -> None:
    data = moodle(overrides={"streams": {"offerings": {"schedule_seconds": 60}}})
    before = repr(data)
    assert resolve_template(data) == resolve_template(data)
    assert repr(data) == before
    assert find_template("moodle@1").config["streams"]["offerings"]["schedule_seconds"] == 600


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (moodle(template="blackboard@1"), "template: unknown template 'blackboard' (known: "),
        (moodle(template="moodle@9"), "template: 'moodle' has no version '9' (known: moodle@1)"),
        (moodle(template="moodle@x"), "template: 'moodle' has no version 'x'"),
        (moodle(auth={}), "auth.key: moodle@1 needs the NPO's key"),
        (moodle(params={"role": 5}), "params.role: moodle@1 has no such parameter (it has: "),
        (
            moodle(params={"role_id": "student"}),
            "params.role_id: must be an integer, got 'student'",
        ),
        (moodle(overrides={"npo_id": "other"}), "overrides.npo_id: may not be overridden"),
        (
            {"npo_id": "x", "template": "moodle@1", "auth": {"key": "k"}},
            "base_url: moodle@1 needs the NPO's base_url",
        ),
        ({"template": "moodle@1", "base_url": "https://x"}, "npo_id: Field required"),
        (moodle(tempo=1), "tempo: Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_one_clear_error(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_template(data)
    text = str(caught.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_a_required_param_must_be_given() -> None:
    canvas = {
        "npo_id": "c",
        "template": "canvas@1",
        "base_url": "https://c.example.org",
        "auth": {"token": "t"},
    }
    template = find_template("canvas@1")
    required = [name for name, p in template.params.items() if p.required]
    for name in required:  # none today: account_id defaults to the token's root account
        with pytest.raises(ConfigError, match=f"params.{name}: canvas@1 needs it"):
            resolve_template(canvas)
    assert template.needs[:3] == ["npo_id", "base_url", "auth.token"]


def test_merge_patch_follows_rfc_7396_examples() -> None:
    # RFC 7396 appendix A, a selection
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": ["b"]}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch([1, 2], {"a": "b", "c": None}) == {"a": "b"}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_blackbaud_template_is_the_hand_written_example_apart_from_urls() -> None:
    """blackbaud@1 was written from examples/npos/blackbaud.json: resolved with the example's
    simulator URLs and credentials it is the same config, but for the participants, which it
    reads per event as SKY API lists them (the example reads the simulator's all-events list)."""
    example = json.loads((ROOT / "examples" / "npos" / "blackbaud.json").read_text())
    auth = example["auth"]
    data = {
        "npo_id": example["npo_id"],
        "template": "blackbaud@1",
        "base_url": example["base_url"],
        "display_name": example["display_name"],
        "auth": {k: v for k, v in auth.items() if k != "subscription_key_header"},
    }
    template = read_config(resolve_template(data)).sources[0]
    written = read_config(example).sources[0]
    assert template.auth == written.auth
    by_name = {s.name: s for s in template.streams}
    participants = by_name["assignments"]
    assert participants.path == "/event/v1/events/{parent.id}/participants"
    assert participants.parent_stream == "offerings"
    by_name["assignments"] = participants.model_copy(
        update={"path": "/event/v1/participants", "parent_stream": None}
    )
    assert list(by_name.values()) == written.streams
    assert template.model_copy(update={"streams": written.streams}) == written


def test_blackbaud_defaults_to_sky_api_and_needs_the_client_and_subscription_key() -> None:
    template = find_template("blackbaud@1")
    assert template.auth["authorize_url"] == "https://oauth2.sky.blackbaud.com/authorization"
    assert template.auth["token_url"] == "https://oauth2.sky.blackbaud.com/token"
    assert template.needs == [  # no base_url: every customer's SKY API is api.sky.blackbaud.com
        "npo_id",
        "auth.client_id",
        "auth.client_secret",
        "auth.subscription_key",
        "auth.redirect_uri",
    ]
    data = {
        "npo_id": "harbour-hope",
        "template": "blackbaud@1",
        "auth": CREDENTIALS["blackbaud"],
        "params": {"page_size": 50},
    }
    source = read_config(resolve_template(data)).sources[0]
    assert source.base_url == "https://api.sky.blackbaud.com"
    assert {s.params["limit"] for s in source.streams} == {"50"}
    assert source.auth.subscription_key_header == "Bb-Api-Subscription-Key"  # type: ignore[union-attr]
    missing = {**data, "auth": {**CREDENTIALS["blackbaud"], "subscription_key": ""}}
    with pytest.raises(ConfigError, match=r"^auth\.subscription_key: blackbaud@1 needs the NPO"):
        resolve_template(missing)
