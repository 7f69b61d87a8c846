"""Inbound updates survive a crash (issue 14, item 10).

An update being handled when the process is killed was lost: PTB had already
confirmed its offset, so Telegram would not send it again. Now each update is
journaled before it is acknowledged and replayed at the next start.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.journal import JOURNAL_TTL, InboundJournal
from storage import Store
from storage.sqlite import SQLiteStore
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import twin, wait_until

ROOT = Path(__file__).resolve().parents[1]
BUTTON_USER = 5101
TEXT_USER = 5102
QUESTION = "Công ty nợ lương hai tháng thì tôi phải làm gì?"


def _answers(fake, chat_id: int, since: int) -> list:  # type: ignore[no-untyped-def]
    return [
        r
        for r in fake.requests(since=since)
        if r.method in ("sendMessage", "editMessageText", "sendPhoto", "sendDocument") and r.chat_id == chat_id and r.ok
    ]


class BotProcess:
    def __init__(self, tmp_path: Path, fake: FakeTelegramServer) -> None:
        self.hold = tmp_path / "hold"
        (tmp_path / "bot.toml").write_text('[bot]\nlog_level = "WARNING"\n', encoding="utf-8")
        self.env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "UNIONBOT_DB": str(tmp_path / "bot.sqlite3"),
            "UNIONBOT_CONFIG": str(tmp_path / "bot.toml"),
            "UNIONBOT_TEST_HOLD": str(self.hold),
            "PYTHONPATH": str(ROOT),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp_path / "bot.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.held_bot", "run"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    async def journal_empty(self) -> bool:
        """Whether the bot process finished every update it took (its inbound journal,
        read from its database file: the same condition as harness.bot_idle)."""
        store = SQLiteStore(self.env["UNIONBOT_DB"])
        await store.open()
        try:
            return await store.journal_entries("telegram") == []
        finally:
            await store.close()

    def held(self) -> list[str]:
        path = Path(f"{self.hold}.held")
        return path.read_text().split() if path.exists() else []


async def test_kill_9_during_a_button_press_and_a_question_then_exactly_one_reply_each(tmp_path: Path) -> None:
    async with FakeTelegramServer() as fake:
        bot = BotProcess(tmp_path, fake)
        try:
            bot.start()
            since = fake.mark()
            fake.push_update(fake.user_message(BUTTON_USER, "/start"))
            await fake.wait_for(method="sendMessage", chat_id=BUTTON_USER, since=since, timeout=60)

            # From here every handler stops before dispatching, until the hold goes.
            bot.hold.touch()
            since = fake.mark()
            fake.push_update(fake.press_button(BUTTON_USER, "🌐 Ngôn ngữ / Language"))
            fake.push_update(fake.user_message(TEXT_USER, QUESTION))
            await wait_until(lambda: len(bot.held()) == 2, 30, "both updates to be in their handlers")
            assert sorted(bot.held()) == ["button", "text"]
            # Telegram has forgotten both: PTB confirmed the offset with its next poll.
            await wait_until(lambda: fake.pending_updates == 0, 30, "the offset to be confirmed")
            bot.kill()
            assert _answers(fake, BUTTON_USER, since) == [] and _answers(fake, TEXT_USER, since) == []

            bot.hold.unlink()
            bot.start()
            await wait_until(
                lambda: _answers(fake, BUTTON_USER, since) and _answers(fake, TEXT_USER, since),
                60,
                "the replies after the restart",
            )
            # Give a duplicate every chance to show up before counting: a later update is
            # answered, and the bot's journal holds nothing unfinished (nothing in flight).
            marker = fake.mark()
            fake.push_update(fake.user_message(BUTTON_USER + 100, "/help"))
            await fake.wait_for(method="sendMessage", chat_id=BUTTON_USER + 100, since=marker, timeout=30)
            await wait_until(bot.journal_empty, 30, "the bot to finish every update")
            assert len(_answers(fake, BUTTON_USER, since)) == 1
            assert len(_answers(fake, TEXT_USER, since)) == 1
        finally:
            bot.stop()
        # Finished updates leave nothing of the workers' text behind.
        store = SQLiteStore(tmp_path / "bot.sqlite3")
        async with store:
            assert await store.journal_entries("telegram") == []


@pytest.fixture
def store(backend: Store) -> Store:
    """The journal part of the store contract, run against every backend."""
    return backend


@asynccontextmanager
async def previous_run(store: Store, channel: str) -> AsyncIterator[InboundJournal]:
    """The journal of the process that ran before `store`'s, on the same database; it
    stops (dies) when the block ends."""
    before = twin(store)
    await before.open()
    try:
        yield InboundJournal(before, channel)
    finally:
        await before.close()


async def test_redelivery_is_dropped_but_a_replay_is_not(store: Store) -> None:
    async with previous_run(store, "telegram") as before:
        assert await before.receive("7", "42", {"text": "hỏi"}) is True
        assert await before.receive("7", "42", {"text": "hỏi"}) is False  # the platform sent it again
    journal = InboundJournal(store, "telegram")
    # The process died before handling: the replay is offered although the key is marked.
    assert [(p.key, p.payload) for p in await journal.unfinished()] == [("7", {"text": "hỏi"})]
    await journal.finish("7")
    assert await journal.unfinished() == []
    assert await journal.receive("7", "42", {"text": "hỏi"}) is False  # handled: still a repeat


async def test_a_handled_update_is_not_replayed(store: Store) -> None:
    async with previous_run(store, "zalo_oa") as before:
        await before.receive("a", "1", {"n": 1})
        await before.receive("b", "1", {"n": 2})
        await before.handled("a")  # replies were going out when the process died
    assert [p.key for p in await InboundJournal(store, "zalo_oa").unfinished()] == ["b"]
    assert [e.key for e in await store.journal_entries("zalo_oa")] == ["b"]


async def test_forget_erases_journaled_text_and_old_rows_expire(store: Store) -> None:
    journal = InboundJournal(store, "telegram")
    user = await store.touch_user("telegram", "42", language="vi")
    await journal.receive("1", "42", {"text": "số điện thoại 0912345678"})
    await journal.receive("2", "43", {"text": "khác"})
    await store.forget_user(user.id)
    assert [e.user_ref for e in await store.journal_entries("telegram")] == ["43"]
    if isinstance(store, SQLiteStore):  # PostgreSQL's old row versions go with VACUUM (storage/postgres/store.py)
        raw = Path(store.path).read_bytes() + Path(f"{store.path}-wal").read_bytes()
        assert b"0912345678" not in raw
    assert await journal.purge(datetime.now(UTC) + JOURNAL_TTL + JOURNAL_TTL) == 1
    assert await store.journal_entries("telegram") == []


# -- Zalo: what a crash left in the journal is handled at the next start ---------------


async def _leave_in_journal(db_path: Path, channel: str, key: str, user_ref: str, update: object) -> None:
    """As if the process had died after acknowledging `update`, before handling it."""
    from bot.channels.zalo.adapter_common import journal_payload

    async with SQLiteStore(db_path) as store:
        payload = json.dumps(journal_payload(update), ensure_ascii=False)
        assert await store.journal_inbound(channel, key, user_ref, payload)


async def test_zalo_oa_event_left_by_a_crash_is_answered_once_at_start(tmp_path: Path) -> None:
    from bot.channels.zalo.webhook import parse_oa_event
    from handlers.i18n import load_catalog
    from tests.fakes.zalo_servers import FakeZaloOA, oa_text_event
    from tests.zalo_harness import oa_env, running

    worker = "6142494823000000077"
    async with FakeZaloOA(refresh_delay=0.05) as zalo:
        raw = oa_text_event(worker, "/help", app_id=zalo.app_id)
        event = parse_oa_event(raw)
        await _leave_in_journal(tmp_path / "bot.sqlite3", "zalo_oa", event.dedup_key, worker, event)
        async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
            await h.settle()
            # Zalo retries the same body (the 200 may not have reached it): dropped.
            assert (await h.post_oa(raw)).status_code == 200
            await h.settle()
            texts = [m.text or "" for m in zalo.delivered if m.user_id == worker]
            assert len(texts) == 1 and load_catalog().t("vi", "help.text")[:40] in texts[0]
            assert await h.runtime.store.journal_entries("zalo_oa") == []


async def journal_empty(store: Store) -> bool:
    return await store.journal_entries("zalo_bot") == []


async def test_zalo_bot_update_left_by_a_crash_is_answered_once_at_start(tmp_path: Path) -> None:
    from bot.channels.zalo.bot_client import parse_bot_update
    from tests.fakes.zalo_servers import FakeZaloBot, bot_text_update
    from tests.zalo_harness import bot_env, running

    chat = "bot-chat-77"
    async with FakeZaloBot(max_poll_wait=0.05) as fake:
        raw = bot_text_update(chat, "/help")
        update = parse_bot_update(raw)
        await _leave_in_journal(tmp_path / "bot.sqlite3", "zalo_bot", update.dedup_key, chat, update)
        fake.push_update(raw)  # and Zalo delivers it again: dropped as a repeat

        def replies() -> list:  # type: ignore[type-arg]
            return [m for m in fake.sent if m.chat_id == chat and m.method == "sendMessage"]

        async with running(tmp_path, bot_env(tmp_path, fake)) as h:
            await wait_until(lambda: bool(replies()), timeout=10)
            await wait_until(lambda: not fake._updates)  # polled
            await h.settle()
            await wait_until(lambda: journal_empty(h.runtime.store), what="the replayed update to be finished")
            await h.settle()
            assert len(replies()) == 1
            assert await h.runtime.store.journal_entries("zalo_bot") == []


async def test_telegram_webhook_update_is_journaled_before_the_200(tmp_path: Path) -> None:
    import httpx

    from tests.harness import bot_idle, config_for, running_bot, telegram_env

    toml = '[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.org/telegram/webhook"\n'
    async with FakeTelegramServer() as fake:
        env = {**telegram_env(fake), "TELEGRAM_WEBHOOK_SECRET": "s3cret-token_1"}
        async with running_bot(config_for(tmp_path, env=env, toml=toml)) as runtime:
            channel = runtime.test_channels[0]  # type: ignore[attr-defined]
            gate = asyncio.Event()
            real = channel.dispatcher.handle

            async def held(inbound):  # type: ignore[no-untyped-def]
                await gate.wait()
                return await real(inbound)

            channel.dispatcher.handle = held
            fake.register_chat(5201)
            update = {"update_id": 9101, **fake.user_message(5201, QUESTION)}
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_1"}
            async with httpx.AsyncClient() as http:
                url = f"http://127.0.0.1:{runtime.web_port}/telegram/webhook"
                assert (await http.post(url, json=update, headers=headers)).status_code == 200
                # In the store as soon as Telegram was told "received", still unhandled.
                [entry] = await runtime.store.journal_entries("telegram")
                assert entry.key == "9101" and entry.user_ref == "5201" and not entry.done
                # Telegram retries the same update: acknowledged, not handled twice.
                assert (await http.post(url, json=update, headers=headers)).status_code == 200
            gate.set()
            await fake.wait_for(method="sendMessage", chat_id=5201, timeout=10)
            await bot_idle(runtime)
            assert len(fake.sent_messages(5201)) == 1
            assert await runtime.store.journal_entries("telegram") == []
