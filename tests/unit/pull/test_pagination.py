"""Walking streams against servers shaped like real NPO APIs, one page at a time."""

import json
import re
from typing import Any

import pytest
from aiohttp import web

from npo_integration.errors import ConfigError, SkippableError
from npo_integration.http import NpoHttpClient
from npo_integration.http.errors import NpoResponseError, PaginationLoopError, UnsafeUrlError
from npo_integration.models.npo_config import StreamConfig
from npo_integration.pull.walker import Page, stream_pages

RECORDS = [{"id": n, "updated": 1_700_000_000 + n} for n in range(1, 8)]


def stream(**settings: Any) -> StreamConfig:
    return StreamConfig.model_validate({"name": "offerings", "kind": "offerings", **settings})


async def collect(
    client: NpoHttpClient, config, stream_config: StreamConfig, **kwargs: Any
) -> list[Page]:
    return [page async for page in stream_pages(client, config, stream_config, **kwargs)]


def ids(pages: list[Page]) -> list[list[int]]:
    return [[record["id"] for record in page.records] for page in pages]


class Recorder:
    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.paths: list[str] = []

    def saw(self, request: web.Request) -> None:
        self.queries.append(dict(request.query))
        self.paths.append(request.rel_url.raw_path)


async def test_page_number_stops_on_short_page(client, serve, config_factory) -> None:
    seen = Recorder()

    async def courses(request: web.Request) -> web.Response:
        seen.saw(request)
        page, size = int(request.query["page"]), int(request.query["per_page"])
        return web.json_response({"data": RECORDS[(page - 1) * size : page * size]})

    base = await serve(web.get("/api/courses", courses))
    pagination = {"style": "page_number", "page_size": 3}
    config_stream = stream(path="/api/courses", records_path="data", pagination=pagination)
    pages = await collect(client, config_factory(base), config_stream)
    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert [p.page_number for p in pages] == [1, 2, 3]
    assert seen.queries == [{"page": str(n), "per_page": "3"} for n in (1, 2, 3)]
    assert pages[1].url == f"{base}/api/courses?page=2&per_page=3"


async def test_page_number_stops_on_empty_page(client, serve, config_factory) -> None:
    async def courses(request: web.Request) -> web.Response:
        page = int(request.query["p"])
        return web.json_response({"data": RECORDS[:6][page * 3 : page * 3 + 3]})

    base = await serve(web.get("/courses", courses))
    pagination = {
        "style": "page_number",
        "page_param": "p",
        "size_param": None,
        "page_size": 3,
        "start_page": 0,
    }
    walk = stream(path="courses", records_path="data", pagination=pagination)
    pages = await collect(client, config_factory(base), walk)
    assert ids(pages) == [[1, 2, 3], [4, 5, 6], []]


async def test_offset_limit(client, serve, config_factory) -> None:
    seen = Recorder()

    async def items(request: web.Request) -> web.Response:
        seen.saw(request)
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return web.json_response(RECORDS[offset : offset + limit])

    base = await serve(web.get("/items", items))
    walk = stream(path="/items", pagination={"style": "offset", "limit": 3})
    pages = await collect(client, config_factory(base), walk)
    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert [q["offset"] for q in seen.queries] == ["0", "3", "6"]


async def test_page_values_written_inside_a_json_param(client, serve, config_factory) -> None:
    """CiviCRM APIv4: ``params={"limit": L, "offset": O}``; no separate offset/limit params."""
    seen = Recorder()

    async def api4(request: web.Request) -> web.Response:
        seen.saw(request)
        params = json.loads(request.query["params"])
        offset, limit = params["offset"], params["limit"]
        return web.json_response({"values": RECORDS[offset : offset + limit]})

    base = await serve(web.get("/api4/Event/get", api4))
    walk = stream(
        path="/api4/Event/get",
        params={"params": '{{"select":["id"],"limit":{page.limit},"offset":{page.offset}}}'},
        records_path="values",
        pagination={"style": "offset", "limit": 3},
    )
    pages = await collect(client, config_factory(base), walk)
    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert [set(q) for q in seen.queries] == [{"params"}] * 3
    sent = [json.loads(q["params"]) for q in seen.queries]
    assert sent == [{"select": ["id"], "limit": 3, "offset": n} for n in (0, 3, 6)]


