"""Fixtures shared by the simulator's tests: a simulator on a free port and a client session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from npo_sandbox import SandboxServer


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
