"""No oversell on PostgreSQL with two real OS processes: each its own interpreter,
connection pool and event loop, as two bot workers (or a bot and the CLI) would be.

Thirty registrations, fifteen from each process fired at once, for ten places: exactly
ten confirmed, twenty waiting numbered 1..20 in the order they got the program's row
lock (their ids), every confirmed registration before every waiting one.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from datetime import UTC, datetime, timedelta

from storage.care import NewProgram, RegisterOutcome, RegistrationDraft, RegStatus
from storage.postgres import PostgresStore
from tests.conftest import postgres_database

PROCESSES = 2
PER_PROCESS = 15
PLACES = 10
TIMEOUT = 120.0


async def _register(url: str, program_id: int, users: list[tuple[int, int]]) -> dict[str, int]:
    store = PostgresStore(url)
    await store.open()
    try:
        results = await asyncio.gather(
            *(
                store.register(RegistrationDraft(program_id, user_id, f"+8491200{i:04d}", f"Công nhân {i}", 1))
                for i, user_id in users
            )
        )
    finally:
        await store.close()
    counts: dict[str, int] = {}
    for r in results:
        assert r is not None
        counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
    return counts


def _process(url: str, program_id: int, users: list[tuple[int, int]], barrier, queue) -> None:  # type: ignore[no-untyped-def]
    barrier.wait(TIMEOUT)  # both processes have started and imported: fire together
    try:
        queue.put(asyncio.run(_register(url, program_id, users)))
    except BaseException as e:  # reported, so the test fails with the cause rather than a timeout
        queue.put({"error": repr(e)})
        raise


def _race(url: str, program_id: int, user_ids: list[int]) -> tuple[list[dict], list[int | None]]:  # type: ignore[type-arg]
    ctx = mp.get_context("spawn")  # a fresh interpreter: nothing shared with this one
    barrier, queue = ctx.Barrier(PROCESSES), ctx.Queue()
    shares = [[(i, user_ids[i]) for i in range(k, len(user_ids), PROCESSES)] for k in range(PROCESSES)]
    procs = [ctx.Process(target=_process, args=(url, program_id, share, barrier, queue)) for share in shares]
    for p in procs:
        p.start()
    try:
        results = [queue.get(timeout=TIMEOUT) for _ in procs]
    finally:
        for p in procs:
            p.join(TIMEOUT)
            if p.is_alive():
                p.kill()
                p.join()
    return results, [p.exitcode for p in procs]


async def test_two_processes_never_oversell_and_number_the_waiting_list_in_order() -> None:
    async with postgres_database() as url:
        async with PostgresStore(url) as store:
            now = datetime.now(UTC)
            program_id = await store.create_program(
                NewProgram(
                    title="Tàu Tết 2027",
                    province_id="ho_chi_minh",
                    places=PLACES,
                    opens_at=now - timedelta(hours=1),
                    closes_at=now + timedelta(days=30),
                )
            )
            users = [
                (await store.touch_user("telegram", str(7000 + i), language="vi")).id
                for i in range(PROCESSES * PER_PROCESS)
            ]
        results, exits = await asyncio.to_thread(_race, url, program_id, users)
        assert exits == [0] * PROCESSES, results
        assert all("error" not in r for r in results), results
        assert all(sum(r.values()) == PER_PROCESS for r in results), results
        assert sum(r.get(RegisterOutcome.CONFIRMED.value, 0) for r in results) == PLACES
        assert sum(r.get(RegisterOutcome.WAITING.value, 0) for r in results) == PROCESSES * PER_PROCESS - PLACES

        async with PostgresStore(url) as store:
            counts = await store.program_counts(program_id)
            assert (counts.confirmed_seats, counts.waitlisted) == (PLACES, PROCESSES * PER_PROCESS - PLACES)
            regs = await store.registrations(program_id)
            assert len(regs) == PROCESSES * PER_PROCESS
            # Arrival order is the id order: the first ten in hold the places.
            assert [r.status for r in regs] == [RegStatus.CONFIRMED] * PLACES + [RegStatus.WAITING] * (
                len(regs) - PLACES
            )
            waiting = regs[PLACES:]
            assert [await store.waiting_position(r.id) for r in waiting] == list(range(1, len(waiting) + 1))
            assert len({r.code for r in regs[:PLACES]}) == PLACES and all(r.code is None for r in waiting)
            assert {r.user_id for r in regs} == set(users)
