"""SIGKILL of a worker whose tables hold 200,000 record states, with standby replicas on
(issue 14): a second worker takes over from its warm standby copies instead of replaying the
whole changelog, and the restart of a worker on its own surviving data directory for comparison.

Two workers A and B (8 partitions, ``NPO_TABLE_STANDBY_REPLICAS=1``) ingest ``RECORDS`` raw
records (``CHAOS_STANDBY_RECORDS``, default 200,000) produced straight onto the raw-records topic
for ``NPOS`` NPOs whose configs come from ``NPO_CONFIG_FILE`` with pulls disabled
(``tests/integration/support/raw.py``, as ``bench/ingest.py``). Then:

1. every record published (end offsets of the offerings topic), and B's standbys caught up. No
   endpoint or metric of the service tells a standby's lag, so this reads what B applied the way
   the service's own start check does (``local_state.persisted_offset``): the changelog offset
   each of B's ``npo-record-state`` / ``npo-record-payloads`` partition stores was last written
   at, read-only from B's data directory while B runs, against the end offsets of the changelog
   partitions. With nothing written any more, B has caught up once every store but what one
   standby buffer holds is written (``STANDBY_BUFFER``: a standby writes the changelog events it
   read in batches per table, the rest waits in memory until the next batch or the takeover).
   The same figures at the kill bound how many changelog messages B still had to apply at
   takeover, against the changelogs' whole size;
2. A is SIGKILLed and a batch of raw records for existing keys produced at once: ``CHANGED`` with
   new content, ``UNCHANGED`` with the same content. Takeover is timed from the kill to B healthy
   and owning every partition, and to the batch processed: the changed ones published once each
   and the unchanged ones counted ``unchanged`` by B, not published again, which only a B that
   holds the 200,000 states can do (an empty table would publish them all as new);
3. B is SIGKILLed and restarted on its own data directory (RocksDB survives a kill: only the
   tail is replayed), timed to healthy and owning every partition, and to a ``PROBE`` batch of
   changed records published.

It ends with an equivalent of the ledger (the records are not served by a simulated NPO): per
record key, the changes published against the changes produced, no event published twice and
none missing, written as ``standby_takeover`` for ``tests/chaos/report.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import aiohttp
import pytest

from npo_integration.local_state import persisted_offset, store_partition
from tests.chaos.ledger import Ledger, WorkerMemory, rss_mb
from tests.chaos.scenario import finish
from tests.integration.conftest import Deployment
from tests.integration.support.kafka import offset_ranges, produce_many, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import WorkerProcess
from tests.integration.support.raw import config, raw_messages
from tests.integration.test_ingestion import committed_to_end, message_count

pytestmark = pytest.mark.chaos

RECORDS = int(os.environ.get("CHAOS_STANDBY_RECORDS", "200000"))
REPLICAS = int(os.environ.get("CHAOS_STANDBY_REPLICAS", "1"))
"""``CHAOS_STANDBY_REPLICAS=0`` runs the same scenario without standbys, for comparison (written
as ``takeover_without_standby``: B then replays A's partitions' whole changelogs)."""
NPOS = [f"sb-{i:04d}" for i in range(300)]
PAGE_SIZE = 100
CHANGED = 1000
UNCHANGED = 1000
PROBE = 100
PARTITIONS = 8
STANDBY_BUFFER = 1000
"""Faust's default ``standby_buffer_size`` of these tables: a standby writes what it read in
batches of this many changelog events per table, the rest waits in its memory (a takeover
applies it first, as the rebalance starts: ``Recovery.flush_buffers``)."""
WATCHED = ("npo-record-state", "npo-record-payloads")
"""The tables that grow with the records: their changelogs are what a takeover would replay."""


async def metric(worker: WorkerProcess, name: str, labels: dict[str, str]) -> float:
    """A worker's ``/metrics`` sample ``name``, summed over the series carrying ``labels`` (0
    while the worker does not answer)."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{worker.url}/metrics") as r:
            text = await r.text()
    except aiohttp.ClientError:
        return 0.0
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        series, _, label_text = head.partition("{")
        if series == name and all(w in label_text for w in wanted):
            total += float(value)
    return total


