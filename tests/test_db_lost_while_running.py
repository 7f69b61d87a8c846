"""PostgreSQL lost while the bot runs (issue 12, faults): the bot keeps running, retries,
says so in the log without flooding it, and once the database is back every message
sent meanwhile is answered, once. Nothing acknowledged is lost: an update is written
to the journal before Telegram is told it arrived, so while the database is away
Telegram keeps the updates and sends them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.conftest import PG_ADMIN_URL, postgres_database
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import bot_idle, config_for, running_bot, telegram_env, wait_until

WORKER = 7301


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


async def cut(name: str) -> None:
    """The database goes away: no new sessions, and the open ones end."""
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()


async def restore(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


def answered(fake: FakeTelegramServer) -> list[str]:
    return [m.get("text") or "" for m in fake.sent_messages(WORKER)]


async def test_messages_sent_while_the_database_is_away_are_answered_once_when_it_is_back(
    fake, tmp_path, caplog
) -> None:
    async with postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        cfg = config_for(tmp_path, env=telegram_env(fake), db=url)
        async with running_bot(cfg) as runtime:
            fake.push_update(fake.user_message(WORKER, "/help"))
            await wait_until(lambda: len(answered(fake)) == 1, 10, "the first answer")
            await bot_idle(runtime)

            await cut(name)
            try:
                with caplog.at_level(logging.WARNING):
                    for text in ("/start", "/help", "luong toi thieu vung 1"):
                        fake.push_update(fake.user_message(WORKER, text))
                    await asyncio.sleep(12)  # polls, retries and the background rounds (every 5 s) meet it
                assert len(answered(fake)) == 1, "nothing answered without the database"
                assert runtime.started, "the bot still runs"
                # The log says so, once per part that met it, not a line per retry (polls
                # every few hundred ms, background rounds every few seconds).
                said = Counter(
                    f"{r.name}: {r.getMessage()[:25]}" for r in caplog.records if r.levelno >= logging.WARNING
                )
                assert any("database is out of reach" in r.getMessage() for r in caplog.records)
                assert said and max(said.values()) == 1, said
            finally:
                await restore(name)
            await wait_until(lambda: len(answered(fake)) >= 4, 60, "the answers after the database is back")
            await bot_idle(runtime, 30)  # every update finished: a duplicate would be in by now
            texts = answered(fake)
            assert len(texts) == 4, texts
            assert "vùng I" in texts[-1] or "Vùng I" in texts[-1] or "4.960.000" in texts[-1], texts[-1][:200]


async def test_a_flood_on_a_small_pool_queues_for_connections_and_answers_everyone(fake, tmp_path) -> None:
    """Two pooled connections for 120 updates from 40 workers at once: handlers wait for
    a connection instead of failing, and every message is answered once."""
    workers = range(7400, 7440)
    async with postgres_database() as url:
        cfg = config_for(tmp_path, env=telegram_env(fake), db=url, toml="[storage]\npool_size = 2\n")
        async with running_bot(cfg) as runtime:
            assert runtime.store.max_size == 2  # type: ignore[attr-defined]
            fake.push_updates(fake.user_message(w, text) for text in ("/start", "/help", "bhxh") for w in workers)
            await wait_until(lambda: len(fake.sent_messages()) >= 120, 90, "every answer")
            await bot_idle(runtime, 30)
    for w in workers:
        assert len(fake.sent_messages(w)) == 3, w
