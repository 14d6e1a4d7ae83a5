"""Soak: one worker, 200 simulated NPOs, steady assignment traffic, random NPO faults and NPO churn
(deactivated, swept, registered again) for ``SOAK_SECONDS``; memory and local state measured after
warm-up and at the end, to show they stay flat (issue 14, "Bounded state").

Usage: ``SOAK_SECONDS=600 .venv/bin/python bench/soak.py`` (the shared broker must answer).
Settings (environment): ``SOAK_SECONDS`` (600, after warm-up), ``SOAK_WARMUP_SECONDS`` (180),
``SOAK_NPOS`` (200), ``SOAK_ASSIGNMENTS_PER_SECOND`` (10), ``SOAK_FAULTS_PER_MINUTE`` (30),
``SOAK_CHURN_SECONDS`` (20: this often one NPO is deactivated, and the one deactivated 7 rounds
before is registered again; the worker's ``NPO_STATE_RETENTION_DAYS`` is one minute, so the
state of each is swept in between; its ``NPO_ENROLMENT_RETENTION_DAYS`` is 0, so settled
enrolments of active NPOs go at the next tick too), ``SOAK_MEMTABLE_MB`` (12) and
``SOAK_BLOCK_CACHE_MB`` (8): the worker's write-buffer budget and block cache
(``NPO_ROCKSDB_MEMTABLE_MB``, ``NPO_ROCKSDB_BLOCK_CACHE_MB``), small so that minutes of soak reach
the steady state (memtables flushing, the cache full) a worker with the default 64 MB each
reaches after hours; with the defaults both grow towards their budgets during the soak; about
7 MB of the 12 is what the worker's 112 stores take as their first 64 KB memtable blocks).

Writes ``var/soak/soak.json``, which ``docs/reliability.md``'s "Soak" section is rendered from
(``tests/chaos/report.py``; ``make chaos`` clears ``var/chaos/``, not this). Its fields:

- ``scenario``: ``"soak"``; ``started_at``: ISO-8601 UTC start of the measured part;
- ``seconds``: measured duration (after warm-up); ``warmup_seconds``;
- ``npos``: simulated NPOs; ``assignments_sent``, ``assignments_per_second``: traffic offered;
- ``outcomes``: enrolment outcomes read from the enrolment-results topic by status;
- ``faults_injected``: by kind (``500``, ``429``, ``slow``, ``reset``, ``malformed``, ...);
- ``churn``: ``{"deactivated": n, "reactivated": n}``;
- ``rss_mb``: ``{"start": x, "end": y, "growth_pct": z}``, the worker's resident memory, start
  and end being the highest sample of the first and of the last third of the run;
- ``table_data_mb``: the same for the worker's table stores without their info logs (SST files,
  write-ahead logs, MANIFESTs): these rise and fall with memtable flushes, hence peaks, not two
  single samples;
- ``info_log_mb``: ``{"start", "end", "cap"}``: RocksDB's own info logs, which grow until each
  store holds its ``LOG_FILES_KEPT`` files of ``LOG_FILE_BYTES`` (``cap``), then rotate;
- ``rocksdb_mb``: ``{"start", "end", "growth_pct"}``, the whole data dir at start and end;
- ``rocksdb_by_kind``, ``rocksdb_by_table``: that size at start and end (MB) by file kind (``sst``,
  ``wal``, ``info_log``, ``manifest``, ``other``) and by table, largest growth first: where
  growth comes from;
- ``state_purged``: entries the state sweep deleted, by table (the worker's metric);
- ``samples``: ``[{"t": seconds since start, "rss_mb", "rocksdb_mb", "table_data_mb",
  "info_log_mb"}, ...]``, every 15 s;
- ``flat``: true when RSS and the table data each grew less than ``FLAT_GROWTH_PCT`` (10%) and
  the info logs are within their cap;
- ``machine``: cores, CPU, Python, Kafka and library versions, date (``harness.machine``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from harness import (
    ROOT,
    Deployment,
    machine,
    produce_many,
    rss_mb,
    simulated_config,
    simulated_npos,
    until,
    workdir,
)

from npo_integration.faust_patches import LOG_FILE_BYTES, LOG_FILES_KEPT
from tests.integration.support.kafka import BOOTSTRAP
from tests.integration.support.processes import SandboxProcess

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
WARMUP = float(os.environ.get("SOAK_WARMUP_SECONDS", "180"))
NPOS = int(os.environ.get("SOAK_NPOS", "200"))
RATE = float(os.environ.get("SOAK_ASSIGNMENTS_PER_SECOND", "10"))
FAULTS_PER_MINUTE = float(os.environ.get("SOAK_FAULTS_PER_MINUTE", "30"))
CHURN_SECONDS = float(os.environ.get("SOAK_CHURN_SECONDS", "20"))
RETENTION_DAYS = 60 / 86400
SAMPLE_SECONDS = 15.0
FLAT_GROWTH_PCT = 10.0
OUT = ROOT / "var" / "soak" / "soak.json"
TOKEN = "soak"
FAULTS: dict[str, dict[str, Any]] = {
    "500": {"fail_next": [{"status": 500}, {"status": 502}, {"status": 503}]},
    "429": {"fail_next": [{"status": 429, "retry_after": 1}]},
    "slow": {"fail_next": [{"hang_ms": 15_000}]},
    "malformed": {"fail_next": [{"malformed": True}]},
    "wrong_shape": {"fail_next": [{"wrong_shape": True}]},
    "reset": {"down": True, "down_mode": "reset"},
}
"""Each a fault on one random NPO's offerings or enrol endpoint; ``reset`` lasts 5 s."""


