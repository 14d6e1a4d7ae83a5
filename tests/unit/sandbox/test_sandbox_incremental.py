"""Incremental pulls: SOQL WHERE, updated_since/since filters, upserts bumping modified times."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from npo_integration.expressions import soql_literal
from npo_sandbox import SandboxServer
from npo_sandbox.flavours import soql


async def get_json(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> Any:
    async with http.get(url, **kwargs) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def soql_query(http: aiohttp.ClientSession, base: str, q: str) -> dict[str, Any]:
    return await get_json(http, f"{base}/services/data/v60.0/query", params={"q": q})


@pytest.mark.parametrize("suffix", ["Z", "+0000", "+00:00", ".000+0000"])
async def test_soql_where_last_modified_returns_only_newer(
    sandbox: SandboxServer, http: aiohttp.ClientSession, suffix: str
) -> None:
    await sandbox.add_npo("sf", "salesforce", offerings=30, options={"page_size": 100})
    base = sandbox.npo_base_url("sf")
    everything = await soql_query(http, base, "SELECT Id FROM Program__c")
    stamps = sorted(r["LastModifiedDate"] for r in everything["records"])
    cutoff = stamps[14][:19]  # "2026-..T..:..:.." of the 15th record
    where = f"WHERE LastModifiedDate > {cutoff}{suffix}"
    newer = await soql_query(http, base, f"SELECT Id, LastModifiedDate FROM Program__c {where}")
    assert newer["totalSize"] == 15
    assert all(r["LastModifiedDate"][:19] > cutoff for r in newer["records"])
    order = [r["LastModifiedDate"] for r in newer["records"]]
    assert order == sorted(order)


async def test_soql_incremental_sees_upserts_and_enrolments(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("sf", "salesforce", offerings=5, progress=3, options={"page_size": 100})
    base = sandbox.npo_base_url("sf")
    programs = (await soql_query(http, base, "SELECT Id FROM Program__c"))["records"]
    high_water = max(r["LastModifiedDate"] for r in programs)
    q = f"SELECT Id FROM Program__c WHERE LastModifiedDate > {high_water}"
    assert (await soql_query(http, base, q))["totalSize"] == 0
    patch = {"Id": programs[2]["Id"], "Status__c": "Inactive"}
    changed = await sandbox.upsert("sf", "offerings", patch)
    again = await soql_query(http, base, q)
    assert [r["Id"] for r in again["records"]] == [programs[2]["Id"]]
    assert again["records"][0]["Status__c"] == "Inactive"
    assert again["records"][0]["LastModifiedDate"] == changed["LastModifiedDate"]
    async with http.post(
        f"{base}/services/data/v60.0/sobjects/ProgramEngagement__c",
        json={"Program__c": programs[0]["Id"], "Contact__r": {"Email": "candidate7@example.org"}},
    ) as response:
        assert response.status == 201
        new_id = (await response.json())["id"]
    engagements = await soql_query(
        http, base, f"SELECT Id FROM ProgramEngagement__c WHERE LastModifiedDate > {high_water}"
    )
    assert [r["Id"] for r in engagements["records"]] == [new_id]
    assert engagements["records"][0]["Stage__c"] == "Enrolled"


async def test_soql_errors(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    await sandbox.add_npo("sf", "salesforce")
    url = f"{sandbox.npo_base_url('sf')}/services/data/v60.0/query"
    cases = [
        ("SELECT Id FROM Account", "INVALID_TYPE"),
        ("DELETE everything", "MALFORMED_QUERY"),
        ("SELECT Id FROM Program__c WHERE Name LIKE 'x%'", "MALFORMED_QUERY"),
    ]
    for q, code in cases:
        async with http.get(url, params={"q": q}) as response:
            assert response.status == 400
            assert (await response.json())[0]["errorCode"] == code


def test_soql_parser_subset() -> None:
    query = soql.parse(
        "select Id from ProgramEngagement__c where Stage__c = 'In Progress' "
        "and Progress__c >= 50 and Contact__r.Email != null order by Id limit 7"
    )
    assert query.sobject == "ProgramEngagement__c" and query.limit == 7
    record = {"Stage__c": "In Progress", "Progress__c": 50, "Contact__r": {"Email": "a@b.c"}}
    assert query.matches(record)
    assert not query.matches({**record, "Progress__c": 49})
    assert not query.matches({**record, "Contact__r": {"Email": None}})
    with pytest.raises(soql.SoqlError, match="AND and OR mixed without parentheses"):
        soql.parse("SELECT Id FROM X WHERE a = 1 AND b = 2 OR c = 3")


def test_soql_or_not_and_parentheses() -> None:
    query = soql.parse("SELECT Id FROM X WHERE (a = 1 OR b = 'x') AND NOT c = null")
    assert query.matches({"a": 1, "c": 0}) and query.matches({"b": "x", "c": 0})
    assert not query.matches({"a": 2, "b": "y", "c": 0})
    assert not query.matches({"a": 1, "c": None})


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        (r"'O\'Brien'", "O'Brien"),
        (r"'back\\slash'", "back\\slash"),
        (r"'a\nb\tc\Nd'", "a\nb\tc\nd"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r"'caf\u00e9'", "café"),
        ("'it''s'", None),  # two literals, not SQL's doubled quote: malformed
    ],
)
def test_soql_string_literals_decode_salesforce_escapes(literal: str, text: str | None) -> None:
    query = f"SELECT Id FROM X WHERE Name = {literal}"
    if text is None:
        with pytest.raises(soql.SoqlError):
            soql.parse(query)
        return
    assert soql.parse(query).matches({"Name": text})


@pytest.mark.parametrize(
    ("where", "error"),
    [
        (r"Name = 'a\qb'", "invalid escape sequence"),
        ("Name = 'open", "unterminated string literal"),
        (r"Name = 'open\'", "unterminated string literal"),
    ],
)
def test_soql_bad_literals_are_malformed(where: str, error: str) -> None:
    with pytest.raises(soql.SoqlError, match=error):
        soql.parse(f"SELECT Id FROM X WHERE {where}")


def test_an_unescaped_quote_ends_the_literal_as_in_salesforce() -> None:
    email = "x'OR'1'='1@example.org"
    with pytest.raises(soql.SoqlError):  # 'x' OR '1' = ...: a literal where a field must be
        soql.parse(f"SELECT Id FROM X WHERE Email = '{email}'")
    escaped = email.replace("'", "\\'")
    query = soql.parse(f"SELECT Id FROM X WHERE Email = '{escaped}' LIMIT 1")
    assert query.matches({"Email": email}) and not query.matches({"Email": "x"})
    assert query.limit == 1
    words = soql.parse("SELECT Id FROM X WHERE Name = ' LIMIT 5 ORDER BY x' AND b = 1")
    assert words.limit is None and words.matches({"Name": " LIMIT 5 ORDER BY x", "b": 1})


async def test_cursor_updated_since_is_inclusive(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("cr", "cursor", offerings=10)
    url = f"{sandbox.npo_base_url('cr')}/v2/offerings"
    items = (await get_json(http, url, params={"limit": 100}))["items"]
    since = items[6]["updated_at"]
    newer = (await get_json(http, url, params={"limit": 100, "updated_since": since}))["items"]
    assert [i["id"] for i in newer] == [i["id"] for i in items[6:]]
    bumped = await sandbox.upsert("cr", "offerings", {"id": items[0]["id"], "name": "Renamed"})
    latest = (await get_json(http, url, params={"updated_since": items[-1]["updated_at"]}))["items"]
    assert [i["id"] for i in latest] == [items[-1]["id"], items[0]["id"]]
    assert latest[-1]["name"] == "Renamed" and latest[-1]["updated_at"] == bumped["updated_at"]


async def test_cursor_walk_survives_a_change_mid_walk(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("cr", "cursor", offerings=9)
    url = f"{sandbox.npo_base_url('cr')}/v2/offerings"
    first = await get_json(http, url, params={"limit": 3})
    await sandbox.upsert("cr", "offerings", {"id": first["items"][0]["id"], "name": "moved"})
    seen = [i["id"] for i in first["items"]]
    cursor = first["meta"]["next_cursor"]
    while cursor:
        page = await get_json(http, url, params={"limit": 3, "cursor": cursor})
        seen += [i["id"] for i in page["items"]]
        cursor = page["meta"]["next_cursor"]
    assert set(seen) == {f"ofr_{n:04d}" for n in range(1, 10)}
    assert seen.count(first["items"][0]["id"]) == 2  # seen again at its new position


async def test_moodle_since_filter_and_upsert(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("m", "moodle", offerings=3, progress=8)
    url = f"{sandbox.npo_base_url('m')}/webservice/rest/server.php"
    params = {"wsfunction": "local_spotlight_progress", "moodlewsrestformat": "json", "limit": "0"}
    records = (await get_json(http, url, params=params))["records"]
    assert len(records) == 8
    newest = records[-1]["timemodified"]
    assert (await get_json(http, url, params={**params, "since": str(newest)}))["total"] == 1
    enrolid = records[0]["enrolid"]
    await sandbox.upsert("m", "progress", {"enrolid": enrolid, "progress": "1.00", "completed": 1})
    after = await get_json(http, url, params={**params, "since": str(newest + 1)})
    assert [(r["enrolid"], r["completed"]) for r in after["records"]] == [(enrolid, 1)]


async def test_simple_updated_since_and_delete(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("s", "simple", offerings=4)
    url = f"{sandbox.npo_base_url('s')}/api/offerings"
    created = await sandbox.upsert("s", "offerings", {"title": "Brand new", "capacity": 5})
    assert created["id"] == "off-0005"
    newer = await get_json(http, url, params={"updated_since": created["updated_at"]})
    assert [o["id"] for o in newer["data"]] == ["off-0005"]
    assert newer["data"][0]["title"] == "Brand new"
    sandbox.npo("s").offerings.pop("off-0005")  # type: ignore[union-attr]
    again = await sandbox.upsert("s", "offerings", {"title": "Another"})
    assert again["id"] == "off-0006"  # ids are never reused


@pytest.mark.parametrize(
    "value",
    ["x'OR'1'='1@example.org", "o\\'b@example.org", "\\", "'", 'a"b', "l1\nl2\r\tx\x07", "é'"],
)
def test_the_services_soql_literal_reads_back_as_the_value(value: str) -> None:
    query = soql.parse(f"SELECT Id FROM X WHERE Email = {soql_literal(value)} AND b = 1")
    assert query.matches({"Email": value, "b": 1})
    assert not query.matches({"Email": value + "x", "b": 1})