async def test_page_numbers_in_a_param(client, serve, config_factory) -> None:
    seen = Recorder()

    async def items(request: web.Request) -> web.Response:
        seen.saw(request)
        page, size = map(int, request.query["window"].split(":"))
        return web.json_response(RECORDS[(page - 1) * size : page * size])

    base = await serve(web.get("/items", items))
    pagination = {"style": "page_number", "page_size": 4}
    walk = stream(
        path="/items", params={"window": "{page.number}:{page.size}"}, pagination=pagination
    )
    pages = await collect(client, config_factory(base), walk)
    assert ids(pages) == [[1, 2, 3, 4], [5, 6, 7]]
    assert seen.queries == [{"window": "1:4"}, {"window": "2:4"}]


async def test_body_cursor(client, serve, config_factory) -> None:
    seen = Recorder()
    chunks = {None: (RECORDS[:3], "c2"), "c2": (RECORDS[3:6], "c3"), "c3": (RECORDS[6:], None)}

    async def items(request: web.Request) -> web.Response:
        seen.saw(request)
        records, following = chunks[request.query.get("after")]
        return web.json_response({"items": records, "meta": {"next_cursor": following}})

    base = await serve(web.get("/v2/items", items))
    pagination = {
        "style": "body_cursor",
        "cursor_path": "meta.next_cursor",
        "cursor_param": "after",
    }
    walk = stream(path="/v2/items", records_path="items", pagination=pagination)
    pages = await collect(client, config_factory(base), walk)
    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert [q.get("after") for q in seen.queries] == [None, "c2", "c3"]


async def test_salesforce_relative_next_records_url_and_soql_cursor(
    client, serve, config_factory
) -> None:
    seen = Recorder()
    batch = [
        {"Id": f"a0{n}", "LastModifiedDate": f"2024-0{n}-01T00:00:00.000+0000"} for n in range(1, 6)
    ]
    locator = "/services/data/v60.0/query/01gD0000002HU6KIAW"

    async def query(request: web.Request) -> web.Response:
        seen.saw(request)
        return web.json_response(
            {"totalSize": 5, "done": False, "nextRecordsUrl": f"{locator}-2", "records": batch[:2]}
        )

    async def more(request: web.Request) -> web.Response:
        seen.saw(request)
        if request.match_info["locator"].endswith("-2"):
            following = {"done": False, "nextRecordsUrl": f"{locator}-4", "records": batch[2:4]}
            return web.json_response(following)
        return web.json_response({"done": True, "records": batch[4:]})

    base = await serve(
        web.get("/services/data/v60.0/query", query),
        web.get("/services/data/v60.0/query/{locator}", more),
    )
    config = config_factory(f"{base}/services/data/v60.0")
    soql = stream(
        path="/query",
        params={"q": "SELECT Id FROM Course__c WHERE LastModifiedDate > {cursor}"},
        records_path="records",
        record_id_path="Id",
        pagination={"style": "next_url", "next_url_path": "nextRecordsUrl"},
        incremental={"cursor_field": "LastModifiedDate", "initial": "2000-01-01T00:00:00Z"},
    )
    pages = await collect(client, config, soql)
    assert [[r["Id"] for r in p.records] for p in pages] == [
        ["a01", "a02"],
        ["a03", "a04"],
        ["a05"],
    ]
    assert seen.queries[0] == {
        "q": "SELECT Id FROM Course__c WHERE LastModifiedDate > 2000-01-01T00:00:00Z"
    }
    assert seen.paths[1:] == [f"{locator}-2", f"{locator}-4"]
    assert seen.queries[1:] == [{}, {}]
    assert [p.next_cursor_candidate for p in pages] == [
        "2024-02-01T00:00:00.000+0000",
        "2024-04-01T00:00:00.000+0000",
        "2024-05-01T00:00:00.000+0000",
    ]

    await collect(client, config, soql, cursor="2024-05-01T00:00:00.000+0000")
    assert seen.queries[3]["q"].endswith("> 2024-05-01T00:00:00.000+0000")