def config(sandbox: SandboxProcess, npo_id: str) -> dict[str, Any]:
    return simulated_config(
        sandbox,
        npo_id,
        schedule_seconds=30,
        page_size=100,
        enrol=True,
        timeout_seconds=5,
        token=TOKEN,
    )


def assignment(npo_id: str, n: int, run: str) -> tuple[bytes, bytes]:
    assignment_id = f"{run}-{n:07d}"
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "candidate_assignment.created",
        "occurred_at": datetime.now(UTC).isoformat(),
        "assignment_id": assignment_id,
        "candidate": {
            "candidate_id": f"cand-{assignment_id}",
            "email": f"{assignment_id}@example.org",
            "first_name": "Ada",
            "last_name": "Lovelace",
        },
        "offering": {"offering_id": "off-1", "npo_id": npo_id, "npo_offering_ref": "off-0001"},
    }
    return assignment_id.encode(), json.dumps(event).encode()


STORE = re.compile(r"^(?P<table>.+)-\d+\.db$")  # Faust: one RocksDB per table partition


def file_kind(name: str) -> str:
    """What a file of a RocksDB directory holds: table data (``sst``), write-ahead log
    (``wal``), info log (``info_log``: LOG, LOG.old.*), ``manifest`` or ``other``."""
    if name.endswith(".sst"):
        return "sst"
    if name.endswith(".log") and name[:-4].isdigit():
        return "wal"
    if name.startswith("LOG"):
        return "info_log"
    return "manifest" if name.startswith("MANIFEST") else "other"


def store_files(path: Path) -> Counter[tuple[str, str]]:
    """Bytes by (table, file kind) under a worker's data dir."""
    sizes: Counter[tuple[str, str]] = Counter()
    for root, _, files in os.walk(path):
        store = next((m["table"] for part in Path(root).parts if (m := STORE.match(part))), "-")
        for name in files:
            with contextlib.suppress(OSError):  # a RocksDB file compacted away while walking
                sizes[store, file_kind(name)] += os.path.getsize(os.path.join(root, name))
    return sizes


def table_data(files: Counter[tuple[str, str]]) -> int:
    """Bytes of the stores' data: everything but their info logs."""
    return sum(v for (_, kind), v in files.items() if kind != "info_log")


def info_logs(files: Counter[tuple[str, str]]) -> int:
    return sum(v for (_, kind), v in files.items() if kind == "info_log")


def stores(path: Path) -> int:
    return sum(1 for _ in path.rglob("*.db"))


def growth(start: float, end: float) -> float:
    return round((end - start) / start * 100, 1) if start else 0.0


