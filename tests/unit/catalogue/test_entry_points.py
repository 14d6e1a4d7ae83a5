"""A template input is accepted wherever a config enters: the config file (and ``npos add``,
which reads it first) and the platform's npo-assessed message; a bad one is one line."""

from __future__ import annotations

import json

import pytest

from npo_integration.errors import ConfigError
from npo_integration.models.assessment import NpoAssessed
from npo_integration.models.codec import DecodeError
from npo_integration.registry.config_file import parse_configs
from npo_integration.registry.config_input import decode_with_config

MOODLE = {
    "npo_id": "code-school",
    "template": "moodle@1",
    "base_url": "https://lms.example.org",
    "auth": {"key": "moodle-token"},
}


def test_a_config_file_may_hold_template_inputs() -> None:
    (config,) = parse_configs(json.dumps([MOODLE]), origin="npos.json")
    assert config.npo_id == "code-school"
    assert config.template is not None and config.template.version == 1


def test_a_config_file_names_a_bad_template_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^npos.json: template: 'moodle' has no version '2'"):
        parse_configs(json.dumps({**MOODLE, "template": "moodle@2"}), origin="npos.json")


def test_the_platform_may_send_a_template_input() -> None:
    message = {"event_id": "e-1", "occurred_at": "2026-11-30T09:00:00Z", "npo_id": "code-school"}
    raw = json.dumps({**message, "integration": MOODLE}).encode()
    event = decode_with_config(NpoAssessed, raw, at=("integration",))
    assert event.integration is not None
    assert event.integration.sources[0].base_url == "https://lms.example.org"


def test_the_platform_sending_a_bad_template_is_one_line() -> None:
    message = {"event_id": "e-1", "occurred_at": "2026-11-30T09:00:00Z", "npo_id": "code-school"}
    raw = json.dumps({**message, "integration": {**MOODLE, "template": "moodle@2"}}).encode()
    with pytest.raises(DecodeError, match=r"^NpoAssessed: integration: template: 'moodle' has no"):
        decode_with_config(NpoAssessed, raw, at=("integration",))
