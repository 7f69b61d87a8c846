"""Several processes on one database share the inbound journal (issue 12).

A process adopts only rows of processes that are gone, never rows a live process is
handling; one user's updates take turns in arrival order whichever process received
them. Each store object here stands for one process: its own connections, its own
instance name and (on PostgreSQL) its own liveness lock.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bot.channels.journal import InboundAdoption, InboundJournal
from storage import Store
from storage.postgres import PostgresStore
from tests.conftest import postgres_database, postgres_processes
from tests.harness import twin


@asynccontextmanager
async def postgres_pair() -> AsyncIterator[tuple[Store, Store]]:
    async with postgres_processes(2) as (first, second):
        yield first, second


async def test_a_stopped_process_rows_are_adopted_once_in_arrival_order(backend: Store) -> None:
    gone = twin(backend)
    await gone.open()
    assert await gone.journal_inbound_many("telegram", [("1", "7", "{}"), ("2", "8", "{}"), ("3", "7", "{}")])
    await gone.mark_inbound_done("telegram", "2")
    await gone.close()  # the process stops (on PostgreSQL its liveness lock goes with it)
    adopted = await backend.adopt_inbound("telegram")
    assert [(e.key, e.done) for e in adopted] == [("1", False), ("2", True), ("3", False)]
    # Now this process's: nobody adopts them again, this process included.
    assert await backend.adopt_inbound("telegram") == []
    other = twin(backend)
    await other.open()
    try:
        if backend.shared_by_processes:
            assert await other.adopt_inbound("telegram") == []
        assert await other.adopt_inbound("zalo_oa") == []
    finally:
        await other.close()


async def test_a_process_never_adopts_its_own_rows(backend: Store) -> None:
    assert await backend.journal_inbound("telegram", "1", "7", "{}")
    assert await backend.adopt_inbound("telegram") == []


async def test_a_live_process_rows_stay_its_own_and_are_adopted_when_it_dies() -> None:
    async with postgres_pair() as (live, other):
        await live.journal_inbound_many("telegram", [("1", "7", "{}"), ("2", "8", "{}")])
        assert await live.take_inbound_turn("telegram", "1")
        # The other process starts (or runs its adoption round): nothing is taken from
        # a process that is still handling its updates.
        assert await other.adopt_inbound("telegram") == []
        assert not await other.journal_inbound("telegram", "2", "8", "{}")  # a redelivery stays dropped
        # kill -9 of the live process: its sessions end, and so does its liveness lock.
        pool = live.pool
        for conn in list(live._leader_conns.values()):
            conn.terminate()
        pool.terminate()
        adopted = await other.adopt_inbound("telegram")
        assert [e.key for e in adopted] == ["1", "2"]
        # The dead process's turn went with it: user 7's update may go at once.
        assert await other.take_inbound_turn("telegram", "1")


async def test_two_adopters_of_one_dead_process_never_share_a_row() -> None:
    async with postgres_database() as url:
        dead = PostgresStore(url)
        await dead.open()
        await dead.journal_inbound_many("telegram", [(str(k), str(k % 5), "{}") for k in range(200)])
        await dead.close()
        adopters = [PostgresStore(url) for _ in range(3)]
        for store in adopters:
            await store.open()
        try:
            results = await asyncio.gather(*(s.adopt_inbound("telegram") for s in adopters))
            keys = [e.key for adopted in results for e in adopted]
            assert sorted(keys, key=int) == [str(k) for k in range(200)]
        finally:
            for store in adopters:
                await store.close()


async def test_one_user_turns_follow_arrival_order_across_processes() -> None:
    async with postgres_pair() as (a, b):
        await a.journal_inbound("telegram", "1", "7", "{}")
        await b.journal_inbound("telegram", "2", "7", "{}")
        await b.journal_inbound("telegram", "3", "9", "{}")
        assert not await b.take_inbound_turn("telegram", "2")  # user 7's first update is ahead
        assert await b.take_inbound_turn("telegram", "3")  # another user is not held up
        assert await a.take_inbound_turn("telegram", "1")
        assert await a.take_inbound_turn("telegram", "1")  # asking again keeps the turn
        await a.mark_inbound_done("telegram", "1")
        assert not await b.take_inbound_turn("telegram", "2")  # replies of 1 still going out
        await a.finish_inbound("telegram", "1")
        assert await b.take_inbound_turn("telegram", "2")
        # Unknown to the journal (finished long ago), or no user: never held up.
        assert await a.take_inbound_turn("telegram", "404")


async def test_the_lone_sqlite_process_never_waits_for_a_turn(store: Store) -> None:
    journal = InboundJournal(store, "telegram")
    await journal.receive("1", "7", {})
    await journal.receive("2", "7", {})
    await asyncio.wait_for(journal.take_turn("2"), 1)


async def test_two_processes_handle_one_user_one_at_a_time_in_arrival_order() -> None:
    """Both processes receive updates of the same workers (a load balancer in front of two
    webhooks); each handles what it received. Every worker's updates are handled in the
    order they arrived, never two at once, whichever process holds them."""
    rng = random.Random(12)
    async with postgres_pair() as (a, b):
        journals = {"a": InboundJournal(a, "telegram"), "b": InboundJournal(b, "telegram")}
        handled: dict[str, list[int]] = {"7": [], "8": []}
        busy: dict[str, str | None] = {"7": None, "8": None}
        overlaps: list[str] = []

        async def handle(process: str, key: str, user: str, seq: int) -> None:
            journal = journals[process]
            await journal.take_turn(key)
            if busy[user] is not None:
                overlaps.append(f"{user}: {busy[user]} and {key}")
            busy[user] = key
            await asyncio.sleep(rng.random() / 200)  # handlers take a few milliseconds
            handled[user].append(seq)
            busy[user] = None
            await journal.finish(key)

        tasks = []
        for seq in range(40):
            user = rng.choice(["7", "8"])
            process = rng.choice(["a", "b"])
            key = f"{user}-{seq}"
            # Receipt is sequential (arrival order); handling starts at once, concurrently.
            assert await journals[process].receive(key, user, {"n": seq})
            tasks.append(asyncio.create_task(handle(process, key, user, seq)))
            await asyncio.sleep(rng.random() / 1000)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        assert overlaps == []
        for seqs in handled.values():
            assert seqs == sorted(seqs)
        assert sum(len(s) for s in handled.values()) == 40
        assert await a.journal_entries("telegram") == []


class _Channel:
    name = "telegram"

    def __init__(self, journal: InboundJournal) -> None:
        self.journal = journal
        self.replayed: list[dict] = []

    async def adopt_orphans(self) -> int:
        pending = await self.journal.unfinished()
        self.replayed += [p.payload for p in pending]
        return len(pending)


async def test_adoption_rounds_take_over_what_a_killed_process_acknowledged() -> None:
    async with postgres_pair() as (dead, survivor):
        await InboundJournal(dead, "telegram").receive_many([("1", "7", {"text": "a"}), ("2", "7", {"text": "b"})])
        channel = _Channel(InboundJournal(survivor, "telegram"))
        adoption = InboundAdoption([channel], every=0.05)
        await adoption.start()
        try:
            await asyncio.sleep(0.2)
            assert channel.replayed == []  # the first process is alive
            for conn in list(dead._leader_conns.values()):
                conn.terminate()
            dead.pool.terminate()
            for _ in range(100):
                if adoption.adopted:
                    break
                await asyncio.sleep(0.05)
        finally:
            await adoption.stop()
        assert channel.replayed == [{"text": "a"}, {"text": "b"}]
        assert adoption.adopted == 2
        assert json.loads((await survivor.journal_entries("telegram"))[0].payload) == {"text": "a"}


@pytest.mark.parametrize("done", [False, True])
async def test_a_dead_process_row_ahead_frees_its_user_once_adopted(done: bool) -> None:
    async with postgres_pair() as (dead, survivor):
        await dead.journal_inbound("telegram", "1", "7", "{}")
        assert await dead.take_inbound_turn("telegram", "1")
        if done:
            await dead.mark_inbound_done("telegram", "1")
        await survivor.journal_inbound("telegram", "2", "7", "{}")
        assert not await survivor.take_inbound_turn("telegram", "2")
        for conn in list(dead._leader_conns.values()):
            conn.terminate()
        dead.pool.terminate()
        journal = InboundJournal(survivor, "telegram")
        pending = await journal.unfinished()
        # A row the dead process had handled is dropped (its replies may have gone out);
        # one it had not is handled again here, first.
        assert [p.key for p in pending] == ([] if done else ["1"])
        if not done:
            assert not await survivor.take_inbound_turn("telegram", "2")
            assert await survivor.take_inbound_turn("telegram", "1")
            await survivor.finish_inbound("telegram", "1")
        assert await survivor.take_inbound_turn("telegram", "2")
