"""Writes docs/deployment.md from the scaling bench's figures (var/bench/scaling.json) and the
one-worker figures of the other benches (var/bench/{pull_sweep,registry}.json), and the
largest milestone's fleet into deploy/helm/values-production.yaml (its ``# sized`` block).

The sizing table is arithmetic over measured figures and the load assumptions below (stated in
the page): change an assumption here, re-run, and the table follows. The page is generated: edit
this script, never the page.

Usage: .venv/bin/python bench/deployment_report.py [--out docs/deployment.md]
       [--values deploy/helm/values-production.yaml]
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import RESULTS, ROOT

# --- load assumptions per milestone (not measured: the platform's expectations) ------------------
PULL_EVERY_S = 300  # an offerings stream's schedule_seconds default
PAGES_PER_PULL = 3
RECORDS_PER_NPO = 25
CHANGED_SHARE = 0.05  # of the records a pull brings, new or changed (the rest unchanged)
NPO_PAGE_LATENCY_S = 0.5  # a real NPO API's answer to one page (the simulator's is 50 ms)
ENROLMENTS_PER_CANDIDATE_PER_DAY = 0.05
PEAK_HOUR_SHARE = 0.25  # of a day's enrolments in its busiest hour
CORE_BUDGET = 0.5  # of a core per worker at the milestone's load: a failover doubles a worker's
FETCH_CONCURRENCY = 64  # NPO_FETCH_CONCURRENCY default
STANDBY = 1  # NPO_TABLE_STANDBY_REPLICAS in a fleet


@dataclass(frozen=True)
class Milestone:
    name: str
    npos: int
    candidates: int
    partitions: int
    why: str


MILESTONES = (
    Milestone(
        "1k NPOs",
        1_000,
        10_000,
        8,
        "the default: 4x the workers this milestone needs, and enough for the next one",
    ),
    Milestone(
        "20k NPOs",
        20_000,
        200_000,
        16,
        "set for the next milestone: its workers with 4x headroom, so growing to 100k NPOs "
        "needs no migration",
    ),
    Milestone(
        "100k NPOs, 1M candidates",
        100_000,
        1_000_000,
        32,
        "8x the workers the CPU figure asks for: room for real NPOs' pages costing "
        "several times the simulator's before the count caps the fleet; more partitions "
        "cost RocksDB instances per worker, broker partitions and a longer rebalance",
    ),
)


def _figures(bench: str) -> dict[str, Any]:
    document = json.loads((RESULTS / f"{bench}.json").read_text())
    document["by_name"] = {f["name"]: f for f in document["figures"]}
    return document


def _v(doc: dict[str, Any], name: str) -> float:
    return float(doc["by_name"][name]["value"])


def rss_without_npos(registry: dict[str, Any]) -> float:
    return float(registry["by_name"]["worker RSS with every config"]["baseline"])


def mb_per_config(registry: dict[str, Any]) -> float:
    """A worker's memory per NPO config it holds (every worker holds every config)."""
    rss_all = _v(registry, "worker RSS with every config")
    return (rss_all - rss_without_npos(registry)) / int(registry["parameters"]["NPO configs"])


def mb_per_pulled_npo(registry: dict[str, Any], scheduler: dict[str, Any]) -> float:
    """A worker's memory per NPO it pulls, beyond its config: the scheduler bench's RSS once
    every NPO was pulled, less a worker holding as many configs (the registry bench's rate)."""
    pulled = int(scheduler["parameters"]["NPOs"])
    rss_pulled = _v(scheduler, f"worker RSS once {pulled:,} NPOs were pulled")
    held = rss_without_npos(registry) + mb_per_config(registry) * pulled
    return max(0.0, (rss_pulled - held) / pulled)


@dataclass(frozen=True)
class Sizing:
    """One milestone's fleet, as the sizing table shows it."""

    milestone: Milestone
    workers: int
    limit: str
    cores: float
    in_flight: float
    fetch: int
    memory_mb: float
    disk_gi: int
    broker_partitions: int

    @property
    def memory_request(self) -> str:
        return _mi(self.memory_mb * 1.5)

    @property
    def memory_limit(self) -> str:
        return _mi(self.memory_mb * 3)


