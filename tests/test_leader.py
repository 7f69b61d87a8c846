"""Several bot processes on one PostgreSQL database: exactly one fires the schedules, a
dead leader is replaced within seconds, and nothing is sent twice, also while two
processes both believe they lead. Each "process" here is a store with its own pool
(its own sessions), an engine with its own lease owner and a Leadership service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.broadcast.clock import SystemClock
from bot.broadcast.service import BroadcastService
from bot.leadership import Leadership
from storage import Store
from storage.broadcasts import Audience, BroadcastStatus, NewBroadcast
from storage.postgres import PostgresStore
from storage.sqlite import SQLiteStore
from tests.conftest import postgres_database
from tests.fakes.broadcast_support import RecordingSender, add_workers, make_engine
from tests.harness import wait_until

AUDIENCE = Audience(topics=("workers_month",))
WORKERS = [1, 2, 3]
CHECK_EVERY = 0.2  # the real 5 s, shortened: the takeover logic is the same


@dataclass
class Process:
    store: Store
    sender: RecordingSender
    service: BroadcastService
    leadership: Leadership


@asynccontextmanager
async def bot_process(store: Store, *, lead_at_start: bool = False) -> AsyncIterator[Process]:
    """What Runtime.build_services wires for the broadcasts, on an open store."""
    sender = RecordingSender()
    engine = make_engine(store, {"telegram": sender}, clock=SystemClock())
    service = BroadcastService(
        store,
        engine,
        timezone="Asia/Ho_Chi_Minh",
        missed_limit=timedelta(hours=12),
        sync_seconds=0.3,
        lead_at_start=lead_at_start,
    )
    leadership = Leadership(store, [service], every=CHECK_EVERY)
    await service.start()
    await leadership.start()
    try:
        yield Process(store, sender, service, leadership)
    finally:
        await leadership.stop()
        await service.stop()


async def several_rounds(*processes: Process, rounds: int = 3) -> None:
    """Until every process has asked for the leadership `rounds` more times and every one
    that leads has synced its schedules twice more: each had its chances to send again
    (a fixed sleep gave them too, or not, depending on the machine's load)."""
    goals = [(p, p.leadership.checks + rounds, p.service.syncs + 2 if p.service.leading else 0) for p in processes]
    await wait_until(
        lambda: all(p.leadership.checks >= checks and p.service.syncs >= syncs for p, checks, syncs in goals),
        15,
        f"{rounds} leadership rounds in each process",
    )


async def open_pg(stack: AsyncExitStack, url: str) -> PostgresStore:
    store = PostgresStore(url)
    await store.open()
    stack.push_async_callback(store.close)
    return store


async def test_one_leader_fires_once_and_a_follower_takes_over_when_it_dies() -> None:
    async with postgres_database() as url, AsyncExitStack() as stack:
        store_a, store_b = await open_pg(stack, url), await open_pg(stack, url)
        await add_workers(store_a, WORKERS)
        a = await stack.enter_async_context(bot_process(store_a))
        b = await stack.enter_async_context(bot_process(store_b))
        assert a.leadership.leading and a.service.leading, "the first to ask leads"
        assert not b.leadership.leading and not b.service.leading
        assert b.service.scheduler is not None and not b.service.scheduler.get_jobs(), "a follower arms nothing"

        first = await store_b.create_broadcast(
            NewBroadcast("first", AUDIENCE, run_at=datetime.now(UTC) + timedelta(seconds=0.5))
        )
        await b.service.changed(first.id)  # the organizer confirmed it in the follower's chat
        await wait_until(lambda: len(a.sender.sent) == len(WORKERS), 10, "the leader fires the first broadcast")
        await wait_until(lambda: not a.service.tasks or all(t.done() for t in a.service.tasks.values()), 10, "run")
        await several_rounds(a, b)
        assert len(a.sender.sent) == len(WORKERS) and b.sender.sent == [], "sent once, by the leader"
        assert (await store_b.get_broadcast(first.id)).status is BroadcastStatus.DONE  # type: ignore[union-attr]

        # The leader dies: its sessions end, and with them its advisory lock.
        died = time.monotonic()
        await store_a.close()
        await wait_until(lambda: b.leadership.leading, 5, "the follower takes over")
        assert time.monotonic() - died < 5
        await wait_until(lambda: not a.leadership.leading, 5, "the dead leader's remains stop scheduling")

        second = await store_b.create_broadcast(
            NewBroadcast("second", AUDIENCE, run_at=datetime.now(UTC) + timedelta(seconds=0.5))
        )
        await wait_until(lambda: len(b.sender.sent) == len(WORKERS), 10, "the new leader fires the next broadcast")
        await several_rounds(a, b)
        assert len(b.sender.sent) == len(WORKERS) and len(a.sender.sent) == len(WORKERS)
        assert {t.split("\n")[0] for _, t in b.sender.sent} == {"second"}
        stats = await store_b.delivery_stats(second.id)
        assert stats.sent == len(WORKERS)


async def test_two_processes_that_both_think_they_lead_still_send_once() -> None:
    """The handover's worst case: the old leader has not yet noticed it lost the lock
    while the new one already fires. Leases, unique occurrences and conditional status
    changes, not the leadership, are what keep every message single."""
    async with postgres_database() as url, AsyncExitStack() as stack:
        store_a, store_b = await open_pg(stack, url), await open_pg(stack, url)
        await add_workers(store_a, WORKERS)
        now = datetime.now(UTC)
        # On the cron's own boundary and ending there: exactly one occurrence, even if the
        # test runs across the next minute.
        minute = now.replace(second=0, microsecond=0)
        due = await store_a.create_broadcast(NewBroadcast("due", AUDIENCE, run_at=now - timedelta(seconds=1)))
        series = await store_a.create_broadcast(
            NewBroadcast("weekly", AUDIENCE, run_at=minute, cron="* * * * *", until=minute)
        )
        a = await stack.enter_async_context(bot_process(store_a))
        b = await stack.enter_async_context(bot_process(store_b))
        await asyncio.gather(a.service.lead(), b.service.lead())  # forced: both fire
        expected = 2 * len(WORKERS)  # the one-off and the series' due occurrence
        await wait_until(lambda: len(a.sender.sent) + len(b.sender.sent) >= expected, 15, "both broadcasts sent")
        await several_rounds(a, b)
        sent = a.sender.sent + b.sender.sent
        assert len(sent) == expected and len(set(sent)) == expected, "no recipient got anything twice"
        assert (await store_a.get_broadcast(due.id)).status is BroadcastStatus.DONE  # type: ignore[union-attr]
        occurrences = [o for o in await store_a.list_broadcasts(None, limit=100) if o.series_id == series.id]
        assert len(occurrences) == 1, "one occurrence per series and time"


async def test_with_sqlite_the_single_process_always_leads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "one.sqlite3")
    await store.open()
    try:
        await add_workers(store, WORKERS)
        async with bot_process(store) as p:
            assert p.leadership.leading and p.service.leading, "leads from start()"
            b = await store.create_broadcast(
                NewBroadcast("soon", AUDIENCE, run_at=datetime.now(UTC) + timedelta(seconds=0.3))
            )
            await p.service.changed(b.id)
            await wait_until(lambda: len(p.sender.sent) == len(WORKERS), 10, "sent")
            await asyncio.sleep(3 * CHECK_EVERY)
            assert p.leadership.leading and p.leadership.changes == 1, "never stepped down"
    finally:
        await store.close()
