"""The CLI's way in: the admin API of a running worker, so the CLI takes
the exact path the API takes."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import aiohttp
import click

DEFAULT_URL = "http://127.0.0.1:6066"


class AdminClient:
    """Calls the admin API; every failure becomes a ``click.ClickException`` with one clear line."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        port = os.environ.get("NPO_WEB_PORT")
        fallback = f"http://127.0.0.1:{port}" if port else DEFAULT_URL
        self.url = (url or os.environ.get("NPO_ADMIN_URL") or fallback).rstrip("/")
        self.token = token or os.environ.get("NPO_ADMIN_TOKEN")

    def call(
        self, method: str, path: str, body: str | None = None, ok: tuple[int, ...] = (200, 202)
    ) -> Any:
        return asyncio.run(self._call(method, path, body, ok))

    async def _call(self, method: str, path: str, body: str | None, ok: tuple[int, ...]) -> Any:
        if not self.token:
            raise click.ClickException("NPO_ADMIN_TOKEN is not set")
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "X-Change-Source": "cli",
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.request(method, f"{self.url}{path}", data=body, headers=headers) as resp,
            ):
                text = await resp.text()
                payload = _json_or_text(text)
                if resp.status not in ok:
                    detail = payload.get("error", text) if isinstance(payload, dict) else text
                    raise click.ClickException(f"HTTP {resp.status}: {detail}")
                return payload
        except aiohttp.ClientConnectionError:
            raise click.ClickException(
                f"no worker answers at {self.url} (set NPO_ADMIN_URL)"
            ) from None


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
