"""Scheduling with APScheduler, the store as the source of truth: re-arming at start-up,
missed sends, recurring occurrences, control from the handlers and from another process."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.broadcast.clock import SystemClock
from bot.broadcast.service import BroadcastService
from handlers.broadcasts import manage
from storage import Store
from storage.broadcasts import Audience, BroadcastStatus, NewBroadcast
from tests.fakes.broadcast_support import FAST, FakeClock, RecordingSender, Summaries, add_workers, local, make_engine
from tests.harness import wait_until

AUDIENCE = Audience(topics=("workers_month",))


def make_service(store: Store, rec: RecordingSender, clock, *, timers: bool = True, notify=None, settings=FAST):  # type: ignore[no-untyped-def]
    engine = make_engine(store, {"telegram": rec}, clock=clock, notify=notify, settings=settings)
    return BroadcastService(
        store, engine, timezone="Asia/Ho_Chi_Minh", missed_limit=timedelta(hours=12), use_timers=timers
    )


@pytest.fixture
async def running() -> AsyncIterator[list[BroadcastService]]:
    started: list[BroadcastService] = []
    yield started
    for service in started:
        await service.stop()


async def test_startup_sends_due_skips_missed_and_arms_future(store: Store, running) -> None:
    await add_workers(store, [1, 2])
    (org,) = await add_workers(store, [900], topics=[])
    now = datetime.now(UTC)
    due = await store.create_broadcast(NewBroadcast("due", AUDIENCE, run_at=now - timedelta(minutes=5)))
    missed = await store.create_broadcast(
        NewBroadcast("missed", AUDIENCE, run_at=now - timedelta(hours=20), created_by=org.id)
    )
    future = await store.create_broadcast(NewBroadcast("future", AUDIENCE, run_at=now + timedelta(hours=3)))
    rec, summaries = RecordingSender(), Summaries()
    service = make_service(store, rec, SystemClock(), notify=summaries)
    running.append(service)
    await service.start()
    await wait_until(lambda: len(rec.sent) == 2)
    await asyncio.wait(list(service.tasks.values()))
    assert {t for _, t in rec.sent} == {"due\n\n— Công đoàn · Gõ /stop để ngừng nhận thông báo, /news để chọn chủ đề."}
    skipped = await store.get_broadcast(missed.id)
    assert skipped.status is BroadcastStatus.SKIPPED and skipped.reason.startswith("missed: due")
    assert "h late" in skipped.reason
    assert [b.id for _, b, _ in summaries.got] == [missed.id], "the organizer hears about the skip"
    job = service.scheduler.get_job(f"broadcast-{future.id}")
    assert job is not None and job.next_run_time == future.run_at
    assert (await store.get_broadcast(due.id)).status is BroadcastStatus.DONE


async def test_an_armed_timer_fires_and_sends(store: Store, running) -> None:
    await add_workers(store, [1, 2, 3])
    rec = RecordingSender()
    service = make_service(store, rec, SystemClock())
    running.append(service)
    await service.start()
    b = await store.create_broadcast(NewBroadcast("soon", AUDIENCE, run_at=datetime.now(UTC) + timedelta(seconds=0.3)))
    await service.changed(b.id)  # what the composer does after confirming
    assert rec.sent == []
    await wait_until(lambda: len(rec.sent) == 3)


async def test_a_broadcast_created_from_the_command_line_is_picked_up_by_sync(store: Store, running) -> None:
    await add_workers(store, [1])
    rec = RecordingSender()
    service = make_service(store, rec, SystemClock())
    running.append(service)
    await service.start()
    await store.create_broadcast(NewBroadcast("cli", AUDIENCE, run_at=datetime.now(UTC)))
    await service.sync()  # the interval job
    await wait_until(lambda: len(rec.sent) == 1)


async def test_restart_rearms_a_running_broadcast_and_never_repeats(store: Store) -> None:
    await add_workers(store, range(1, 11))
    b = await store.create_broadcast(NewBroadcast("x", AUDIENCE, run_at=datetime.now(UTC)))
    gate = asyncio.Event()

    async def hold(chat: str, part: object) -> None:
        if chat == "4":
            await gate.wait()

    first = RecordingSender(hook=hold)
    one_at_a_time = dataclasses.replace(FAST, concurrency=1)
    service = make_service(store, first, SystemClock(), settings=one_at_a_time)
    await service.start()
    await wait_until(lambda: len(first.sent) == 3)
    stopping = asyncio.create_task(service.stop())  # a clean shutdown in the middle
    await asyncio.sleep(0.05)
    gate.set()  # the message in flight completes and is recorded
    await stopping
    assert first.chats() == ["1", "2", "3", "4"]
    assert (await store.get_broadcast(b.id)).status is BroadcastStatus.RUNNING
    second = RecordingSender()
    service = make_service(store, second, SystemClock())
    await service.start()
    await asyncio.wait(list(service.tasks.values()))
    await service.stop()
    assert sorted(first.chats() + second.chats(), key=int) == [str(i) for i in range(1, 11)]


async def test_series_creates_each_occurrence_once(store: Store) -> None:
    await add_workers(store, [1, 2])
    clock = FakeClock(local(2025, 5, 5, 19, 0, 30))  # a Monday, just after 19:00
    series = await store.create_broadcast(
        NewBroadcast(
            "Sinh hoạt tối thứ Hai",
            AUDIENCE,
            run_at=local(2025, 5, 5, 19, 0),
            cron="0 19 * * mon",
            until=local(2025, 5, 19, 23, 59),
        )
    )
    rec = RecordingSender()
    service = make_service(store, rec, clock, timers=False)
    await service.send_due()
    await service.send_due()  # a second sync, as after a restart: no second occurrence
    occurrences = [b for b in await store.list_broadcasts() if b.series_id == series.id]
    assert len(occurrences) == 1 and occurrences[0].status is BroadcastStatus.DONE
    assert len(rec.sent) == 2
    assert (await store.get_broadcast(series.id)).run_at == local(2025, 5, 12, 19, 0)

    clock.set(local(2025, 5, 13, 18, 0))  # down all of the 12th: 23 h late > 12 h
    await service.send_due()
    occurrences = [b for b in await store.list_broadcasts() if b.series_id == series.id]
    assert [o.status for o in occurrences] == [BroadcastStatus.SKIPPED, BroadcastStatus.DONE]
    assert occurrences[0].reason.startswith("missed: due 12/05/2025 19:00")
    assert len(rec.sent) == 2

    clock.set(local(2025, 5, 19, 19, 5))
    await service.send_due()
    assert len(rec.sent) == 4
    final = await store.get_broadcast(series.id)
    assert final.status is BroadcastStatus.DONE and final.run_at is None, "the series ends after --until"


async def test_a_new_series_computes_its_first_occurrence(store: Store) -> None:
    clock = FakeClock(local(2025, 5, 1, 12, 0))  # Thursday
    s = await store.create_broadcast(
        NewBroadcast("Weekly", AUDIENCE, run_at=None, cron="30 8 * * 1", starts_at=local(2025, 5, 6, 0, 0))
    )
    service = make_service(store, RecordingSender(), clock, timers=False)
    await service.sync()
    assert (await store.get_broadcast(s.id)).run_at == local(2025, 5, 12, 8, 30), "a Monday, after the start"


async def test_a_resumed_series_skips_what_fell_in_the_pause(store: Store) -> None:
    await add_workers(store, [1])
    clock = FakeClock(local(2025, 5, 5, 12, 0))
    s = await store.create_broadcast(NewBroadcast("W", AUDIENCE, run_at=local(2025, 5, 5, 19, 0), cron="0 19 * * *"))
    rec = RecordingSender()
    service = make_service(store, rec, clock, timers=False)
    assert await manage.pause(store, s)
    clock.set(local(2025, 5, 7, 12, 0))
    await service.send_due()
    assert rec.sent == []
    assert await manage.resume(store, await store.get_broadcast(s.id))
    await service.send_due()
    assert rec.sent == [] and (await store.get_broadcast(s.id)).run_at == local(2025, 5, 7, 19, 0)


async def test_changed_stops_a_paused_run_in_this_process(store: Store, running) -> None:
    await add_workers(store, range(1, 30))

    async def slow(chat: str, part: object) -> None:
        await asyncio.sleep(0.02)

    rec = RecordingSender(hook=slow)
    service = make_service(store, rec, SystemClock(), settings=dataclasses.replace(FAST, concurrency=2))
    running.append(service)
    b = await store.create_broadcast(NewBroadcast("x", AUDIENCE, run_at=datetime.now(UTC)))
    await service.start()
    await wait_until(lambda: len(rec.sent) >= 2)
    await manage.pause(store, await store.get_broadcast(b.id))
    await service.changed(b.id)
    (report,) = [await t for t in service.tasks.values()]
    assert report.outcome == "paused" and len(rec.sent) < 29
    assert (await store.get_broadcast(b.id)).status is BroadcastStatus.PAUSED


async def test_a_store_failure_mid_run_leaves_no_row_to_be_sent_twice(store: Store) -> None:
    await add_workers(store, range(1, 21))
    b = await store.create_broadcast(NewBroadcast("x", AUDIENCE, run_at=datetime.now(UTC)))
    real = store.journal_deliveries
    calls = 0

    async def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("disk full")
        return await real(*args, **kwargs)

    store.journal_deliveries = flaky  # type: ignore[method-assign]
    rec = RecordingSender()
    engine = make_engine(store, {"telegram": rec}, settings=dataclasses.replace(FAST, concurrency=4))
    with pytest.raises(OSError, match="disk full"):
        await engine.run(b.id)
    store.journal_deliveries = real  # type: ignore[method-assign]
    report = await make_engine(store, {"telegram": rec}).run(b.id)
    assert report.outcome == "done"
    assert len(rec.chats()) == len(set(rec.chats())), "no duplicates"
    assert report.stats.sent + report.stats.in_doubt == 20
