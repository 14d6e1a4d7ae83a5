"""The preview against the in-process simulator: what it shows, what it keeps secret, and that it
refuses what the registry refuses, in the registry's words."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from npo_integration.errors import ConfigError
from npo_integration.http.npo_state import UNCAPPED
from npo_integration.registry.config_input import read_config
from npo_integration.registry.preview import Previewer, PreviewRequest
from npo_integration.registry.submit import ConfigSubmitter
from npo_integration.sealing import SecretBox
from npo_integration.transforms.invoke import PluginRunner
from npo_integration.transforms.registry import PluginRegistry
from npo_sandbox import SandboxServer

TOKEN = "preview-secret-token-123"


def config(base_url: str, *, token: str = TOKEN, **extra: Any) -> dict[str, Any]:
    return {
        "npo_id": "acme",
        "display_name": "Acme",
        "base_url": base_url,
        "auth": {"kind": "bearer", "token": token},
        "streams": {
            "offerings": {
                "path": "/api/offerings",
                "records_path": "data",
                "pagination": {"style": "page_number", "page_size": 2},
            }
        },
        "enrolment": {"enabled": True, "enrol": {"path": "/api/enrolments"}},
        "transform": {"kind": "plugin", "name": "simple"},
        **extra,
    }


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(host="127.0.0.1", port=0) as server:
        await server.add_npo("acme", auth={"kind": "bearer", "token": TOKEN}, offerings=5)
        yield server


@pytest.fixture
async def previewer() -> AsyncIterator[Previewer]:
    box = SecretBox([SecretBox.generate_key()])
    registry = PluginRegistry()
    submitter = ConfigSubmitter(
        topic="unused",
        allow_private=True,
        plugin_registry=registry,
        secret_box=box,
        output_log=cast(Any, None),  # a preview never sends
        producer=cast(Any, None),
    )
    runner = PluginRunner(max_workers=2)
    yield Previewer(
        submitter=submitter,
        box=box,
        plugin_registry=registry,
        plugin_runner=runner,
        allow_private=True,
        caps=UNCAPPED,
        transform_timeout=5.0,
    )
    runner.shutdown()


def request(document: dict[str, Any], **options: Any) -> PreviewRequest:
    return PreviewRequest(config=read_config(document), **options)


async def test_a_preview_shows_requests_records_results_and_the_enrol_request(
    sandbox: SandboxServer, previewer: Previewer
) -> None:
    answer = await previewer.preview(request(config(sandbox.npo_base_url("acme")), pages=2))
    [source] = answer.sources
    [stream] = source.streams
    assert (stream.key, stream.pages, stream.more, stream.error) == ("offerings", 2, True, None)
    assert [r.status for r in stream.requests] == [200, 200]
    assert stream.requests[0].url.endswith("/api/offerings?page=1&per_page=2")
    assert stream.requests[0].headers["Authorization"] == "***"
    assert [r.record_id for r in stream.results] == ["off-0001", "off-0002", "off-0003", "off-0004"]
    assert stream.records[0]["id"] == "off-0001"
    assert stream.results[0].model is not None
    assert stream.results[0].model["npo_offering_ref"] == "off-0001"
    sample = source.enrolment
    assert sample is not None and sample.error is None
    assert (sample.method, sample.url) == ("POST", f"{sandbox.npo_base_url('acme')}/api/enrolments")
    assert sample.json_body is not None and "off-0001" in json.dumps(sample.json_body)
    assert sample.auth is not None and TOKEN not in sample.auth
    assert TOKEN not in answer.model_dump_json()
    assert await sandbox.enrolments("acme") == []  # shown, never sent


async def test_a_refused_token_shows_the_401_and_no_token(
    sandbox: SandboxServer, previewer: Previewer
) -> None:
    wrong = "wrong-token-456789"
    answer = await previewer.preview(request(config(sandbox.npo_base_url("acme"), token=wrong)))
    [stream] = answer.sources[0].streams
    assert [r.status for r in stream.requests] == [401]
    assert stream.error is not None and "HTTP 401" in stream.error
    assert wrong not in answer.model_dump_json()


async def test_an_error_inside_a_200_stops_the_stream(
    sandbox: SandboxServer, previewer: Previewer
) -> None:
    await sandbox.set_faults("acme", "offerings", fail_next=[{"error_in_200": True}])
    document = config(sandbox.npo_base_url("acme"), error_in_body={"path": "exception"})
    answer = await previewer.preview(request(document))
    [stream] = answer.sources[0].streams
    assert [r.status for r in stream.requests] == [200]
    assert stream.error is not None and "invalidtoken" in stream.error
    assert stream.results == []


async def test_a_record_the_mapping_cannot_read_is_an_error_naming_field_and_path(
    sandbox: SandboxServer, previewer: Previewer
) -> None:
    await sandbox.upsert("acme", "offerings", {"id": "off-0002", "title": None})
    answer = await previewer.preview(request(config(sandbox.npo_base_url("acme"))))
    [stream] = answer.sources[0].streams
    first, second = stream.results
    assert first.error is None and first.model is not None
    assert (second.record_id, second.field, second.path) == ("off-0002", "offering.title", "title")
    assert second.error


async def test_one_stream_by_key_and_an_unknown_one(
    sandbox: SandboxServer, previewer: Previewer
) -> None:
    document = config(sandbox.npo_base_url("acme"))
    answer = await previewer.preview(request(document, stream="offerings"))
    assert [s.key for s in answer.sources[0].streams] == ["offerings"]
    with pytest.raises(ConfigError, match="stream: 'nope' is not a stream of acme"):
        await previewer.preview(request(document, stream="nope"))


async def test_what_the_registry_refuses_is_refused_in_its_words(
    sandbox: SandboxServer, previewer: Previewer
) -> None:
    document = config(sandbox.npo_base_url("acme"), headers={"X-Api-Key": "k-123456"})
    with pytest.raises(ConfigError) as refused:
        await previewer.preview(request(document))
    assert str(refused.value).startswith("headers.X-Api-Key: looks like a credential")
    assert await sandbox.requests("acme") == []  # refused before any call