async def test_canvas_link_headers_relative_and_absolute(client, serve, config_factory) -> None:
    seen = Recorder()
    base_holder: list[str] = []

    async def courses(request: web.Request) -> web.Response:
        seen.saw(request)
        page = int(request.query.get("page", "1"))
        links = ['</api/v1/courses?page=1&per_page=3>; rel="first"']
        if page == 1:
            links.append('</api/v1/courses?page=2&per_page=3>; rel="next"')  # relative
        elif page == 2:
            absolute = f"{base_holder[0]}/api/v1/courses?page=3&per_page=3"
            links.append(f'<{absolute}>; rel="next"')
        links.append('</api/v1/courses?page=3&per_page=3>; rel="last"')
        records = RECORDS[(page - 1) * 3 : page * 3]
        return web.json_response(records, headers={"Link": ",".join(links)})

    base = await serve(web.get("/api/v1/courses", courses))
    base_holder.append(base)
    canvas = stream(
        path="/api/v1/courses", params={"per_page": "3"}, pagination={"style": "link_header"}
    )
    pages = await collect(client, config_factory(base), canvas)
    assert ids(pages) == [[1, 2, 3], [4, 5, 6], [7]]
    assert [q.get("page") for q in seen.queries] == [None, "2", "3"]
    assert pages[2].url == f"{base}/api/v1/courses?page=3&per_page=3"


async def test_pages_are_fetched_only_when_asked_for(client, serve, config_factory) -> None:
    seen = Recorder()

    async def items(request: web.Request) -> web.Response:
        seen.saw(request)
        offset = int(request.query["offset"])
        return web.json_response(RECORDS[offset : offset + 2])

    base = await serve(web.get("/items", items))
    offset = stream(path="/items", pagination={"style": "offset", "limit": 2})
    walk = stream_pages(client, config_factory(base), offset)
    first = await walk.__anext__()
    assert ids([first]) == [[1, 2]] and len(seen.queries) == 1  # the caller commits before page 2
    await walk.aclose()


async def test_repeated_cursor_is_a_loop(client, serve, config_factory) -> None:
    async def items(request: web.Request) -> web.Response:
        n = int(request.query.get("cursor", "0"))
        return web.json_response({"items": [{"id": n}], "next": "1"})  # always points at page "1"

    base = await serve(web.get("/items", items))
    pagination = {"style": "body_cursor", "cursor_path": "next"}
    walk = stream(path="/items", records_path="items", pagination=pagination)
    with pytest.raises(PaginationLoopError, match="'cursor=1' again"):
        await collect(client, config_factory(base), walk)


async def test_repeated_next_url_is_a_loop(client, serve, config_factory) -> None:
    async def items(request: web.Request) -> web.Response:
        page = request.query.get("p", "a")
        following = {"a": "/items?p=b", "b": "/items?p=c", "c": "/items?p=b"}[page]
        return web.json_response({"records": [{"id": page}], "next": following})

    base = await serve(web.get("/items", items))
    pagination = {"style": "next_url", "next_url_path": "next"}
    walk = stream(path="/items", records_path="records", pagination=pagination)
    with pytest.raises(PaginationLoopError, match=r"p=b"):
        await collect(client, config_factory(base), walk)


async def test_server_ignoring_the_page_parameter_is_a_loop(client, serve, config_factory) -> None:
    async def same(request: web.Request) -> web.Response:
        return web.json_response({"data": RECORDS[:2]})

    base = await serve(web.get("/items", same))
    pagination = {"style": "page_number", "page_size": 2}
    walk = stream(path="/items", records_path="data", pagination=pagination)
    with pytest.raises(PaginationLoopError, match="repeats the records of page 1"):
        await collect(client, config_factory(base), walk)


async def test_page_cap(box, serve, config_factory) -> None:
    async def endless(request: web.Request) -> web.Response:
        n = int(request.query.get("cursor", "0"))
        return web.json_response({"items": [{"id": n}], "next": str(n + 1)})

    base = await serve(web.get("/items", endless))
    pagination = {"style": "body_cursor", "cursor_path": "next"}
    walk = stream(path="/items", records_path="items", pagination=pagination)
    async with NpoHttpClient(box, allow_private=True) as capped:
        pages: list[Page] = []
        with pytest.raises(PaginationLoopError, match="page cap"):
            async for page in stream_pages(capped, config_factory(base), walk, max_pages=4):
                pages.append(page)
    assert len(pages) == 4


