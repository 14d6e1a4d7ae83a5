"""Configs and table values written by main before sources (``tests/fixtures/legacy_main``) load
and work unchanged: the same stream keys, record keys, event ids and offering references, and a
record already processed is not published again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from npo_integration.expressions import parse_path
from npo_integration.models.codec import DecodeError, decode, encode
from npo_integration.models.internal import EnrolmentLink, FetchRequest, RawPage
from npo_integration.models.npo_config import NpoConfigVersion, NpoIntegrationConfig
from npo_integration.models.state import PullState, RecordState
from npo_integration.pull import schedule
from npo_integration.pull.raw import raw_item
from npo_integration.pull.records import record_id
from npo_integration.registry.config_input import decode_config_version
from npo_integration.transforms.registry import PluginRegistry
from tests.unit.ingest.conftest import Harness

STORED = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "legacy_main" / "stored.json").read_text()
)
NPOS = sorted(STORED["npos"])


def stored(npo_id: str) -> dict[str, Any]:
    return STORED["npos"][npo_id]  # type: ignore[no-any-return]


def config_of(npo_id: str) -> NpoIntegrationConfig:
    return decode_config_version(stored(npo_id)["config_version"].encode()).config


def pages_of(npo_id: str) -> list[RawPage]:
    return [decode(RawPage, page.encode()) for page in stored(npo_id)["raw_pages"]]


def harness_for(config: NpoIntegrationConfig) -> Harness:
    """The ingestion path wired as the agent wires it: the stream's source's plug-in and kind."""
    registry = PluginRegistry()
    h = Harness()

    def plugin_for(npo_id: str, stream: str) -> Any:
        found = config.stream(stream)
        assert found is not None
        return registry.for_config(found[0])

    def kind_of(npo_id: str, stream: str) -> Any:
        found = config.stream(stream)
        assert found is not None
        return found[1].kind

    ingestor = h.build()
    ingestor._plugin_for = plugin_for
    ingestor._kind_of = kind_of
    h.ingestor = ingestor
    link = decode(EnrolmentLink, stored(config.npo_id)["link"].encode())
    h.links[f"{link.npo_id}/ref:{link.npo_enrolment_ref}"] = link
    return h


@pytest.mark.parametrize("npo_id", NPOS)
def test_a_stored_config_loads_as_one_source_with_the_same_stream_keys(npo_id: str) -> None:
    raw = stored(npo_id)["config_version"].encode()
    with pytest.raises(DecodeError):  # the model reads the canonical shape only
        decode(NpoConfigVersion, raw)
    version = decode_config_version(raw)  # as the config table reads stored values
    config = version.config
    assert [(s.name, s.state_key) for s in config.all_sources()] == [("main", npo_id)]
    assert [key for key, _, _ in config.all_streams()] == ["offerings", "assignments"]
    # the scheduler reads stored bytes directly: the same streams, old bytes or new
    assert schedule.ScheduleView.model_validate_json(raw).intervals() == schedule.config_intervals(
        config
    )
    rewritten = encode(version)
    assert schedule.ScheduleView.model_validate_json(rewritten).intervals() == (
        schedule.config_intervals(config)
    )
    assert '"sources":[{"name":"main"' in rewritten.decode()
    assert decode(NpoConfigVersion, rewritten) == version  # stored again, read again: the same


@pytest.mark.parametrize("npo_id", NPOS)
def test_stored_pull_state_and_requests_name_the_streams_as_before(npo_id: str) -> None:
    config = config_of(npo_id)
    state = decode(PullState, stored(npo_id)["pull_state"].encode())
    assert state.stream("offerings").cursor == "c-off"
    assert state.stream("assignments").runs_since_full_sweep == 3
    assert set(state.streams) == set(schedule.config_intervals(config))
    request = decode(FetchRequest, stored(npo_id)["fetch_request"].encode())
    assert config.stream(request.stream) is not None  # a request already queued still runs


@pytest.mark.parametrize("npo_id", NPOS)
def test_fetched_records_get_the_keys_and_hashes_they_had(npo_id: str) -> None:
    config = config_of(npo_id)
    for page in pages_of(npo_id):
        found = config.stream(page.stream)
        assert found is not None
        path = parse_path(found[1].record_id_path)
        for item in page.records:
            again, _ = raw_item(
                npo_id, page.stream, record_id(item.payload, path) or "", item.payload
            )
            assert (again.record_key, again.content_hash) == (item.record_key, item.content_hash)


@pytest.mark.parametrize("npo_id", NPOS)
async def test_processed_records_are_not_published_again(npo_id: str) -> None:
    h = harness_for(config_of(npo_id))
    for raw_state in stored(npo_id)["record_states"]:
        state = decode(RecordState, raw_state.encode())
        h.states.local[state.record_key] = state
    raws = [raw for page in pages_of(npo_id) for raw in page.unpacked()]
    outcomes = await h.ingest_all(raws)
    h.runner.shutdown()
    assert [o.status for o in outcomes] == ["unchanged"] * len(raws)
    assert h.log.events("offerings") == [] and h.log.events("assignment-updated") == []


@pytest.mark.parametrize("npo_id", NPOS)
async def test_records_become_the_same_events_under_the_same_keys(npo_id: str) -> None:
    h = harness_for(config_of(npo_id))
    for page in pages_of(npo_id):
        for raw in page.unpacked():
            await h.ingest(raw)
    h.runner.shutdown()
    events = [
        {"topic": topic, "key": key, "event": event}
        for topic in ("offerings", "assignment-updated")
        for key, event in zip(h.log.keys(topic), h.log.events(topic), strict=True)
    ]
    expected = stored(npo_id)["events"]
    assert [(e["topic"], e["key"], e["event"]["event_id"]) for e in events] == [
        (e["topic"], e["key"], e["event"]["event_id"]) for e in expected
    ]
    offering = events[0]["event"]["offering"]
    assert offering == expected[0]["event"]["offering"]  # npo_offering_ref unprefixed, as before
    assert [encode(s) for s in h.states.local.values()] != []
    assert [s.record_key for s in h.states.local.values()] == [
        decode(RecordState, r.encode()).record_key for r in stored(npo_id)["record_states"]
    ]
