"""OAuth2 authorization code with rotating refresh tokens, against the Blackbaud simulator.

The simulator revokes each refresh token when it is used (``strict``) and counts refreshes,
refreshes in flight at once and reuse it rejected, so these tests see what the NPO saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from npo_integration import metrics
from npo_integration.http import NpoHttpClient
from npo_integration.http.auth import grants as grants_module
from npo_integration.http.auth.grants import GrantKeeper, GrantRevokedError, MemoryGrantStore
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.config_input import read_config
from npo_integration.sealing import SecretBox
from npo_sandbox import SandboxServer

CLIENT_SECRET = "client-secret-do-not-leak"
SUBSCRIPTION_KEY = "subscription-key-do-not-leak"
ROOT = Path(__file__).resolve().parents[3]


def sim_auth(rotation: str = "strict", delay: float = 0.0) -> dict[str, Any]:
    return {
        "kind": "oauth2_authorization_code",
        "client_id": "spotlight",
        "client_secret": CLIENT_SECRET,
        "subscription_key": SUBSCRIPTION_KEY,
        "refresh_rotation": rotation,
        "refresh_delay_seconds": delay,
    }


def npo_config(base: str, box: SecretBox) -> NpoIntegrationConfig:
    return read_config(config_data(base, box))


def config_data(base: str, box: SecretBox) -> dict[str, Any]:
    return {
        "npo_id": "bb",
        "display_name": "Blackbaud NPO",
        "base_url": base,
        "transform": {"kind": "plugin", "name": "simple"},
        "auth": {
            "kind": "oauth2_authorization_code",
            "authorize_url": f"{base}/oauth2/authorization",
            "token_url": "/oauth2/token",
            "redirect_uri": "https://ops.example.org/oauth/callback",
            "client_id": "spotlight",
            "client_secret": box.seal(CLIENT_SECRET),
            "subscription_key_header": "Bb-Api-Subscription-Key",
            "subscription_key": box.seal(SUBSCRIPTION_KEY),
        },
    }


async def consent_code(sandbox: SandboxServer, npo_id: str = "bb") -> str:
    """What the operator's browser brings back: the code in the redirect."""
    url = f"{sandbox.npo_base_url(npo_id)}/oauth2/authorization"
    params = {"response_type": "code", "client_id": "spotlight", "redirect_uri": "https://x/cb"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params=params, allow_redirects=False) as response,
    ):
        assert response.status == 302
        location = response.headers["Location"]
    return location.split("code=", 1)[1].split("&", 1)[0]


class Worker:
    """One worker's HTTP client, its authenticators asking ``broker`` for tokens."""

    def __init__(self, box: SecretBox, broker: GrantKeeper) -> None:
        self.client = NpoHttpClient(box, allow_private=True)
        self.client.grants = broker

    async def events(self, config: NpoIntegrationConfig) -> Any:
        response = await self.client.request(config, "GET", "/event/v1/eventlist")
        return response.json


@pytest.fixture
async def sandbox():
    async with SandboxServer() as server:
        yield server


@pytest.fixture
def store() -> MemoryGrantStore:
    return MemoryGrantStore()


async def authorized(sandbox, box, store, rotation="strict", delay=0.0):
    await sandbox.add_npo("bb", "blackbaud", auth=sim_auth(rotation, delay), offerings=25)
    config = npo_config(sandbox.npo_base_url("bb"), box)
    keeper = GrantKeeper(store, box)
    worker = Worker(box, keeper)
    await worker.client.start()
    auth = worker.client.authenticator(config)
    source = config.sources[0]
    code = await consent_code(sandbox)
    await keeper.exchange_code("bb", source.auth, auth.context.post_form, source.base_url, code)
    return config, keeper, worker


def counters(sandbox: SandboxServer) -> dict[str, Any]:
    grant = sandbox.npo("bb").grant
    assert grant is not None
    return grant.counters()


def expire_access_tokens(sandbox: SandboxServer) -> None:
    """The NPO forgets every access token: the next call gets a 401 and must refresh."""
    sandbox.npo("bb").tokens.clear()


