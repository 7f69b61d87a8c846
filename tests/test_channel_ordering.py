"""Per-user ordering shared by the channels: one user's messages in order, others alongside."""

from __future__ import annotations

import asyncio

from bot.channels.ordering import BackgroundHandler, KeyedLocks


async def test_one_key_runs_in_order_while_other_keys_run_alongside() -> None:
    runner = BackgroundHandler("test")
    log: list[str] = []
    release = asyncio.Event()

    async def work(name: str, wait: bool) -> None:
        log.append(f"start {name}")
        if wait:
            await release.wait()
        log.append(f"end {name}")

    runner.submit("u1", work("a1", wait=True))
    runner.submit("u1", work("a2", wait=False))
    runner.submit("u2", work("b1", wait=False))
    await asyncio.sleep(0.05)
    # u2 was not held up by u1's slow message; u1's second waits for its first.
    assert log == ["start a1", "start b1", "end b1"]
    release.set()
    await runner.idle()
    assert log[3:] == ["end a1", "start a2", "end a2"]


async def test_drain_waits_then_refuses_new_work() -> None:
    runner = BackgroundHandler("test")
    done: list[int] = []

    async def slow(n: int) -> None:
        await asyncio.sleep(0.05)
        done.append(n)

    for n in range(3):
        assert runner.submit(n, slow(n))
    await runner.drain(timeout=5)
    assert sorted(done) == [0, 1, 2]
    assert runner.submit(9, slow(9)) is False
    assert runner.pending == 0


async def test_drain_cancels_what_outlives_the_timeout() -> None:
    runner = BackgroundHandler("test")
    runner.submit("u", asyncio.sleep(10))
    await runner.drain(timeout=0.05)
    assert runner.pending == 0


async def test_an_error_in_one_handler_does_not_stop_the_next() -> None:
    runner = BackgroundHandler("test")
    done: list[str] = []

    async def fail() -> None:
        raise RuntimeError("boom")

    async def ok() -> None:
        done.append("ok")

    runner.submit("u", fail())
    runner.submit("u", ok())
    await runner.idle()
    assert done == ["ok"]


async def test_keyed_locks_are_dropped_when_unused() -> None:
    locks = KeyedLocks()
    assert await locks.run("k", asyncio.sleep(0, result=7)) == 7
    assert len(locks) == 0