def peaks(samples: list[dict[str, float]], field: str) -> dict[str, float]:
    """The highest sample of the first third of the run (``start``) and of the last (``end``):
    write-ahead logs rise and fall with memtable flushes, so two single samples may catch one
    at its top and the other at its bottom; growth between the peaks is what accumulates."""
    third = max(1, len(samples) // 3)
    start = max(s[field] for s in samples[:third])
    end = max(s[field] for s in samples[-third:])
    return {"start": round(start, 1), "end": round(end, 1), "growth_pct": growth(start, end)}


def breakdown(start: Counter[tuple[str, str]], end: Counter[tuple[str, str]], by: int) -> Any:
    """MB at start and end by table (``by=0``) or by file kind (``by=1``), largest growth first."""
    keys = {k[by] for k in start | end}
    rows = {
        key: {
            "start": round(sum(v for k, v in start.items() if k[by] == key) / 1e6, 2),
            "end": round(sum(v for k, v in end.items() if k[by] == key) / 1e6, 2),
        }
        for key in keys
    }
    return dict(sorted(rows.items(), key=lambda kv: kv[1]["start"] - kv[1]["end"]))


async def admin(worker_url: str, token: str, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.request(method, f"{worker_url}{path}", json=body) as resp,
    ):
        text = await resp.text()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {text[:200]}")
        return json.loads(text) if text.startswith(("{", "[")) else text


async def purged(worker_url: str, token: str) -> dict[str, float]:
    text = await admin(worker_url, token, "GET", "/metrics")
    found: dict[str, float] = {}
    for match in re.finditer(r'npo_state_purged_total\{table="([^"]+)"\} ([0-9.e+]+)', text):
        found[match.group(1)] = float(match.group(2))
    return found


async def outcomes(topic: str, prefix: str) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            return {}
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        counts: Counter[str] = Counter()
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(*tps, timeout_ms=500)).values():
                for record in records:
                    value = json.loads(record.value)
                    if value.get("assignment_id", "").startswith(prefix):
                        counts[value["status"]] += 1
        return dict(counts)
    finally:
        await consumer.stop()


