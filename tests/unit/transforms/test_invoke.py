"""Isolation of plug-in calls: raising, hanging, slow and invalid-output
plug-ins become TransformError."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from npo_integration.models.events import CandidateAssignmentEvent, Offering
from npo_integration.transforms.contract import CONTRACT_VERSION, EnrolmentRequest, TransformError
from npo_integration.transforms.invoke import PluginCall, PluginRunner, plugin_call
from npo_integration.transforms.plugins.simple import SimplePlugin


class Misbehaving:
    name = "misbehaving"
    contract_version = CONTRACT_VERSION

    def __init__(self) -> None:
        self.release = threading.Event()
        self.ran = threading.Event()

    def offering(self, record: Any) -> Any:
        self.ran.set()
        if record == "hang":
            self.release.wait(10)
            return None
        if record == "raise":
            raise ValueError("boom")
        if record == "exit":
            sys.exit(3)
        if record == "transform-error":
            raise TransformError("bad date", field="offering.starts_at", path="start")
        if record == "build-invalid":
            return Offering(npo_offering_ref="1", title="")
        if record == "dict-invalid":
            return {"npo_offering_ref": "1"}
        if record == "dict-valid":
            return {"npo_offering_ref": "1", "title": "From a dict"}
        if record == "wrong-type":
            return 42
        return None

    def progress(self, record: Any) -> None:
        return None

    def enrolment_request(self, assignment: Any) -> Any:
        return None

    def unenrol_request(self, assignment: Any, npo_enrolment_ref: str) -> EnrolmentRequest:
        return EnrolmentRequest()

    def enrolment_ref(self, response_body: Any, assignment: Any) -> Any:
        return 5001


@pytest.fixture
def plugin() -> Iterator[Misbehaving]:
    p = Misbehaving()
    yield p
    p.release.set()


@pytest.fixture
def runner() -> Iterator[PluginRunner]:
    r = PluginRunner(max_workers=2, max_hung_per_key=1)
    yield r
    r.shutdown()


async def offering(
    runner: PluginRunner, plugin: Misbehaving, record: str, timeout: float = 2.0, key: str = "npo-a"
) -> Any:
    return await runner.call(plugin_call(plugin, "offering", record, key=key), timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("raise", "plug-in 'misbehaving' offering() raised ValueError: boom"),
        ("exit", "plug-in 'misbehaving' offering() raised SystemExit: 3"),
        ("transform-error", "field 'offering.starts_at' (NPO path 'start'): bad date"),
        (
            "build-invalid",
            "offering() built an invalid Offering: title: String should have at least 1 character",
        ),
        ("dict-invalid", "offering() returned an invalid Offering: title: Field required"),
        ("wrong-type", "offering() returned an invalid Offering"),
    ],
)
async def test_failures_become_transform_errors(
    runner: PluginRunner, plugin: Misbehaving, record: str, message: str
) -> None:
    with pytest.raises(TransformError) as info:
        await offering(runner, plugin, record)
    assert message in str(info.value)


async def test_dict_output_is_validated_into_the_model(
    runner: PluginRunner, plugin: Misbehaving
) -> None:
    result = await offering(runner, plugin, "dict-valid")
    assert isinstance(result, Offering) and result.title == "From a dict"
    assert await offering(runner, plugin, "filtered") is None


async def test_wrong_output_types(
    runner: PluginRunner, plugin: Misbehaving, assignment: CandidateAssignmentEvent
) -> None:
    def call(method: str, *args: Any) -> Any:
        return runner.call(plugin_call(plugin, method, *args, key="npo-a"), timeout=1)  # type: ignore[arg-type]

    with pytest.raises(
        TransformError, match=r"enrolment_request\(\) returned None, expected EnrolmentRequest"
    ):
        await call("enrolment_request", assignment)
    with pytest.raises(TransformError, match=r"enrolment_ref\(\) returned int, expected str"):
        await call("enrolment_ref", {}, assignment)
    assert await call("unenrol_request", assignment, "1") == EnrolmentRequest()


async def test_hanging_plugin_times_out_without_blocking_the_loop(
    runner: PluginRunner, plugin: Misbehaving
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.005)
            ticks += 1

    started = time.monotonic()
    results = await asyncio.gather(
        offering(runner, plugin, "hang", timeout=0.1), ticker(), return_exceptions=True
    )
    assert time.monotonic() - started < 1.0
    assert isinstance(results[0], TransformError)
    assert "plug-in 'misbehaving' offering() timed out after 0.1s" in str(results[0])
    assert ticks == 10
    assert runner.hung == 1 and runner.hung_for("npo-a") == 1 and runner.hung_total == 1

    # the stuck NPO is refused at once, without taking another thread; another NPO still works
    with pytest.raises(TransformError, match="1 earlier call\\(s\\) for 'npo-a' are still hung"):
        await offering(runner, plugin, "filtered", key="npo-a")
    assert await offering(runner, plugin, "filtered", key="npo-b") is None

    plugin.release.set()  # the hung thread finishes late and gives its slot back
    for _ in range(100):
        if runner.hung == 0:
            break
        await asyncio.sleep(0.01)
    assert runner.hung == 0 and runner.hung_total == 1
    assert await offering(runner, plugin, "filtered", key="npo-a") is None


async def test_hung_calls_cannot_silently_exhaust_the_pool(
    plugin: Misbehaving, caplog: pytest.LogCaptureFixture
) -> None:
    runner = PluginRunner(max_workers=1, max_hung_per_key=3)
    try:
        with pytest.raises(TransformError, match="timed out"):
            await offering(runner, plugin, "hang", timeout=0.05)
        assert "transform call hung" in caplog.text and "hung_now=1 pool=1" in caplog.text
        with pytest.raises(TransformError, match="all 1 plug-in workers are hung"):
            await offering(runner, plugin, "filtered", key="npo-b")
    finally:
        plugin.release.set()
        runner.shutdown()


async def test_a_call_queued_behind_a_busy_pool_times_out_and_never_runs(
    plugin: Misbehaving,
) -> None:
    runner = PluginRunner(max_workers=1, max_hung_per_key=3)
    second = Misbehaving()
    try:
        busy = asyncio.ensure_future(offering(runner, plugin, "hang", timeout=5))
        await asyncio.sleep(0.02)
        with pytest.raises(
            TransformError, match=re.escape("waited more than 0.05s for a free worker")
        ):
            await offering(runner, second, "filtered", timeout=0.05, key="npo-b")
        assert runner.hung == 0
        plugin.release.set()
        assert await busy is None
        await asyncio.sleep(0.02)
        assert not second.ran.is_set()
    finally:
        plugin.release.set()
        runner.shutdown()


async def test_plugin_calls_happy_path(
    runner: PluginRunner, recorded_factory, assignment: CandidateAssignmentEvent
) -> None:
    recorded = recorded_factory("simple")
    plugin = SimplePlugin()

    async def call(method: str, *args: Any) -> Any:
        return await runner.call(plugin_call(plugin, method, *args, key="simple"), timeout=2)

    result = await call("offering", recorded["offerings"][0])
    assert result is not None and result.title == "Intro to Python"
    progress = await call("progress", recorded["progress"][1])
    assert progress is not None and progress.progress == 0.45
    request = await call("enrolment_request", assignment)
    assert request.body is not None
    assert await call("enrolment_ref", recorded["enrol_response"], assignment) == "enr-9"


def test_runner_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError):
        PluginRunner(max_workers=0)


def test_a_hung_plugin_does_not_hold_up_process_exit() -> None:
    script = (
        "import asyncio, threading\n"
        "from npo_integration.transforms.invoke import PluginCall, PluginRunner\n"
        "from npo_integration.transforms.contract import TransformError\n"
        "async def main():\n"
        "    try:\n"
        "        await PluginRunner().call(PluginCall(threading.Event().wait, ()), timeout=0.05)\n"
        "    except TransformError as exc:\n"
        "        print(exc)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr
    assert "timed out after 0.05s" in done.stdout


async def test_shut_down_runner_refuses_calls(plugin: Misbehaving) -> None:
    runner = PluginRunner(max_workers=1)
    assert await offering(runner, plugin, "filtered") is None
    runner.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        await offering(runner, plugin, "filtered")


async def test_a_batch_runs_in_order_and_a_hang_fails_only_its_own_call(
    plugin: Misbehaving,
) -> None:
    runner = PluginRunner(max_workers=2, max_hung_per_key=3)
    records = ["dict-valid", "raise", "hang", "dict-valid", "filtered", "wrong-type"]
    try:
        started = time.monotonic()
        results = await runner.map(
            [
                PluginCall(plugin.offering, (r,), key="npo-a", output=Offering, optional=True)
                for r in records
            ],
            timeout=0.2,
        )
        assert time.monotonic() - started < 2.0  # the hung call did not hold up the ones after it
        assert isinstance(results[0], Offering) and results[0].title == "From a dict"
        assert isinstance(results[1], TransformError) and "ValueError: boom" in str(results[1])
        assert isinstance(results[2], TransformError) and "timed out after 0.2s" in str(results[2])
        assert isinstance(results[3], Offering) and results[4] is None
        assert isinstance(results[5], TransformError) and "invalid Offering" in str(results[5])
        assert runner.hung_for("npo-a") == 1 and runner.timeouts_total == 1
    finally:
        plugin.release.set()
        runner.shutdown()


async def test_a_batch_refuses_the_calls_of_a_key_with_too_many_hung_calls(
    plugin: Misbehaving,
) -> None:
    runner = PluginRunner(max_workers=4, max_hung_per_key=1)
    try:
        results = await runner.map(
            [
                PluginCall(plugin.offering, ("hang",), key="stuck"),
                PluginCall(plugin.offering, ("dict-valid",), key="stuck", output=Offering),
                PluginCall(plugin.offering, ("dict-valid",), key="other", output=Offering),
            ],
            timeout=0.1,
        )
        assert "timed out" in str(results[0])
        assert isinstance(results[1], TransformError) and "still hung" in str(results[1])
        assert isinstance(results[2], Offering)
    finally:
        plugin.release.set()
        runner.shutdown()
