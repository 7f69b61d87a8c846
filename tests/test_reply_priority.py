"""Replies and broadcasts share one pacer per bot token and per Zalo app, replies first
(issue 14, item 11)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import httpx

from bot.broadcast.limits import ChannelLimiter, ChannelLimits, Priority
from tests.fakes.telegram_api import FakeTelegramServer
from tests.fakes.zalo_servers import FakeZaloBot, FakeZaloOA, bot_text_update, oa_text_event, signed_oa_webhook
from tests.harness import bot_idle, config_for, running_bot, telegram_env, wait_until
from tests.zalo_harness import OA_SECRET, bot_env, oa_env

RATE = 50.0  # 20 ms apart: small numbers, fast


async def test_a_reply_overtakes_a_queued_broadcast() -> None:
    limiter = ChannelLimiter(ChannelLimits(rate=RATE, per_chat_interval=0))
    order: list[str] = []

    async def send(name: str, priority: Priority) -> None:
        await limiter.acquire(name, priority=priority)
        order.append(name)

    bulk = [asyncio.create_task(send(f"b{i}", Priority.BROADCAST)) for i in range(10)]
    await asyncio.sleep(0.03)  # the broadcast is under way, most of it queued
    await send("reply", Priority.REPLY)
    await asyncio.gather(*bulk)
    # Next in line after what was already in its turn, not behind the whole queue.
    assert order.index("reply") <= 3, order
    # Broadcasts kept their own order.
    assert [n for n in order if n != "reply"] == [f"b{i}" for i in range(10)]


class VirtualTime:
    """The pacer's clock and sleep, on virtual time (one sleeper at a time: the turn's holder)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


async def test_replies_count_against_the_same_limit() -> None:
    vt = VirtualTime()
    limiter = ChannelLimiter(ChannelLimits(rate=RATE, per_chat_interval=0), clock=vt.clock, sleep=vt.sleep)
    times: list[float] = []

    async def send(name: str, priority: Priority) -> None:
        await limiter.acquire(name, priority=priority)
        times.append(vt.now)

    await asyncio.gather(*(send(f"c{i}", Priority(i % 2)) for i in range(60)))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / RATE - 1e-9
    # Never more than RATE departures in any one second, replies and broadcasts together.
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= RATE


async def test_a_cancelled_waiter_does_not_block_the_pacer() -> None:
    limiter = ChannelLimiter(ChannelLimits(rate=RATE, per_chat_interval=0))
    await limiter.acquire("a")
    waiter = asyncio.create_task(limiter.acquire("b", priority=Priority.REPLY))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.wait_for(limiter.acquire("c"), timeout=1)


async def test_the_running_bot_shares_one_pacer_between_replies_and_broadcasts(tmp_path: Path) -> None:
    async with FakeTelegramServer() as fake:
        config = config_for(tmp_path, env=telegram_env(fake))
        async with running_bot(config) as runtime:
            channel = runtime.test_channels[0]  # type: ignore[attr-defined]
            engine = runtime.services.broadcast_control.engine
            assert channel.limiter is not None and engine.limiters["telegram"] is channel.limiter
            # A reply goes through it, first in line.
            before = channel.limiter._acquired
            fake.push_update(fake.user_message(4242, "/help"))
            await fake.wait_for(method="sendMessage", chat_id=4242, timeout=10)
            assert channel.limiter._acquired == before + 1


def record_priorities(limiter: ChannelLimiter) -> list[Priority]:
    """Every turn taken through `limiter.acquire`, by priority (the real pacer still paces)."""
    taken: list[Priority] = []
    real = limiter.acquire

    async def acquire(chat: str, *, group: bool = False, priority: Priority = Priority.BROADCAST) -> None:
        taken.append(priority)
        await real(chat, group=group, priority=priority)

    limiter.acquire = acquire  # type: ignore[method-assign]
    return taken


async def test_the_running_bot_shares_one_pacer_per_zalo_app_replies_first(tmp_path: Path) -> None:
    """The Zalo OA and the Zalo Bot: each app's replies and its broadcasts take turns from
    one pacer, and every part of a reply takes its turn first in line."""
    async with FakeZaloOA() as oa, FakeZaloBot(max_poll_wait=0.2) as zbot:
        config = config_for(tmp_path, env={**oa_env(tmp_path, oa), **bot_env(tmp_path, zbot)})
        async with running_bot(config) as runtime, httpx.AsyncClient() as http:
            channels = {c.name: c for c in runtime.test_channels}  # type: ignore[attr-defined]
            engine = runtime.services.broadcast_control.engine
            taken = {}
            for name in ("zalo_oa", "zalo_bot"):
                limiter = channels[name].limiter
                assert limiter is not None and engine.limiters[name] is limiter, name
                taken[name] = record_priorities(limiter)

            body, headers = signed_oa_webhook(oa_text_event("oa-worker-1", "/help", app_id=oa.app_id), OA_SECRET)
            url = f"http://127.0.0.1:{runtime.web_port}/zalo/oa/webhook"
            assert (await http.post(url, content=body, headers=headers)).status_code == 200
            zbot.push_update(bot_text_update("bot-worker-1", "/help"))
            await wait_until(lambda: any(m.user_id == "oa-worker-1" for m in oa.delivered), 10, "the OA reply")
            await wait_until(
                lambda: any(s.chat_id == "bot-worker-1" and s.text for s in zbot.sent), 10, "the Bot reply"
            )
            await bot_idle(runtime)

            oa_parts = [m for m in oa.delivered if m.user_id == "oa-worker-1"]
            # "typing…" is no message and takes no turn
            bot_parts = [s for s in zbot.sent if s.chat_id == "bot-worker-1" and s.method != "sendChatAction"]
            assert taken["zalo_oa"] == [Priority.REPLY] * len(oa_parts)
            assert taken["zalo_bot"] == [Priority.REPLY] * len(bot_parts)


async def test_the_window_counts_a_message_from_its_answer() -> None:
    vt = VirtualTime()
    limiter = ChannelLimiter(ChannelLimits(rate=RATE, per_chat_interval=0), clock=vt.clock, sleep=vt.sleep)
    for i in range(int(RATE)):
        await limiter.acquire(f"c{i}")
    # The first message's answer came late: the platform may have counted it late too.
    vt.now = 0.5
    limiter.sent("c0")
    await limiter.acquire("next")
    assert vt.now >= 0.5 + 1.0
