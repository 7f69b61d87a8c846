"""Workers' replies while an organizer exports 200,000 sign-ups in the chat.

The bot's own event loop (Runtime + dispatcher, the same objects `unionbot run` uses) on
a database seeded by bulk SQL. 20 workers each send a message every 300 ms (under the flood guard) and the time
to their reply is measured: first idle, then while an organizer's `/export xlsx` of every
sign-up runs (in the export worker process). Both phases in the same run.

    python3 dev.py bench bench/bench_export_chat.py [--signups 200000]

Target (issue 17): the workers' p95 during the export stays within 2x the idle p95.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale_seed import seed  # noqa: E402
from bot.app import Runtime  # noqa: E402
from bot.config import load_config  # noqa: E402
from handlers.join.provinces import all_provinces  # noqa: E402
from handlers.types import Inbound  # noqa: E402
from storage import Role  # noqa: E402

WORKERS = 20
GAP = 0.3  # under the flood guard (20 messages in 5 s), so every message is really handled


async def worker(runtime: Runtime, n: int, stop: asyncio.Event, out: list[float]) -> None:
    texts = ["/start", "/help", "/menu", "/whoami"]
    i = 0
    while not stop.is_set():
        started = time.perf_counter()
        await runtime.dispatcher.handle(Inbound.parse_text("telegram", str(5_000_000 + n), texts[i % len(texts)]))
        out.append((time.perf_counter() - started) * 1000)
        i += 1
        await asyncio.sleep(GAP)


async def phase(runtime: Runtime, seconds: float | None, during: asyncio.Future[object] | None) -> list[float]:
    stop = asyncio.Event()
    latencies: list[float] = []
    tasks = [asyncio.create_task(worker(runtime, n, stop, latencies)) for n in range(WORKERS)]
    if during is not None:
        await during
    else:
        await asyncio.sleep(seconds or 0)
    stop.set()
    await asyncio.gather(*tasks)
    return latencies


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def run(db: Path) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env["UNIONBOT_DB"] = str(db)
    config = load_config(env=env)
    config = dataclasses.replace(config, storage=dataclasses.replace(config.storage, path=str(db)))
    async with Runtime(config) as runtime:
        org = await runtime.store.touch_user("telegram", "4000000", language="vi")
        await runtime.store.set_role(org.id, Role.ORGANIZER)
        await runtime.store.add_organizer_provinces(org.id, [p.id for p in all_provinces()], None)
        # Warm up the export worker process and the workers' accounts.
        await runtime.dispatcher.handle(Inbound.parse_text("telegram", "4000000", "/export csv Huế"))
        await phase(runtime, 2, None)
        idle = await phase(runtime, 10, None)
        started = time.perf_counter()
        command = Inbound.parse_text("telegram", "4000000", "/export xlsx")
        export = asyncio.ensure_future(runtime.dispatcher.handle(command))
        busy = await phase(runtime, None, export)
        took = time.perf_counter() - started
        replies = export.result()
        docs = [r.document for r in replies if r.document is not None]
        size = len(docs[0].data) if docs else 0
    ratio = p95(busy) / p95(idle)
    print(f"export: {took:.1f} s, one file of {size / 1e6:.1f} MB" + ("" if docs else " (NO FILE)"))
    print(f"{'':<26}{'replies':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, values in (("idle", idle), ("during the export", busy)):
        print(f"{name:<26}{len(values):>8}{statistics.median(values):>9.1f}{p95(values):>9.1f}{max(values):>9.1f}")
    met = ratio <= 2.0 and bool(docs)
    print(f"p95 during / idle: {ratio:.2f} (target <= 2.0): {'met' if met else 'MISSED'}")
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signups", type=int, default=200_000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.signups:,} sign-ups, {WORKERS} workers writing every {GAP * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "chat.sqlite3"
        seed(db, args.signups)
        return asyncio.run(run(db))


if __name__ == "__main__":
    sys.exit(main())
