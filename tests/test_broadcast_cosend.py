"""Two processes on one PostgreSQL database share one broadcast (issue 12): the lease
holder runs it, the other helps from the other end of the list; every recipient gets it
once, the holder calls it done only after the helper's rows came back, and a helper
killed mid-way leaves only its rows in flight in doubt."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.broadcast.engine import RunOutcome
from storage import Store
from storage.broadcasts import Audience, BroadcastStatus, DeliveryStatus, NewBroadcast
from tests.conftest import postgres_processes
from tests.fakes.broadcast_support import FAST, RecordingSender, add_workers, make_engine
from tests.harness import wait_until

AUDIENCE = Audience(topics=("workers_month",))
WORKERS = list(range(1, 301))


async def slow(chat_id: str, part: object) -> None:
    await asyncio.sleep(0.004)  # a round trip to the platform


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Store, Store]]:
    async with postgres_processes(2) as stores:
        yield stores[0], stores[1]


async def test_queued_rows_page_from_either_end(backend: Store) -> None:
    await add_workers(backend, [1, 2, 3, 4])
    b = await backend.create_broadcast(NewBroadcast("x", AUDIENCE, run_at=datetime.now(UTC)))
    await backend.materialize_audience(b.id)
    up = [r.delivery_id for r in await backend.queued_deliveries(b.id, after_id=0, limit=10)]
    down = [r.delivery_id for r in await backend.queued_deliveries(b.id, before_id=2**62, limit=10)]
    assert down == sorted(up, reverse=True) and len(up) == 4
    assert [r.delivery_id for r in await backend.queued_deliveries(b.id, before_id=down[1], limit=10)] == down[2:]


async def test_a_helper_shares_the_broadcast_and_the_holder_finishes_it(pair: tuple[Store, Store]) -> None:
    store_a, store_b = pair
    await add_workers(store_a, WORKERS)
    b = await store_a.create_broadcast(NewBroadcast("chung", AUDIENCE, run_at=datetime.now(UTC)))
    sender_a, sender_b = RecordingSender(hook=slow), RecordingSender(hook=slow)
    holder, helper = make_engine(store_a, {"telegram": sender_a}), make_engine(store_b, {"telegram": sender_b})
    run = asyncio.create_task(holder.run(b.id))
    await wait_until(lambda: len(sender_a.sent) >= 10, 10, "the holder sending")
    helped = await helper.help(b.id)
    report = await asyncio.wait_for(run, 30)
    # The helper ends out of rows, or sees the holder call the broadcast done first.
    assert report.outcome == RunOutcome.DONE and helped.outcome in (RunOutcome.HELPED, RunOutcome.STOPPED)
    assert len(sender_b.sent) >= 30, "the helper sent a real share"
    chats = sender_a.chats() + sender_b.chats()
    assert sorted(chats, key=int) == [str(w) for w in WORKERS], "each worker once"
    stats = await store_a.delivery_stats(b.id)
    assert stats.sent == len(WORKERS) and stats.count(DeliveryStatus.SENDING) == 0
    assert (await store_a.get_broadcast(b.id)).status is BroadcastStatus.DONE  # type: ignore[union-attr]
    # The helper took rows from the top: the two met somewhere in the middle.
    assert max(int(c) for c in sender_b.chats()) == WORKERS[-1]


async def test_there_is_nothing_to_help_before_the_broadcast_runs(pair: tuple[Store, Store]) -> None:
    store_a, _ = pair
    await add_workers(store_a, WORKERS[:5])
    b = await store_a.create_broadcast(NewBroadcast("x", AUDIENCE, run_at=datetime.now(UTC)))
    engine = make_engine(store_a, {"telegram": RecordingSender()})
    # Not running yet (no lease holder): nothing to help.
    assert (await engine.help(b.id)).outcome == RunOutcome.BUSY
    assert (await store_a.get_broadcast(b.id)).status is not BroadcastStatus.RUNNING  # type: ignore[union-attr]


async def test_a_helper_killed_mid_way_leaves_only_its_rows_in_flight_in_doubt(pair: tuple[Store, Store]) -> None:
    store_a, store_b = pair
    await add_workers(store_a, WORKERS)
    b = await store_a.create_broadcast(NewBroadcast("x", AUDIENCE, run_at=datetime.now(UTC)))
    stuck = asyncio.Event()

    async def hang(chat_id: str, part: object) -> None:
        await stuck.wait()  # the helper's sends never come back: it is killed mid-send

    sender_a, sender_b = RecordingSender(hook=slow), RecordingSender(hook=hang)
    settings = dataclasses.replace(FAST, settle_seconds=1.0)
    holder = make_engine(store_a, {"telegram": sender_a}, settings=settings)
    helper = make_engine(store_b, {"telegram": sender_b}, settings=settings)
    run = asyncio.create_task(holder.run(b.id))
    await wait_until(lambda: len(sender_a.sent) >= 5, 10, "the holder sending")
    helping = asyncio.create_task(helper.help(b.id))
    await wait_until(lambda: helper.runs.get(b.id) is not None and helper.runs[b.id].in_flight > 0, 10, "in flight")
    await asyncio.sleep(0.2)
    in_flight = helper.runs[b.id].in_flight
    helping.cancel()  # kill -9 as far as the rows know: the journal never records them
    report = await asyncio.wait_for(run, 30)
    assert report.outcome == RunOutcome.DONE
    stats = await store_a.delivery_stats(b.id)
    assert 0 < stats.in_doubt <= in_flight
    assert stats.sent + stats.in_doubt == len(WORKERS)
    assert len(set(sender_a.chats())) == len(sender_a.chats()) == stats.sent


async def test_the_services_of_two_processes_share_a_broadcast_fired_by_one(pair: tuple[Store, Store]) -> None:
    from datetime import timedelta

    from bot.broadcast.service import BroadcastService

    store_a, store_b = pair
    await add_workers(store_a, WORKERS)
    senders = [RecordingSender(hook=slow), RecordingSender(hook=slow)]
    services = [
        BroadcastService(
            store,
            make_engine(store, {"telegram": sender}),
            timezone="Asia/Ho_Chi_Minh",
            missed_limit=timedelta(hours=12),
            sync_seconds=0.3,
            lead_at_start=store is store_a,  # one leader fires; the other only helps
            help_seconds=0.1,
        )
        for store, sender in zip((store_a, store_b), senders, strict=True)
    ]
    for service in services:
        await service.start()
    try:
        b = await store_a.create_broadcast(NewBroadcast("chung", AUDIENCE, run_at=datetime.now(UTC)))
        await services[0].changed(b.id)

        async def done() -> bool:
            current = await store_a.get_broadcast(b.id)
            return current is not None and current.status is BroadcastStatus.DONE

        for _ in range(300):
            if await done():
                break
            await asyncio.sleep(0.1)
        assert await done()
    finally:
        for service in services:
            await service.stop()
    a, b_sent = senders[0].chats(), senders[1].chats()
    assert a and b_sent, "both processes sent"
    assert sorted(a + b_sent, key=int) == [str(w) for w in WORKERS]