async def test_consent_then_calls_with_subscription_key_and_paging(sandbox, box, store) -> None:
    config, _, worker = await authorized(sandbox, box, store)
    try:
        page = await worker.events(config)
        assert page["count"] == 25 and len(page["value"]) == 10
        assert "offset=10" in page["next_link"]
        stored = json.dumps(store.values["bb"].model_dump())
        for clear in (CLIENT_SECRET, SUBSCRIPTION_KEY):
            assert clear not in stored
        grant = store.values["bb"].sources["main"]
        assert grant.refresh_token and grant.refresh_token.startswith("sealed:")
        assert counters(sandbox)["code_exchanges"] == 1
    finally:
        await worker.client.close()


async def test_each_refresh_rotates_and_is_stored_before_use(sandbox, box, store) -> None:
    config, _, worker = await authorized(sandbox, box, store)
    try:
        seen = set()
        for _ in range(3):
            expire_access_tokens(sandbox)
            saves = store.saves
            await worker.events(config)
            assert store.saves == saves + 1  # the new refresh token was stored once
            grant = store.values["bb"].sources["main"]
            assert grant.refresh_token not in seen
            seen.add(grant.refresh_token)
        assert counters(sandbox) | {"code_exchanges": 1} == {
            "refreshes": 3,
            "code_exchanges": 1,
            "max_in_flight": 1,
            "reuse_rejected": 0,
            "revoked": False,
        }
        assert store.values["bb"].sources["main"].generation == 3
    finally:
        await worker.client.close()


async def test_many_401s_at_once_cause_one_refresh(sandbox, box, store) -> None:
    config, _, worker = await authorized(sandbox, box, store, delay=0.05)
    try:
        await worker.events(config)
        expire_access_tokens(sandbox)
        await asyncio.gather(*(worker.events(config) for _ in range(20)))
        assert counters(sandbox)["refreshes"] == 1
        assert counters(sandbox)["reuse_rejected"] == 0
    finally:
        await worker.client.close()


async def test_two_workers_asking_the_owner_refresh_once(sandbox, box, store) -> None:
    """The cluster rule: every worker gets tokens from the keeper of the NPO's owner."""
    config, owner, first = await authorized(sandbox, box, store, delay=0.1)
    second = Worker(box, owner)
    await second.client.start()
    try:
        await asyncio.gather(first.events(config), second.events(config))
        for _ in range(3):
            expire_access_tokens(sandbox)
            await asyncio.gather(first.events(config), second.events(config))
        assert counters(sandbox)["refreshes"] == 3
        assert counters(sandbox)["max_in_flight"] == 1
        assert counters(sandbox)["revoked"] is False
    finally:
        await first.client.close()
        await second.client.close()


async def test_uncoordinated_keepers_lock_the_npo_out(sandbox, box, store) -> None:
    """The control: two keepers refreshing the same grant on their own are caught by the
    simulator's reuse detection, which is what the owner rule prevents."""
    config, _, first = await authorized(sandbox, box, store, delay=0.1)
    second = Worker(box, GrantKeeper(store, box))
    await second.client.start()
    try:
        expire_access_tokens(sandbox)
        results = await asyncio.gather(
            first.events(config), second.events(config), return_exceptions=True
        )
        assert counters(sandbox)["max_in_flight"] == 2
        assert counters(sandbox)["revoked"] is True
        assert any(isinstance(r, GrantRevokedError) for r in results)
    finally:
        await first.client.close()
        await second.client.close()


async def test_revoked_grant_is_stored_reported_and_not_retried(sandbox, box, store) -> None:
    config, _, worker = await authorized(sandbox, box, store)
    before = metrics.oauth_grants_revoked._value.get()
    try:
        sandbox.npo("bb").grant.revoked = True  # the NPO's admin revoked the app
        expire_access_tokens(sandbox)
        with pytest.raises(GrantRevokedError, match="consent again"):
            await worker.events(config)
        grant = store.values["bb"].sources["main"]
        assert grant.status == "revoked" and grant.revoked_reason == "invalid_grant"
        assert metrics.oauth_grants_revoked._value.get() == before + 1
        requests = len(sandbox.npo("bb").requests)
        with pytest.raises(GrantRevokedError):
            await worker.events(config)
        assert len(sandbox.npo("bb").requests) == requests  # no call until a new consent
    finally:
        await worker.client.close()


class Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing catches it)."""


@pytest.mark.parametrize(("rotation", "locked_out"), [("grace", False), ("strict", True)])
async def test_crash_between_receiving_and_storing(
    sandbox, box, store, rotation, locked_out
) -> None:
    """The token answer is lost with the process. Nothing issued with it was used (store before
    use), so an NPO that keeps a refresh token until its successor is used takes the old one
    again; an NPO that revokes at once cannot be saved by any client (docs/security.md)."""
    config, _, worker = await authorized(sandbox, box, store, rotation=rotation)
    await worker.client.close()

    def crash() -> None:
        raise Crash

    grants_module.AFTER_TOKEN_ANSWER.append(crash)
    try:
        restarted = Worker(box, GrantKeeper(store, box))
        await restarted.client.start()
        expire_access_tokens(sandbox)
        with pytest.raises(Crash):
            await restarted.events(config)
    finally:
        grants_module.AFTER_TOKEN_ANSWER.remove(crash)
        await restarted.client.close()
    again = Worker(box, GrantKeeper(store, box))
    await again.client.start()
    try:
        if locked_out:
            with pytest.raises(GrantRevokedError):
                await again.events(config)
        else:
            assert (await again.events(config))["count"] == 25
            expire_access_tokens(sandbox)
            assert (await again.events(config))["count"] == 25
            assert counters(sandbox)["reuse_rejected"] == 0
    finally:
        await again.client.close()


CHILD = textwrap.dedent(
    """
    import asyncio, json, os, signal, sys
    from pathlib import Path
    from npo_integration.http import NpoHttpClient
    from npo_integration.http.auth import grants
    from npo_integration.registry.config_input import read_config
    from npo_integration.models.oauth_grant import NpoGrants
    from npo_integration.sealing import SecretBox

    path, key, config_json, kill = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

    class FileStore:
        async def load(self, npo_id):
            return NpoGrants.model_validate_json(path.read_text()) if path.exists() else None
        async def save(self, value):
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w") as out:
                out.write(value.model_dump_json()); out.flush(); os.fsync(out.fileno())
            os.replace(tmp, path)

    if kill == "1":
        grants.AFTER_TOKEN_ANSWER.append(lambda: os.kill(os.getpid(), signal.SIGKILL))

    async def main():
        box = SecretBox([key])
        config = read_config(json.loads(config_json))
        async with NpoHttpClient(box, allow_private=True) as client:
            client.grants = grants.GrantKeeper(FileStore(), box)
            response = await client.request(config, "GET", "/event/v1/eventlist")
            print(json.dumps({"count": response.json["count"]}))

    asyncio.run(main())
    """
)


async def test_sigkill_between_receiving_and_storing_does_not_lock_out(
    sandbox, store, tmp_path
) -> None:
    """A real SIGKILL, landed by the test hook right after the NPO's token answer arrives."""
    key = SecretBox.generate_key()
    box = SecretBox([key])
    config, _, worker = await authorized(sandbox, box, store, rotation="grace")
    await worker.client.close()
    stored = store.values["bb"]
    expired = stored.sources["main"].model_copy(update={"access_expires_at": 0.0})
    grants_file = tmp_path / "grants.json"
    grants_file.write_text(
        stored.model_copy(update={"sources": {"main": expired}}).model_dump_json()
    )
    child_config = config.model_dump_json()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'sandbox'}"}

    async def run(kill: str) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-c", CHILD, str(grants_file), key, child_config, kill]
        return await asyncio.to_thread(
            subprocess.run, args, capture_output=True, text=True, env=env, timeout=60
        )

    killed = await run("1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert counters(sandbox)["refreshes"] == 1  # the NPO issued a token the child never stored
    survivor = await run("0")
    assert survivor.returncode == 0, survivor.stderr
    assert json.loads(survivor.stdout) == {"count": 25}
    assert counters(sandbox)["reuse_rejected"] == 0
    assert counters(sandbox)["revoked"] is False


def test_the_subscription_key_goes_in_auth_not_in_headers(box) -> None:
    from npo_integration.errors import ConfigError
    from npo_integration.registry.credentials import check_no_credentials

    data = config_data("http://npo.example", box)
    data["headers"] = {"Bb-Api-Subscription-Key": "in clear"}
    with pytest.raises(ConfigError, match="oauth2_authorization_code"):
        check_no_credentials(read_config(data))
    data["headers"] = {}
    del data["auth"]["subscription_key"]
    with pytest.raises(ValueError, match="go together"):
        read_config(data)