def sizings(
    scaling: dict[str, Any],
    pull: dict[str, Any],
    registry: dict[str, Any],
    scheduler: dict[str, Any],
) -> list[Sizing]:
    # A fleet's CPU per unit: the 2-worker figures (standby replicas apply every table write
    # again); the steady-state pull cost of one worker scaled by the same fleet factor.
    fleet_factor = _v(scaling, "pulls, CPU, 2 workers") / _v(scaling, "pulls, CPU, 1 worker")
    steady_ms_per_page = _v(pull, "worker CPU per page, steady state") * max(1.0, fleet_factor)
    ingest_ms = _v(scaling, "ingestion, CPU, 2 workers")
    enrol_ms = _v(scaling, "enrolments, CPU, 2 workers")
    rss_none = rss_without_npos(registry)
    per_config = mb_per_config(registry)
    per_pulled = mb_per_pulled_npo(registry, scheduler)
    fleet1 = scaling["parameters"]["fleets"]["1"]
    disk_mb = max(fleet1["disk_mb"])
    bench_npos = int(scaling["parameters"]["NPOs registered"])
    held = fleet1["held"][0]
    bench_partitions = int(scaling["parameters"]["partitions"])

    out = []
    for m in MILESTONES:
        pages_s = m.npos * PAGES_PER_PULL / PULL_EVERY_S
        changed_s = m.npos * RECORDS_PER_NPO / PULL_EVERY_S * CHANGED_SHARE
        enrol_s = m.candidates * ENROLMENTS_PER_CANDIDATE_PER_DAY * PEAK_HOUR_SHARE / 3600
        loads = {
            f"pull CPU ({steady_ms_per_page:.2f} ms/page x {pages_s:,.0f} pages/s)": pages_s
            * steady_ms_per_page
            / 1000,
            f"ingestion CPU ({ingest_ms:.3f} ms/record x {changed_s:,.0f} changed/s)": changed_s
            * ingest_ms
            / 1000,
            f"enrolment CPU ({enrol_ms:.2f} ms x {enrol_s:,.1f}/s at peak)": enrol_s
            * enrol_ms
            / 1000,
        }
        cores = sum(loads.values())
        in_flight = m.npos / PULL_EVERY_S * PAGES_PER_PULL * NPO_PAGE_LATENCY_S
        by_cpu = math.ceil(cores / CORE_BUDGET)
        workers = min(max(2, by_cpu), m.partitions)
        if by_cpu < 2:
            limit = "availability: 2 workers, one takes over with warm standbys"
        else:
            limit = max(loads, key=lambda k: loads[k])
        # every config (a GlobalTable), and the pull state of the NPOs it pulls: its share,
        # twice over (a failover hands it a neighbour's)
        pulled = m.npos * min(1.0, 2 / workers)
        disk = disk_mb / bench_npos * m.npos * min(1.0, (1 + STANDBY) / workers) * 2
        out.append(
            Sizing(
                milestone=m,
                workers=workers,
                limit=limit,
                cores=cores,
                in_flight=in_flight,
                # Pulls in flight wait on the NPOs, not the CPU: a worker's concurrency covers
                # its share twice over (a failover hands it a neighbour's NPOs), never below the
                # default.
                fetch=max(FETCH_CONCURRENCY, math.ceil(in_flight * 2 / workers)),
                memory_mb=rss_none + per_config * m.npos + per_pulled * pulled,
                disk_gi=max(10, math.ceil(disk / 1024)),
                broker_partitions=math.ceil(held / bench_partitions) * m.partitions,
            )
        )
    return out


def sizing_rows(rows: list[Sizing]) -> list[str]:
    return [
        "| milestone | partitions | workers | limiting figure | CPU (cores, fleet) "
        "| pulls in flight -> NPO_FETCH_CONCURRENCY | memory per worker (request / limit) "
        "| RocksDB disk per worker | broker partitions |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {s.milestone.name} | {s.milestone.partitions} | {s.workers} | {s.limit} "
            f"| {s.cores:.2f} | {s.in_flight:,.0f} -> {s.fetch} per worker "
            f"| {s.memory_request} / {s.memory_limit} (RSS {s.memory_mb:,.0f} MB) "
            f"| {s.disk_gi} Gi | {s.broker_partitions:,} x replication |"
            for s in rows
        ),
    ]


PRODUCTION_VALUES = ROOT / "deploy" / "helm" / "values-production.yaml"
SIZED_BEGIN = "# sized: begin"
SIZED_END = "# sized: end"


