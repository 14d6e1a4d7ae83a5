"""Isolation: a plug-in that raises, hangs or returns garbage never stalls the caller's stream.

Plug-in methods are synchronous. ``PluginRunner`` runs each call in a bounded
thread pool under a time limit and turns every failure into ``TransformError``
(skippable: the record is dead-lettered, the stream goes on). A hung thread
cannot be killed, so hung calls are counted per key (per NPO) and logged; a key
with ``max_hung_per_key`` calls still hung is refused at once, without taking a
thread, so one NPO's stuck plug-in cannot exhaust the pool the others share.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError

from npo_integration.transforms.contract import METHODS, TransformError, TransformPlugin
from npo_integration.transforms.registry import runs_inline
from npo_integration.validation_errors import describe_validation_error

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Failed(Generic[T]):
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _guarded(fn: Callable[..., T], args: tuple[Any, ...]) -> T | _Failed[T]:
    """Runs in the worker: nothing the plug-in raises (even SystemExit) escapes as itself."""
    try:
        return fn(*args)
    except BaseException as exc:
        return _Failed(exc)


def _label(fn: Callable[..., Any]) -> str:
    owner = getattr(fn, "__self__", None)
    plugin = None if owner is None else getattr(owner, "name", None) or type(owner).__name__
    method = getattr(fn, "__name__", "call")
    return f"plug-in {plugin!r} {method}()" if plugin else f"plug-in call {method}()"


_Task = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class PluginCall(NamedTuple):
    """One plug-in call: ``fn(*args)``, counted against ``key`` (the NPO) if it
    hangs, checked against ``output`` (a named tuple: one is made per record).

    ``inline``: run it on the event loop, not in the pool: for the service's own code
    (built-in plug-ins, declarative mappings), whose work per record is bounded, a
    hand-over to a thread costs more than the call.
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    key: str | None = None
    output: type[Any] | None = None
    optional: bool = False
    inline: bool = False


def plugin_call(plugin: TransformPlugin, method: str, *args: Any, key: str) -> PluginCall:
    """The call of ``plugin.method(*args)`` for ``key``'s NPO, its output
    checked against the contract."""
    contract = METHODS[method]
    return PluginCall(
        getattr(plugin, method), args, key, contract.output, contract.optional, runs_inline(plugin)
    )


class _Job:
    """Runs calls one after another in a worker thread; the event loop reads its progress.

    ``position``/``started`` say which call is running since when; ``results`` grows
    as calls finish; ``stop`` (set by the loop after a hang) drops the rest.
    """

    __slots__ = ("calls", "position", "results", "started", "stop")

    def __init__(self, calls: list[PluginCall]) -> None:
        self.calls = calls
        self.results: list[Any] = []
        self.position = 0
        self.started: float | None = None
        self.stop = False

    def run(self) -> None:
        for position, call in enumerate(self.calls):
            if self.stop:
                return
            self.position = position
            self.started = time.monotonic()
            label = _label(call.fn)
            outcome = _guarded(call.fn, call.args)
            result: Any
            if isinstance(outcome, _Failed):
                result = _as_transform_error(outcome.error, label)
            else:
                try:
                    result = _checked(outcome, call.output, call.optional, label)
                except TransformError as exc:
                    result = exc
            if self.stop:
                return
            self.results.append(result)


class _DaemonThreadPool:
    """A fixed pool of daemon threads: unlike ThreadPoolExecutor's, a hung plug-in thread
    does not hold up interpreter exit (a worker shutting down for a rebalance)."""

    __slots__ = ("_closed", "_lock", "_name", "_queue", "_size", "_threads")

    def __init__(self, size: int, name: str) -> None:
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._size = size
        self._name = name
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the plug-in runner is shut down")
            self._queue.put((future, fn, args))
            if len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while queued: never runs
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel queued jobs and let idle threads end; busy (hung) ones end when they return."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
            for _ in self._threads:
                self._queue.put(None)


