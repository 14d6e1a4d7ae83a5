"""The /_sandbox admin API over HTTP, bulk creation at benchmark scale, and the CLI process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import aiohttp

from npo_sandbox import SandboxServer


async def test_npo_lifecycle_over_http(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    admin = f"{sandbox.url}/_sandbox"
    spec = {
        "flavour": "canvas",
        "auth": {"kind": "bearer", "token": "t"},
        "offerings": 4,
        "options": {"relative_links": True},
    }
    async with http.put(f"{admin}/npos/acme", json=spec) as response:
        assert response.status == 200
        info = await response.json()
    assert info["base_url"] == f"{sandbox.url}/npos/acme" and info["auth"] == {"kind": "bearer"}
    assert info["endpoints"]["offerings"] == f"GET {sandbox.url}/npos/acme/api/v1/courses"
    async with http.get(f"{admin}/npos") as response:
        assert (await response.json())["npos"] == ["acme"]
    async with http.put(f"{admin}/npos/bad", json={"flavour": "sap"}) as response:
        assert response.status == 400
    async with http.put(f"{admin}/npos/bad", json={"auth": {"kind": "bearer"}}) as response:
        assert response.status == 400  # a bearer NPO needs its token
    async with http.delete(f"{admin}/npos/acme") as response:
        assert response.status == 204
    async with http.get(f"{sandbox.npo_base_url('acme')}/api/v1/courses") as response:
        assert response.status == 404


async def test_record_upsert_and_delete_over_http(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("s", offerings=2, progress=1)
    admin = f"{sandbox.url}/_sandbox/npos/s"
    before = (await sandbox.records("s", "offerings"))[0]
    patch = {"id": before["id"], "capacity": 99}
    async with http.post(f"{admin}/offerings", json=patch) as response:
        assert response.status == 200
        updated = await response.json()
    assert updated["capacity"] == 99 and updated["title"] == before["title"]
    assert updated["updated_at"] > before["updated_at"]
    async with http.post(f"{admin}/offerings", json={"title": "New"}) as response:
        assert response.status == 201 and (await response.json())["id"] == "off-0003"
    progress = {"enrolment_id": "enr-0001", "state": "completed"}
    async with http.post(f"{admin}/progress", json=progress) as response:
        assert response.status == 200
    async with http.delete(f"{admin}/offerings/off-0001") as response:
        assert response.status == 204
    async with http.delete(f"{admin}/offerings/off-0001") as response:
        assert response.status == 404
    assert [o["id"] for o in await sandbox.records("s", "offerings")] == ["off-0002", "off-0003"]


async def test_requests_enrolments_and_stats_over_http(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("s", offerings=2)
    base = sandbox.npo_base_url("s")
    async with http.get(f"{base}/api/offerings", params={"page": 1}) as response:
        assert response.status == 200
    async with http.get(f"{base}/api/v1/courses") as response:
        assert response.status == 404  # a canvas path on a simple NPO
    async with http.get(f"{base}/nowhere") as response:
        assert response.status == 404
    candidate = {"email": "e@x.org", "first_name": "E", "last_name": "X", "external_id": "cand-9"}
    enrol = {"candidate": candidate, "offering_id": "off-0001"}
    key = {"Idempotency-Key": "i-1"}
    async with http.post(f"{base}/api/enrolments", json=enrol, headers=key) as response:
        assert response.status == 201
    async with http.get(f"{sandbox.url}/_sandbox/npos/s/requests") as response:
        log = await response.json()
    assert log["total"] == 4
    assert [(r["method"], r["endpoint"], r["status"]) for r in log["requests"]] == [
        ("GET", "offerings", 200),
        ("GET", "other", 404),
        ("GET", "other", 404),
        ("POST", "enrol", 201),
    ]
    assert log["requests"][0]["query"] == {"page": "1"}
    assert log["requests"][0]["path"] == "/npos/s/api/offerings"
    async with http.get(f"{sandbox.url}/_sandbox/npos/s/enrolments") as response:
        [enrolment] = (await response.json())["enrolments"]
    assert enrolment["idempotency_key"] == "i-1" and enrolment["count"] == 1
    assert enrolment["body"] == enrol and enrolment["created_at"]
    async with http.get(f"{sandbox.url}/_sandbox/stats") as response:
        stats = await response.json()
    assert stats["requests"] == {"s": 4} and stats["enrolments_total"] == 1
    async with http.get(f"{sandbox.url}/npos/ghost/api/offerings") as response:
        assert response.status == 404
    async with http.post(f"{sandbox.url}/_sandbox/reset") as response:
        assert response.status == 204
    assert sandbox.state.npos == {}


async def test_bulk_creates_a_thousand_cheap_npos(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    body = {
        "count": 1000,
        "prefix": "bench-",
        "flavour": "simple",
        "offerings": 30,
        "page_size": 10,
        "latency_ms": 5,
        "auth": {"kind": "bearer", "token": "b"},
    }
    started = time.perf_counter()
    async with http.post(f"{sandbox.url}/_sandbox/bulk", json=body) as response:
        assert response.status == 200
        created = await response.json()
    assert time.perf_counter() - started < 5
    assert created["created"] == 1000 and created["npo_ids"][0] == "bench-0000"
    assert created["npo_ids"][-1] == "bench-0999"
    assert sandbox.state.npos["bench-0500"].offerings is None  # generated only when first polled

    async def walk(npo_id: str) -> int:
        ids: list[str] = []
        for page in (1, 2, 3, 4):
            url = f"{sandbox.npo_base_url(npo_id)}/api/offerings"
            bearer = {"Authorization": "Bearer b"}
            async with http.get(url, params={"page": page}, headers=bearer) as response:
                ids += [o["id"] for o in (await response.json())["data"]]
        return len(set(ids))

    sample = created["npo_ids"][::50]
    started = time.perf_counter()
    assert await asyncio.gather(*(walk(npo_id) for npo_id in sample)) == [30] * len(sample)
    assert time.perf_counter() - started < 5
    async with http.get(f"{sandbox.url}/_sandbox/stats") as response:
        stats = await response.json()
    assert stats["npos"] == 1000 and stats["requests_total"] == 4 * len(sample)


async def test_bulk_with_generate_makes_the_records_before_any_request(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    body = {"count": 3, "prefix": "eager-", "offerings": 7, "generate": True}
    async with http.post(f"{sandbox.url}/_sandbox/bulk", json=body) as response:
        assert response.status == 200
    made = sandbox.state.npos["eager-0002"].offerings
    assert made is not None and len(made) == 7
    # the same data the NPO, made again lazily, serves on its first request
    async with http.post(
        f"{sandbox.url}/_sandbox/bulk", json={**body, "generate": False}
    ) as response:
        assert response.status == 200
    assert sandbox.state.npos["eager-0002"].offerings is None
    async with http.get(f"{sandbox.url}/_sandbox/npos/eager-0002/records/offerings") as response:
        lazy = (await response.json())["records"]
    assert list(made.values()) == lazy


async def test_cli_runs_as_a_subprocess_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "npo_sandbox",
        "--port",
        "0",
        "--demo",
        "--log-level",
        "WARNING",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=10)).decode()
        assert line.startswith("npo-sandbox listening on http://127.0.0.1:")
        url = line.split()[-1]
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{url}/npos/demo-npo/api/offerings",
                params={"per_page": 100},
                headers={"Authorization": "Bearer demo-token"},
            ) as response,
        ):
            assert response.status == 200
            assert len((await response.json())["data"]) == 12
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
