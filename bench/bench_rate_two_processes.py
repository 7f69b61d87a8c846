"""Two unionbot processes, one bot token, one PostgreSQL database (issue 12).

Each process paces its sends with its own Telegram limiter, which on PostgreSQL also
takes global send slots; target: the busiest one-second window at the fake Bot API
server <= the limit (30/s) for both processes together, and no 429.

    python3 dev.py bench bench/bench_rate_two_processes.py [--per-process 300]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

# The repository root, for `tests.fakes` (as bench_broadcast_common does).
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telegram import Bot  # noqa: E402

from bot.broadcast.limits import ChannelLimits  # noqa: E402
from bot.broadcast.wiring import shared_limiter, token_key  # noqa: E402
from storage.postgres import PostgresStore  # noqa: E402
from tests.conftest import postgres_database  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramProcess  # noqa: E402

IN_FLIGHT = 16  # the broadcast engine's concurrent sends at 30/s are about this many


async def worker(db: str, base_url: str, token: str, first: int, count: int, rate: float) -> None:
    """One bot process's sends: `count` chats from `first`, through its own limiter."""
    store = PostgresStore(db, max_size=2)
    await store.open()
    limiter = shared_limiter(ChannelLimits(rate=rate), store, token_key("telegram", token))
    queue: asyncio.Queue[int] = asyncio.Queue()
    for chat in range(first, first + count):
        queue.put_nowait(chat)
    try:
        async with Bot(token, base_url=base_url) as bot:

            async def sender() -> None:
                while not queue.empty():
                    chat = queue.get_nowait()
                    async with limiter.turn(str(chat)):
                        pass
                    await bot.send_message(chat, "bench")
                    limiter.sent(str(chat))

            await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
    finally:
        await store.close()


async def main(per_process: int, rate: float) -> int:
    async with FakeTelegramProcess(args=["--log-level", "WARNING"]) as fake, postgres_database() as db:
        assert fake.control is not None
        await fake.control.register_chats(range(1, 2 * per_process + 1))
        # Migrate once, as the first process to start would.
        async with PostgresStore(db):
            pass
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                db,
                fake.base_url,
                fake.token,
                str(1 + i * per_process),
                str(per_process),
                str(rate),
            )
            for i in range(2)
        ]
        codes = [await p.wait() for p in procs]
        stats = await fake.control.stats()
        sends = await fake.control.requests("sendMessage")
    times = sorted(r["time"] for r in sends)
    span = times[-1] - times[0]
    busiest = stats["max_sends_per_second"]
    too_many = stats["by_status"].get("429", 0)
    print(f"two processes x {per_process} sends, limit {rate:g}/s, exit codes {codes}")
    print(f"sends at the fake: {len(times)}, achieved {(len(times) - 1) / span:.2f}/s over {span:.1f} s")
    print(f"busiest sliding one-second window (fake server): {busiest} sends")
    print(f"429 answers: {too_many}")
    ok = codes == [0, 0] and len(times) == 2 * per_process and busiest <= rate and too_many == 0
    print(f"target (busiest window <= {rate:g}, no 429):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        db, base_url, token, first, count, rate = sys.argv[2:8]
        asyncio.run(worker(db, base_url, token, int(first), int(count), float(rate)))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-process", type=int, default=300)
    parser.add_argument("--rate", type=float, default=30.0)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.per_process, args.rate)))
