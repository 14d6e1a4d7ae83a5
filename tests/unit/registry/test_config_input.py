"""Configs in any accepted shape become the canonical one at the entry points
(``registry.config_input``); the model itself reads the canonical shape only."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from npo_integration.errors import ConfigError
from npo_integration.models.assessment import NpoAssessed
from npo_integration.models.codec import DecodeError, decode
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.config_file import parse_configs
from npo_integration.registry.config_input import (
    canonical_config,
    decode_config_version,
    decode_with_config,
    read_config,
)

ROOT = Path(__file__).resolve().parents[3]
MOODLE: dict[str, Any] = json.loads((ROOT / "examples" / "npos" / "moodle.json").read_text())


def assessed(integration: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "event_id": "e-1",
            "event_type": "npo.assessed",
            "occurred_at": "2026-11-30T09:00:00Z",
            "npo_id": integration["npo_id"],
            "integration": integration,
        }
    ).encode()


def test_a_one_system_config_becomes_the_source_main_and_its_input_is_left_alone() -> None:
    written = {**copy.deepcopy(MOODLE), "streams": {**MOODLE["streams"], "extra": None}}
    before = copy.deepcopy(written)
    canonical = canonical_config(written)
    assert written == before
    [main] = canonical["sources"]
    assert main["name"] == "main" and main["base_url"] == MOODLE["base_url"]
    assert [(s["name"], s["kind"]) for s in main["streams"]] == [
        ("offerings", "offerings"),
        ("assignments", "progress"),
    ]
    assert "base_url" not in canonical and canonical["npo_id"] == MOODLE["npo_id"]
    assert canonical_config(canonical) == canonical  # canonical already: the same


def test_the_model_reads_the_canonical_shape_only() -> None:
    with pytest.raises(ValidationError):
        NpoIntegrationConfig.model_validate(MOODLE)
    assert NpoIntegrationConfig.model_validate(canonical_config(MOODLE)) == read_config(MOODLE)


def test_both_shapes_at_once_are_refused_in_one_line() -> None:
    mixed = {**canonical_config(MOODLE), "base_url": "https://x.example.org"}
    with pytest.raises(ValidationError, match="either sources or the one-system fields"):
        read_config(mixed)
    with pytest.raises(DecodeError, match="integration: a config has either sources"):
        decode_with_config(NpoAssessed, assessed(mixed), at=("integration",))


def test_a_platform_message_in_either_shape_decodes_to_the_same_config() -> None:
    one_system = decode_with_config(NpoAssessed, assessed(MOODLE), at=("integration",))
    canonical = canonical_config(MOODLE)
    sources = decode_with_config(NpoAssessed, assessed(canonical), at=("integration",))
    assert one_system.integration == sources.integration == read_config(MOODLE)


def test_a_one_system_config_that_mentions_sources_still_decodes() -> None:
    written = {**MOODLE, "display_name": "sources"}
    raw = assessed(written)
    assert b'"sources"' in raw
    decoded = decode_with_config(NpoAssessed, raw, at=("integration",))
    assert decoded.integration is not None and decoded.integration.display_name == "sources"


def test_errors_name_the_fields_as_written_wherever_the_config_sits() -> None:
    broken = copy.deepcopy(MOODLE)
    broken["streams"]["assignments"]["schedule_seconds"] = 0
    with pytest.raises(DecodeError, match=r"integration\.streams\.assignments\.schedule_seconds"):
        decode_with_config(NpoAssessed, assessed(broken), at=("integration",))
    with pytest.raises(ConfigError, match=r"^f\.json: 0\.streams\.assignments\.schedule_seconds"):
        parse_configs(json.dumps(broken), origin="f.json")
    command = {"event_id": "c", "event_type": "npo_config.upsert", "npo_id": "moodle"}
    raw = json.dumps({**command, "occurred_at": "2026-11-30T09:00:00Z", "source": "cli"})
    with_config = json.loads(raw) | {"config": broken}
    with pytest.raises(DecodeError, match=r"config\.streams\.assignments\.schedule_seconds"):
        decode_with_config(ConfigCommand, json.dumps(with_config).encode(), at=("config",))


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2", b"\xff\xfe", b"[" * 10_000])
def test_bytes_that_are_not_json_are_refused_as_every_decode_refuses_them(raw: bytes) -> None:
    with pytest.raises(DecodeError) as expected:
        decode(NpoAssessed, raw)
    with pytest.raises(DecodeError) as caught:
        decode_with_config(NpoAssessed, raw, at=("integration",))
    assert str(caught.value) == str(expected.value)


def test_a_message_over_the_size_cap_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(DecodeError, match="more than 100"):
        decode_with_config(NpoAssessed, assessed(MOODLE), at=("integration",), max_bytes=100)


STORED = json.loads((ROOT / "tests" / "fixtures" / "stored_v1" / "values.json").read_text())


def test_a_stored_version_from_a_newer_release_is_read_tolerantly_but_not_a_newer_schema() -> None:
    """The fast path of stored configs keeps the stored-values policy (docs/contracts.md):
    fields a newer release added are ignored, a newer schema version is refused in one line."""
    written = json.loads(STORED["values"]["NpoConfigVersion"][0])
    assert "sources" in json.dumps(written)  # the canonical shape: the fast path
    added = {**written, "added_later": 1, "config": {**written["config"], "added_later": 2}}
    version = decode_config_version(json.dumps(added).encode())
    assert version == decode_config_version(json.dumps(written).encode())
    with pytest.raises(DecodeError, match="schema version 2 unknown to this release"):
        decode_config_version(json.dumps({**written, "v": 2}).encode())