class PluginRunner:
    """A bounded worker pool for plug-in calls, with time limits and hung-call accounting."""

    __slots__ = (
        "_hung",
        "_lock",
        "_pool",
        "hung_total",
        "max_hung_per_key",
        "max_workers",
        "timeouts_total",
    )

    def __init__(self, *, max_workers: int = 8, max_hung_per_key: int = 2) -> None:
        if max_workers < 1 or max_hung_per_key < 1:
            raise ValueError("max_workers and max_hung_per_key must be at least 1")
        self._pool = _DaemonThreadPool(max_workers, "npo-transform")
        self._lock = threading.Lock()
        self._hung: dict[str, int] = {}
        self.max_workers = max_workers
        self.max_hung_per_key = max_hung_per_key
        self.hung_total = 0
        self.timeouts_total = 0

    @property
    def hung(self) -> int:
        """Calls that timed out while running and have not finished yet (each holds a thread)."""
        with self._lock:
            return sum(self._hung.values())

    def hung_for(self, key: str) -> int:
        with self._lock:
            return self._hung.get(key, 0)

    async def call(self, call: PluginCall, *, timeout: float) -> Any:
        """One call, as a batch of one: its checked result, or its ``TransformError`` raised."""
        [result] = await self.map([call], timeout=timeout)
        if isinstance(result, TransformError):
            raise result
        return result

    async def map(self, calls: Sequence[PluginCall], *, timeout: float) -> list[Any]:
        """Every call, in order, each within ``timeout`` seconds: its checked
        result or its ``TransformError``.

        The calls run one after another in one worker thread, so a batch of records costs
        one hand-over to the pool, not one per record. The loop watches the call in
        progress: one that overruns ``timeout`` is that call's failure (counted as hung
        for its key), and the calls after it go on in another worker.
        """
        results: list[Any] = [None] * len(calls)
        todo: list[int] = []
        for index, call in enumerate(calls):
            if call.inline:
                results[index] = _run_inline(call, timeout)
            else:
                todo.append(index)
        while todo:
            runnable: list[int] = []
            for index in todo:
                call = calls[index]
                refusal = self._refusal(call.key or _label(call.fn), _label(call.fn))
                if refusal is None:
                    runnable.append(index)
                else:
                    results[index] = refusal
            if not runnable:
                break
            todo = await self._run_job(calls, runnable, results, timeout)
        return results

    async def _run_job(
        self, calls: Sequence[PluginCall], indexes: list[int], results: list[Any], timeout: float
    ) -> list[int]:
        """Run ``indexes`` in one worker; fill ``results``; return the indexes
        still to run (after a hang)."""
        job = _Job([calls[i] for i in indexes])
        future = self._pool.submit(job.run)
        waiting = asyncio.wrap_future(future)
        while True:
            started = job.started
            left = timeout if started is None else started + timeout - time.monotonic()
            done, _ = await asyncio.wait({waiting}, timeout=max(left, 0.0005))
            if done:
                waiting.result()  # the job itself never raises; re-raise if the pool did
                for index, result in zip(indexes, job.results, strict=True):
                    results[index] = result
                return []
            if job.started is None:  # still queued behind a busy pool
                if future.cancel() or future.cancelled():
                    self.timeouts_total += 1
                    for index in indexes:
                        results[index] = TransformError(
                            f"{_label(calls[index].fn)} waited more than {timeout:g}s "
                            f"for a free worker (pool of {self.max_workers} busy)"
                        )
                    return []
                continue
            position, since = job.position, job.started
            if since is None or time.monotonic() - since < timeout:
                continue
            job.stop = True  # the worker drops whatever it finishes from now on
            finished = list(job.results)
            # results only for the calls done so far: fewer than ``indexes``
            for index, result in zip(indexes, finished, strict=False):
                results[index] = result
            if len(finished) > position:  # it finished just in time; only the next one was cut off
                return indexes[len(finished) :]
            hung = calls[indexes[position]]
            label = _label(hung.fn)
            self.timeouts_total += 1
            self._mark_hung(hung.key or label, label, future, timeout)
            results[indexes[position]] = TransformError(f"{label} timed out after {timeout:g}s")
            return indexes[position + 1 :]

    def _refusal(self, key: str, label: str) -> TransformError | None:
        """Refuse at once, without taking a thread, a key with too many hung
        calls, or a fully hung pool."""
        with self._lock:
            mine, total = self._hung.get(key, 0), sum(self._hung.values())
        if mine >= self.max_hung_per_key:
            return TransformError(
                f"{label} refused: {mine} earlier call(s) for {key!r} are still hung"
            )
        if total >= self.max_workers:
            return TransformError(
                f"{label} refused: all {self.max_workers} plug-in workers are hung"
            )
        return None

    def _mark_hung(self, key: str, label: str, future: Future[Any], timeout: float) -> None:
        with self._lock:
            self._hung[key] = self._hung.get(key, 0) + 1
            self.hung_total += 1
            now = sum(self._hung.values())
        log.warning(
            "transform call hung: %s exceeded %.3gs (key=%s hung_now=%d pool=%d hung_total=%d)",
            label,
            timeout,
            key,
            now,
            self.max_workers,
            self.hung_total,
        )

        def release(_: Future[Any]) -> None:
            with self._lock:
                left = self._hung.get(key, 1) - 1
                if left > 0:
                    self._hung[key] = left
                else:
                    self._hung.pop(key, None)
            log.info("hung transform call finished late: %s (key=%s)", label, key)

        future.add_done_callback(release)

    def shutdown(self) -> None:
        """Cancel queued calls; running (or hung) threads are daemons, never waited for."""
        self._pool.shutdown()


def _run_inline(call: PluginCall, timeout: float) -> Any:
    """One call on the loop: the same checks as in the pool; an overrun is
    logged (it cannot be cut short)."""
    label = _label(call.fn)
    started = time.monotonic()
    outcome = _guarded(call.fn, call.args)
    took = time.monotonic() - started
    if took > timeout:
        log.warning(
            "inline transform call took %.3gs, over its %.3gs limit: %s (key=%s)",
            took,
            timeout,
            label,
            call.key,
        )
    if isinstance(outcome, _Failed):
        return _as_transform_error(outcome.error, label)
    try:
        return _checked(outcome, call.output, call.optional, label)
    except TransformError as exc:
        return exc


def _as_transform_error(error: BaseException, label: str) -> TransformError:
    if isinstance(error, TransformError):
        return error
    if isinstance(error, ValidationError):
        return TransformError(
            f"{label} built an invalid {error.title}: {describe_validation_error(error, limit=3)}"
        )
    return TransformError(f"{label} raised {type(error).__name__}: {error}")


def _checked(result: Any, output: type[Any] | None, optional: bool, label: str) -> Any:
    if result is None:
        if optional or output is None:
            return None
        raise TransformError(f"{label} returned None, expected {output.__name__}")
    if output is None or isinstance(result, output):
        return result
    if isinstance(output, type) and issubclass(output, BaseModel):
        try:
            return output.model_validate(result)
        except ValidationError as exc:
            raise TransformError(
                f"{label} returned an invalid {output.__name__}: "
                f"{describe_validation_error(exc, limit=3)}"
            ) from None
    raise TransformError(f"{label} returned {type(result).__name__}, expected {output.__name__}")
