"""One bot token's send rate holds across processes on one PostgreSQL database (issue 12):
the store hands out global send slots, and each process's limiter departs on its slots.
Each "process" here is a store with its own pool (its own sessions) and its own limiter."""

from __future__ import annotations

import asyncio
import bisect
import time

from bot.broadcast.limits import ChannelLimits, Priority
from bot.broadcast.wiring import shared_limiter, token_key
from storage import Store
from storage.postgres import PostgresStore
from tests.conftest import postgres_database, postgres_processes

RATE = 30.0
LIMITS = ChannelLimits(rate=RATE, per_chat_interval=0)
PER_SECOND = RATE / (1 + LIMITS.shared_margin)  # what the wiring asks of the store
KEY = token_key("telegram", "123:secret")
# How far a slot time read on this side may stray from the server's: the answer's way
# back and the event loop (2 shared cores). The margin between slots is far larger.
JITTER = 0.008
LOOP_LAG = 0.1  # how late a sleeping send may wake on the loaded CI machine


def busiest_window(times: list[float], width: float = 1.0) -> int:
    """The most times in any closed window [t, t + width]."""
    times = sorted(times)
    return max(bisect.bisect_right(times, t + width) - i for i, t in enumerate(times))


async def test_a_lone_process_store_reserves_without_waiting_and_postgres_spaces_slots(backend: Store) -> None:
    waits = [await backend.reserve_send_slots(KEY, PER_SECOND) for _ in range(4)]
    if not backend.shared_by_processes:
        # SQLite: one process, whose own limiter paces every send; nothing to share.
        assert waits == [0.0] * 4
        assert shared_limiter(LIMITS, backend, KEY).shared is None
        return
    assert waits[0] <= 0.001, "the first slot of a fresh key is now"
    # Back-to-back reservations queue up, each 1/per_second after the one before.
    assert all(w > 0 for w in waits[1:])
    assert waits[-1] >= 2 / PER_SECOND
    assert shared_limiter(LIMITS, backend, KEY).shared is not None


async def test_two_processes_reserving_together_get_spaced_slots() -> None:
    async with postgres_processes(2) as stores:
        interval = 1 / PER_SECOND

        async def next_at() -> float:
            # The server's own record of the next free slot: no client clock or
            # scheduling jitter in what is compared.
            at = await stores[0].db.fetchval("SELECT next_at FROM send_slots WHERE key = $1", KEY)
            return float(at.timestamp())

        async def reserver(store: Store, n: int) -> None:
            for _ in range(n):
                await store.reserve_send_slots(KEY, PER_SECOND)

        await reserver(stores[0], 1)
        start = await next_at()
        # Several reservers per process, as many senders would ask at once: 48 more slots,
        # each at least one interval after the one before, none shared or lost.
        await asyncio.gather(*(reserver(s, 8) for s in stores for _ in range(3)))
        end = await next_at()
        # Timestamps keep microseconds: each interval may round down by up to 1 µs.
        assert end - start >= 48 * (interval - 1e-6), (end - start) / interval
        # A batch is a run of slots no other process's slot falls into.
        await stores[0].reserve_send_slots(KEY, PER_SECOND, 5)
        await stores[1].reserve_send_slots(KEY, PER_SECOND, 5)
        assert await next_at() - end >= 10 * (interval - 1e-6)


async def test_two_limiters_on_one_database_stay_within_the_rate_together() -> None:
    """Two processes sending together (broadcasts and replies) through their own limiter:
    the recorder (the platform's side) never sees more than RATE in any one second."""
    async with postgres_processes(2) as stores:
        limiters = [shared_limiter(LIMITS, store, KEY) for store in stores]
        arrivals: list[float] = []

        async def send(limiter_index: int, chat: str, priority: Priority) -> None:
            limiter = limiters[limiter_index]
            async with limiter.turn(chat, priority=priority):
                pass
            await asyncio.sleep(0.001)  # the request's way to the platform
            arrivals.append(time.monotonic())
            limiter.sent(chat)

        started = time.monotonic()
        await asyncio.gather(
            *(
                send(p, f"{p}-{i}", Priority.REPLY if i % 3 == 0 else Priority.BROADCAST)
                for p in range(2)
                for i in range(45)
            )
        )
        elapsed = time.monotonic() - started
        assert len(arrivals) == 90
        # A send woken late by a loaded event loop (the full suite on 2 shared cores) lands
        # next to its successor; that is the machine, not the limiter, so the window is
        # shortened by LOOP_LAG. Two limiters each taking the full rate would put ~54 here.
        busiest = busiest_window(arrivals, 1.0 - LOOP_LAG)
        assert busiest <= RATE, busiest
        # The processes shared the rate rather than each taking 30/s: 90 sends took ~3 s.
        assert elapsed >= 89 / PER_SECOND - 0.05, elapsed
        assert busiest_window(arrivals) >= RATE - 3, "the two together still use most of the rate"


async def test_a_database_out_of_reach_leaves_local_pacing_not_a_failed_send() -> None:
    from bot.broadcast.limits import SharedSlots

    calls = 0

    async def reserve(count: int) -> float:
        nonlocal calls
        calls += 1
        raise ConnectionError("database down")

    slots = SharedSlots(reserve, 30.0)
    # Each departure asks again (the database may be back) and goes ahead meanwhile.
    for _ in range(3):
        await slots.wait()
    assert calls == 3


async def test_a_retry_after_met_by_one_process_pauses_the_others() -> None:
    """Telegram answered one process 429 "retry after": the token is paused for every
    process, so the others do not keep drawing 429s (and longer bans) meanwhile."""
    async with postgres_processes(2) as stores:
        limiters = [shared_limiter(LIMITS, store, KEY) for store in stores]
        hit, other = limiters
        await hit.acquire("a")
        await other.acquire("b")
        paused_at = time.monotonic()
        hit.pause(0.8)
        await asyncio.sleep(0.05)  # the pause is written in the background
        await other.acquire("c")
        waited = time.monotonic() - paused_at
        assert waited >= 0.75, waited
        assert hit.pauses == 1 and other.pauses == 0, "the other process never met the 429 itself"


async def test_a_lone_process_pause_stays_its_own(store: Store) -> None:
    await store.pause_send_slots(KEY, 5.0)  # SQLite: nothing shared, nothing to write
    assert await store.reserve_send_slots(KEY, PER_SECOND) == 0.0
    assert shared_limiter(LIMITS, store, KEY).shared is None


async def test_zalo_channels_share_their_send_rate_across_processes_too(tmp_path) -> None:
    from bot.broadcast.wiring import zalo_limiter
    from tests.harness import config_for

    env = {"ZALO_BOT_TOKEN": "bot-token", "ZALO_OA_APP_ID": "app", "ZALO_OA_APP_SECRET": "s"}
    async with postgres_database() as url:
        config = config_for(tmp_path, env=env, db=url)
        store = PostgresStore(url)
        await store.open()
        try:
            bot, oa = zalo_limiter(config, store, "zalo_bot"), zalo_limiter(config, store, "zalo_oa")
            assert bot.shared is not None and oa.shared is not None
            for limiter in (bot, oa, zalo_limiter(config, store, "zalo_bot")):
                await limiter.acquire("w")
            keys = {r["key"] for r in await store.db.fetch("SELECT key FROM send_slots")}
            # One key per sending identity, the same in every process, never the token.
            assert keys == {token_key("zalo_bot", "bot-token"), token_key("zalo_oa", "app")}
            assert not any("bot-token" in k for k in keys)
        finally:
            await store.close()
