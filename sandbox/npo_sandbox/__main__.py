"""``python -m npo_sandbox`` / ``npo-sandbox``: run the sandbox until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
from collections.abc import Sequence

from .server import SandboxServer

log = logging.getLogger("npo_sandbox")

DEMO_NPO = "demo-npo"
DEMO_TOKEN = "demo-token"

GC_THRESHOLDS = (50_000, 20, 100)
"""The simulator keeps every simulated NPO's generated records; at CPython's default thresholds
its cycle collector walked them so often that it was a fifth of the simulator's CPU in
bench/enrolment.py, CPU the benchmarks' workers share. Its garbage is freed by reference
counting; collections may be rare."""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="npo-sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--demo", action="store_true", help=f"pre-create NPO {DEMO_NPO!r}")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with SandboxServer(args.host, args.port, access_log=args.access_log) as server:
        if args.demo:
            await server.add_npo(
                DEMO_NPO, "simple", auth={"kind": "bearer", "token": DEMO_TOKEN}, offerings=12
            )
            log.info("demo NPO at %s (bearer %s)", server.npo_base_url(DEMO_NPO), DEMO_TOKEN)
        # The one line a parent process reads to learn the URL (port 0 included).
        print(f"npo-sandbox listening on {server.url}", flush=True)
        await stop.wait()
        log.info("npo-sandbox stopping")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    gc.set_threshold(*GC_THRESHOLDS)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
