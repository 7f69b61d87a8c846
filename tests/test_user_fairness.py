"""One user's backlog must not delay everyone (issue 14, item 9).

The shared slots cap how many updates are handled at once; a user whose messages
queue up must wait in their own queue, so another user's update finds a free slot.
"""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.channels.ordering import BackgroundHandler
from bot.channels.telegram import PerUserUpdateProcessor

SLOTS = 4
BACKLOG = 20


def _message(update_id: int, user_id: int) -> Update:
    user = {"id": user_id, "is_bot": False, "first_name": "W"}
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": user_id, "type": "private"},
                "from": user,
                "text": "hi",
            },
        },
        None,
    )


async def test_telegram_one_users_backlog_leaves_slots_for_others() -> None:
    processor = PerUserUpdateProcessor(max_concurrent_updates=SLOTS)
    release = asyncio.Event()
    handled: list[tuple[int, int]] = []

    async def handle(update: Update) -> None:
        assert update.effective_user is not None
        if update.effective_user.id == 1:
            await release.wait()
        handled.append((update.effective_user.id, update.update_id))

    # As PTB's Application does: one task per update, each through process_update.
    flood = [
        asyncio.create_task(processor.process_update(u, handle(u))) for u in (_message(i, 1) for i in range(BACKLOG))
    ]
    await asyncio.sleep(0.01)
    other = _message(1000, 2)
    await asyncio.wait_for(processor.process_update(other, handle(other)), timeout=1.0)
    assert handled == [(2, 1000)]
    release.set()
    await asyncio.gather(*flood)
    # The flooding user's messages were still handled, in order.
    assert [i for uid, i in handled if uid == 1] == list(range(BACKLOG))


async def test_telegram_backlog_holds_one_slot_at_most() -> None:
    processor = PerUserUpdateProcessor(max_concurrent_updates=SLOTS)
    release = asyncio.Event()
    running = 0
    peak = 0

    async def handle() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    tasks = [asyncio.create_task(processor.process_update(_message(i, 7), handle())) for i in range(BACKLOG)]
    await asyncio.sleep(0.01)
    # PTB's counter of updates in its own semaphore does not cap us; our slots do.
    assert peak == 1
    release.set()
    await asyncio.gather(*tasks)


async def test_zalo_background_handler_one_users_backlog_leaves_slots_for_others() -> None:
    runner = BackgroundHandler("test", max_concurrent=SLOTS)
    release = asyncio.Event()
    other_done = asyncio.Event()

    async def flood_message() -> None:
        await release.wait()

    async def other_message() -> None:
        other_done.set()

    for _ in range(BACKLOG):
        runner.submit("flooder", flood_message())
    runner.submit("other", other_message())
    await asyncio.wait_for(other_done.wait(), timeout=1.0)
    release.set()
    await runner.idle()
