"""What every benchmark shares: an isolated deployment on the real
broker, plain Kafka clients, figures.

A benchmark script starts what it needs (the broker must answer; ``make bench``
starts it), runs its baseline and the service in the same run, and calls
:func:`report` with its figures. ``report`` prints them and writes them as JSON
under ``var/bench/``, from which ``bench/report.py`` generates
``docs/performance.md``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.support.kafka import (  # noqa: E402
    BOOTSTRAP,
    delete_topics,
    produce_many,  # noqa: F401  (re-exported for the benchmarks)
)
from tests.integration.support.processes import SandboxProcess, WorkerProcess  # noqa: E402

RESULTS = ROOT / "var" / "bench"
TOPICS = (
    "npo_assessed",
    "candidate_assignments",
    "assignment_updated",
    "offerings",
    "config_commands",
    "fetch_requests",
    "raw_records",
    "enrolment_results",
    "enrolment_links",
    "enrolment_commands",
    "dead_letters",
    "ingest_commands",
)


@dataclass
class Figure:
    """One measured figure, its baseline and the target its ratio is held to."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str | None = None
    target: str | None = None
    met: bool | None = None
    note: str | None = None
    median: float | None = None
    runs: int = 1

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


@dataclass
class BenchResult:
    bench: str
    title: str
    parameters: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


CALIBRATION_LOOP = 10_000_000


def calibration_seconds(runs: int = 5) -> float:
    """The machine's speed now: a plain Python loop of ten million additions (in a function, so
    on local variables), the median of ``runs``. The shared machines differ from day to day, and
    within one ``make bench``; with this beside the figures, two days' absolute rates can be
    compared (the ratios against same-run baselines need no such help). The median, not the
    best: one loop on an idle machine here ranged from 0.43 to 0.66 s."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        total = 0
        for i in range(CALIBRATION_LOOP):
            total += i
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _cpu_jiffies() -> tuple[int, int] | None:
    """(steal, total) from /proc/stat: time the hypervisor gave this machine's CPUs to others."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


_speed_at_start: float | None = None
_jiffies_at_start: tuple[int, int] | None = None


def calibrate() -> None:
    """Measure the machine's speed as the bench starts (its scripts call this first)."""
    global _speed_at_start, _jiffies_at_start
    _speed_at_start = round(calibration_seconds(), 3)
    _jiffies_at_start = _cpu_jiffies()


def steal_share() -> float | None:
    """The share of CPU time stolen by the hypervisor since ``calibrate()``, or ``None``."""
    now = _cpu_jiffies()
    if now is None or _jiffies_at_start is None or now[1] <= _jiffies_at_start[1]:
        return None
    return round((now[0] - _jiffies_at_start[0]) / (now[1] - _jiffies_at_start[1]), 4)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("faust-streaming", "aiokafka", "aiohttp", "pydantic", "rocksdict"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            versions[dist] = "?"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "kafka": os.environ.get("KAFKA_VERSION", "4.1.1"),
        "versions": versions,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "steal_share": steal_share(),
        "calibration_seconds": [_speed_at_start, round(calibration_seconds(), 3)],
    }


def ratio_text(ratio: float) -> str:
    """A ratio as printed and in docs/performance.md: three decimals, so a ratio just over its
    target (1.504 against 1.5) does not read as meeting it."""
    return f"{ratio:.3f}"


def report(result: BenchResult) -> None:
    """Print the figures and write them to ``var/bench/<bench>.json``; a run under
    ``BENCH_PROFILE`` (py-spy slows the worker) to ``var/bench/profiled/``, which the page's
    report does not read."""
    print(f"\n== {result.title}")
    for key, value in result.parameters.items():
        print(f"   {key}: {value}")
    for fig in result.figures:
        line = f"   {fig.name}: {fig.value:,.2f} {fig.unit}"
        if fig.runs > 1 and fig.median is not None:
            line += f" (best of {fig.runs}; median {fig.median:,.2f})"
        if fig.baseline is not None:
            line += (
                f"  | {fig.baseline_name}: {fig.baseline:,.2f} {fig.unit}"
                f"  ratio {ratio_text(fig.ratio or 0.0)}"
            )
        if fig.target:
            line += f"  | target {fig.target}: {'met' if fig.met else 'NOT MET'}"
        print(line)
        if fig.note:
            print(f"      {fig.note}")
    for note in result.notes:
        print(f"   note: {note}")
    folder = RESULTS / "profiled" if os.environ.get("BENCH_PROFILE") else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    document = {"machine": machine(), **asdict(result)}
    for fig, raw in zip(result.figures, document["figures"], strict=True):
        raw["ratio"] = fig.ratio
    out = folder / f"{result.bench}.json"
    out.write_text(json.dumps(document, indent=2))
    if folder != RESULTS:
        print(f"   profiled run: figures in {out.relative_to(ROOT)}, not used for the page")


