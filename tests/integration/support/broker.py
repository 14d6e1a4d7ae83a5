"""A broker of a test's own: ``scripts/kafka.sh`` on free ports with its data in a temporary
directory, for tests that reset a broker. The shared broker (127.0.0.1:19092) is never reset."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.integration.support.kafka import Broker
from tests.integration.support.processes import ROOT, free_port


class PrivateBroker:
    """``start``, ``reset`` (stop, delete its data, start: a new cluster id) and ``stop``."""

    def __init__(self, data: Path) -> None:
        self.port = free_port()
        self.data = data
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.broker = Broker(self.bootstrap)
        self.url = f"kafka://{self.bootstrap}"
        self._env = {
            **{k: v for k, v in os.environ.items() if k != "KAFKA_SECURE"},
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
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
