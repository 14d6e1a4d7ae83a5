"""Registry state survives restarts and is shared by workers; secrets never
leave in clear; keys rotate."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from npo_integration.errors import SecretError
from npo_integration.sealing import SecretBox
from tests.integration.conftest import Deployment, Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import BOOTSTRAP, produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess
from tests.integration.test_registry import npo_config, run_cli


async def deployment_topics(deployment: Deployment) -> list[str]:
    """Every topic this deployment wrote: its named topics and its tables' changelogs."""
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
    await consumer.start()
    try:
        names = await consumer.topics()
    finally:
        await consumer.stop()
    prefix = deployment.env["NPO_APP_ID"]
    own = set(deployment.topics.values()) - {
        deployment.topics["npo_assessed"]
    }  # the platform writes that one
    return sorted(n for n in names if n in own or n.startswith(prefix))


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def authorized_pulls(sandbox: SandboxProcess, npo_id: str) -> int:
    return sum(1 for r in await sandbox.requests(npo_id) if r["status"] == 200)


async def test_restart_second_worker_rotation_and_no_secret_in_clear_anywhere(
    sandbox: SandboxProcess, deployment: Deployment, tmp_path: Path
) -> None:
    secrets = {name: f"s3cret-{name}-{uuid.uuid4().hex}" for name in ("topic", "api", "cli")}
    for name, secret in secrets.items():
        await sandbox.add_npo(
            f"dur-{name}", flavour="simple", auth={"kind": "bearer", "token": secret}, offerings=2
        )
    first = await deployment.start_worker("first")
    token = deployment.admin_token

    # One NPO from each source.
    config = npo_config("dur-topic", sandbox.npo_url("dur-topic"), token=secrets["topic"])
    await produce(
        deployment.topics["npo_assessed"],
        "dur-topic",
        {"event_type": "npo.assessed", "npo_id": "dur-topic", "integration": config},
    )
    status, _ = await admin(
        first.url,
        token,
        "PUT",
        "/admin/npos/dur-api?wait=true",
        npo_config("dur-api", sandbox.npo_url("dur-api"), token=secrets["api"]),
    )
    assert status == 200
    path = tmp_path / "cli.json"
    path.write_text(
        json.dumps(npo_config("dur-cli", sandbox.npo_url("dur-cli"), token=secrets["cli"]))
    )

    cli_outputs = []
    added = await asyncio.to_thread(
        run_cli, Stack(sandbox, deployment, first), "npos", "add", str(path)
    )
    assert added.returncode == 0, added.stderr
    cli_outputs.append(added.stdout + added.stderr)

    # The sealed secrets open: each NPO is pulled with its own token.
    for name in secrets:
        await eventually(
            lambda n=name: authorized_pulls(sandbox, f"dur-{n}"),
            timeout=20,
            what=f"pull of dur-{name}",
        )

    # A second worker of the same deployment sees every config.
    second = await deployment.start_worker("second")
    for name in secrets:
        status, body = await admin(second.url, token, "GET", f"/admin/npos/dur-{name}")
        assert status == 200 and body["version"] == 1

    # Both stop; a fresh worker with an empty data dir recovers the registry from the changelog,
    # with a rotated key ring (new key first, the old one still there to open old records).
    first.kill()
    second.stop()
    new_key = SecretBox.generate_key()
    rotated = await deployment.start_worker(
        "rotated", NPO_SECRETS_KEYS=f"{new_key},{deployment.secrets_key}"
    )
    for name in secrets:
        status, body = await admin(rotated.url, token, "GET", f"/admin/npos/dur-{name}")
        assert (status, body["version"], body["config"]["sources"][0]["auth"]["token"]) == (
            200,
            1,
            "***",
        )
    before = await authorized_pulls(sandbox, "dur-api")
    status, _ = await admin(rotated.url, token, "POST", "/admin/npos/dur-api/fetch")
    assert status == 202

    async def pulled_again() -> bool:
        return await authorized_pulls(sandbox, "dur-api") > before

    await eventually(
        pulled_again, timeout=20, what="a pull with the secret sealed under the old key"
    )

    # A config written after rotation is sealed with the new key alone.
    status, _ = await admin(
        rotated.url,
        token,
        "PUT",
        "/admin/npos/dur-new?wait=true",
        npo_config("dur-new", sandbox.npo_url("dur-new"), token="after-rotation"),
    )
    assert status == 200
    [command] = [
        m.value for m in await read_all(deployment.topics["config_commands"]) if m.key == "dur-new"
    ]
    sealed = command["config"]["sources"][0]["auth"]["token"]
    assert SecretBox([new_key]).open(sealed) == "after-rotation"
    with pytest.raises(SecretError):
        SecretBox([deployment.secrets_key]).open(sealed)

    # Resealing moves the old NPOs to the new key too, so the old key can leave the ring.
    status, body = await admin(rotated.url, token, "POST", "/admin/secrets/reseal")
    assert status == 202 and "dur-api" in body["resealing"]
    resealed = await eventually(
        lambda: _version_with_change(rotated.url, token, "dur-api", "reseal"),
        timeout=15,
        what="dur-api resealed",
    )
    assert resealed["config"]["sources"][0]["auth"]["token"] == "***"
    changelog = f"{deployment.env['NPO_APP_ID']}-npo-configs-changelog"
    latest = [m.value for m in await read_all(changelog) if m.key == "dur-api"][-1]
    assert latest["change"] == "reseal"
    assert (
        SecretBox([new_key]).open(latest["config"]["sources"][0]["auth"]["token"]) == secrets["api"]
    )
    rotated.stop()

    # Nothing the service wrote holds a secret in clear: logs, topics, table files, CLI output.
    haystacks: list[tuple[str, bytes]] = [
        (w.log_path.name, w.log_path.read_bytes()) for w in deployment.workers
    ]
    for topic in await deployment_topics(deployment):
        for message in await read_all(topic):
            haystacks.append((topic, json.dumps(message.value).encode()))
    haystacks += [
        (str(p), p.read_bytes())
        for p in files_under(tmp_path)
        if p.suffix != ".json" and "sandbox" not in p.name
    ]
    haystacks += [("cli", out.encode()) for out in cli_outputs]
    assert len(haystacks) > 20
    for secret in [*secrets.values(), "after-rotation"]:
        leaks = [where for where, data in haystacks if secret.encode() in data]
        assert leaks == [], f"{secret} found in clear in {leaks}"


async def _version_with_change(url: str, token: str, npo_id: str, change: str) -> dict | None:
    status, body = await admin(url, token, "GET", f"/admin/npos/{npo_id}")
    return body if status == 200 and body["change"] == change else None


async def test_private_addresses_are_refused_unless_allowed(deployment: Deployment) -> None:
    worker = await deployment.start_worker("strict", NPO_ALLOW_PRIVATE_NPO_URLS="false")
    token = deployment.admin_token
    for url in (
        "http://10.1.2.3/api",
        "http://127.0.0.1:8900/npos/x",
        "http://localhost/api",
        "http://169.254.169.254/",
    ):
        status, body = await admin(
            worker.url, token, "PUT", "/admin/npos/private-1", npo_config("private-1", url)
        )
        assert status == 422, body
        assert (
            "private" in body["error"]
            or "non-public" in body["error"]
            or "loopback" in body["error"]
        )
    assert (await admin(worker.url, token, "GET", "/admin/npos/private-1"))[0] == 404
    assert [
        m for m in await read_all(deployment.topics["config_commands"]) if m.key == "private-1"
    ] == []