SIMULATED_TOKEN = "bench"
"""The bearer token the simulated NPOs of the benches ask for."""
ENROL_ENDPOINT = {
    "method": "POST",
    "path": "/api/enrolments",
    "body_format": "json",
    "response_id_path": "enrolment_id",
}
"""The simulator's enrol call (its ``simple`` flavour), as a config names it."""


async def simulated_npos(
    sandbox: SandboxProcess,
    count: int,
    prefix: str,
    *,
    offerings: int,
    page_size: int | None = None,
    latency_ms: int | None = None,
    token: str = SIMULATED_TOKEN,
) -> list[str]:
    """``count`` NPOs of the simulator's ``simple`` flavour, ``prefix`` and a number each (made
    again when they exist: the same data, empty request logs); their npo_ids.

    Their records are made now, not on each NPO's first request, so a timed window holds the
    simulated API's work, as a real NPO's would be, and not the simulator making up its data.
    """
    spec: dict[str, Any] = {
        "count": count,
        "generate": True,
        "prefix": prefix,
        "flavour": "simple",
        "offerings": offerings,
        "auth": {"kind": "bearer", "token": token},
    }
    if page_size is not None:
        spec["page_size"] = page_size
    if latency_ms is not None:
        spec["latency_ms"] = latency_ms
    return list((await sandbox.call("POST", "/_sandbox/bulk", spec))["npo_ids"])


def simulated_config(
    sandbox: SandboxProcess,
    npo_id: str,
    *,
    schedule_seconds: float | None = None,
    page_size: int | None = None,
    enrol: bool = False,
    rate_limit: tuple[float, int] | None = None,
    timeout_seconds: float | None = None,
    token: str = SIMULATED_TOKEN,
) -> dict[str, Any]:
    """The config of a simulated NPO made by :func:`simulated_npos`: its offerings pulled every
    ``schedule_seconds`` in pages of ``page_size`` (``schedule_seconds`` ``None``: not pulled),
    enrolments through it when ``enrol``, within ``rate_limit`` (requests per second, burst)."""
    offerings: dict[str, Any] = {"path": "/api/offerings", "records_path": "data"}
    if schedule_seconds is None:
        offerings["enabled"] = False
    else:
        offerings["schedule_seconds"] = schedule_seconds
    if page_size is not None:
        offerings["pagination"] = {"style": "page_number", "page_size": page_size}
    config: dict[str, Any] = {
        "npo_id": npo_id,
        "display_name": npo_id,
        "base_url": sandbox.npo_url(npo_id),
        "auth": {"kind": "bearer", "token": token},
        "streams": {"offerings": offerings},
        "transform": {"kind": "plugin", "name": "simple"},
    }
    if enrol:
        config["enrolment"] = {
            "enabled": True,
            "enrol": ENROL_ENDPOINT,
            "idempotency_key": "honoured",
        }
    if rate_limit is not None:
        config["rate_limit"] = {"requests_per_second": rate_limit[0], "burst": rate_limit[1]}
    if timeout_seconds is not None:
        config["timeout_seconds"] = timeout_seconds
    return config


