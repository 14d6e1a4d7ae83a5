"""Extracting one stream: pages go out before their cursor is committed; a
failure keeps what was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from npo_integration.errors import RetriableError
from npo_integration.http.errors import NpoUnavailableError
from npo_integration.models.internal import FetchRequest, RawPage, RawRecord
from npo_integration.models.npo_config import StreamConfig
from npo_integration.pull.extract import StreamPuller
from npo_integration.pull.walker import Page
from npo_integration.registry.config_input import read_config

CONFIG = read_config(
    {
        "npo_id": "n1",
        "display_name": "N",
        "base_url": "https://n.example",
        "streams": {
            "offerings": {"path": "/o", "incremental": {"cursor_field": "updated"}},
            "assignments": {"path": "/c/{parent.id}/e", "parent_stream": "offerings"},
        },
        "transform": {"kind": "plugin", "name": "simple"},
    }
)


class FakeClient:
    """Serves pages per stream path; can fail after a number of pages."""

    def __init__(self, pages: dict[str, list[list[dict]]], fail_after: int | None = None) -> None:
        self.by_path = pages
        self.fail_after = fail_after
        self.served = 0

    async def pages_of(self, path: str) -> AsyncIterator[Page]:
        for number, records in enumerate(self.by_path[path], start=1):
            if self.fail_after is not None and self.served >= self.fail_after:
                raise NpoUnavailableError("HTTP 503", status=503)
            self.served += 1
            updated = [r["updated"] for r in records if "updated" in r]
            yield Page(
                records=records,
                page_number=number,
                url=path,
                next_cursor_candidate=max(updated, default=None),
            )

    def pages(
        self, config: Any, stream: StreamConfig, *, cursor: str | None = None, parent: Any = None
    ) -> Any:
        path = stream.path.replace("{parent.id}", str(parent["id"])) if parent else stream.path
        return self.pages_of(path)


async def run(
    client: FakeClient, stream: str = "offerings", **options: Any
) -> tuple[Any, list[list[RawRecord]], list[str], list[str]]:
    events: list[str] = []
    published: list[list[RawRecord]] = []
    cursors: list[str] = []

    async def publish(pages: list[RawPage]) -> None:
        batch = [record for page in pages for record in page.unpacked()]
        published.append(batch)
        events.append(f"publish {len(batch)}")

    def commit(cursor: str) -> None:
        cursors.append(cursor)
        events.append(f"commit {cursor}")

    puller = StreamPuller(client.pages, CONFIG, stream, **options)  # type: ignore[arg-type]
    outcome = await puller.run(cursor=None, trace_id="t", publish=publish, commit_cursor=commit)
    return outcome, published, cursors, events


TWO_PAGES = {
    "/o": [[{"id": 1, "updated": "a"}, {"id": 2, "updated": "b"}], [{"id": 3, "updated": "c"}]]
}


async def test_pages_go_out_together_before_their_cursor_is_committed() -> None:
    outcome, published, _, events = await run(FakeClient(TWO_PAGES))
    assert events == ["publish 3", "commit c"]
    assert (outcome.records, outcome.pages, outcome.error) == (3, 2, None)
    keys = [r.record_key for batch in published for r in batch]
    assert keys == ["n1/offerings/1", "n1/offerings/2", "n1/offerings/3"]
    assert published[0][0].payload == {"id": 1, "updated": "a"}


async def test_pages_over_the_send_size_go_out_as_they_are_read() -> None:
    _, _, _, events = await run(FakeClient(TWO_PAGES), send_bytes=1)
    assert events == ["publish 2", "commit b", "publish 1", "commit c"]


async def test_pages_the_broker_did_not_take_fail_the_pull_their_cursor_not_committed() -> None:
    cursors: list[str] = []

    async def publish(pages: list[RawPage]) -> None:
        raise RetriableError("raw page not acknowledged")

    outcome = await StreamPuller(FakeClient(TWO_PAGES).pages, CONFIG, "offerings").run(  # type: ignore[arg-type]
        cursor=None, trace_id="t", publish=publish, commit_cursor=cursors.append
    )
    assert cursors == [] and outcome.records == 0
    assert outcome.error is not None and "not acknowledged" in outcome.error


async def test_a_failure_part_way_keeps_the_pages_sent_and_the_cursor_committed() -> None:
    client = FakeClient(
        {"/o": [[{"id": 1, "updated": "a"}], [{"id": 2, "updated": "b"}]]}, fail_after=1
    )
    outcome, published, cursors, _ = await run(client)
    assert cursors == ["a"] and len(published) == 1
    assert outcome.error is not None and "503" in outcome.error


async def test_a_child_stream_walks_every_parent_and_commits_once_at_the_end() -> None:
    client = FakeClient(
        {"/o": [[{"id": 7}, {"id": 8}]], "/c/7/e": [[{"id": "e1"}]], "/c/8/e": [[{"id": "e2"}]]}
    )
    _, published, cursors, _ = await run(client, "assignments")
    assert [r.record_key for batch in published for r in batch] == [
        "n1/assignments/e1",
        "n1/assignments/e2",
    ]
    assert cursors == []


async def test_a_record_without_an_id_is_kept_under_its_content_hash() -> None:
    client = FakeClient({"/o": [[{"title": "no id"}]]})
    _, published, _, _ = await run(client)
    assert published[0][0].record_key.startswith("n1/offerings/hash-")


def test_a_large_page_goes_out_in_messages_under_the_size_cap_in_order() -> None:
    from npo_integration.pull.raw import raw_item, raw_pages

    items = [raw_item("n1", "offerings", str(i), {"id": i, "text": "x" * 1000}) for i in range(50)]
    pages = raw_pages("n1", "offerings", items, "t", max_bytes=10_000)
    assert len(pages) > 1 and all(len(p.model_dump_json()) < 12_000 for p in pages)
    assert [r.record_key for p in pages for r in p.unpacked()] == [
        f"n1/offerings/{i}" for i in range(50)
    ]
    huge = raw_pages(
        "n1",
        "offerings",
        [raw_item("n1", "offerings", "big", {"text": "y" * 50_000})],
        "t",
        max_bytes=10_000,
    )
    # a record above the cap is a page of its own
    assert len(huge) == 1 and len(huge[0].records) == 1


async def test_a_sweep_counts_its_distinct_records_and_is_complete_only_without_error() -> None:
    client = FakeClient({"/o": [[{"id": 1}, {"id": 2}], [{"id": 2}, {"id": 3}]]})
    outcome, _, _, _ = await run(client)
    assert (outcome.records, outcome.distinct, outcome.complete) == (4, 3, True)
    failed, _, _, _ = await run(FakeClient({"/o": [[{"id": 1}], [{"id": 2}]]}, fail_after=1))
    assert not failed.complete


async def test_a_full_sweep_of_an_incremental_stream_walks_from_the_start_cursor_kept() -> None:
    asked: list[str | None] = []
    client = FakeClient({"/o": [[{"id": 1, "updated": "a"}], [{"id": 2, "updated": "b"}]]})

    def pages(
        config: Any, stream: StreamConfig, *, cursor: str | None = None, parent: Any = None
    ) -> Any:
        asked.append(cursor)
        return client.pages_of(stream.path)

    cursors: list[str] = []

    async def publish(pages: list[RawPage]) -> None:
        return None

    outcome = await StreamPuller(pages, CONFIG, "offerings").run(  # type: ignore[arg-type]
        cursor="m", trace_id="t", publish=publish, commit_cursor=cursors.append, full_sweep=True
    )
    assert asked == [None] and outcome.complete
    assert cursors == []  # "a" and "b" are older than the committed "m"


async def test_a_re_emit_marks_its_pages_and_a_full_refresh_commits_from_no_cursor() -> None:
    client = FakeClient({"/o": [[{"id": 1, "updated": "a"}], [{"id": 2, "updated": "b"}]]})
    sent: list[RawPage] = []
    cursors: list[str] = []

    async def publish(pages: list[RawPage]) -> None:
        sent.extend(pages)

    # a full refresh passes no cursor: what the walk finds is committed, older than "m" or not
    await StreamPuller(client.pages, CONFIG, "offerings").run(  # type: ignore[arg-type]
        cursor=None,
        trace_id="re-1",
        publish=publish,
        commit_cursor=cursors.append,
        full_sweep=True,
        re_emit=True,
    )
    assert cursors == ["b"]
    assert [page.re_emit for page in sent] == [True]
    assert all(r.re_emit and r.trace_id == "re-1" for page in sent for r in page.unpacked())
    assert RawPage.of(sent[0].unpacked()[0]).re_emit  # a re-drive keeps it


def test_a_re_emit_request_is_a_full_refresh() -> None:
    with pytest.raises(ValidationError, match="only with full_refresh"):
        FetchRequest(npo_id="n1", stream="offerings", trace_id="t", re_emit=True)
    asked = FetchRequest(
        npo_id="n1", stream="offerings", trace_id="t", re_emit=True, full_refresh=True
    )
    assert asked.full_refresh and asked.re_emit


async def test_a_complete_sweep_ends_on_its_last_page() -> None:
    sent: list[RawPage] = []

    async def publish(pages: list[RawPage]) -> None:
        sent.extend(pages)

    async def sweep(client: FakeClient, **options: Any) -> Any:
        sent.clear()
        puller = StreamPuller(client.pages, CONFIG, "offerings", **options)  # type: ignore[arg-type]
        return await puller.run(
            cursor=None,
            trace_id="s-1",
            publish=publish,
            commit_cursor=lambda _: None,
            end_sweep=True,
        )

    repeated = {"/o": [[{"id": 1}, {"id": 2}], [{"id": 2}, {"id": 3}]]}
    outcome = await sweep(FakeClient(repeated), send_bytes=1)
    assert outcome.sweep_sent and outcome.complete
    assert [page.sweep_records for page in sent] == [None, 3]  # distinct records, last page only
    assert [page.in_sweep for page in sent] == [True, True]  # each page's records count as seen
    end = sent[-1].sweep_end()
    assert end is not None and (end.npo_id, end.stream, end.trace_id) == ("n1", "offerings", "s-1")
    # read again (a redelivery), the end is the same marker: the same removal ids follow from it
    again = RawPage.model_validate_json(sent[-1].model_dump_json()).sweep_end()
    assert again == end

    failed = await sweep(FakeClient(repeated, fail_after=1))
    assert not failed.sweep_sent and [page.sweep_records for page in sent] == [None]
    empty = await sweep(FakeClient({"/o": [[]]}))
    assert empty.complete and not empty.sweep_sent and sent == []  # the agent sends a marker


async def test_pages_of_a_walk_that_ends_no_sweep_say_so() -> None:
    """The ingestion tracks a page's records as seen by what the page says, not by the stream's
    config (which it would have to decode for every page)."""
    sent: list[RawPage] = []

    async def publish(pages: list[RawPage]) -> None:
        sent.extend(pages)

    puller = StreamPuller(FakeClient({"/o": [[{"id": 1}], [{"id": 2}]]}).pages, CONFIG, "offerings")  # type: ignore[arg-type]
    await puller.run(cursor=None, trace_id="i-1", publish=publish, commit_cursor=lambda _: None)
    assert sent and [page.in_sweep for page in sent] == [False] * len(sent)
    assert all(page.sweep_records is None for page in sent)