async def health(worker: WorkerProcess) -> dict[str, object]:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{worker.url}/health") as r:
            body: dict[str, object] = await r.json(content_type=None)
            return {**body, "http": r.status}
    except (aiohttp.ClientError, ValueError):
        return {"http": 0}


def changelogs(deployment: Deployment) -> dict[str, str]:
    return {table: f"{deployment.env['NPO_APP_ID']}-{table}-changelog" for table in WATCHED}


async def standby_lag(
    deployment: Deployment, worker: WorkerProcess
) -> tuple[dict[str, int], int, int]:
    """``(behind, stores, total)``: per watched table, the changelog messages ``worker``'s partition
    stores have not written yet (a store not there yet: its whole partition), how many stores it
    has, and the changelogs' size in messages."""
    names = changelogs(deployment)
    ranges = await offset_ranges(list(names.values()))
    applied: dict[tuple[str, int], int] = {}
    data_dir = Path(worker.env["NPO_DATA_DIR"])
    for store in await asyncio.to_thread(lambda: list(data_dir.glob("v*/tables/*.db"))):
        located = store_partition(store)
        if located and located[0] in names:
            offset = await asyncio.to_thread(persisted_offset, store)
            if offset is not None:
                applied[(names[located[0]], located[1])] = offset
    behind = {
        table: sum(
            max(0, end - max(begin, applied.get(tp, begin - 1) + 1))
            for tp, (begin, end) in ranges.items()
            if tp[0] == topic
        )
        for table, topic in names.items()
    }
    total = sum(end - begin for begin, end in ranges.values())
    return behind, len(applied), total


async def active_partitions(worker: WorkerProcess) -> int | None:
    """What ``/health`` counts: every active partition of the worker's topics and changelogs,
    the global tables' (held by every worker) included; ``None`` while not healthy."""
    body = await health(worker)
    return int(str(body["active_partitions"])) if body["http"] == 200 else None


async def processed(deployment: Deployment) -> bool:
    """The fleet has committed every raw record there is: nothing more will be processed."""
    return await committed_to_end(deployment.env["NPO_APP_ID"], deployment.topics["raw_records"])


def count(messages: list, expected: dict[str, int]) -> Ledger:
    """The ledger's properties over the offerings topic: per record key ``npo/ref``, the distinct
    changes published against ``expected`` (changes produced); an event id or one content
    published twice in a row is a duplicate, fewer changes than produced a loss."""
    bodies: defaultdict[str, list[str]] = defaultdict(list)
    seen_ids: set[str] = set()
    duplicates: set[str] = set()
    events = 0
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        if not isinstance(m.value, dict) or m.value.get("npo_id") not in NPOS:
            continue
        events += 1
        offering = m.value.get("offering") or {}
        key = f"{m.value['npo_id']}/{offering.get('npo_offering_ref', m.key)}"
        body = json.dumps(offering, sort_keys=True)
        if m.value.get("event_id") in seen_ids or (bodies[key] and bodies[key][-1] == body):
            duplicates.add(key)
        else:
            bodies[key].append(body)
        seen_ids.add(str(m.value.get("event_id")))
    return Ledger(
        records_served=len(expected),
        platform_events=events,
        changes=sum(len(b) for b in bodies.values()),
        duplicate_events=sorted(duplicates | {k for k in bodies if k not in expected}),
        lost_records=sorted(k for k, n in expected.items() if len(bodies.get(k, ())) < n),
    )


def _log_table(lines: list[str], title: str) -> dict[tuple[str, int], int]:
    """The first Faust log table after a line ending with ``title``: ``(topic, partition) ->``
    its number column (``〃`` repeats the topic above)."""
    rows: dict[tuple[str, int], int] = {}
    start = next((i for i, line in enumerate(lines) if line.rstrip().endswith(title)), None)
    if start is None:
        return rows
    topic = ""
    for line in lines[start + 4 :]:  # the title line, a border, the header, a border
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("+") or len(cells) != 3:
            break
        topic = topic if cells[0] == "〃" else cells[0]
        rows[(topic, int(cells[1]))] = int(cells[2])
    return rows