async def soak(tmp: Path) -> dict[str, Any]:
    sandbox = await SandboxProcess(tmp).start()
    deployment = Deployment(tmp, "soak", partitions=8)
    rng = random.Random(14)
    try:
        npo_ids = await simulated_npos(sandbox, NPOS, "soak-", offerings=20, token=TOKEN)
        deployment.write_configs([config(sandbox, n) for n in npo_ids])
        worker = await deployment.start_worker(
            NPO_STATE_RETENTION_DAYS=str(RETENTION_DAYS),
            NPO_ENROLMENT_RETENTION_DAYS="0",
            NPO_ROCKSDB_MEMTABLE_MB=os.environ.get("SOAK_MEMTABLE_MB", "12"),
            NPO_ROCKSDB_BLOCK_CACHE_MB=os.environ.get("SOAK_BLOCK_CACHE_MB", "8"),
            NPO_STATE_SWEEP_TICK_SECONDS="10",
            NPO_SCHEDULER_TICK_SECONDS="1",
        )
        assert worker.proc is not None
        pid, data_dir = worker.proc.pid, tmp / f"{deployment.prefix}-worker-data"
        token, run = deployment.admin_token, uuid.uuid4().hex[:8]

        async def registered() -> bool:  # the config file applied: churn can name any NPO
            listed = await admin(worker.url, token, "GET", f"/admin/npos?limit={len(npo_ids)}")
            return len(listed["npos"]) == len(npo_ids)

        await until(
            registered, timeout=120, interval=0.5, what=f"the {len(npo_ids)} configs applied"
        )
        faults: Counter[str] = Counter()
        churn = {"deactivated": 0, "reactivated": 0}
        active, inactive = list(npo_ids), []
        sent = 0
        samples: list[dict[str, float]] = []

        async def traffic(until: float) -> None:
            nonlocal sent
            next_fault = next_churn = next_sample = time.monotonic()
            started = time.monotonic()
            while (now := time.monotonic()) < until:
                batch = [assignment(rng.choice(active), sent + i, run) for i in range(int(RATE))]
                sent += await produce_many(deployment.topics["candidate_assignments"], batch)
                if FAULTS_PER_MINUTE and now >= next_fault:
                    next_fault = now + 60 / FAULTS_PER_MINUTE
                    kind = rng.choice(sorted(FAULTS))
                    npo_id = rng.choice(active)
                    endpoint = rng.choice(["offerings", "enrol"])
                    await sandbox.set_faults(npo_id, endpoint=endpoint, **FAULTS[kind])
                    if kind == "reset":
                        asyncio.get_running_loop().call_later(
                            5,
                            lambda n=npo_id, e=endpoint: asyncio.ensure_future(
                                sandbox.set_faults(n, endpoint=e, down=False)
                            ),
                        )
                    faults[kind] += 1
                if CHURN_SECONDS and now >= next_churn and len(active) > 1:
                    next_churn = now + CHURN_SECONDS
                    gone = active.pop(rng.randrange(len(active)))
                    await admin(worker.url, token, "POST", f"/admin/npos/{gone}/deactivate")
                    inactive.append(gone)
                    churn["deactivated"] += 1
                    if len(inactive) > 6:  # back after a few rounds: swept by then
                        back = inactive.pop(0)
                        await admin(
                            worker.url, token, "PUT", f"/admin/npos/{back}", config(sandbox, back)
                        )
                        active.append(back)
                        churn["reactivated"] += 1
                if now >= next_sample:
                    next_sample = now + SAMPLE_SECONDS
                    files = store_files(data_dir)
                    samples.append(
                        {
                            "t": round(now - started, 1),
                            "rss_mb": round(rss_mb(pid), 1),
                            "rocksdb_mb": round(sum(files.values()) / 1e6, 2),
                            "table_data_mb": round(table_data(files) / 1e6, 2),
                            "info_log_mb": round(info_logs(files) / 1e6, 2),
                        }
                    )
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - now)))

        print(f"soak: warm-up {WARMUP:.0f} s, {NPOS} NPOs, {RATE:.0f} assignments/s", flush=True)
        await traffic(time.monotonic() + WARMUP)
        samples.clear()
        start_rss, start_files = rss_mb(pid), store_files(data_dir)
        start_db = sum(start_files.values()) / 1e6
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        print(f"soak: start RSS {start_rss:.0f} MB, RocksDB {start_db:.1f} MB", flush=True)
        began = time.monotonic()
        await traffic(began + SECONDS)
        seconds = time.monotonic() - began
        end_rss, end_files = rss_mb(pid), store_files(data_dir)
        end_db = sum(end_files.values()) / 1e6
        print(f"soak: end RSS {end_rss:.0f} MB, RocksDB {end_db:.1f} MB", flush=True)

        rss, data = peaks(samples, "rss_mb"), peaks(samples, "table_data_mb")
        db = {"start": round(start_db, 1), "end": round(end_db, 1)}
        db["growth_pct"] = growth(start_db, end_db)
        logs = {
            "start": round(info_logs(start_files) / 1e6, 1),
            "end": round(info_logs(end_files) / 1e6, 1),
            "cap": round(stores(data_dir) * LOG_FILES_KEPT * LOG_FILE_BYTES / 1e6, 1),
        }
        return {
            "scenario": "soak",
            "started_at": started_at,
            "seconds": round(seconds, 1),
            "warmup_seconds": WARMUP,
            "npos": NPOS,
            "assignments_sent": sent,
            "assignments_per_second": RATE,
            "outcomes": await outcomes(deployment.topics["enrolment_results"], run),
            "faults_injected": dict(faults),
            "churn": churn,
            "rss_mb": rss,
            "table_data_mb": data,
            "info_log_mb": logs,
            "rocksdb_mb": db,
            "rocksdb_by_kind": breakdown(start_files, end_files, 1),
            "rocksdb_by_table": breakdown(start_files, end_files, 0),
            "state_purged": await purged(worker.url, token),
            "samples": samples,
            "flat": rss["growth_pct"] < FLAT_GROWTH_PCT
            and data["growth_pct"] < FLAT_GROWTH_PCT
            and logs["end"] <= logs["cap"],
            "machine": machine(),
        }
    finally:
        await deployment.stop()
        sandbox.stop()


def main() -> None:
    with workdir("soak") as tmp:
        result = asyncio.run(soak(tmp))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("samples", "machine")}))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
