"""Detached replies on the Zalo Bot channel: the requester's next answer does not wait
for the officers' notices of an erasure request (see the Telegram twin,
tests/test_detached_replies_telegram_e2e.py, for the finding)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from storage import Role
from tests.console_support import add_signup
from tests.fakes.zalo_servers import FakeZaloBot, bot_text_update
from tests.harness import wait_until
from tests.zalo_harness import BotChat, bot_env, running

STRANGER = "5a1b2c3d4e5f60718293"
OFFICERS = ("0f1e2d3c4b5a69788796", "1f2e3d4c5b6a79889706")
LATENCY = 1.5  # seconds each answer to an officer's chat takes


@pytest.fixture
async def bot():  # type: ignore[no-untyped-def]
    async with FakeZaloBot(max_poll_wait=0.2) as server:
        yield server


def texts_to(bot: FakeZaloBot, chat_id: str) -> list[str]:
    return [s.text or "" for s in bot.sent if s.method == "sendMessage" and s.chat_id == chat_id]


async def test_officer_notices_do_not_delay_the_requester_s_next_answer(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        store = h.runtime.store
        for officer in OFFICERS:
            await BotChat(bot, h, officer).say("/start")
            user = await store.find_user("zalo_bot", officer)
            assert user is not None
            await store.set_role(user.id, Role.ORGANIZER)
            await store.add_organizer_provinces(user.id, ["ho_chi_minh"], None)
        signup_id = await add_signup(store, "Nguyễn Thị Lan", "+84912345678", province="ho_chi_minh")
        stranger = BotChat(bot, h, STRANGER)
        await stranger.say("/forget 0912345678")
        erase = stranger.number_of("Xóa hết")
        seen = len(texts_to(bot, STRANGER))

        bot.set_latency(LATENCY, chats=OFFICERS)
        started = time.monotonic()
        bot.push_update(bot_text_update(STRANGER, erase))
        bot.push_update(bot_text_update(STRANGER, "/start"))  # right after the choice
        await wait_until(lambda: len(texts_to(bot, STRANGER)) >= seen + 2, timeout=10, what="both answers")
        elapsed = time.monotonic() - started
        done, welcome = texts_to(bot, STRANGER)[seen : seen + 2]
        assert "cán bộ công đoàn sẽ gọi" in done and "Xin chào" in welcome
        # Before the fix: one slow round-trip per officer (2 x 1.5 s) before /start's turn.
        assert elapsed < LATENCY, f"the answer to /start waited {elapsed:.2f} s behind the officers' notices"

        # The officers are still told, each once.
        await h.bot.detached.idle()
        for officer in OFFICERS:
            [notice] = [t for t in texts_to(bot, officer) if "/erasure" in t]
            assert f"#{signup_id}" in notice
    assert h.bot.detached.pending == 0
