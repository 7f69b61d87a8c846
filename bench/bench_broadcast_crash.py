"""Benchmark 4: kill -9 of the bot in the middle of a 5,000-recipient broadcast, then restart.

The bot is the real `unionbot run` (Telegram channel polling the fake Bot API, the
broadcast service started with it) in its own process; the fake runs in another.
Configured for paid broadcasts (1,000/s) so the run takes seconds, not minutes.

Targets: every recipient ends with exactly one delivery row, sent or in doubt; the fake
server counts no duplicate; in doubt <= the sends in flight at the kill (the rows the
killed process had claimed and not yet recorded).

    python3 dev.py bench bench/bench_broadcast_crash.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_broadcast_common import PAID_BROADCAST_CONFIG, ROOT, fake_args, seed

from storage.broadcasts import BroadcastStatus
from storage.sqlite import SQLiteStore
from tests.fakes.telegram_api import FakeTelegramProcess

CONFIG = PAID_BROADCAST_CONFIG


def start_bot(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


async def statuses(db: Path, broadcast_id: int) -> dict[int, tuple[str, str | None]]:
    async with SQLiteStore(db) as store:
        return await store.delivery_statuses(broadcast_id)


async def broadcast_status(db: Path, broadcast_id: int) -> BroadcastStatus:
    async with SQLiteStore(db) as store:
        b = await store.get_broadcast(broadcast_id)
        assert b is not None
        return b.status


def count(rows: dict[int, tuple[str, str | None]], status: str) -> int:
    return sum(1 for s, _ in rows.values() if s == status)


async def main(recipients: int, kill_at: float) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        db, log = tmp_path / "bot.sqlite3", tmp_path / "bot.log"
        (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
        async with FakeTelegramProcess(args=fake_args()) as fake:
            assert fake.control is not None
            await fake.control.register_chats(range(1, recipients + 1))
            store, b = await seed(db, recipients)
            await store.close()
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))},
                "UNIONBOT_CONFIG": str(tmp_path / "config.toml"),
                "UNIONBOT_DB": str(db),
                "UNIONBOT_HTTP_PORT": "0",
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url,
                "PTB_TIMEDELTA": "true",
            }
            bot = start_bot(env, log)
            target = int(recipients * kill_at)
            while (await fake.control.stats())["sends_ok"] < target:
                if bot.poll() is not None:
                    print(log.read_text()[-3000:])
                    raise SystemExit("the bot stopped before the kill")
                await asyncio.sleep(0.01)
            bot.send_signal(signal.SIGKILL)
            bot.wait()
            await asyncio.sleep(0.3)  # let the fake finish requests it had already received
            at_kill = await statuses(db, b.id)
            delivered_at_kill = (await fake.control.stats())["sends_ok"]
            in_flight = {uid for uid, (s, _) in at_kill.items() if s == "sending"}

            started = time.monotonic()
            bot = start_bot(env, log)
            while await broadcast_status(db, b.id) is not BroadcastStatus.DONE:
                if bot.poll() is not None or time.monotonic() - started > 120:
                    print(log.read_text()[-3000:])
                    raise SystemExit("the restarted bot did not finish the broadcast")
                await asyncio.sleep(0.1)
            finish = time.monotonic() - started
            bot.send_signal(signal.SIGTERM)
            bot.wait(30)
            final = await statuses(db, b.id)
            stats = await fake.control.stats()
            ok_sends = [r for r in await fake.control.requests("sendMessage") if r["status"] == 200]
    delivered_chats = {r["params"]["chat_id"] for r in ok_sends}
    # Users were inserted in recipient order: user id n is Telegram chat n.
    in_doubt = {uid for uid, (s, _) in final.items() if s == "in_doubt"}
    in_doubt_delivered = sum(1 for uid in in_doubt if uid in delivered_chats)
    only_sent_or_doubt = all(s in {"sent", "in_doubt"} for s, _ in final.values())
    print(f"recipients: {recipients}; killed with SIGKILL after {delivered_at_kill} deliveries")
    print(
        f"at the kill: sent {count(at_kill, 'sent')}, sending (in flight) {len(in_flight)}, "
        f"queued {count(at_kill, 'queued')}"
    )
    print(
        f"after restart ({finish:.1f} s to finish): rows {len(final)}, sent {count(final, 'sent')}, "
        f"in doubt {len(in_doubt)}, other {len(final) - count(final, 'sent') - len(in_doubt)}"
    )
    print(
        f"in doubt = the rows in flight at the kill: {in_doubt == in_flight}; "
        f"of them the fake had delivered {in_doubt_delivered}, never received {len(in_doubt) - in_doubt_delivered}"
    )
    print(f"fake server: delivered {stats['sends_ok']}, duplicates {stats['duplicate_sends']}")
    ok = (
        len(final) == recipients
        and only_sent_or_doubt
        and stats["duplicate_sends"] == 0
        and len(in_doubt) <= len(in_flight)
        and count(final, "sent") + len(in_doubt) == recipients
    )
    print("targets (one row each, sent or in doubt; 0 duplicates; in doubt <= in flight):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction delivered before the kill")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.recipients, args.kill_at)))
