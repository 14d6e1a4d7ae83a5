"""A dry run of an NPO config before it is registered: what the NPO answers, what the transform
makes of it, what an enrolment would send.

The config is checked and sealed exactly as the registry does on submit
(``ConfigSubmitter.upsert_command``; the command is dropped, never sent), so the preview refuses
what the registry would refuse, with the same messages. Its streams are walked with the pull's
own walker (``pull.walker.stream_pages``) through an HTTP client of its own, so the worker's
per-NPO state (rate limit, circuit breaker, OAuth token) is untouched; every request it sends is
recorded by the client's observer and shown with its secrets redacted. Records go through the
one plug-in caller (``PluginRunner``); the enrolment request is built as the push path builds it
(``push.calls.build_call``) and shown, not sent. Nothing is published and no table changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

from npo_integration.errors import ConfigError, NpoIntegrationError
from npo_integration.expressions import parse_path
from npo_integration.http.client import NpoHttpClient, SentRequest
from npo_integration.http.errors import PageCapError
from npo_integration.http.npo_state import CallCaps
from npo_integration.http.urls import join_base
from npo_integration.ingest.ingestor import METHOD_OF_KIND
from npo_integration.models.events import (
    Candidate,
    CandidateAssignmentEvent,
    Offering,
    OfferingRef,
)
from npo_integration.models.npo_config import (
    NpoIntegrationConfig,
    NpoSource,
    StreamConfig,
    StreamKind,
    StreamName,
)
from npo_integration.models.secret import REDACTED
from npo_integration.pull.records import record_id
from npo_integration.pull.walker import Page, stream_pages
from npo_integration.push.calls import build_call
from npo_integration.push.identity import idempotency_key
from npo_integration.registry.redaction import redact_document
from npo_integration.registry.submit import ConfigSubmitter
from npo_integration.registry.warnings import config_warnings
from npo_integration.sealing import SecretBox
from npo_integration.transforms.contract import EnrolmentRequest, TransformError, TransformPlugin
from npo_integration.transforms.invoke import PluginRunner, plugin_call
from npo_integration.transforms.registry import PluginRegistry

log = logging.getLogger(__name__)

MAX_PAGES = 10
"""Pages a preview may walk per stream: enough to see pagination work, few enough to answer
quickly and not load the NPO."""
PREVIEW_SECONDS = 25.0
"""The whole preview answers within this (the CLI's admin call waits 30 s); a stream still
walking then ends with an error saying so."""
SAMPLE_ASSIGNMENT_ID = "preview-sample"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PreviewRequest(_Strict):
    """``POST /admin/npos/preview``: a config as it would be registered (secrets in clear, sealed
    for the calls and never shown), and what to preview of it."""

    config: NpoIntegrationConfig
    stream: StreamName | None = Field(
        None,
        description=(
            "one stream by key (offerings, assignments, SOURCE/STREAM); default: every enabled "
            "stream of every source"
        ),
    )
    pages: int = Field(1, ge=1, le=MAX_PAGES, description="pages walked per stream")
    assignment: CandidateAssignmentEvent | None = Field(
        None,
        description=(
            "the assignment to build the enrolment request for (not sent); default: a sample "
            "candidate on the first offering previewed"
        ),
    )


class RequestShown(_Strict):
    """One request the preview sent, as sent but for its secrets."""

    method: str
    url: str
    status: int | None
    milliseconds: float
    headers: dict[str, str]
    error: str | None = None


class RecordResult(_Strict):
    """What the transform made of one record: a platform model, nothing (skipped), or an error
    naming the platform field and the NPO path when it knows them."""

    record_id: str | None
    model: dict[str, Any] | None = None
    skipped: bool = False
    error: str | None = None
    field: str | None = None
    path: str | None = None


class StreamPreview(_Strict):
    key: StreamName
    name: str
    kind: StreamKind
    enabled: bool
    walked: bool
    pages: int = 0
    more: bool = Field(False, description="the NPO has more pages than were asked for")
    parent_record_id: str | None = Field(
        None, description="a child stream is walked for the first record of its parent stream"
    )
    requests: list[RequestShown] = Field(default_factory=list)
    records: list[Any] = Field(default_factory=list, description="as the NPO sent them")
    results: list[RecordResult] = Field(default_factory=list, description="one per record")
    error: str | None = Field(None, description="why the walk stopped early")


class EnrolmentSample(_Strict):
    """The enrol request that would be sent for the assignment (it is not sent); the auth kind
    signs it at send time, so no credential is shown."""

    assignment_id: str
    method: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth: str | None = None
    json_body: Any = None
    form: list[tuple[str, str]] | None = None
    error: str | None = None
    field: str | None = None
    path: str | None = None


class SourcePreview(_Strict):
    name: str
    base_url: str
    streams: list[StreamPreview]
    enrolment: EnrolmentSample | None = Field(
        None, description="null when the source does not enrol"
    )


class PreviewAnswer(_Strict):
    npo_id: str
    sources: list[SourcePreview]
    warnings: list[str] = Field(default_factory=list)


class _Recorder:
    """The client's observer: keeps what was sent, redacted, for the stream being walked."""

    def __init__(self) -> None:
        self.sent: list[SentRequest] = []

    def __call__(self, sent: SentRequest) -> None:
        self.sent.append(sent)

    def take(self, client: NpoHttpClient, source: NpoSource) -> list[RequestShown]:
        scrub = client.authenticator(source).scrub
        shown = [
            RequestShown(
                method=sent.method,
                url=scrub(sent.url),
                status=sent.status,
                milliseconds=round(sent.seconds * 1000, 1),
                headers={
                    name: scrub(value) for name, value in redact_document(sent.headers).items()
                },
                error=None if sent.error is None else scrub(sent.error),
            )
            for sent in self.sent
        ]
        self.sent = []
        return shown


class Previewer:
    """Runs previews with the worker's checks, secret box, plug-ins and call caps."""

    def __init__(
        self,
        *,
        submitter: ConfigSubmitter,
        box: SecretBox,
        plugin_registry: PluginRegistry,
        plugin_runner: PluginRunner,
        allow_private: bool,
        caps: CallCaps,
        transform_timeout: float,
        seconds: float = PREVIEW_SECONDS,
    ) -> None:
        self._submitter = submitter
        self._box = box
        self._plugins = plugin_registry
        self._runner = plugin_runner
        self._allow_private = allow_private
        self._caps = caps
        self._transform_timeout = transform_timeout
        self._seconds = seconds

    async def preview(self, request: PreviewRequest) -> PreviewAnswer:
        """The preview of ``request``; ``ConfigError`` (naming the field) when the registry
        would refuse the config or the stream is not one of it."""
        command = self._submitter.upsert_command(request.config, "admin-api")  # never sent
        assert command.config is not None  # an upsert carries its config
        config = command.config
        selected = _selected(config, request.stream)
        deadline = time.monotonic() + self._seconds
        recorder = _Recorder()
        sources: list[SourcePreview] = []
        async with NpoHttpClient(
            self._box, allow_private=self._allow_private, caps=self._caps, observer=recorder
        ) as client:
            for source in config.all_sources():
                streams = [s for s in source.streams if (source.name, s.name) in selected]
                if request.stream is not None and not streams:
                    continue
                walk = _SourceWalk(
                    _Calls(client, recorder, self._runner, self._transform_timeout, deadline),
                    source,
                    self._plugins.load(source),
                    request,
                )
                sources.append(await walk.run(streams))
        return PreviewAnswer(
            npo_id=config.npo_id, sources=sources, warnings=config_warnings(config, self._caps)
        )


def _selected(config: NpoIntegrationConfig, key: StreamName | None) -> set[tuple[str, str]]:
    """``(source, stream)`` of the streams to walk: the one named, or every enabled one."""
    if key is None:
        return {(s.name, stream.name) for _, s, stream in config.all_streams() if stream.enabled}
    found = config.stream(key)
    if found is None:
        keys = ", ".join(k for k, _, _ in config.all_streams()) or "none"
        raise ConfigError(f"stream: {key!r} is not a stream of {config.npo_id} (streams: {keys})")
    return {(found[0].name, found[1].name)}


@dataclass(frozen=True, slots=True)
class _Calls:
    """What one preview calls with: its own HTTP client and recorder, the plug-in runner, and
    its deadline (``time.monotonic``)."""

    client: NpoHttpClient
    recorder: _Recorder
    runner: PluginRunner
    transform_timeout: float
    deadline: float


class _SourceWalk:
    """One source of a preview: its streams walked one after another, then its enrolment."""

    def __init__(
        self, calls: _Calls, source: NpoSource, plugin: TransformPlugin, request: PreviewRequest
    ) -> None:
        self._calls = calls
        self._client = calls.client
        self._source = source
        self._plugin = plugin
        self._request = request
        self._first_offering: str | None = None

    async def run(self, walked: list[StreamConfig]) -> SourcePreview:
        streams = []
        for stream in self._source.streams:
            if stream in walked:
                streams.append(await self._stream(stream))
            elif self._request.stream is None:
                streams.append(self._not_walked(stream))
        return SourcePreview(
            name=self._source.name,
            base_url=self._source.base_url,
            streams=streams,
            enrolment=await self._enrolment(),
        )

    def _not_walked(self, stream: StreamConfig) -> StreamPreview:
        return StreamPreview(
            key=self._source.key_of(stream.name),
            name=stream.name,
            kind=stream.kind,
            enabled=stream.enabled,
            walked=False,
        )

    async def _stream(self, stream: StreamConfig) -> StreamPreview:
        pages: list[Page] = []
        more = False
        error: str | None = None
        parent_id: str | None = None
        try:
            async with asyncio.timeout_at(self._loop_deadline()):
                parent = None
                if stream.parent_stream is not None:
                    parent, parent_id = await self._first_parent(stream.parent_stream)
                try:
                    async for page in stream_pages(
                        self._client,
                        self._source,
                        stream,
                        parent=parent,
                        max_pages=self._request.pages,
                        retry=False,
                    ):
                        pages.append(page)
                except PageCapError:
                    more = True
        except TimeoutError:
            error = "the preview's time limit was reached"
        except NpoIntegrationError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug or unforeseen input: this stream's error, not a 500
            log.exception("preview of %s %s failed", self._source.state_key, stream.name)
            error = f"unexpected {type(exc).__name__}"
        records = [record for page in pages for record in page.records]
        return StreamPreview(
            key=self._source.key_of(stream.name),
            name=stream.name,
            kind=stream.kind,
            enabled=stream.enabled,
            walked=True,
            pages=len(pages),
            more=more,
            parent_record_id=parent_id,
            requests=self._calls.recorder.take(self._client, self._source),
            records=records,
            results=await self._results(stream, records),
            error=None if error is None else self._client.authenticator(self._source).scrub(error),
        )

    def _loop_deadline(self) -> float:
        """The preview's deadline on the event loop's clock."""
        left = self._calls.deadline - time.monotonic()
        return asyncio.get_running_loop().time() + max(left, 0.0)

    async def _first_parent(self, name: str) -> tuple[Any, str | None]:
        parent_stream = self._source.stream(name)
        assert parent_stream is not None  # the config's own check
        async for page in stream_pages(
            self._client, self._source, parent_stream, max_pages=1, retry=False
        ):
            if page.records:
                first = page.records[0]
                return first, record_id(first, parse_path(parent_stream.record_id_path))
            break
        raise ConfigError(f"parent stream {name!r} has no record on its first page to walk for")

    async def _results(self, stream: StreamConfig, records: list[Any]) -> list[RecordResult]:
        method = METHOD_OF_KIND[stream.kind]
        key = self._source.npo_id
        calls = [plugin_call(self._plugin, method, record, key=key) for record in records]
        outputs = await self._calls.runner.map(calls, timeout=self._calls.transform_timeout)
        id_path = parse_path(stream.record_id_path)
        results = []
        for record, output in zip(records, outputs, strict=True):
            found = record_id(record, id_path)
            if isinstance(output, TransformError):
                results.append(
                    RecordResult(
                        record_id=found, error=output.reason, field=output.field, path=output.path
                    )
                )
            elif output is None:
                results.append(RecordResult(record_id=found, skipped=True))
            else:
                if isinstance(output, Offering) and self._first_offering is None:
                    self._first_offering = output.npo_offering_ref
                results.append(RecordResult(record_id=found, model=output.model_dump(mode="json")))
        return results

    async def _enrolment(self) -> EnrolmentSample | None:
        source = self._source
        endpoint = source.enrolment.enrol
        if not source.enrolment.enabled or endpoint is None:
            return None
        assignment = self._assignment()
        sample = EnrolmentSample(assignment_id=assignment.assignment_id)
        call = plugin_call(self._plugin, "enrolment_request", assignment, key=source.npo_id)
        try:
            request: EnrolmentRequest = await self._calls.runner.call(
                call, timeout=self._calls.transform_timeout
            )
            built = build_call(endpoint, request)
        except TransformError as exc:
            return sample.model_copy(
                update={"error": exc.reason, "field": exc.field, "path": exc.path}
            )
        except NpoIntegrationError as exc:
            return sample.model_copy(update={"error": str(exc)})
        url = URL(join_base(source.base_url, built.path))
        headers = {
            **source.headers,
            "Idempotency-Key": idempotency_key("enrol", assignment.assignment_id),
        }
        return sample.model_copy(
            update={
                "method": built.method,
                "url": str(url.extend_query(built.params) if built.params else url),
                "headers": headers,
                "auth": _auth_shown(source),
                "json_body": built.json,
                "form": built.form,
            }
        )

    def _assignment(self) -> CandidateAssignmentEvent:
        """The operator's assignment if it is to this source's offering, else a sample one on the
        first offering previewed (its reference as the platform has it)."""
        given = self._request.assignment
        config_source = self._source
        if given is not None:
            owner = self._request.config.source_of_offering(given.offering.npo_offering_ref)
            if owner is not None and owner.name == config_source.name:
                return given
        ref = self._first_offering or f"{config_source.ref_prefix}sample-offering"
        return CandidateAssignmentEvent(
            event_type="candidate_assignment.created",
            assignment_id=SAMPLE_ASSIGNMENT_ID,
            candidate=Candidate(
                candidate_id="preview-candidate",
                email="sample.candidate@example.org",
                first_name="Sample",
                last_name="Candidate",
            ),
            offering=OfferingRef(
                offering_id="preview-offering",
                npo_id=config_source.npo_id,
                npo_offering_ref=ref,
            ),
        )


def _auth_shown(source: NpoSource) -> str:
    """How the request is signed at send time, without the credential."""
    kind = source.auth.kind
    return "none" if kind == "none" else f"{kind} (added when sent: {REDACTED})"


__all__ = [
    "MAX_PAGES",
    "EnrolmentSample",
    "PreviewAnswer",
    "PreviewRequest",
    "Previewer",
    "RecordResult",
    "RequestShown",
    "SourcePreview",
    "StreamPreview",
]
