"""``/ops`` in a real headless browser (Debian's ``chromium`` driven by Playwright), JavaScript off.

An operator logs in with the admin token, sees every NPO's health in the table (first, failing,
the one whose API refuses the configured token), opens the NPO whose mapping misses a field (its
dead letters with reasons, unprocessed records, recent pulls), pulls another one now (the
simulated NPO is asked again), fixes the mapping and re-drives the records that ran out of
attempts (their events reach the offerings topic). The screenshot of the NPO table is checked not
blank; ``OPS_SCREENSHOT_TO_DOCS=1`` writes it to docs/ops-page.png (docs/operations.md shows it),
else it stays in the test's temporary directory, so a test run leaves the checkout clean.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT, SandboxProcess, WorkerProcess
from tests.integration.test_ingestion import (
    INGEST_ENV,
    MAX_ATTEMPTS,
    add_cursor_npo,
    add_simple_npo,
    cursor_config,
    events_of,
    simple_config,
)

CHROMIUM = shutil.which("chromium")
DOCS_SCREENSHOT = ROOT / "docs" / "ops-page.png"
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


def png_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct colours of an 8-bit RGB(A) PNG (what Chromium
    writes), decoded with zlib: the suite needs no imaging library for one check."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6), (depth, colour_type)
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    previous, colours = bytearray(stride), set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + near) & 0xFF
        colours.update(bytes(line[i : i + 3]) for i in range(0, stride, bpp * 4))
        previous = line
    return width, height, len(colours)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def test_the_ops_page_in_a_headless_browser(
    sandbox: SandboxProcess, deployment: Deployment, browser: Any, tmp_path: Path
) -> None:
    screenshot = (
        DOCS_SCREENSHOT if os.environ.get("OPS_SCREENSHOT_TO_DOCS") else tmp_path / "ops.png"
    )
    await add_simple_npo(sandbox, "ops-good", offerings=3)
    await add_simple_npo(sandbox, "ops-down", offerings=1)
    await add_cursor_npo(sandbox, "ops-badmap", 3)
    wrong_token = {"kind": "bearer", "token": "not-the-npos-token"}
    deployment.write_configs(
        [
            simple_config("ops-good", sandbox.npo_url("ops-good")),
            simple_config("ops-down", sandbox.npo_url("ops-down"), auth=wrong_token),
            cursor_config("ops-badmap", sandbox.npo_url("ops-badmap"), title_path="nope"),
        ]
    )
    worker: WorkerProcess = await deployment.start_worker(**INGEST_ENV)
    token = deployment.admin_token

    async def out_of_attempts() -> bool:
        status, body = await admin(
            worker.url, token, "GET", "/admin/npos/ops-badmap/records?state=unprocessed"
        )
        records = body.get("records", []) if status == 200 else []
        return len(records) == 3 and all(r["attempts"] >= MAX_ATTEMPTS for r in records)

    await eventually(out_of_attempts, timeout=60, what="the bad mapping's records out of attempts")

    async def both_pulled() -> bool:
        status, body = await admin(worker.url, token, "GET", "/admin/status/npos")
        return status == 200 and all(n["last_run_at"] for n in body["npos"])

    await eventually(both_pulled, timeout=30, what="both NPOs pulled")

    context = await browser.new_context(
        java_script_enabled=False, viewport={"width": 1400, "height": 500}
    )
    page = await context.new_page()
    # Not logged in: the login form, and a wrong token is refused
    response = await page.goto(f"{worker.url}/ops")
    assert response.status == 401
    await page.fill("input[name=token]", "not-the-token")
    await page.click("button[type=submit]")
    assert "wrong admin token" in await page.inner_text("body")
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")
    assert page.url == f"{worker.url}/ops"
    rows = page.locator("table#npos tbody tr")
    assert await rows.count() == 3
    first = await rows.nth(0).inner_text()  # stalest first: the NPO never pulled successfully
    assert "ops-down" in first and "failing" in first and "never succeeded" in first
    table = await page.inner_text("table#npos")
    assert "ops-good" in table and "ops-badmap" in table and "ok" in table
    await page.screenshot(path=str(screenshot), full_page=True)
    width, height, colours = png_colours(screenshot)
    assert width >= 1000 and height >= 200 and colours > 8, (width, height, colours)

    # One NPO: its dead letters with reasons, unprocessed records, recent pulls, actions
    await page.click("table#npos a:text-is('ops-badmap')")
    assert page.url == f"{worker.url}/ops/npos/ops-badmap"
    body = await page.inner_text("body")
    assert "Dead letters: 3 in the last 24 h" in body and "Unprocessed records: 3" in body
    assert await page.locator("table#dead-letters tbody tr").count() == 3
    assert "nope" in await page.inner_text("table#dead-letters")
    assert await page.locator("table#recent-pulls tbody tr").count() >= 1
    for label in ("Pull now", "Pause", "Resume", "Re-drive unprocessed records"):
        assert await page.locator(f"button:has-text('{label}')").count() == 1, label

    # Pull now (on the healthy NPO): the simulated NPO is asked again
    async def first_pages() -> int:
        return len(
            [
                r
                for r in await sandbox.requests("ops-good")
                if r["endpoint"] == "offerings" and r["query"].get("page") == "1"
            ]
        )

    before = await first_pages()
    await page.goto(f"{worker.url}/ops/npos/ops-good")
    await page.click("button:has-text('Pull now')")
    assert "pull: accepted" in await page.inner_text("#message")
    await eventually(
        lambda: _more(first_pages, before), timeout=30, what="a pull of ops-good after Pull now"
    )

    # The mapping fixed, the re-drive button sends the records that ran out of attempts again
    status, answer = await admin(
        worker.url,
        token,
        "PUT",
        "/admin/npos/ops-badmap?wait=true",
        cursor_config("ops-badmap", sandbox.npo_url("ops-badmap")),
    )
    assert status == 200, answer
    await page.goto(f"{worker.url}/ops/npos/ops-badmap")
    await page.click("button:has-text('Re-drive unprocessed records')")
    assert "redrive: accepted" in await page.inner_text("#message")

    async def events() -> int:
        return len(await events_of(deployment, "ops-badmap"))

    await eventually(lambda: _at_least(events, 3), timeout=30, what="3 offerings re-driven")

    # A form without its CSRF token is refused, a forged outcome is not shown; logging out
    # ends the session
    await page.goto(f"{worker.url}/ops/npos/ops-good?done=call+0800-FORGED")
    assert await page.locator("#message").count() == 0
    refused = await context.request.post(f"{worker.url}/ops/npos/ops-good/pull", form={})
    assert refused.status == 403
    await page.click("button:has-text('Log out')")
    assert await page.locator("input[name=token]").count() == 1
    assert (await page.goto(f"{worker.url}/ops")).status == 401
    await context.close()


async def _more(probe: Any, than: int) -> bool:
    return bool(await probe() > than)


async def _at_least(probe: Any, count: int) -> bool:
    return bool(await probe() >= count)