def recovery_reads(log: str, topics: Iterable[str]) -> tuple[int, int] | None:
    """From a worker's log, its first recovery's changelog messages to read (Faust logs each
    active changelog partition's highwater and the offset its store starts reading at):
    ``(for topics, for every changelog)``; ``None`` when it logged no recovery."""
    lines = log.splitlines()
    begin = next((i for i, line in enumerate(lines) if "Highwater for active" in line), None)
    if begin is None:
        return None
    lines = lines[begin:]
    highwaters = _log_table(lines, "Highwater for active changelog partitions:")
    starts = _log_table(lines, "active offsets at start of reading:")
    reads = {tp: max(0, high - starts.get(tp, -1)) for tp, high in highwaters.items()}
    wanted = set(topics)
    return sum(n for tp, n in reads.items() if tp[0] in wanted), sum(reads.values())


def reads(found: tuple[int, int] | None) -> str:
    if found is None:
        return "not logged"
    return f"{found[0]:,} of the record tables' changelogs, {found[1]:,} of all changelogs"


def pid(worker: WorkerProcess) -> int | None:
    return worker.proc.pid if worker.proc and worker.proc.poll() is None else None


def memory(workers: list[WorkerProcess], start: dict[str, float | None]) -> list[WorkerMemory]:
    return [
        WorkerMemory(name=w.name, rss_mb_start=start.get(w.name), rss_mb_end=rss_mb(pid(w)))
        for w in workers
    ]


