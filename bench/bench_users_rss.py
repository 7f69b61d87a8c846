"""Memory as users grow: N distinct workers send `/start`, RSS is printed along the way.

The bot's own objects (Runtime + dispatcher, the same `unionbot run` builds) on a fresh
database; each update is fed to the dispatcher directly (no Bot API in between), with
`CONCURRENCY` users in flight. Every reply's buttons are also offered as numbered choices
(as the Zalo channels and the console do), so the per-user memory of the flood guard,
the numbered-choice offers and the store all take part. RSS is this process's resident
set (/proc/self/status) after 10k, 100k and 1M users (the checkpoints that N reaches).

    python3 dev.py bench bench/bench_users_rss.py [--users 1000000]

Target (issue 17): RSS at 1M users <= 1.3x RSS at 100k.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import Runtime  # noqa: E402
from bot.channels.numbered import NumberedChoices  # noqa: E402
from bot.config import load_config  # noqa: E402
from handlers.types import Inbound  # noqa: E402

CONCURRENCY = 32
CHECKPOINTS = (10_000, 100_000, 1_000_000)
FIRST_ID = 700_000_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def feed(db: Path, users: int, checkpoints: list[int]) -> list[tuple[int, float, float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env["UNIONBOT_DB"] = str(db)
    config = load_config(env=env)
    config = dataclasses.replace(config, storage=dataclasses.replace(config.storage, path=str(db)))
    offers = NumberedChoices()
    marks: list[tuple[int, float, float]] = []
    async with Runtime(config) as runtime:
        dispatcher = runtime.dispatcher
        counter = 0

        async def lane(end: int) -> None:
            nonlocal counter
            while counter < end:
                user_id = str(FIRST_ID + counter)
                counter += 1
                replies = await dispatcher.handle(Inbound.parse_text("telegram", user_id, "/start"))
                fresh = True
                for reply in replies:
                    if reply.buttons:
                        offers.offer(user_id, [b for row in reply.buttons for b in row], fresh=fresh)
                        fresh = False

        gc.collect()
        print(f"{0:>10,} users: RSS {rss_mb():7.1f} MB (bot objects built, database open)", flush=True)
        started = time.perf_counter()
        for mark in sorted({*[c for c in checkpoints if c < users], users}):
            await asyncio.gather(*(lane(mark) for _ in range(CONCURRENCY)))
            gc.collect()  # measure what is kept, not garbage waiting for a collection
            marks.append((counter, rss_mb(), time.perf_counter() - started))
            print(
                f"{counter:>10,} users: RSS {marks[-1][1]:7.1f} MB  ({marks[-1][2]:.0f} s so far, "
                f"{counter / marks[-1][2]:.0f} users/s)",
                flush=True,
            )
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument(
        "--checkpoints", default=",".join(str(c) for c in CHECKPOINTS), help="user counts at which RSS is printed"
    )
    args = parser.parse_args()
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.users:,} users, {CONCURRENCY} in flight"
    )
    with tempfile.TemporaryDirectory() as tmp:
        marks = asyncio.run(feed(Path(tmp) / "users.sqlite3", args.users, checkpoints))
    at = {n: rss for n, rss, _ in marks}
    if 100_000 in at and 1_000_000 in at:
        ratio = at[1_000_000] / at[100_000]
        print(f"RSS at 1M / RSS at 100k: {ratio:.2f} (target <= 1.3): {'met' if ratio <= 1.3 else 'MISSED'}")
        return 0 if ratio <= 1.3 else 1
    first, last = marks[0], marks[-1]
    print(f"RSS at {last[0]:,} / RSS at {first[0]:,}: {last[1] / first[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
