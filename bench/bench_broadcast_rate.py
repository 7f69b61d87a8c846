"""Benchmark 2: Telegram's default limit of 30 messages/s, 900 recipients.

Targets: achieved rate >= 29 messages/s, and no one-second window above 30 as counted
by the fake server (a sliding window over the arrival times of send requests).

    python3 dev.py bench bench/bench_broadcast_rate.py
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from pathlib import Path

from bench_broadcast_common import bench_engine, fake_args, seed
from telegram import Bot

from bot.broadcast.limits import ChannelLimits
from bot.broadcast.senders import TelegramSender
from tests.fakes.telegram_api import FakeTelegramProcess


async def main(recipients: int, rate: float) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegramProcess(args=fake_args()) as fake:
            assert fake.control is not None
            await fake.control.register_chats(range(1, recipients + 1))
            store, b = await seed(Path(tmp) / "bench.sqlite3", recipients)
            bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
            async with bot:
                engine = bench_engine(store, {"telegram": TelegramSender(bot, ChannelLimits(rate=rate))})
                report = await engine.run(b.id)
            stats = await fake.control.stats()
            sends = await fake.control.requests("sendMessage")
            await store.close()
    assert report.stats is not None
    times = sorted(r["time"] for r in sends)
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span
    per_second: dict[int, int] = {}
    for t in times:
        per_second[int(t - times[0])] = per_second.get(int(t - times[0]), 0) + 1
    print(f"recipients: {recipients}  sent: {report.stats.sent}  limit: {rate:g}/s")
    print(f"achieved rate (fake server clock): {achieved:.2f} messages/s over {span:.1f} s")
    print(f"busiest sliding one-second window (fake server): {stats['max_sends_per_second']} sends")
    print(f"busiest whole second since the first send: {max(per_second.values())} sends")
    print(f"429 answers: {stats['by_status'].get('429', 0)}, duplicates: {stats['duplicate_sends']}")
    ok = achieved >= 29 and stats["max_sends_per_second"] <= 30 and report.stats.sent == recipients
    print("targets (>= 29/s, no window above 30):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=900)
    parser.add_argument("--rate", type=float, default=30.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(asyncio.run(main(args.recipients, args.rate)))