class Deployment:
    """An isolated deployment: its own app id, topic names and keys on the shared broker."""

    def __init__(self, workdir: Path, name: str, partitions: int = 8) -> None:
        self.workdir = workdir
        suffix = uuid.uuid4().hex[:8]
        self.prefix = f"bench-{name}-{suffix}"
        self.partitions = partitions
        self.topics = {t: f"{self.prefix}.{t.replace('_', '-')}" for t in TOPICS}
        self.admin_token = "bench-admin-token-" + uuid.uuid4().hex
        self.env: dict[str, str] = {
            "NPO_APP_ID": self.prefix,
            "NPO_BROKER_URL": f"kafka://{BOOTSTRAP}",
            "NPO_SECRETS_KEYS": Fernet.generate_key().decode(),
            "NPO_ADMIN_TOKEN": self.admin_token,
            "NPO_ALLOW_PRIVATE_NPO_URLS": "true",
            "NPO_TOPIC_PARTITIONS": str(partitions),
            "NPO_LOG_LEVEL": "warning",
            **{f"NPO_TOPIC_{t.upper()}": topic for t, topic in self.topics.items()},
        }
        self.workers: list[WorkerProcess] = []

    def write_configs(self, configs: list[dict[str, Any]]) -> None:
        path = self.workdir / f"{self.prefix}-npos.json"
        path.write_text(json.dumps(configs))
        self.env["NPO_CONFIG_FILE"] = str(path)

    async def create_topics(self, names: Iterable[str]) -> None:
        """Declare topics (setting names, or full names) before the worker does,
        so records can wait on them."""
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(
                        self.topics.get(n, n), num_partitions=self.partitions, replication_factor=1
                    )
                    for n in names
                ]
            )
        finally:
            await admin.close()

    async def start_worker(
        self, name: str = "worker", timeout: float = 180, **env: str
    ) -> WorkerProcess:
        worker = WorkerProcess(f"{self.prefix}-{name}", {**self.env, **env}, self.workdir)
        self.workers.append(worker)
        return await worker.start(timeout=timeout)

    async def stop(self) -> None:
        """Stop the workers and delete the deployment's topics (internal ones included), so benches
        do not leave the shared broker carrying thousands of partitions."""
        for worker in self.workers:
            worker.stop()
        await self.delete_topics()

    async def delete_topics(self) -> None:
        await delete_topics((self.prefix,))
        await deleted_files_gone()


async def deleted_files_gone(timeout: float = 180.0) -> None:
    """Until the broker has removed the files of the topics deleted so far, when its log
    directories are on this machine.

    It removes them ``log.segment.delete.delay.ms`` after the deletion (a minute by default, a
    second on ``scripts/kafka.sh``'s broker): a deployment's 250 partitions' worth of file work
    that stalled the broker's acknowledgements for up to a second, in the middle of whatever
    measurement ran then (the ingestion bench's new records, one run in four)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        brokers = (await admin.describe_cluster())["brokers"]
        wanted = {"log.dirs": None, "log.dir": None}
        resources = [
            ConfigResource(ConfigResourceType.BROKER, str(b["node_id"]), wanted) for b in brokers
        ]
        responses = await admin.describe_configs(resources)
    finally:
        await admin.close()
    dirs: list[str] = []
    for response in responses:
        for *_, configs in response.resources:
            values = {name: value for name, value, *_ in configs}
            listed = values.get("log.dirs") or values.get("log.dir") or ""  # the first wins
            dirs += [d for d in listed.split(",") if d]

    async def gone() -> bool:
        return not _deleting(dirs)

    await until(
        gone, timeout=timeout, what="the broker to remove deleted topics' files", interval=0.2
    )


def _deleting(log_dirs: list[str]) -> bool:
    """Whether a deleted partition's directory (renamed ``<topic>-<n>.<id>-delete``) is still in
    one of the broker's log directories that this machine has."""
    found = (Path(d) for d in log_dirs)
    return any(p.name.endswith("-delete") for d in found if d.is_dir() for p in d.iterdir())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far per thread name (``main`` for the event loop's thread, ``python`` for
    the others Python started, ``rocksdb:low``, ...)."""
    ticks = os.sysconf("SC_CLK_TCK")
    by_name: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = "main" if task.name == str(pid) else (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended while it was read
            continue
        by_name[name] = by_name.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return by_name


def by_thread(
    before: dict[str, float], after: dict[str, float], *, top: int | None = None, digits: int = 1
) -> str:
    """CPU seconds per thread between two :func:`thread_cpu` readings, busiest first (``top``:
    only that many), for a bench's log."""
    spent = {name: seconds - before.get(name, 0.0) for name, seconds in after.items()}
    busiest = sorted(spent.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{name} {seconds:.{digits}f} s" for name, seconds in busiest if seconds)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def plain_clients(source: str) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
    """A baseline loop's consumer of ``source`` (a group of its own, from the start, batches of up
    to 1,000) and its producer, configured alike in every bench; call in the loop, then start."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=BOOTSTRAP,
        group_id=f"plain-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
    )
    return consumer, AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=5)


async def message_times(topic: str, expected: int, *, timeout: float) -> list[float]:
    """Broker-side timestamps (s) of the first ``expected`` messages on
    ``topic``, waiting up to ``timeout``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                break
            await consumer._client.force_metadata_update()
            if time.monotonic() > deadline:
                raise SystemExit(f"topic {topic} never appeared")
            await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        times: list[float] = []
        while len(times) < expected:
            if time.monotonic() > deadline:
                raise SystemExit(f"{topic}: {len(times)}/{expected} messages after {timeout:.0f} s")
            batch = await consumer.getmany(*tps, timeout_ms=500, max_records=5000)
            for records in batch.values():
                times.extend(r.timestamp / 1000 for r in records)
        return sorted(times)[:expected]
    finally:
        await consumer.stop()


def rate(times: list[float]) -> float:
    """Messages per second between the first and the last timestamp."""
    span = times[-1] - times[0]
    return (len(times) - 1) / span if span > 0 else float("inf")


async def metric(url: str, name: str, labels: dict[str, str] | None = None) -> float:
    """One Prometheus sample from a worker's ``/metrics`` (sum over series matching ``labels``)."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if "{" in head:
            series, _, label_text = head.partition("{")
            if series != name:
                continue
            present = dict(
                part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part
            )
            present = {k: v.strip('"') for k, v in present.items()}
            if labels and any(present.get(k) != v for k, v in labels.items()):
                continue
        elif head != name:
            continue
        total += float(value)
    return total


async def until(
    probe: Callable[[], Awaitable[bool]], *, timeout: float, what: str, interval: float = 0.05
) -> float:
    """Poll ``probe`` until true; return the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while True:
        if await probe():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)


