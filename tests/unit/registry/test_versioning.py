"""Config commands become versions: numbered, idempotent on replay, with reseal, deactivate,
pause, resume and erase; the start-up config file changes only what it manages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from npo_integration.errors import ConfigError
from npo_integration.models.codec import encode
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import NpoConfigVersion, NpoIntegrationConfig
from npo_integration.registry.config_input import decode_config_version, read_config
from npo_integration.registry.sealed_config import seal_config
from npo_integration.registry.versioning import (
    ErasedNpoError,
    UnknownNpoError,
    file_may_change,
    next_version,
)
from npo_integration.sealing import SecretBox

NOW = datetime(2026, 11, 28, tzinfo=UTC)
KEY = SecretBox.generate_key()
BOX = SecretBox([KEY])


def config(name: str = "N", token: str = "t") -> NpoIntegrationConfig:
    plain = read_config(
        {
            "npo_id": "n1",
            "display_name": name,
            "base_url": "https://n.example",
            "auth": {"kind": "bearer", "token": token},
            "transform": {"kind": "plugin", "name": "simple"},
        }
    )
    return seal_config(plain, BOX)


def upsert(c: NpoIntegrationConfig) -> ConfigCommand:
    return ConfigCommand(
        event_type="npo_config.upsert", npo_id=c.npo_id, source="admin-api", config=c
    )


def test_versions_count_up_and_a_replay_changes_nothing() -> None:
    v1 = next_version(None, upsert(config()), NOW, BOX)
    assert v1 is not None and (v1.version, v1.change) == (1, "upsert")
    # The same secret sealed again is a different ciphertext, but the same config.
    assert next_version(v1, upsert(config()), NOW, BOX) is None
    v2 = next_version(v1, upsert(config(name="Renamed")), NOW, BOX)
    assert v2 is not None and v2.version == 2 and v2.config.display_name == "Renamed"
    assert next_version(v2, upsert(config(name="Renamed", token="new")), NOW, BOX) is not None


def test_deactivate_and_reseal_need_a_known_npo() -> None:
    for kind in ("npo_config.deactivate", "npo_config.reseal"):
        with pytest.raises(UnknownNpoError):
            next_version(None, ConfigCommand(event_type=kind, npo_id="n1", source="cli"), NOW, BOX)


def test_reseal_moves_secrets_to_the_primary_key() -> None:
    v1 = next_version(None, upsert(config()), NOW, BOX)
    assert v1 is not None
    new_key = SecretBox.generate_key()
    ring = SecretBox([new_key, KEY])
    v2 = next_version(
        v1, ConfigCommand(event_type="npo_config.reseal", npo_id="n1", source="cli"), NOW, ring
    )
    assert v2 is not None and v2.change == "reseal" and v2.version == 2
    assert SecretBox([new_key]).open(v2.config.sources[0].auth.token.get_secret_value()) == "t"  # type: ignore[union-attr]


def test_an_unsealed_secret_is_refused() -> None:
    plain = read_config(
        {
            "npo_id": "n1",
            "display_name": "N",
            "base_url": "https://n.example",
            "auth": {"kind": "bearer", "token": "clear"},
            "transform": {"kind": "plugin", "name": "simple"},
        }
    )
    with pytest.raises(ConfigError, match="not sealed"):
        next_version(None, upsert(plain), NOW, BOX)


def state(kind: str, source: str = "cli") -> ConfigCommand:
    return ConfigCommand.model_validate({"event_type": kind, "npo_id": "n1", "source": source})


def test_pause_and_resume_flip_active_and_keep_the_sealed_secrets() -> None:
    v1 = next_version(None, upsert(config()), NOW, BOX)
    assert v1 is not None
    paused = next_version(v1, state("npo_config.pause"), NOW, BOX)
    assert paused is not None and (paused.version, paused.change) == (2, "pause")
    assert paused.config.active is False
    assert paused.config.sources == v1.config.sources  # same ciphertext: nothing resealed
    assert next_version(paused, state("npo_config.pause"), NOW, BOX) is None  # a replay
    assert next_version(paused, state("npo_config.deactivate"), NOW, BOX) is None  # same state
    resumed = next_version(paused, state("npo_config.resume"), NOW, BOX)
    assert resumed is not None and (resumed.version, resumed.change) == (3, "resume")
    assert resumed.config == v1.config
    assert next_version(resumed, state("npo_config.resume"), NOW, BOX) is None


def test_resume_lifts_a_deactivation_too() -> None:
    v1 = next_version(None, upsert(config()), NOW, BOX)
    assert v1 is not None
    off = next_version(v1, state("npo_config.deactivate"), NOW, BOX)
    assert off is not None and not off.config.active
    on = next_version(off, state("npo_config.resume"), NOW, BOX)
    assert on is not None and on.config.active


def test_pause_and_resume_need_a_known_npo() -> None:
    for kind in ("npo_config.pause", "npo_config.resume"):
        with pytest.raises(UnknownNpoError):
            next_version(None, state(kind), NOW, BOX)


def _history(*steps: tuple[str, str]) -> list[NpoConfigVersion]:
    """Versions made by ``(command type, source)`` in turn (the first an upsert)."""
    versions: list[NpoConfigVersion] = []
    for kind, source in steps:
        current = versions[-1] if versions else None
        command = (
            upsert(config(name=f"N{len(versions)}")).model_copy(update={"source": source})
            if kind == "npo_config.upsert"
            else state(kind, source)
        )
        made = next_version(current, command, NOW, BOX)
        assert made is not None
        versions.append(made)
    return versions


def _file_may_change(versions: list[NpoConfigVersion]) -> bool:
    by_number = {v.version: v for v in versions}
    return file_may_change(versions[-1] if versions else None, by_number.get)


def test_the_config_file_manages_only_what_it_made_and_nobody_changed_since() -> None:
    up, pause, resume, deact, reseal = (
        "npo_config.upsert",
        "npo_config.pause",
        "npo_config.resume",
        "npo_config.deactivate",
        "npo_config.reseal",
    )
    assert _file_may_change([])  # not registered: the file creates it
    assert _file_may_change(_history((up, "file")))
    assert _file_may_change(_history((up, "cli"), (up, "file")))  # the file's again (2nd version)
    assert _file_may_change(_history((up, "file"), (reseal, "admin-api"), (reseal, "cli")))
    for other in ("admin-api", "cli", "npo-assessed"):
        assert not _file_may_change(_history((up, other)))
        assert not _file_may_change(_history((up, "file"), (up, other)))
    assert not _file_may_change(_history((up, "file"), (pause, "cli")))
    assert not _file_may_change(_history((up, "file"), (pause, "cli"), (resume, "cli")))
    assert not _file_may_change(_history((up, "file"), (deact, "admin-api"), (reseal, "cli")))
    # a reseal whose earlier versions are gone: not guessed to be the file's
    lone = _history((up, "file"), (reseal, "cli"))
    assert not file_may_change(lone[-1], lambda number: None)


def test_an_erase_makes_an_inactive_erased_version_without_any_secret() -> None:
    v1 = next_version(None, upsert(config(token="very-secret-token")), NOW, BOX)
    assert v1 is not None
    erased = next_version(v1, state("npo_config.erase"), NOW, BOX)
    assert erased is not None and (erased.version, erased.change) == (2, "erase")
    assert erased.config.active is False
    assert [source.auth.kind for source in erased.config.sources] == ["none"]
    stored = encode(erased)
    sealed = v1.config.sources[0].auth.token.get_secret_value()  # type: ignore[union-attr]
    assert sealed.encode() in encode(v1) and sealed.encode() not in stored
    assert decode_config_version(stored) == erased  # stored as a valid config
    assert erased.config.display_name == v1.config.display_name  # the rest stays, to be read
    assert next_version(erased, state("npo_config.erase"), NOW, BOX) is None  # a replay


def test_an_erased_npo_is_not_resumed_and_stays_erased_until_an_upsert() -> None:
    v1 = next_version(None, upsert(config()), NOW, BOX)
    assert v1 is not None
    erased = next_version(v1, state("npo_config.erase"), NOW, BOX)
    assert erased is not None
    with pytest.raises(ErasedNpoError, match="erased"):
        next_version(erased, state("npo_config.resume"), NOW, BOX)
    for kind in ("npo_config.pause", "npo_config.deactivate", "npo_config.reseal"):
        assert next_version(erased, state(kind), NOW, BOX) is None  # still erased
    back = next_version(erased, upsert(config()), NOW, BOX)
    assert back is not None and (back.version, back.change) == (3, "upsert")
    assert back.config.active and back.config.sources[0].auth.kind == "bearer"


def test_erasing_a_paused_npo_erases_it_and_an_unknown_one_is_refused() -> None:
    paused = _history(("npo_config.upsert", "cli"), ("npo_config.pause", "cli"))[-1]
    erased = next_version(paused, state("npo_config.erase"), NOW, BOX)
    assert erased is not None and erased.change == "erase" and not erased.config.active
    with pytest.raises(UnknownNpoError):
        next_version(None, state("npo_config.erase"), NOW, BOX)
