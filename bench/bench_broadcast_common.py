"""Shared set-up for the broadcast benchmarks: a database of subscribers, the fake Bot
API in its own process, and the real python-telegram-bot client.

Run from the repository root: `python3 dev.py bench bench/bench_broadcast_throughput.py`.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# PTB 22 would warn on every 429 about the number form of retry_after.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from bot.broadcast.engine import DeliveryEngine  # noqa: E402
from bot.broadcast.senders import Sender  # noqa: E402
from handlers.broadcasts.schedule import QuietHours  # noqa: E402
from handlers.i18n import load_catalog  # noqa: E402
from storage import Store  # noqa: E402
from storage.broadcasts import Audience, Broadcast, NewBroadcast  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402

# `unionbot run` configured for paid broadcasts (1,000/s) and no quiet hours, so a
# crash benchmark takes seconds, not minutes, at any hour.
PAID_BROADCAST_CONFIG = """
[broadcast]
quiet_start = "00:00"
quiet_end = "00:00"
telegram_rate = 1000
paid_broadcast = true
in_doubt = "leave"

[[broadcast.topics]]
id = "workers_month"
name_vi = "Tháng Công nhân"
name_en = "Workers' Month"
"""
TEXT_VI = "Chào mừng Tháng Công nhân 2025! Mời bạn tham gia hội thao công nhân sáng Chủ nhật tại nhà văn hoá KCN."
TEXT_EN = "Welcome to Workers' Month 2025! Join the workers' sports day on Sunday morning at the industrial park hall."


async def seed(path: Path, n: int, *, first_id: int = 1) -> tuple[SQLiteStore, Broadcast]:
    """A SQLite database at `path` seeded by `seed_store`, left open for the caller."""
    store = SQLiteStore(path)
    await store.open()
    return store, await seed_store(store, n, first_id=first_id)


async def seed_store(store: Store, n: int, *, first_id: int = 1) -> Broadcast:
    """`n` Telegram subscribers of workers_month on an open store of either backend (1 in
    10 in English; user `first_id + k` is Telegram chat `first_id + k`) and one broadcast
    to them, due now."""
    ids = range(first_id, first_id + n)
    # Bulk insert: the benchmarks measure sending, not sign-up.
    if isinstance(store, SQLiteStore):
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        await store.db.executemany(
            "INSERT INTO users (channel, external_id, language, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
            [("telegram", str(i), "en" if i % 10 == 0 else "vi", now, now) for i in ids],
        )
        await store.db.execute(
            "INSERT INTO subscriptions (user_id, topic, created_at) SELECT id, 'workers_month', ? FROM users", (now,)
        )
    else:
        from storage.postgres import PostgresStore

        if not isinstance(store, PostgresStore):
            raise TypeError(f"no bulk seeding for {type(store).__name__}")
        when = datetime.now(UTC)
        async with store.transaction() as conn:
            # COPY: 100,000 users in about a second, where row-by-row inserts take a minute.
            await conn.copy_records_to_table(
                "users",
                records=[("telegram", str(i), "en" if i % 10 == 0 else "vi", when, when) for i in ids],
                columns=["channel", "external_id", "language", "created_at", "last_seen_at"],
            )
            await conn.execute(
                "INSERT INTO subscriptions (user_id, topic, created_at) SELECT id, 'workers_month', $1 FROM users",
                when,
            )
    return await store.create_broadcast(
        NewBroadcast(
            TEXT_VI,
            Audience(topics=("workers_month",)),
            run_at=datetime.now(UTC),
            text_en=TEXT_EN,
        )
    )


@dataclass
class Usage:
    wall: float
    cpu: float

    @staticmethod
    def now() -> Usage:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return Usage(time.perf_counter(), r.ru_utime + r.ru_stime)


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fake_args() -> list[str]:
    # Keep the fake's request log bounded: it runs for tens of thousands of sends.
    return ["--max-log", "50000", "--log-level", "WARNING"]


def bench_engine(store: Store, senders: dict[str, Sender]) -> DeliveryEngine:
    """The delivery engine as the bot builds it, with no quiet hours: a benchmark runs at
    any hour of the day."""
    return DeliveryEngine(store, load_catalog(), senders, QuietHours.parse("00:00", "00:00", "Asia/Ho_Chi_Minh"))
