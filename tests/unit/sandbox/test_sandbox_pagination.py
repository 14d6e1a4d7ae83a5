"""Every flavour's pagination walks all records exactly once."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from yarl import URL

from npo_sandbox import SandboxServer


async def get_json(http: aiohttp.ClientSession, url: str | URL, **kwargs: Any) -> Any:
    async with http.get(url, **kwargs) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def ids(records: list[dict[str, Any]], key: str) -> list[Any]:
    return [r[key] for r in records]


async def test_simple_page_number_walks_each_offering_once(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("s", "simple", offerings=25, progress=7)
    base = sandbox.npo_base_url("s")
    seen: list[str] = []
    page = 1
    while True:
        body = await get_json(http, f"{base}/api/offerings", params={"page": page, "per_page": 10})
        assert body["page"] == page and body["total_pages"] == 3
        if not body["data"]:
            break
        seen += ids(body["data"], "id")
        page += 1
    assert page == 4
    assert seen == [f"off-{n:04d}" for n in range(1, 26)]
    progress = await get_json(http, f"{base}/api/progress", params={"per_page": 100})
    assert len(progress["data"]) == 7 and progress["total_pages"] == 1
    assert {p["offering_id"] for p in progress["data"]} <= set(seen)


async def test_simple_data_is_deterministic_per_npo(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("same", offerings=5)
    first = await get_json(http, f"{sandbox.npo_base_url('same')}/api/offerings")
    await sandbox.add_npo("same", offerings=5)
    again = await get_json(http, f"{sandbox.npo_base_url('same')}/api/offerings")
    await sandbox.add_npo("other", offerings=5)
    other = await get_json(http, f"{sandbox.npo_base_url('other')}/api/offerings")
    assert first == again
    assert ids(first["data"], "title") != ids(other["data"], "title")
    offering = first["data"][0]
    assert offering["kind"] == "course" and "<p>" in offering["description"]
    assert offering["updated_at"].endswith("Z")


async def walk_links(http: aiohttp.ClientSession, url: str) -> tuple[list[Any], list[str]]:
    records: list[Any] = []
    next_links: list[str] = []
    next_url: URL | None = URL(url)
    while next_url is not None:
        async with http.get(next_url) as response:
            assert response.status == 200
            records += await response.json()
            links = response.links
            assert {"current", "first", "last"} <= set(links)
            nxt = links.get("next")
            next_url = None
            if nxt is not None:
                raw = response.headers["Link"].split(",")
                next_links += [part for part in raw if 'rel="next"' in part]
                next_url = response.url.join(nxt["url"])
    return records, next_links


@pytest.mark.parametrize("relative", [False, True])
async def test_canvas_link_header_walks_each_course_once(
    sandbox: SandboxServer, http: aiohttp.ClientSession, relative: bool
) -> None:
    await sandbox.add_npo("c", "canvas", offerings=23, options={"relative_links": relative})
    url = f"{sandbox.npo_base_url('c')}/api/v1/courses?per_page=5"
    courses, next_links = await walk_links(http, url)
    course_ids = ids(courses, "id")
    assert len(course_ids) == len(set(course_ids)) == 23 + 3
    assert sum(c["workflow_state"] == "deleted" for c in courses) == 3
    assert len(next_links) == 5
    for link in next_links:
        expected = "</npos/c/" if relative else f"<{sandbox.url}/npos/c/"
        assert link.startswith(expected)


async def test_canvas_enrollments_child_stream(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("c", "canvas", offerings=3, progress=40)
    base = sandbox.npo_base_url("c")
    courses, _ = await walk_links(http, f"{base}/api/v1/courses")
    total = 0
    for course in courses:
        if course["workflow_state"] == "deleted":
            async with http.get(f"{base}/api/v1/courses/{course['id']}/enrollments") as response:
                assert response.status == 404
            continue
        url = f"{base}/api/v1/courses/{course['id']}/enrollments?per_page=4"
        rows, _ = await walk_links(http, url)
        assert all(r["course_id"] == course["id"] for r in rows)
        assert all(r["sis_user_id"].startswith("cand-") for r in rows)
        total += len(rows)
    assert total == 40


async def test_moodle_offset_limit_walks_progress_once(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("m", "moodle", offerings=4, progress=23)
    url = f"{sandbox.npo_base_url('m')}/webservice/rest/server.php"
    params = {"wsfunction": "local_spotlight_progress", "moodlewsrestformat": "json", "limit": "10"}
    seen: list[int] = []
    offset = 0
    while True:
        body = await get_json(http, url, params={**params, "offset": str(offset)})
        assert body["total"] == 23
        if not body["records"]:
            break
        seen += ids(body["records"], "enrolid")
        offset += len(body["records"])
    assert len(seen) == len(set(seen)) == 23
    record = (await get_json(http, url, params=params))["records"][0]
    assert isinstance(record["progress"], str) and 0 <= float(record["progress"]) <= 1
    assert record["completed"] in (0, 1) and isinstance(record["timemodified"], int)
    courses = await get_json(http, url, params={**params, "wsfunction": "core_course_get_courses"})
    assert [c["format"] for c in courses].count("site") == 1
    assert len(courses) == 5 and courses[0]["id"] == 1


async def test_salesforce_next_records_url_walks_each_program_once(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("sf", "salesforce", offerings=23, options={"page_size": 10})
    base = sandbox.npo_base_url("sf")
    query = {"q": "SELECT Id, Name FROM Program__c"}
    body = await get_json(http, f"{base}/services/data/v60.0/query", params=query)
    seen = ids(body["records"], "Id")
    batches = 1
    while not body["done"]:
        assert body["nextRecordsUrl"].startswith("/npos/sf/services/data/v60.0/query/01g")
        body = await get_json(http, URL(sandbox.url).join(URL(body["nextRecordsUrl"])))
        seen += ids(body["records"], "Id")
        batches += 1
    assert "nextRecordsUrl" not in body and body["totalSize"] == 23
    assert batches == 3 and len(seen) == len(set(seen)) == 23
    assert all(r["attributes"]["type"] == "Program__c" for r in body["records"])


async def test_salesforce_batch_size_header_and_snapshot(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("sf", "salesforce", offerings=6)
    base = sandbox.npo_base_url("sf")
    headers = {"Sforce-Query-Options": "batchSize=4"}
    query = {"q": "SELECT Id FROM Program__c"}
    first = await get_json(http, f"{base}/services/data/v60.0/query", params=query, headers=headers)
    assert len(first["records"]) == 4
    await sandbox.upsert("sf", "offerings", {"Id": first["records"][0]["Id"], "Name": "Changed"})
    rest = await get_json(http, URL(sandbox.url).join(URL(first["nextRecordsUrl"])))
    assert len(rest["records"]) == 2 and rest["done"]
    async with http.get(f"{base}/services/data/v60.0/query/01gnope-4") as response:
        assert response.status == 400
        assert (await response.json())[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


async def test_cursor_flavour_walks_each_item_once(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("cr", "cursor", offerings=17, progress=9)
    base = sandbox.npo_base_url("cr")
    for path, count in (("offerings", 17), ("participations", 9)):
        seen: list[str] = []
        params: dict[str, str] = {"limit": "5"}
        while True:
            body = await get_json(http, f"{base}/v2/{path}", params=params)
            seen += ids(body["items"], "id")
            if body["meta"]["next_cursor"] is None:
                break
            params["cursor"] = body["meta"]["next_cursor"]
        assert len(seen) == len(set(seen)) == count
    async with http.get(f"{base}/v2/offerings", params={"cursor": "!!garbage"}) as response:
        assert response.status == 400


async def test_offset_flavour_walks_each_program_once(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("o", "offset", offerings=21, progress=5)
    base = sandbox.npo_base_url("o")
    seen: list[int] = []
    offset = 0
    while True:
        body = await get_json(http, f"{base}/rest/programs", params={"offset": offset, "limit": 8})
        assert body["count"] == 21
        if not body["results"]:
            break
        seen += ids(body["results"], "program_id")
        offset += len(body["results"])
    assert seen == list(range(1, 22))
    progress = await get_json(http, f"{base}/rest/progress", params={"limit": 100})
    assert progress["count"] == 5 and len(progress["results"]) == 5


async def test_page_size_bounds_are_enforced(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("s", offerings=3, options={"max_page_size": 50})
    url = f"{sandbox.npo_base_url('s')}/api/offerings"
    for params in ({"per_page": "51"}, {"per_page": "0"}, {"page": "x"}, {"page": "0"}):
        async with http.get(url, params=params) as response:
            assert response.status == 400, params