def sized_values(s: Sizing) -> str:
    """The block of values-production.yaml this script writes: the fleet of the sizing row."""
    return f"""{SIZED_BEGIN}. Written by bench/deployment_report.py from the sizing row
# "{s.milestone.name}" of docs/deployment.md: regenerate them together, do not edit.
replicas: {s.workers}
# Decided once per deployment (docs/deployment.md#partitions): the useful workers at most.
topicPartitions: {s.milestone.partitions}
extraEnv:
  NPO_FETCH_CONCURRENCY: "{s.fetch}"  # twice a worker's share of the pulls in flight
  NPO_HTTP_MAX_CONNECTIONS: "{s.fetch}"
resources:
  requests:
    cpu: "1"  # a worker is one Python process: one core at most; no CPU limit (throttling)
    memory: {s.memory_request}
  limits:
    memory: {s.memory_limit}
{SIZED_END}
"""


def with_sized_values(text: str, s: Sizing) -> str:
    """``text`` (values-production.yaml) with its sized block replaced by ``s``'s."""
    begin, end = text.find(SIZED_BEGIN), text.find(SIZED_END)
    if begin < 0 or end < begin or text.find(SIZED_BEGIN, begin + 1) >= 0:
        raise ValueError(
            f"values file without one {SIZED_BEGIN!r} ... {SIZED_END!r} block to write the "
            "sizing into"
        )
    after = text.index("\n", end) + 1 if "\n" in text[end:] else len(text)
    return text[:begin] + sized_values(s) + text[after:]


def _mi(mb: float) -> str:
    return f"{max(256, math.ceil(mb / 128) * 128)}Mi"


def scaling_table(scaling: dict[str, Any]) -> list[str]:
    rows = [
        "| load | 1 worker | 2 workers | speed-up "
        "| CPU per unit, 1 worker | CPU per unit, 2 workers |",
        "|---|---|---|---|---|---|",
    ]
    for load, unit, cpu_unit in (
        ("ingestion", "records/s", "ms/record"),
        ("enrolments", "enrolments/s", "ms/enrolment"),
        ("pulls", "pages/s", "ms/page"),
    ):
        one = _v(scaling, f"{load}, 1 worker")
        two = _v(scaling, f"{load}, 2 workers")
        c1 = _v(scaling, f"{load}, CPU, 1 worker")
        c2 = _v(scaling, f"{load}, CPU, 2 workers")
        rows.append(
            f"| {load} | {one:,.0f} {unit} | {two:,.0f} {unit} | {two / one:.2f}x "
            f"| {c1:.3f} {cpu_unit} | {c2:.3f} {cpu_unit} |"
        )
    return rows


def reading(scaling: dict[str, Any]) -> list[str]:
    """What the figures say, worded from them: a speed-up near 2x, or not on this machine."""
    ups = {
        load: _v(scaling, f"{load}, 2 workers") / _v(scaling, f"{load}, 1 worker")
        for load in ("ingestion", "enrolments", "pulls")
    }
    costs = {
        load: _v(scaling, f"{load}, CPU, 2 workers") / _v(scaling, f"{load}, CPU, 1 worker")
        for load in ups
    }
    cores = scaling["machine"]["cores"]
    lines = [
        "How to read it: a speed-up near 2x means the load divides over the workers; the CPU "
        "per unit (both workers together) staying flat means a second worker costs nothing "
        "per unit of work.",
        "",
    ]
    if max(ups.values()) < 1.3:
        lines.append(
            f"On this machine ({cores} cores for the broker, the simulated NPOs (one Python "
            "process for all of them) and the workers) a second worker added no throughput: "
            + ", ".join(f"{load} {up:.2f}x" for load, up in ups.items())
            + ". The work did spread (the shares above), so the limit is the machine, not the "
            "partitioning: the figures measure that the fleet divides the work, not what a "
            "core per worker would give."
        )
    else:
        lines.append(
            "The speed-ups: " + ", ".join(f"{load} {up:.2f}x" for load, up in ups.items()) + "."
        )
    lines.append(
        "The fleet's CPU per unit changed by "
        + ", ".join(f"{load} {cost - 1:+.0%}" for load, cost in costs.items())
        + " with the second worker."
    )
    standby0 = RESULTS / "scaling_standby0.json"
    if standby0.exists():
        without = _figures("scaling_standby0")
        lines.append(
            "Without standby replicas (`bench/scaling.py` with `SCALING_STANDBY=0`, "
            f"measured {without['machine']['date']}), 2 workers used "
            + ", ".join(
                f"{_v(without, f'{load}, CPU, 2 workers'):.2f} ms per unit for {load}"
                for load in ups
            )
            + " (with them: "
            + ", ".join(f"{_v(scaling, f'{load}, CPU, 2 workers'):.2f}" for load in ups)
            + "): what the warm copies cost, against a whole changelog replayed on failover."
        )
    lines += [
        "The sizing below therefore uses the fleet's CPU per unit (2 workers, standbys on), "
        "not one worker's.",
        "",
    ]
    return lines