def _py_spy() -> str:
    """py-spy from PATH, else beside this interpreter (the venv's, not activated)."""
    return shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


class profiled:
    """``BENCH_PROFILE=1``: sample the process with py-spy while the block runs (collapsed stacks
    under ``var/bench/profile-<name>.txt``, ``BENCH_PROFILE_RATE`` samples a second: 100, as
    more slows the worker more); otherwise nothing."""

    def __init__(self, pid: int, name: str) -> None:
        self._pid = pid
        self._name = name
        self._proc: Any = None

    def __enter__(self) -> profiled:
        if os.environ.get("BENCH_PROFILE"):
            import subprocess

            RESULTS.mkdir(parents=True, exist_ok=True)
            out = RESULTS / f"profile-{self._name}.txt"
            self._proc = subprocess.Popen(
                [
                    _py_spy(),
                    "record",
                    "-p",
                    str(self._pid),
                    "-r",
                    os.environ.get("BENCH_PROFILE_RATE", "100"),
                    "-f",
                    "raw",
                    "-o",
                    str(out),
                ]
                + (["--nonblocking"] if os.environ.get("BENCH_PROFILE") == "nonblocking" else []),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            import signal

            self._proc.send_signal(signal.SIGINT)
            self._proc.wait(30)


class workdir:
    """A scratch directory for logs and data; kept under
    ``var/bench/work-<name>`` with ``BENCH_KEEP=1``."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._tmp: Any = None

    def __enter__(self) -> Path:
        if os.environ.get("BENCH_KEEP"):
            import shutil

            path = RESULTS / f"work-{self._name}"
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            return path
        import tempfile

        self._tmp = tempfile.TemporaryDirectory(prefix=f"npo-bench-{self._name}-")
        return Path(self._tmp.name)

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


REPEAT = int(os.environ.get("BENCH_REPEAT", "2"))
"""Runs per measurement: the machines are shared and noisy, so each figure is the best of these runs
(what the code does when the machine lets it), with the median beside it."""


def best(values: list[float], *, higher_is_better: bool) -> tuple[float, float]:
    """``(best, median)`` of repeated measurements."""
    ordered = sorted(values)
    median = (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else sum(ordered[len(ordered) // 2 - 1 :][:2]) / 2
    )
    return (ordered[-1] if higher_is_better else ordered[0]), median
