"""The timers' one skeleton: idle until topics are ready and while rebalancing, errors counted and
not raised; recent sends held back until they are old.

Run in a child process: the skeleton needs the Faust app, which unit tests do not build in-process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio

    from npo_integration.app import app
    from npo_integration.boot import topics_ready
    from npo_integration.metrics import registry
    from npo_integration.timers.periodic import RecentSends, guarded

    calls = []

    async def test_tick():
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("broker away")

    def errors():
        return registry.get_sample_value("npo_timer_errors_total", {"timer": "test_tick"}) or 0.0

    async def main():
        tick = guarded(test_tick)
        await tick()
        print("before topics:", len(calls))
        topics_ready.set()
        app.rebalancing = True
        await tick()
        print("rebalancing:", len(calls))
        app.rebalancing = False
        await tick()
        await tick()
        print("ran:", len(calls), "errors:", errors())

    asyncio.run(main())

    sends = RecentSends(resend_after=30.0)
    tries = ((1, 0.0), (1, 29.0), (2, 29.0), (2, 59.0))
    claims = [sends.claim("a", version, at) for version, at in tries]
    sends.forget_old(90.0)
    print("claims:", claims, sends.claim("a", 2, 90.0))
    """
)


def test_idle_until_topics_ready_and_while_rebalancing_errors_counted_not_raised() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "before topics: 0",
        "rebalancing: 0",
        "ran: 2 errors: 1.0",
        "claims: [True, False, True, True] True",
    ]