async def test_standby_takes_over_a_killed_worker_with_200k_record_states(
    deployment: Deployment,
) -> None:
    began = time.monotonic()
    deployment.env.update(
        {"NPO_TOPIC_PARTITIONS": str(PARTITIONS), "NPO_TABLE_STANDBY_REPLICAS": str(REPLICAS)}
    )
    deployment.write_configs([config(n) for n in NPOS])
    raw, offerings = deployment.topics["raw_records"], deployment.topics["offerings"]
    a, b = await asyncio.gather(deployment.start_worker("A"), deployment.start_worker("B"))
    rss: dict[str, float | None] = {}

    async def configs_applied() -> bool:
        totals = [await metric(w, "npo_config_changes_total", {}) for w in (a, b)]
        both = [await health(w) for w in (a, b)]
        return sum(totals) >= len(NPOS) and all(h["http"] == 200 for h in both)

    await eventually(configs_applied, timeout=120, interval=0.5, what="the NPO configs applied")
    b_alone = await active_partitions(b)

    # 1. The tables filled: every record published, B's standbys at the changelogs' end.
    built = time.monotonic()
    pages = await asyncio.to_thread(raw_messages, NPOS, RECORDS, 1, PAGE_SIZE)
    await produce_many(raw, pages)
    del pages
    produced = time.monotonic()

    async def all_published() -> bool:
        return await message_count(offerings) >= RECORDS

    await eventually(all_published, timeout=240, interval=1, what=f"{RECORDS} offering events")
    ingested = time.monotonic()
    await eventually(lambda: processed(deployment), timeout=60, what="raw records committed")
    rss.update({w.name: rss_mb(pid(w)) for w in (a, b)})

    async def caught_up() -> tuple[dict[str, int], int] | None:
        behind, stores, _ = await standby_lag(deployment, b)
        done = stores == PARTITIONS * len(WATCHED) and max(behind.values()) < STANDBY_BUFFER
        return None if not done else (behind, stores)

    if REPLICAS:
        await eventually(caught_up, timeout=120, interval=1, what="B's standbys caught up")
    behind_at_kill, _, changelog_size = await standby_lag(deployment, b)
    standby_ready = time.monotonic()

    # 2. A killed; a batch for existing keys at once: half changed, half the same content.
    unchanged_before = await metric(b, "npo_ingested_records_total", {"outcome": "unchanged"})
    b_log_at_kill = len(b.output())
    a.kill()
    killed = time.monotonic()
    await produce_many(raw, raw_messages(NPOS, CHANGED, 2, PAGE_SIZE))
    await produce_many(raw, raw_messages(NPOS, UNCHANGED, 1, PAGE_SIZE, first=CHANGED))

    async def owns_all() -> int | None:  # A's partitions come all at once, in one rebalance
        now = await active_partitions(b)
        return now if now and b_alone and now > b_alone else None

    everything = await eventually(owns_all, timeout=90, what="B owning every partition")
    owned = time.monotonic()

    async def batch_done() -> bool:
        unchanged = await metric(b, "npo_ingested_records_total", {"outcome": "unchanged"})
        return (
            await message_count(offerings) >= RECORDS + CHANGED
            and unchanged - unchanged_before >= UNCHANGED
            and await processed(deployment)
        )

    await eventually(batch_done, timeout=120, interval=0.5, what="B processing the batch")
    taken_over = time.monotonic()
    published_after_kill = await message_count(offerings) - RECORDS

    # 3. B killed and restarted on its own data directory: only the changelogs' tail replayed.
    b_log_at_restart = len(b.output())
    b.kill()
    restarted = time.monotonic()
    b2 = await deployment.start_worker("B")  # the same name: the same data dir

    async def owns_all_again() -> bool:
        return await active_partitions(b2) == everything

    await eventually(owns_all_again, timeout=90, what="B again owning everything")
    restart_owned = time.monotonic()
    await produce_many(raw, raw_messages(NPOS, PROBE, 3, PAGE_SIZE))

    async def probe_published() -> bool:
        return await message_count(offerings) >= RECORDS + CHANGED + PROBE

    await eventually(probe_published, timeout=60, interval=0.5, what="the probe batch published")
    restart_done = time.monotonic()
    await eventually(lambda: processed(deployment), timeout=60, what="raw records committed")

    watched = list(changelogs(deployment).values())
    at_takeover = recovery_reads(b.output()[b_log_at_kill:b_log_at_restart], watched)
    at_restart = recovery_reads(b2.output()[b_log_at_restart:], watched)
    expected = {
        f"{NPOS[i % len(NPOS)]}/{i}": 1 + (i < CHANGED) + (i < PROBE) for i in range(RECORDS)
    }
    ledger = count(await read_all(offerings), expected)
    # the whole changelogs of the watched tables, as a worker without standbys would replay them
    finish(
        "standby_takeover" if REPLICAS else "takeover_without_standby",
        f"SIGKILL of one of 2 workers holding {RECORDS:,} record states, "
        + ("standby replicas on" if REPLICAS else "no standby replicas (comparison)"),
        ledger,
        [*memory([a, b], rss), WorkerMemory(name="B restarted", rss_mb_end=rss_mb(pid(b2)))],
        {
            "kill to B owning every partition (session timeout 10 s included)": owned - killed,
            "kill to a batch of 2,000 existing records processed by B": taken_over - killed,
            "restart on its own data dir to owning every partition": restart_owned - restarted,
            "restart on its own data dir to 100 changed records published": (
                restart_done - restarted
            ),
        },
        notes=[
            f"{RECORDS:,} raw records for {len(NPOS)} NPOs ({PAGE_SIZE} per page) built in "
            f"{produced - built:.0f} s incl. producing, published by A and B "
            f"{ingested - produced:.0f} s later"
            + (
                f"; B's standbys caught up {standby_ready - ingested:.0f} s after that"
                if REPLICAS
                else ""
            ),
            f"at the kill B's stores had written all but {sum(behind_at_kill.values()):,} of the "
            f"{changelog_size:,} messages on the npo-record-state and npo-record-payloads "
            f"changelogs ({behind_at_kill}; persisted offsets against the changelog end offsets"
            + (
                f"; fewer than {STANDBY_BUFFER} per table, which its standbys had read and held "
                f"in memory, applied as the takeover starts)"
                if REPLICAS
                else "; no standbys: A's partitions are all still to read)"
            ),
            f"changelog messages read at the takeover (Faust's log: active highwaters against "
            f"the offsets its stores started at): {reads(at_takeover)}; at the restart on its "
            f"own data dir: {reads(at_restart)}",
            f"after the kill: {CHANGED} changed records published once each, {UNCHANGED} "
            f"unchanged ones counted unchanged by B and not published again "
            f"({published_after_kill} events after the kill)",
            f"scenario {time.monotonic() - began:.0f} s in all",
        ],
    )
