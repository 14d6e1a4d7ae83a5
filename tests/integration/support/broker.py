"""A broker of a test's own: ``scripts/kafka.sh`` on free ports with its data in a temporary
directory, for tests that reset a broker. The shared broker (127.0.0.1:19092) is never reset."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path

from tests.integration.support.kafka import Broker
from tests.integration.support.processes import ROOT

LISTEN_PORTS = range(20_000, 32_000)
"""Below Linux's ephemeral range (32768-60999): a broker stopped and started again on its port
must not find it taken by some client's outgoing connection meanwhile (a busy machine's CI saw
a restarted private broker exit on a port from the ephemeral range)."""


def free_listen_port() -> int:
    """A port outside the ephemeral range that nothing listens on now."""
    for _ in range(200):
        port = random.choice(LISTEN_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {LISTEN_PORTS}")


class PrivateBroker:
    """``start``, ``reset`` (stop, delete its data, start: a new cluster id) and ``stop``."""

    def __init__(self, data: Path) -> None:
        self.port = free_listen_port()
        self.data = data
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.broker = Broker(self.bootstrap)
        self.url = f"kafka://{self.bootstrap}"
        self._env = {
            **{k: v for k, v in os.environ.items() if k != "KAFKA_SECURE"},
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_listen_port()),
            "KAFKA_DATA": str(data),
            "KAFKA_HEAP": os.environ.get("KAFKA_PRIVATE_HEAP", "256m"),
        }

    def _run(self, command: str) -> str:
        """Run ``scripts/kafka.sh command``; its report (stderr)."""
        done = subprocess.run(
            [str(ROOT / "scripts" / "kafka.sh"), command],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0:
            raise AssertionError(f"kafka.sh {command} failed:\n{done.stderr[-3000:]}")
        return done.stderr

    def start(self) -> str:
        return self._run("start")

    def reset(self) -> str:
        """The broker's data deleted and a fresh broker on the same port; what ``reset`` said."""
        said = self._run("reset")
        self.start()
        return said

    def stop(self) -> str:
        return self._run("stop")
