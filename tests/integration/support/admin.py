"""Calling a worker's admin API as an operator would."""

from __future__ import annotations

import json
from typing import Any

import aiohttp


async def admin(
    base_url: str,
    token: str | None,
    method: str,
    path: str,
    body: Any = None,
    raw: str | None = None,
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (None if body is None else json.dumps(body))
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{base_url}{path}", data=data, headers=headers) as resp,
    ):
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text