def render() -> str:
    scaling = _figures("scaling")
    pull = _figures("pull_sweep")
    registry = _figures("registry")
    scheduler = _figures("scheduler")
    pulled = int(scheduler["parameters"]["NPOs"])
    machine = scaling["machine"]
    params = scaling["parameters"]
    out = [
        INTRO,
        "## Scaling, measured",
        "",
        f"`bench/scaling.py` on {machine['cores']} cores ({machine['cpu']}), "
        f"measured {machine['date']}; the broker, the simulated NPOs and every worker "
        "on this one machine. Each fleet is a fresh deployment with "
        f"{params['partitions']} partitions and standby replicas on, loaded once every worker "
        "holds its partitions:",
        "",
        f"- ingestion: {params['ingestion']}",
        f"- enrolments: {params['enrolments']}",
        f"- pulls: {params['pulls']}",
        "",
        *scaling_table(scaling),
        "",
        f"Best of {scaling['by_name']['ingestion, 1 worker']['runs']} runs per figure, the "
        "fleets alternated (medians in `var/bench/scaling.json`); load average when the bench "
        f"started: {params.get('load average at start (1 min)', '?')} (the machine is shared).",
        "",
        *[f"- {note}" for note in scaling["notes"]],
        "",
        *reading(scaling),
        "## Sizing per milestone",
        "",
        "Arithmetic over the figures above and the one-worker figures of "
        "[performance](performance.md) (CPU per page pulled in the steady state: "
        f"{_v(pull, 'worker CPU per page, steady state'):.2f} ms; worker RSS "
        f"{rss_without_npos(registry):.0f} MB with "
        f"no NPO and {_v(registry, 'worker RSS with every config'):.0f} MB with "
        f"{int(registry['parameters']['NPO configs']):,}; "
        f"{_v(scheduler, f'worker RSS once {pulled:,} NPOs were pulled'):.0f} MB once "
        f"{pulled:,} were pulled, {mb_per_pulled_npo(registry, scheduler) * 1024:.1f} KB per "
        "NPO pulled beyond its config), under these load assumptions "
        "(`bench/deployment_report.py`; not measured):",
        "",
        f"- every NPO's offerings pulled every {PULL_EVERY_S} s, {PAGES_PER_PULL} pages of "
        f"{RECORDS_PER_NPO} records in all, {CHANGED_SHARE:.0%} of them new or changed;",
        f"- a real NPO API answers a page in {NPO_PAGE_LATENCY_S * 1000:.0f} ms (pulls in "
        "flight = pulls per second x pages x that);",
        f"- {ENROLMENTS_PER_CANDIDATE_PER_DAY:.0%} of the candidates enrolled per day, "
        f"{PEAK_HOUR_SHARE:.0%} of a day's enrolments in its busiest hour; 10 candidates per "
        "NPO below the 100k milestone;",
        f"- a worker at most {CORE_BUDGET:.0%} busy at the milestone's load (a failover hands "
        "a worker its neighbour's partitions), and at least 2 workers (availability).",
        "",
        "Pulls in flight wait on the NPOs, not on a core: they set `NPO_FETCH_CONCURRENCY` "
        "(and `NPO_HTTP_MAX_CONNECTIONS` at least as high), twice a worker's share, not the "
        "number of workers. The CPU column adds the steady-state pull cost (pages with "
        "unchanged records, ingestion of those included), the ingestion of new or changed "
        "records and the enrolments at their peak, at the scaling bench's CPU per unit.",
        "",
        *sizing_rows(sizings(scaling, pull, registry, scheduler)),
        "",
        SIZING_NOTES,
        PARTITIONS,
    ]
    return "\n".join(out).rstrip() + "\n"


