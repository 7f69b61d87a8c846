"""Benchmark 3: the fake server answers 429 with retry_after 2 once every 500 sends.

Targets: after each 429 the channel is quiet until retry_after is up, then sending
resumes within retry_after + 0.5 s; nothing is lost (every recipient sent exactly once).
Sends already on the wire when the 429 arrives may land just after it: they are counted
and shown, not hidden. Rate limit off, as in benchmark 1.

    python3 dev.py bench bench/bench_broadcast_flood.py
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from pathlib import Path

from bench_broadcast_common import Usage, bench_engine, fake_args, seed
from telegram import Bot

from bot.broadcast.limits import ChannelLimits
from bot.broadcast.senders import TelegramSender
from tests.fakes.telegram_api import FakeTelegramProcess

RETRY_AFTER = 2
EVERY = 500


async def main(recipients: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegramProcess(args=fake_args()) as fake:
            assert fake.control is not None
            await fake.control.register_chats(range(1, recipients + 1))
            await fake.control.retry_after_every(EVERY, RETRY_AFTER)
            store, b = await seed(Path(tmp) / "bench.sqlite3", recipients)
            bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
            lanes = [Bot(fake.token, base_url=fake.base_url) for _ in range(15)]
            async with bot:
                sender = TelegramSender(bot, ChannelLimits(rate=None), extra_lanes=lanes, sends_per_lane=1)
                await sender.start()
                engine = bench_engine(store, {"telegram": sender})
                before = Usage.now()
                report = await engine.run(b.id)
                after = Usage.now()
                await sender.stop()
            stats = await fake.control.stats()
            sends = sorted(await fake.control.requests("sendMessage"), key=lambda r: r["time"])
            statuses = await store.delivery_statuses(b.id)
            await store.close()
    assert report.stats is not None
    floods = [r for r in sends if r["status"] == 429]
    gaps, on_the_wire = [], []
    for flood in floods:
        after_flood = [r["time"] - flood["time"] for r in sends if r["time"] > flood["time"]]
        # Requests that left before the 429 was read arrive within a few milliseconds.
        on_the_wire.append(sum(1 for d in after_flood if d < 0.25))
        resumed = [d for d in after_flood if d >= 0.25]
        if resumed:
            gaps.append(min(resumed))
    sent_once = sum(1 for status, _ in statuses.values() if status == "sent")
    print(
        f"recipients: {recipients}  sent: {report.stats.sent}  failed: {report.stats.failed}  "
        f"in doubt: {report.stats.in_doubt}  ({after.wall - before.wall:.1f} s)"
    )
    print(
        f"429 answers (retry_after={RETRY_AFTER}): {len(floods)}; channel pauses taken: "
        f"{engine.limiters['telegram'].pauses}"
    )
    print(f"resumed after each 429 (s): {', '.join(f'{g:.3f}' for g in gaps)}")
    print(f"longest: {max(gaps):.3f} s (limit {RETRY_AFTER + 0.5} s), shortest: {min(gaps):.3f} s")
    print(f"sends already on the wire when a 429 came back: {', '.join(map(str, on_the_wire))}")
    print(
        f"fake server: delivered {stats['sends_ok']}, duplicates {stats['duplicate_sends']}; "
        f"recipients with one sent row: {sent_once}/{recipients}"
    )
    ok = (
        bool(gaps)
        and max(gaps) <= RETRY_AFTER + 0.5
        and min(gaps) >= RETRY_AFTER - 0.01
        and stats["sends_ok"] == recipients
        and stats["duplicate_sends"] == 0
        and sent_once == recipients
    )
    print("targets (resume within retry_after + 0.5 s, nothing lost):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000)
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(asyncio.run(main(parser.parse_args().recipients)))
