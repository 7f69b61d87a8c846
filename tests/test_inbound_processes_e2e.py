"""Two bots on one PostgreSQL database behind a load balancer (issue 12): a worker's
messages reach either process's webhook, and are still answered once each and in the
order they were sent. Two Runtimes in one test process stand for the two processes:
each has its own store (connections, instance, liveness lock) and its own web server.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import Runtime
from tests.conftest import postgres_database
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import bot_idle, config_for, running_bot, telegram_env

SECRET = "two-process-secret"
TOML = '[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.org/telegram/webhook"\n'
# Different kinds of messages with different replies, some quick (commands), some slower
# (rights questions through the engine), so that handling in two processes overlaps.
SEQUENCE = [
    "/help",
    "luong toi thieu vung 1 la bao nhieu",
    "/start",
    "nghi phep nam bao nhieu ngay",
    "/help",
    "cty ko dong bhxh cho em thi sao",
    "/start",
    "lam them gio toi da bao nhieu",
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


def texts(fake: FakeTelegramServer, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in fake.sent_messages(chat_id)]


async def post(http: httpx.AsyncClient, runtime: Runtime, update_id: int, body: dict) -> None:
    response = await http.post(
        f"http://127.0.0.1:{runtime.web_port}/telegram/webhook",
        json={"update_id": update_id, **body},
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )
    assert response.status_code == 200


async def test_one_workers_messages_through_two_processes_are_answered_once_in_order(fake, tmp_path) -> None:
    env = {**telegram_env(fake), "TELEGRAM_WEBHOOK_SECRET": SECRET}
    alone, together = 7101, 7102
    rng = random.Random(3)
    fake.register_chats([alone, together])  # webhook updates do not pass the fake's queue
    async with postgres_database() as url:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        cfg_a = config_for(tmp_path / "a", env=env, toml=TOML, db=url)
        cfg_b = config_for(tmp_path / "b", env=env, toml=TOML, db=url)
        async with running_bot(cfg_a) as a, running_bot(cfg_b) as b, httpx.AsyncClient(timeout=30) as http:
            # What one process answers, one message at a time: the expected replies.
            for n, text in enumerate(SEQUENCE):
                before = len(fake.sent_messages(alone))
                await post(http, a, 1000 + n, fake.user_message(alone, text))
                for _ in range(1000):
                    if len(fake.sent_messages(alone)) > before:
                        break
                    await asyncio.sleep(0.01)
                await bot_idle(a)
            expected = texts(fake, alone)
            assert len(expected) >= len(SEQUENCE)

            # The same messages from another worker, sent back to back (each acknowledged
            # before the next is sent), each to either process.
            for n, text in enumerate(SEQUENCE):
                await post(http, rng.choice([a, b]), 2000 + n, fake.user_message(together, text))
            for _ in range(3000):
                if len(fake.sent_messages(together)) >= len(expected):
                    break
                await asyncio.sleep(0.01)
            await bot_idle(a, 30)
            await bot_idle(b, 30)
        got = texts(fake, together)
    assert got == expected, "each message answered once, in the order sent"