INTRO = """# Deployment

Generated by `bench/deployment_report.py` from the figures `bench/scaling.py`
measured (and the one-worker figures in [performance](performance.md)); do not
edit by hand. How to run a fleet: the Helm chart in
[`deploy/helm/npo-integration/`](../deploy/helm/npo-integration/README.md); one
machine with Docker: `docker-compose.yml` (README).

A worker is one Faust process with RocksDB tables: it needs its own data volume
(its partitions' table state), a stable address its peers reach for routed views
(`NPO_WEB_CANONICAL_URL`), and standby replicas on another worker
(`NPO_TABLE_STANDBY_REPLICAS=1`) so that a partition moved by a failover or a
rolling update does not replay its whole changelog. Workers scale the service up
to the partition count: each holds a share of the partitions, and every path is
keyed so that a message's state lives on its partition.
"""

SIZING_NOTES = """Memory per worker: every config (the NPO registry is a GlobalTable, every
worker holds all of them: it does not shrink with more workers), plus the state of
the NPOs the worker pulls (its share of them, twice over for a failover). The disk column is
the RocksDB state the scaling bench measured on a worker per NPO registered (the
NPO's config, records' flags and enrolments), times the worker's share of the
partitions with its standbys, times 2 for compaction, at least 10 Gi. Broker
partitions: the partitioned topics and changelogs the bench's worker held, at
the milestone's count, times the replication factor. CPU has no limit in the
chart (throttling stalls heartbeats into rebalances); the request is 1 core per
worker.

Topic retention (a policy, not a figure): the changelog topics are compacted
(Faust creates them so; never set a time retention on them: they are the
tables). The internal work topics (`fetch-requests`, `raw-records`,
`enrolment-commands`, `ingest-commands`) need only cover an outage of the
workers: 7 days (Kafka's default). `config-commands` and `enrolment-links` keep
the registry's and enrolments' inputs: compacted or at least as long as the
platform keeps `spotlight.npo-assessed`. `dead-letters`: 30 days, for an operator
to read and re-drive. The platform's topics (`spotlight.*`) follow the
platform's policy.
"""

PARTITIONS = (
    """## Partitions

The partition count (`NPO_TOPIC_PARTITIONS`, the chart's `topicPartitions`) is a
decision made once per deployment:

- it caps the useful workers: a worker beyond the count holds no partition (and
  never reports ready);
- it cannot shrink, and growing it moves keys: a key's partition is its hash
  modulo the count, so after a change an NPO's pulls, raw pages and processed
  flags, or an assignment's enrolment state, would be looked up on a partition
  that does not hold them. A worker therefore refuses to start against existing
  topics (or table changelogs) whose count disagrees with the setting, with one
  line: `npo-integration: topic T has N partitions but NPO_TOPIC_PARTITIONS is M;
  a partition count cannot change under existing keys: set
  NPO_TOPIC_PARTITIONS=N or migrate to new topics (docs/deployment.md)`.
- more partitions cost: one RocksDB instance per table partition on each worker,
  more broker partitions (the table above), a longer rebalance.

Per milestone (the `partitions` column above):

| milestone | partitions | why |
|---|---|---|
"""
    + "\n".join(f"| {m.name} | {m.partitions} | {m.why} |" for m in MILESTONES)
    + """

Moving to a larger count is a migration, not a setting change: a new deployment
(`NPO_APP_ID` and topic names) with the new count, its registry filled again
from `spotlight.npo-assessed`, the old one stopped once the new one has pulled
every NPO; enrolments in progress finish on the old one before it stops.
"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "deployment.md")
    parser.add_argument("--values", type=Path, default=PRODUCTION_VALUES)
    args = parser.parse_args()
    args.out.write_text(render())
    print(f"wrote {args.out}")
    production = sizings(
        _figures("scaling"), _figures("pull_sweep"), _figures("registry"), _figures("scheduler")
    )[-1]
    args.values.write_text(with_sized_values(args.values.read_text(), production))
    print(f"wrote the sizing of {production.milestone.name} into {args.values}")


if __name__ == "__main__":
    main()
