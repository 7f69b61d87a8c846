"""The delivery engine with the real python-telegram-bot client against the fake Bot API:
every failure path, crash recovery, quiet hours, pause and cancel."""

from __future__ import annotations

import asyncio
import gc
import io
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.broadcast.engine import EngineSettings
from bot.broadcast.limits import ChannelLimits
from bot.broadcast.senders import TelegramSender
from handlers.broadcasts import manage
from handlers.broadcasts.schedule import QuietHours
from storage import Store
from storage.broadcasts import Audience, BroadcastStatus, NewBroadcast
from tests.fakes.broadcast_support import (
    FAST,
    FakeClock,
    RecordingSender,
    Summaries,
    add_workers,
    local,
    make_engine,
)
from tests.fakes.telegram_api import FakeTelegramServer

QUIET = QuietHours.parse("21:00", "07:00", "Asia/Ho_Chi_Minh")
# No per-chat pacing either, so that retries in these tests need not wait a second.
UNLIMITED = ChannelLimits(rate=None, per_chat_interval=0.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


@pytest.fixture
async def tg(fake: FakeTelegramServer) -> AsyncIterator[Bot]:
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        yield bot


def sender(bot: Bot, limits: ChannelLimits = UNLIMITED, store: Store | None = None) -> dict:
    return {"telegram": TelegramSender(bot, limits, store=store)}


async def broadcast(store: Store, *, topics=("workers_month",), text_en: str | None = None, **kw):  # type: ignore[no-untyped-def]
    return await store.create_broadcast(
        NewBroadcast(
            "Chào mừng Tháng Công nhân",
            Audience(topics=tuple(topics)),
            run_at=datetime.now(UTC),
            text_en=text_en,
            **kw,
        )
    )


def texts(fake: FakeTelegramServer, chat: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in fake.sent_messages(chat)]


async def test_each_subscriber_gets_it_once_in_their_language(fake, tg, store: Store) -> None:
    fake.register_chats(range(1, 20))
    await add_workers(store, range(1, 11))
    await add_workers(store, range(11, 16), language="en")
    await add_workers(store, [16], topics=["osh_month"])
    (org,) = await add_workers(store, [900], topics=[])
    summaries = Summaries()
    b = await broadcast(store, text_en="Welcome to Workers' Month", created_by=org.id)
    engine = make_engine(store, sender(tg), notify=summaries)
    report = await engine.run(b.id)
    assert report.outcome == "done" and report.stats.sent == 15
    for chat in range(1, 11):
        assert texts(fake, chat) == [
            "Chào mừng Tháng Công nhân\n\n— Công đoàn · Gõ /stop để ngừng nhận thông báo, /news để chọn chủ đề."
        ]
    for chat in range(11, 16):
        (text,) = texts(fake, chat)
        assert text.startswith("Welcome to Workers' Month\n\n— Trade union")
    assert texts(fake, 16) == [] and texts(fake, 900) == []
    assert fake.duplicate_send_count == 0
    ((user, done, stats),) = summaries.got
    assert user.id == org.id and done.status is BroadcastStatus.DONE and stats.sent == 15
    assert (await engine.run(b.id)).outcome == "busy", "a finished broadcast is never run again"
    assert fake.duplicate_send_count == 0


async def test_429_pauses_the_whole_channel_for_retry_after_then_retries(fake, tg, store: Store) -> None:
    fake.register_chats(range(1, 31))
    await add_workers(store, range(1, 31))
    b = await broadcast(store)
    fake.fail_next("sendMessage", 429, retry_after=1, chat_id=5)
    engine = make_engine(store, sender(tg), settings=EngineSettings(concurrency=4, **_fast()))
    report = await engine.run(b.id)
    assert report.stats.sent == 30 and fake.duplicate_send_count == 0
    sends = fake.requests("sendMessage")
    (flood,) = [r for r in sends if r.status == 429]
    after = [r.time - flood.time for r in sends if r.time > flood.time]
    # Sends already on the wire may land just after; then nothing until retry_after is up.
    assert not [d for d in after if 0.1 < d < 1.0]
    resumed = min(d for d in after if d >= 0.1)
    assert resumed < 1.5
    assert [r.status for r in sends if r.chat_id == 5] == [429, 200], "that same message is retried"
    assert engine.limiters["telegram"].pauses == 1


async def test_403_marks_the_worker_unreachable_until_they_write_again(fake, tg, store: Store) -> None:
    fake.register_chats(range(1, 5))
    fake.block(3)
    users = await add_workers(store, range(1, 5))
    engine = make_engine(store, sender(tg))
    first = await engine.run((await broadcast(store)).id)
    assert first.stats.sent == 3 and first.stats.blocked == 1 and first.stats.failed_by_reason == {"blocked": 1}
    assert not (await store.get_user(users[2].id)).reachable
    second = await engine.run((await broadcast(store)).id)
    assert second.stats.audience == 3, "no more broadcasts to a worker who blocked the bot"
    assert [r.chat_id for r in fake.requests("sendMessage") if r.status == 403] == [3]
    await store.touch_user("telegram", "3", language="vi")  # they wrote to the bot again
    fake.unblock(3)
    assert await store.subscriptions(users[2].id) == {"workers_month"}, "subscriptions were kept"
    third = await engine.run((await broadcast(store)).id)
    assert third.stats.sent == 4


async def test_400_fails_with_the_reason(fake, tg, store: Store) -> None:
    fake.register_chats([1])  # chat 2 is unknown to Telegram: "chat not found"
    await add_workers(store, [1, 2])
    report = await make_engine(store, sender(tg)).run((await broadcast(store)).id)
    assert report.stats.sent == 1
    assert report.stats.failed_by_reason == {"bad_request: Chat not found": 1}
    assert len([r for r in fake.requests("sendMessage") if r.chat_id == 2]) == 1, "a 400 is not retried"


async def test_server_errors_are_retried_with_backoff_then_failed(fake, tg, store: Store) -> None:
    fake.register_chats([1, 2, 3])
    await add_workers(store, [1, 2, 3])
    for _ in range(2):
        fake.fail_next("sendMessage", 502, chat_id=2)
    for _ in range(3):
        fake.fail_next("sendMessage", 500, chat_id=3)
    settings = EngineSettings(max_attempts=3, **_fast())
    engine = make_engine(store, sender(tg), settings=settings)
    report = await engine.run((await broadcast(store)).id)
    assert report.stats.sent == 2
    assert report.stats.failed_by_reason == {"network: Internal Server Error": 1}
    assert [r.status for r in fake.requests("sendMessage") if r.chat_id == 2] == [502, 502, 200]
    assert [r.status for r in fake.requests("sendMessage") if r.chat_id == 3] == [500, 500, 500]
    delays = [engine._backoff(n) for n in (1, 2, 3, 10) for _ in range(50)]
    assert all(0.005 <= d <= 0.05 for d in delays), "exponential with jitter, capped"


async def test_timeouts_are_retried_then_failed(fake, store: Store) -> None:
    fake.register_chats([1])
    await add_workers(store, [1])
    fake.set_latency(0.6, methods=["sendMessage"])
    bot = Bot(fake.token, base_url=fake.base_url, request=HTTPXRequest(read_timeout=0.15))
    async with bot:
        report = await make_engine(store, sender(bot), settings=EngineSettings(max_attempts=3, **_fast())).run(
            (await broadcast(store)).id
        )
    assert report.stats.failed_by_reason == {"network: Timed out": 1}
    assert len(fake.requests("sendMessage", chat_id=1)) == 3
    fake.set_latency(0)


async def test_a_rejected_token_stops_the_run_and_keeps_rows_queued(fake, tg, store: Store) -> None:
    fake.register_chats([1, 2, 3])
    await add_workers(store, [1, 2, 3])
    b = await broadcast(store)
    for _ in range(3):
        fake.fail_next("sendMessage", 401, "Unauthorized")
    report = await make_engine(store, sender(tg), settings=EngineSettings(concurrency=1, **_fast())).run(b.id)
    assert report.outcome == "channel_down"
    assert report.stats.queued == 3, "nothing was sent: every row can go once the token is fixed"
    assert (await store.get_broadcast(b.id)).status is BroadcastStatus.RUNNING


def _dead_owner() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:crashed"


async def _crashed_broadcast(store: Store, n: int):  # type: ignore[no-untyped-def]
    """A broadcast as a kill -9 leaves it: 2 rows sent, 1 row sending, the lease held."""
    from storage.broadcasts import DeliveryResult, DeliveryStatus

    await add_workers(store, range(1, n + 1))
    b = await broadcast(store)
    now = datetime.now(UTC)
    owner = _dead_owner()
    await store.claim_broadcast(b.id, owner, now=now, lease_until=now + timedelta(hours=1))
    await store.materialize_audience(b.id)
    ids = [r.delivery_id for r in await store.queued_deliveries(b.id, after_id=0, limit=3)]
    await store.journal_deliveries(b.id, ids, [])
    await store.journal_deliveries(b.id, [], [DeliveryResult(i, DeliveryStatus.SENT) for i in ids[:2]])
    return b


async def test_after_a_crash_sent_rows_stay_sent_and_sending_rows_are_in_doubt(fake, tg, store: Store) -> None:
    fake.register_chats(range(1, 11))
    b = await _crashed_broadcast(store, 10)
    report = await make_engine(store, sender(tg)).run(b.id)
    assert report.outcome == "done" and report.recovered == 1
    assert (report.stats.sent, report.stats.in_doubt) == (9, 1)
    assert sorted(r.chat_id for r in fake.requests("sendMessage")) == list(range(4, 11)), "1-2 sent, 3 in doubt"
    statuses = await store.delivery_statuses(b.id)
    assert sorted(s for s, _ in statuses.values()) == ["in_doubt"] + ["sent"] * 9


async def test_in_doubt_rows_can_be_configured_to_resend(fake, tg, store: Store) -> None:
    fake.register_chats(range(1, 6))
    b = await _crashed_broadcast(store, 5)
    settings = EngineSettings(resend_in_doubt=True, **_fast())
    report = await make_engine(store, sender(tg), settings=settings).run(b.id)
    assert (report.stats.sent, report.stats.in_doubt) == (5, 0)
    assert sorted(r.chat_id for r in fake.requests("sendMessage")) == [3, 4, 5]


async def test_a_live_lease_keeps_a_second_sender_out(fake, tg, store: Store) -> None:
    fake.register_chats([1])
    await add_workers(store, [1])
    b = await broadcast(store)
    now = datetime.now(UTC)
    await store.claim_broadcast(b.id, "elsewhere:1:x", now=now, lease_until=now + timedelta(minutes=5))
    assert (await make_engine(store, sender(tg)).run(b.id)).outcome == "busy"
    assert fake.requests("sendMessage") == []


async def test_the_rate_limit_holds_in_every_second_counted_by_telegram(fake, tg, store: Store) -> None:
    fake.register_chats(range(1, 31))
    await add_workers(store, range(1, 31))
    started = time.monotonic()
    # The fake serves from this very process: a garbage-collection pause would hold a
    # request it already received and count it late, squeezing two sends together.
    gc.collect()
    gc.disable()
    try:
        report = await make_engine(store, sender(tg, ChannelLimits(rate=20))).run((await broadcast(store)).id)
    finally:
        gc.enable()
    assert report.stats.sent == 30
    assert fake.max_sends_per_second_window() <= 20
    assert time.monotonic() - started >= 1.0


async def test_photo_is_uploaded_once_then_sent_by_file_id(fake, tg, store: Store) -> None:
    fake.register_chats([1, 2, 3])
    await add_workers(store, [1, 2, 3])
    png = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(png, "PNG")
    b = await broadcast(store, photo=png.getvalue(), photo_name="poster.png")
    engine = make_engine(store, sender(tg, store=store), settings=EngineSettings(concurrency=1, **_fast()))
    report = await engine.run(b.id)
    assert report.stats.sent == 3
    photos = fake.requests("sendPhoto")
    assert len(photos) == 3 and photos[0].params["caption"].startswith("Chào mừng")
    assert all(isinstance(p.params["photo"], str) for p in photos[1:]), "later sends reuse the file id"
    assert (await store.get_photo(b.photo_id)).telegram_file_id == photos[1].params["photo"]


async def test_long_text_with_a_photo_is_photo_then_text_a_second_apart(fake, tg, store: Store) -> None:
    fake.register_chats([1])
    await add_workers(store, [1])
    png = io.BytesIO()
    Image.new("RGB", (32, 32), "blue").save(png, "PNG")
    b = await store.create_broadcast(
        NewBroadcast(
            "Tết Sum vầy. " * 120, Audience(topics=("workers_month",)), run_at=datetime.now(UTC), photo=png.getvalue()
        )
    )
    report = await make_engine(store, sender(tg, ChannelLimits(rate=None))).run(b.id)
    assert report.stats.sent == 1
    assert [r.method for r in fake.requests() if r.method.startswith("send")] == ["sendPhoto", "sendMessage"]
    assert fake.min_same_chat_interval >= 0.99


async def test_replies_are_not_starved_by_a_running_broadcast(fake, tg, store: Store) -> None:
    fake.register_chats(range(1, 701))
    await add_workers(store, range(1, 701))
    fake.register_chats([5000])
    engine = make_engine(store, sender(tg))
    run = asyncio.create_task(engine.run((await broadcast(store)).id))
    await fake.wait_for(method="sendMessage", chat_id=50)
    for _ in range(5):
        user = await store.touch_user("telegram", "5000", language="vi")  # the dispatcher's first step
        await store.get_state(user.id)
        await tg.send_message(5000, "Trả lời câu hỏi của bạn")
        await asyncio.sleep(0.05)
    report = await asyncio.wait_for(run, 30)
    assert report.stats.sent == 700
    # Not starved: every reply went out while the broadcast still had messages to send
    # (how fast is measured in bench/, not asserted here).
    sends = [r for r in fake.requests("sendMessage")]
    replies = [i for i, r in enumerate(sends) if r.chat_id == 5000]
    assert len(replies) == 5
    assert max(replies) < len(sends) - 1, "a reply waited for the whole broadcast"


# -- quiet hours, pause, cancel (the recording sender: these are about timing) ----------
async def test_nothing_is_sent_in_quiet_hours_until_they_end(store: Store) -> None:
    await add_workers(store, range(1, 6))
    clock = FakeClock(local(2025, 5, 1, 22, 0))
    rec = RecordingSender()
    b = await broadcast(store)
    engine = make_engine(store, {"telegram": rec}, quiet=QUIET, clock=clock)
    run = asyncio.create_task(engine.run(b.id))
    for _ in range(50):
        if clock.sleeps:
            break
        await asyncio.sleep(0.01)
    assert clock.sleeps == [local(2025, 5, 2, 7, 0)] and rec.sent == []
    current = await store.get_broadcast(b.id)
    assert current.status is BroadcastStatus.RUNNING and current.reason == "quiet_hours"
    clock.set(local(2025, 5, 2, 7, 0))
    report = await asyncio.wait_for(run, 5)
    assert report.outcome == "done" and rec.chats() == ["1", "2", "3", "4", "5"]


async def test_a_broadcast_that_reaches_quiet_hours_pauses_and_resumes(store: Store) -> None:
    await add_workers(store, range(1, 11))
    clock = FakeClock(local(2025, 5, 1, 20, 59, 59))

    async def hook(chat: str, part: object) -> None:
        if chat == "3":
            clock.set(local(2025, 5, 1, 21, 0, 0))

    rec = RecordingSender(hook=hook)
    settings = EngineSettings(concurrency=1, **_fast())
    engine = make_engine(store, {"telegram": rec}, quiet=QUIET, clock=clock, settings=settings)
    run = asyncio.create_task(engine.run((await broadcast(store)).id))
    for _ in range(100):
        if clock.sleeps:
            break
        await asyncio.sleep(0.01)
    assert rec.chats() == ["1", "2", "3"]
    clock.set(local(2025, 5, 2, 7, 0))
    report = await asyncio.wait_for(run, 5)
    assert report.outcome == "done" and rec.chats() == [str(i) for i in range(1, 11)]


async def test_pause_from_another_process_stops_then_resume_finishes_once(store: Store) -> None:
    await add_workers(store, range(1, 41))

    async def slow(chat: str, part: object) -> None:
        await asyncio.sleep(0.01)

    rec = RecordingSender(hook=slow)
    b = await broadcast(store)
    engine = make_engine(store, {"telegram": rec}, settings=EngineSettings(concurrency=2, **_fast()))
    run = asyncio.create_task(engine.run(b.id))
    while len(rec.sent) < 6:
        await asyncio.sleep(0.005)
    assert await manage.pause(store, await store.get_broadcast(b.id))  # as the CLI would, in the store only
    report = await asyncio.wait_for(run, 5)
    assert report.outcome == "paused" and 6 <= report.stats.sent < 40 and report.stats.queued == 40 - report.stats.sent
    assert await manage.resume(store, await store.get_broadcast(b.id))
    report = await engine.run(b.id)
    assert report.outcome == "done" and sorted(rec.chats(), key=int) == [str(i) for i in range(1, 41)]


async def test_cancel_stops_at_once_and_skips_the_rest(store: Store) -> None:
    await add_workers(store, range(1, 41))

    async def slow(chat: str, part: object) -> None:
        await asyncio.sleep(0.01)

    rec = RecordingSender(hook=slow)
    b = await broadcast(store)
    engine = make_engine(store, {"telegram": rec}, settings=EngineSettings(concurrency=2, **_fast()))
    run = asyncio.create_task(engine.run(b.id))
    while len(rec.sent) < 4:
        await asyncio.sleep(0.005)
    assert await manage.cancel(store, await store.get_broadcast(b.id))
    engine.stop(b.id, "cancelled")  # what BroadcastService.changed does in-process
    report = await asyncio.wait_for(run, 5)
    assert report.outcome == "cancelled"
    assert report.stats.sent + report.stats.skipped == 40 and report.stats.sent <= 6
    assert report.stats.skipped_by_reason == {"cancelled": 40 - report.stats.sent}


async def test_unreachable_opted_out_and_unknown_channel_rows_are_skipped(store: Store) -> None:
    users = await add_workers(store, range(1, 5))
    await add_workers(store, ["z1"], channel="zalo_oa")
    b = await broadcast(store)
    await store.materialize_audience(b.id)
    await store.set_reachable(users[0].id, False)
    await store.opt_out(users[1].id)
    rec = RecordingSender()
    report = await make_engine(store, {"telegram": rec}).run(b.id)
    assert rec.chats() == ["3", "4"]
    assert report.stats.skipped_by_reason == {"unreachable": 1, "opted_out": 1, "no_sender: zalo_oa": 1}


def _fast() -> dict:
    return {k: getattr(FAST, k) for k in ("backoff_base", "backoff_cap", "status_poll_seconds", "lease_seconds")}
