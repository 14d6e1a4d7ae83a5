"""The real processes an integration test runs: Faust workers and the simulated NPO API."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.support.polling import scaled

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _log_tail(log: Path) -> str:
    """The end of a process's log, for a failure message (read off the event loop)."""
    return (await asyncio.to_thread(log.read_text))[-4000:]


async def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.poll() is not None:
                tail = await _log_tail(log)
                raise AssertionError(f"process exited with {proc.returncode}:\n{tail}")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            except (TimeoutError, aiohttp.ClientError):
                pass
            if time.monotonic() > deadline:
                tail = await _log_tail(log)
                raise AssertionError(f"{url} not ready after {timeout}s:\n{tail}")
            await asyncio.sleep(0.25)


SPAWNED_LOGS: list[Path] = []
"""Every log a test process wrote this session: a failed test's report shows their errors."""

_LOGGED_ERROR = re.compile(r"\[(ERROR|CRITICAL)\]|^[A-Za-z_][\w.]*(Error|Exception|Interrupt)\b")


def log_sizes() -> dict[Path, int]:
    """Where each process log ends now: ``errors_logged`` reads what comes after."""
    return {log: log.stat().st_size for log in SPAWNED_LOGS if log.exists()}


def errors_logged(since: dict[Path, int], limit: int = 20) -> str:
    """The error lines (and exception summaries) each process log gained after ``since``
    (``log_sizes()``; a log not in it: all of it): a chaos scenario's lost records name a crashed
    worker, not just a count."""
    sections = []
    for log in dict.fromkeys(SPAWNED_LOGS):
        start = since.get(log, 0)
        if not log.exists() or log.stat().st_size <= start:
            continue
        with log.open("rb") as gained:
            gained.seek(start)
            text = gained.read().decode(errors="replace")
        lines = [line for line in text.splitlines() if _LOGGED_ERROR.search(line)]
        if lines:
            shown = lines[-limit:]
            more = f"  ({len(lines) - limit} earlier not shown)\n" if len(lines) > limit else ""
            sections.append(f"{log}:\n{more}" + "\n".join(f"  {line[:300]}" for line in shown))
    return "\n".join(sections)


class Process:
    """A child process with its output in a log file, stopped by SIGTERM or killed by SIGKILL."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        SPAWNED_LOGS.append(self.log_path)

    def spawn(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, no commit."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class SandboxProcess(Process):
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            "sandbox",
            [sys.executable, "-m", "npo_sandbox", "--host", "127.0.0.1", "--port", str(self.port)],
            dict(os.environ),
            workdir,
        )

    async def start(self) -> SandboxProcess:
        self.spawn()
        assert self.proc is not None
        await _wait_http(f"{self.url}/_sandbox/npos", self.proc, self.log_path, 30)
        return self

    def npo_url(self, npo_id: str) -> str:
        return f"{self.url}/npos/{npo_id}"

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{self.url}{path}", json=body, headers=headers) as resp,
        ):
            resp.raise_for_status()
            return await resp.json(content_type=None)

    async def add_npo(self, npo_id: str, **spec: Any) -> Any:
        return await self.call("PUT", f"/_sandbox/npos/{npo_id}", spec)

    async def requests(self, npo_id: str) -> list[dict[str, Any]]:
        return (await self.call("GET", f"/_sandbox/npos/{npo_id}/requests"))["requests"]

    async def enrolments(self, npo_id: str) -> list[dict[str, Any]]:
        return (await self.call("GET", f"/_sandbox/npos/{npo_id}/enrolments"))["enrolments"]

    async def records(self, npo_id: str, kind: str) -> list[dict[str, Any]]:
        return (await self.call("GET", f"/_sandbox/npos/{npo_id}/records/{kind}"))["records"]

    async def upsert(self, npo_id: str, kind: str, record: dict[str, Any]) -> Any:
        return await self.call("POST", f"/_sandbox/npos/{npo_id}/{kind}", record)

    async def set_faults(self, npo_id: str, **faults: Any) -> Any:
        return await self.call("PUT", f"/_sandbox/npos/{npo_id}/faults", faults)


class WorkerProcess(Process):
    """``faust -A npo_integration.app worker`` with its own data dir and web port."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        data_dir = workdir / f"{name}-data"
        worker_env = {
            **os.environ,
            **env,
            "NPO_WEB_PORT": str(self.web_port),
            "NPO_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
        }
        super().__init__(
            name,
            [sys.executable, "-m", "npo_integration.cli", "worker", "-l", "info"],
            worker_env,
            workdir,
        )

    async def start(self, timeout: float = 90) -> WorkerProcess:
        self.spawn()
        assert self.proc is not None
        await _wait_http(f"{self.url}/health", self.proc, self.log_path, timeout)
        return self
