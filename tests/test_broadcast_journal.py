"""The delivery journal's group commits: fewer, larger batches, never a send before its claim."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.broadcast.engine import EngineSettings
from storage import Store
from storage.broadcasts import Audience, NewBroadcast
from tests.fakes.broadcast_support import FAST, RecordingSender, add_workers, make_engine


async def test_sends_finishing_together_are_claimed_in_one_commit_each_before_its_send(store: Store) -> None:
    workers = await add_workers(store, range(1, 65))
    by_chat = {w.external_id: w.id for w in workers}
    b = await store.create_broadcast(
        NewBroadcast("Họp công đoàn", Audience(topics=("workers_month",)), run_at=datetime.now(UTC))
    )
    statuses: list[str] = []
    waiting: list[asyncio.Future[None]] = []

    async def hook(chat_id: str, part: object) -> None:
        # The row must already be committed as 'sending' when its message leaves.
        rows = await store.db.execute_fetchall(
            "SELECT status FROM deliveries WHERE broadcast_id = ? AND user_id = ?", (b.id, by_chat[chat_id])
        )
        statuses.append(rows[0][0])
        # Hold every send until all 16 in flight have arrived, then let them finish in
        # one turn of the loop, as replies read in one poll of the sockets do.
        future = asyncio.get_running_loop().create_future()
        waiting.append(future)
        if len(waiting) == 16:
            for f in waiting:
                f.set_result(None)
            waiting.clear()
        await future

    sender = RecordingSender(hook=hook)
    engine = make_engine(
        store,
        {"telegram": sender},
        settings=EngineSettings(
            concurrency=16, backoff_base=FAST.backoff_base, status_poll_seconds=FAST.status_poll_seconds
        ),
    )
    report = await engine.run(b.id)

    assert report.outcome == "done"
    assert report.stats is not None and report.stats.sent == 64
    assert sorted(sender.chats(), key=int) == [str(i) for i in range(1, 65)]
    assert statuses == ["sending"] * 64
    # 4 waves of 16: the first wave's claims, then each wave's outcomes with the next
    # wave's claims, then the last outcomes. One message per commit would be 128.
    assert engine.journal_commits <= 6, engine.journal_commits
