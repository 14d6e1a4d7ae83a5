"""A template input is accepted wherever a config enters: the config file (and ``npos add``,
which reads it first) and the platform's npo-assessed message; a bad one is one line."""

from __future__ import annotations

import json

import pytest

from npo_integration.errors import ConfigError
from npo_integration.models.assessment import NpoAssessed
from npo_integration.registry.config_file import parse_configs

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
    event = NpoAssessed.model_validate({"npo_id": "code-school", "integration": MOODLE})
    assert event.integration is not None
    assert event.integration.sources[0].base_url == "https://lms.example.org"