async def test_records_path_not_a_list_and_non_json_body(client, serve, config_factory) -> None:
    async def wrong_shape(request: web.Request) -> web.Response:
        return web.json_response({"data": "maintenance"})

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Login</body></html>", content_type="text/html")

    base = await serve(web.get("/shape", wrong_shape), web.get("/html", html))
    with pytest.raises(NpoResponseError) as shape:
        await collect(client, config_factory(base), stream(path="/shape", records_path="data"))
    assert str(shape.value) == f"GET {base}/shape: records_path 'data' is not a list: got str"
    expected = r"body is not JSON \(text/html; charset=utf-8\): <html><body>Login"
    with pytest.raises(NpoResponseError, match=expected):
        await collect(client, config_factory(base), stream(path="/html"))


async def test_child_stream_templating_and_incremental_param(client, serve, config_factory) -> None:
    seen = Recorder()

    async def enrolments(request: web.Request) -> web.Response:
        seen.saw(request)
        return web.json_response([{"id": 1, "updated": 5}, {"id": 2, "updated": 12}, {"id": 3}])

    base = await serve(web.get("/courses/{course}/enrolments", enrolments))
    child = stream(
        path="/courses/{parent.course.sis_id}/enrolments",
        params={"course": "{parent.course.id}", "state": "active"},
        incremental={"cursor_field": "updated", "param": "updated_since", "initial": "0"},
        parent_stream="offerings",
    )
    parent = {"course": {"id": 42, "sis_id": "CS 101/a"}}
    first = await collect(client, config_factory(base), child, parent=parent)
    assert seen.paths[0] == "/courses/CS%20101%2Fa/enrolments"
    assert seen.queries[0] == {"course": "42", "state": "active", "updated_since": "0"}
    assert first[0].next_cursor_candidate == "12"

    await collect(client, config_factory(base), child, parent=parent, cursor="12")
    assert seen.queries[1]["updated_since"] == "12"

    with pytest.raises(SkippableError, match=re.escape("parent.course.sis_id")):
        await collect(client, config_factory(base), child, parent={"course": {"id": 1}})


async def test_cursor_placeholder_without_cursor_or_initial_is_a_config_error(
    client, config_factory
) -> None:
    walk = stream(path="/changes/{cursor}", incremental={"cursor_field": "t"})
    with pytest.raises(ConfigError, match=re.escape("incremental.initial")):
        await collect(client, config_factory("https://npo.example.org"), walk)


async def test_query_key_echoed_in_next_url_is_replaced_not_leaked(
    client, serve, config_factory, box
) -> None:
    seen = Recorder()

    async def items(request: web.Request) -> web.Response:
        seen.saw(request)
        if request.query.get("page") == "2":
            return web.json_response({"data": [{"id": 2}], "next": None})
        echoed = f"/items?page=2&wstoken={request.query['wstoken']}"
        return web.json_response({"data": [{"id": 1}], "next": echoed})

    base = await serve(web.get("/items", items))
    config = config_factory(base, auth={"kind": "api_key_query", "key": box.seal("moodle-key-123")})
    pagination = {"style": "next_url", "next_url_path": "next"}
    walk = stream(path="/items", records_path="data", pagination=pagination)
    pages = await collect(client, config, walk)
    assert [p.url for p in pages] == [f"{base}/items", f"{base}/items?page=2"]
    assert [q["wstoken"] for q in seen.queries] == ["moodle-key-123", "moodle-key-123"]


async def test_next_link_to_another_host_is_refused(client, serve, config_factory, box) -> None:
    async def items(request: web.Request) -> web.Response:
        return web.json_response(
            [{"id": 1}], headers={"Link": '<https://attacker.example.net/collect>; rel="next"'}
        )

    base = await serve(web.get("/items", items))
    config = config_factory(base, auth={"kind": "bearer", "token": box.seal("tok")})
    walk = stream_pages(client, config, stream(path="/items", pagination={"style": "link_header"}))
    first = await walk.__anext__()
    assert first.records == [{"id": 1}]
    with pytest.raises(UnsafeUrlError, match=re.escape("attacker.example.net")):
        await walk.__anext__()
