"""2,000 workers racing for the 500 places of one program: no oversell, and how long.

Four OS processes, each with its own connection to one SQLite file (as the bot, a
second bot worker and the CLI would be), start together; each fires its 500
registrations at once. Places are allocated in one BEGIN IMMEDIATE transaction per
registration (storage/sqlite/care.py), so exactly 500 seats must end up confirmed and
1,500 waiting, numbered 1..1,500 in arrival order.

Baseline, same run and same four processes: 2,000 bare one-row INSERT transactions
(BEGIN IMMEDIATE / INSERT / COMMIT) into a scratch table: the cost of the write lock
alone. The figure to watch is the ratio.

Run from the repository root: `.venv/bin/python bench/bench_programs.py`.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage.care import NewProgram, RegisterOutcome, RegistrationDraft, RegStatus  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402

WORKERS = 2_000
PLACES = 500
PROCESSES = 4


async def _child(path: str, kind: str, pid: int, indices: list[int], user_ids: list[int]) -> dict[str, int]:
    store = SQLiteStore(path)
    await store.open()
    try:
        if kind == "baseline":

            async def one(i: int) -> None:
                async with store.transaction() as db:
                    await db.execute("INSERT INTO bench_baseline (n) VALUES (?)", (i,))

            await asyncio.gather(*(one(i) for i in indices))
            return {}
        results = await asyncio.gather(
            *(store.register(RegistrationDraft(pid, user_ids[i], f"+849{i:08d}", f"Công nhân {i}", 1)) for i in indices)
        )
        counts: dict[str, int] = {}
        for r in results:
            counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
        return counts
    finally:
        await store.close()


def _process(path: str, kind: str, pid: int, indices: list[int], user_ids: list[int], barrier, queue) -> None:  # type: ignore[no-untyped-def]
    barrier.wait()
    queue.put(asyncio.run(_child(path, kind, pid, indices, user_ids)))


def race(path: Path, kind: str, pid: int, user_ids: list[int]) -> tuple[float, dict[str, int]]:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(PROCESSES + 1), ctx.Queue()
    chunks = [list(range(k, WORKERS, PROCESSES)) for k in range(PROCESSES)]
    procs = [ctx.Process(target=_process, args=(str(path), kind, pid, c, user_ids, barrier, queue)) for c in chunks]
    for p in procs:
        p.start()
    barrier.wait()  # every child has imported and is ready
    started = time.perf_counter()
    totals: dict[str, int] = {}
    for _ in procs:
        for k, v in queue.get().items():
            totals[k] = totals.get(k, 0) + v
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return elapsed, totals


async def seed(path: Path) -> tuple[int, list[int]]:
    async with SQLiteStore(path) as store:
        now = datetime.now(UTC)
        await store.db.executemany(
            "INSERT INTO users (channel, external_id, language, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
            [("telegram", str(100_000 + i), "vi", now.isoformat(), now.isoformat()) for i in range(WORKERS)],
        )
        rows = await store.db.execute_fetchall("SELECT id FROM users ORDER BY id")
        await store.db.execute("CREATE TABLE bench_baseline (id INTEGER PRIMARY KEY, n INTEGER)")
        pid = await store.create_program(
            NewProgram(
                title="Tàu Tết 2027",
                province_id="ho_chi_minh",
                places=PLACES,
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=30),
            )
        )
        return pid, [r[0] for r in rows]


async def verify(path: Path, pid: int) -> tuple[int, int]:
    async with SQLiteStore(path) as store:
        counts = await store.program_counts(pid)
        regs = await store.registrations(pid, limit=WORKERS + 1)
        confirmed = [r for r in regs if r.status is RegStatus.CONFIRMED]
        waiting = [r for r in regs if r.status is RegStatus.WAITING]
        assert len(regs) == WORKERS, len(regs)
        assert counts.confirmed_seats == PLACES, counts
        assert len({r.code for r in confirmed}) == PLACES
        # Arrival order: every confirmed registration arrived before every waiting one.
        assert max(r.id for r in confirmed) < min(r.id for r in waiting)
        assert [await store.waiting_position(r.id) for r in waiting[:3]] == [1, 2, 3]
        assert await store.waiting_position(waiting[-1].id) == len(waiting)
        return counts.confirmed_seats, len(waiting)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        pid, user_ids = asyncio.run(seed(path))
        base_time, _ = race(path, "baseline", pid, user_ids)
        race_time, totals = race(path, "register", pid, user_ids)
        seats, waiting = asyncio.run(verify(path, pid))
    assert totals.get(RegisterOutcome.CONFIRMED.value) == PLACES, totals
    print(f"machine: {platform.machine()}, {mp.cpu_count()} CPUs, Python {platform.python_version()}, SQLite WAL")
    print(f"{WORKERS} registrants from {PROCESSES} processes racing for {PLACES} places")
    print(f"confirmed seats: {seats} (exactly {PLACES}: no oversell), waiting: {waiting}, outcomes: {totals}")
    print(f"allocation: {race_time:.2f} s ({WORKERS / race_time:,.0f} registrations/s)")
    print(
        f"baseline (bare one-row write transactions, same processes): {base_time:.2f} s ({WORKERS / base_time:,.0f}/s)"
    )
    print(f"ratio allocation/baseline: {race_time / base_time:.2f}x")


if __name__ == "__main__":
    main()
