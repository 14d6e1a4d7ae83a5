"""The decoded-config cache: reads fill it, writes only refresh what it holds."""

from __future__ import annotations

from datetime import UTC, datetime

from npo_integration.app import app  # noqa: F401  (wires the tables first)
from npo_integration.models.codec import encode
from npo_integration.models.npo_config import NpoConfigVersion
from npo_integration.registry.config_input import read_config
from npo_integration.tables.npo_configs import DecodedCache


def stored(npo_id: str, number: int = 1) -> tuple[bytes, NpoConfigVersion]:
    config = read_config(
        {
            "npo_id": npo_id,
            "display_name": f"NPO {npo_id}",
            "base_url": f"https://{npo_id}.example.org",
            "transform": {"kind": "plugin", "name": "simple"},
        }
    )
    version = NpoConfigVersion(
        npo_id=npo_id,
        version=number,
        updated_at=datetime(2026, 12, 3, tzinfo=UTC),
        source="admin-api",
        change="upsert",
        config=config,
    )
    return encode(version), version


def test_a_read_decodes_once_and_keeps_the_config() -> None:
    cache = DecodedCache(2)
    raw, _ = stored("a")
    first = cache.get("a", raw)
    assert first.npo_id == "a" and "a" in cache
    assert cache.get("a", raw) is first  # no second decode


def test_a_write_refreshes_a_kept_config_and_adds_no_other() -> None:
    cache = DecodedCache(2)
    raw_a, _ = stored("a")
    cache.get("a", raw_a)
    raw_a2, a2 = stored("a", 2)
    cache.replace("a", raw_a2, a2)
    assert cache.get("a", raw_a2) is a2  # the written object, not a decode of its bytes

    raw_b, b = stored("b")
    cache.replace("b", raw_b, b)
    assert "b" not in cache  # written, never read: not kept
    assert cache.get("b", raw_b) is not b  # a read decodes it


def test_new_bytes_are_decoded_again() -> None:
    cache = DecodedCache(2)
    raw, _ = stored("a")
    cache.get("a", raw)
    raw2, _ = stored("a", 2)
    assert cache.get("a", raw2).version == 2


def test_the_least_recently_read_goes_first() -> None:
    cache = DecodedCache(2)
    raws = {npo_id: stored(npo_id)[0] for npo_id in "abc"}
    cache.get("a", raws["a"])
    cache.get("b", raws["b"])
    cache.get("a", raws["a"])
    cache.get("c", raws["c"])
    assert "a" in cache and "c" in cache and "b" not in cache
