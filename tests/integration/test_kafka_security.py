"""Kafka TLS and SASL over a real broker: the walking skeleton over SASL_SSL (SCRAM-SHA-512), and
clients without the right credentials refused.

The module starts a second broker beside the shared plaintext one
(``KAFKA_SECURE=1 scripts/kafka.sh start``: its only client listener is SASL_SSL, with a CA and a
SCRAM user made by the script) and stops it afterwards if it started it.
"""

from __future__ import annotations

import os
import secrets
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from tests.integration.conftest import Deployment
from tests.integration.support.admin import admin
from tests.integration.support.kafka import Broker, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT, SandboxProcess, WorkerProcess
from tests.integration.test_registry import npo_config

PORT = int(os.environ.get("KAFKA_SECURE_PORT", "19094"))
BOOTSTRAP = f"127.0.0.1:{PORT}"


@dataclass(frozen=True)
class SecureBroker:
    """What a client of the secure broker is given: its CA (PEM) and SCRAM user."""

    ca_file: Path
    mechanism: str
    username: str
    password: str

    def security(self, **changes: Any) -> dict[str, Any]:
        """aiokafka's arguments for this broker, written here (not by the service's code)."""
        return {
            "security_protocol": "SASL_SSL",
            "ssl_context": ssl.create_default_context(cafile=str(self.ca_file)),
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
            **changes,
        }

    def worker_env(self) -> dict[str, str]:
        return {
            "NPO_BROKER_URL": f"kafka://{BOOTSTRAP}",
            "NPO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "NPO_KAFKA_SASL_MECHANISM": self.mechanism,
            "NPO_KAFKA_SASL_USERNAME": self.username,
            "NPO_KAFKA_SASL_PASSWORD": self.password,
            "NPO_KAFKA_SSL_CA_FILE": str(self.ca_file),
        }


def _script(command: str) -> subprocess.CompletedProcess[str]:
    # The plaintext broker's knobs must not leak into the secure one's.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_DATA")
    }
    env.update(KAFKA_SECURE="1", KAFKA_PORT=str(PORT), KAFKA_CONTROLLER_PORT=str(PORT + 1))
    return subprocess.run(
        [str(ROOT / "scripts" / "kafka.sh"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def secure_broker() -> Iterator[SecureBroker]:
    already_running = _script("status").returncode == 0
    started = _script("start")
    assert started.returncode == 0, f"the secure broker did not start:\n{started.stderr}"
    client = ROOT / "var" / "kafka-secure" / "client"  # the script's default data dir
    values = dict(
        line.split("=", 1) for line in (client / "sasl.env").read_text().splitlines() if line
    )
    try:
        yield SecureBroker(
            ca_file=client / "ca.pem",
            mechanism=values["KAFKA_SASL_MECHANISM"],
            username=values["KAFKA_SASL_USERNAME"],
            password=values["KAFKA_SASL_PASSWORD"],
        )
    finally:
        if not already_running:
            _script("stop")


async def test_the_walking_skeleton_runs_over_sasl_ssl_and_never_logs_the_password(
    secure_broker: SecureBroker, sandbox: SandboxProcess, deployment: Deployment
) -> None:
    await sandbox.add_npo(
        "sasl", flavour="simple", auth={"kind": "bearer", "token": "sasl-token"}, offerings=5
    )
    deployment.env.update(secure_broker.worker_env())
    worker = await deployment.start_worker()

    # The admin API's registration goes through the worker's own aiokafka clients (the output
    # log's consumer and admin client, the batch producer); the pull through Faust's.
    config = npo_config("sasl", sandbox.npo_url("sasl"), token="sasl-token", page_size=2)
    status, body = await admin(
        worker.url, deployment.admin_token, "POST", "/admin/npos?wait=true", config
    )
    assert status == 200, body
    assert body["status"] == "applied"

    broker = Broker(BOOTSTRAP, secure_broker.security())

    async def five_offerings() -> list[Any]:
        messages = await read_all(deployment.topics["offerings"], broker=broker)
        return messages if len(messages) >= 5 else []

    messages = await eventually(five_offerings, timeout=90, what="5 offering events over SASL_SSL")
    assert {m.value["npo_id"] for m in messages} == {"sasl"}
    assert len({m.value["offering"]["npo_offering_ref"] for m in messages}) == 5

    log = worker.output()
    assert "topics declared and visible" in log  # the worker's whole start is in it
    assert secure_broker.password not in log


async def test_a_worker_with_a_wrong_password_stops_with_the_reason_and_not_the_password(
    secure_broker: SecureBroker, deployment: Deployment
) -> None:
    wrong = f"wrong-{secrets.token_hex(8)}"
    env = {**deployment.env, **secure_broker.worker_env(), "NPO_KAFKA_SASL_PASSWORD": wrong}
    worker = WorkerProcess("wrong-password", env, deployment.workdir)
    deployment.workers.append(worker)
    worker.spawn()
    assert worker.proc is not None
    proc = worker.proc

    async def exited() -> int | None:
        return proc.poll()

    assert await eventually(exited, timeout=90, what="the worker to stop") != 0
    log = worker.output()
    assert "SaslAuthenticationFailed" in log
    assert wrong not in log


@pytest.mark.parametrize(
    "how",
    ["no TLS, no SASL", "TLS without SASL", "a wrong password", "an unknown user"],
)
async def test_a_client_without_the_right_credentials_is_refused(
    secure_broker: SecureBroker, how: str
) -> None:
    security = {
        "no TLS, no SASL": {"security_protocol": "PLAINTEXT"},
        "TLS without SASL": {
            "security_protocol": "SSL",
            "ssl_context": ssl.create_default_context(cafile=str(secure_broker.ca_file)),
        },
        "a wrong password": secure_broker.security(sasl_plain_password="not-the-password"),
        "an unknown user": secure_broker.security(sasl_plain_username="intruder"),
    }[how]
    for client in (
        AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, request_timeout_ms=10_000, **security),
        AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, request_timeout_ms=10_000, **security),
    ):
        with pytest.raises(KafkaError):
            try:
                await client.start()
            finally:
                await client.stop()


async def test_the_same_credentials_are_accepted(secure_broker: SecureBroker) -> None:
    """The refusals above are about credentials: the right ones connect."""
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, **secure_broker.security())
    try:
        await producer.start()
        assert (await producer.client.fetch_all_metadata()).brokers()
    finally:
        await producer.stop()
