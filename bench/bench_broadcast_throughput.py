"""Benchmark 1: 20,000 subscribers, rate limit off.

The fake Bot API runs in its own process; this process is the bot: the delivery engine,
the real python-telegram-bot client, delivery rows written to SQLite. Prints messages/s,
CPU milliseconds per message (this process only) and peak memory. Target: >= 1,000
messages/s sustained on a 2-core machine.

    python3 dev.py bench bench/bench_broadcast_throughput.py [--recipients 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
from pathlib import Path

from bench_broadcast_common import Usage, bench_engine, fake_args, peak_rss_mb, seed
from telegram import Bot

from bot.broadcast.limits import ChannelLimits
from bot.broadcast.senders import TelegramSender
from tests.fakes.telegram_api import FakeTelegramProcess

LANES = 16  # one per send in flight, as `unionbot` does for paid broadcasts (bot/broadcast/wiring.py)


async def main(recipients: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegramProcess(args=fake_args()) as fake:
            assert fake.control is not None
            await fake.control.register_chats(range(1, recipients + 1))
            store, b = await seed(Path(tmp) / "bench.sqlite3", recipients)
            bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
            lanes = [Bot(fake.token, base_url=fake.base_url) for _ in range(LANES - 1)]
            async with bot:
                sender = TelegramSender(
                    bot,
                    ChannelLimits(rate=None),
                    store=store,
                    extra_lanes=lanes,
                    sends_per_lane=1,
                )
                await sender.start()
                engine = bench_engine(store, {"telegram": sender})
                before = Usage.now()
                report = await engine.run(b.id)
                after = Usage.now()
                await sender.stop()
            stats = await fake.control.stats()
            await store.close()
    assert report.stats is not None
    sent = report.stats.sent
    wall, cpu = after.wall - before.wall, after.cpu - before.cpu
    print(f"recipients: {recipients}  sent: {sent}  failed: {report.stats.failed}  in doubt: {report.stats.in_doubt}")
    print(f"fake server: delivered {stats['sends_ok']}, duplicates {stats['duplicate_sends']}")
    print(f"throughput: {sent / wall:.0f} messages/s ({wall:.1f} s)")
    print(f"CPU: {1000 * cpu / sent:.2f} ms per message (bot process, all threads)")
    print(f"delivery rows: {sent} rows in {engine.journal_commits} group commits")
    print(f"peak memory: {peak_rss_mb():.0f} MB (bot process RSS)")
    print(f"cores: {os.cpu_count()}, sends in flight: {engine.concurrency()} over {LANES} connection pools")
    ok = sent == recipients and stats["duplicate_sends"] == 0 and sent / wall >= 1000
    print("target >= 1000 messages/s:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(asyncio.run(main(parser.parse_args().recipients)))
