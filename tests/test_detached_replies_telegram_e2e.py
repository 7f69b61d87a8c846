"""Detached replies over Telegram: the real PTB Application against the fake Bot API.

Review finding: a stranger's `/forget <phone>` files an erasure request, and only a
number that signed up has officers to tell. Sent inside the stranger's own ordered
handling, one Telegram round-trip per officer, those notices held up the stranger's
next answer: its delay told whether the number signed up. They are detached now.
"""

from __future__ import annotations

import time

import pytest

from storage import Role
from tests.console_support import add_signup
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import config_for, running_bot, telegram_env

STRANGER = 7001
OFFICERS = (7002, 7003)
LATENCY = 1.5  # seconds each answer to an officer's chat takes


@pytest.fixture
async def fake():  # type: ignore[no-untyped-def]
    async with FakeTelegramServer() as server:
        yield server


def text_of(params: dict) -> str:  # type: ignore[type-arg]
    return str(params.get("text") or params.get("caption") or "")


async def test_officer_notices_do_not_delay_the_requester_s_next_answer(fake, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg) as runtime:
        store = runtime.store
        for officer in OFFICERS:  # officers who wrote to the bot, so their chats exist
            mark = fake.mark()
            fake.push_update(fake.user_message(officer, "/start"))
            await fake.wait_for(method="sendMessage", chat_id=officer, since=mark, timeout=10)
            user = await store.find_user("telegram", str(officer))
            await store.set_role(user.id, Role.ORGANIZER)
            await store.add_organizer_provinces(user.id, ["ho_chi_minh"], None)
        signup_id = await add_signup(store, "Nguyễn Thị Lan", "+84912345678", province="ho_chi_minh")

        mark = fake.mark()
        fake.push_update(fake.user_message(STRANGER, "/forget 0912345678"))
        await fake.wait_for(lambda r: "reply_markup" in r.params, chat_id=STRANGER, since=mark, timeout=10)

        # Every answer in the officers' chats is slow from now on.
        fake.set_latency(LATENCY, methods=["sendMessage"], chats=OFFICERS)
        mark = fake.mark()
        started = time.monotonic()
        fake.push_update(fake.press_button(STRANGER, "🗑 Xóa hết"))
        fake.push_update(fake.user_message(STRANGER, "/start"))  # right after the press
        done = await fake.wait_for(method="editMessageText", chat_id=STRANGER, since=mark, ok=True, timeout=10)
        await fake.wait_for(
            lambda r: "Xin chào" in text_of(r.params), method="sendMessage", chat_id=STRANGER, since=mark, timeout=10
        )
        elapsed = time.monotonic() - started
        assert "cán bộ công đoàn sẽ gọi" in text_of(done.params)
        # Before the fix: one slow round-trip per officer (2 x 1.5 s) before /start's turn.
        assert elapsed < LATENCY, f"the answer to /start waited {elapsed:.2f} s behind the officers' notices"

        # The officers are still told, each once, after the requester's own answer.
        for officer in OFFICERS:
            notice = await fake.wait_for(
                lambda r: "/erasure" in text_of(r.params),
                method="sendMessage",
                chat_id=officer,
                since=mark,
                ok=True,
                timeout=10,
            )
            assert f"#{signup_id}" in text_of(notice.params)
            assert notice.seq > done.seq, "sent after the requester's own reply"
    assert fake.internal_errors == []
    for officer in OFFICERS:
        assert sum("/erasure" in text_of(m) for m in fake.sent_messages(officer)) == 1


async def test_a_detached_notice_still_in_flight_at_stop_is_sent(fake, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Stopping waits for detached replies (up to the channel's stop timeout) before the
    bot's HTTP client closes, as it waits for the updates in flight."""
    cfg = config_for(tmp_path, env=telegram_env(fake))
    officer = OFFICERS[0]
    async with running_bot(cfg) as runtime:
        store = runtime.store
        fake.push_update(fake.user_message(officer, "/start"))
        await fake.wait_for(method="sendMessage", chat_id=officer, timeout=10)
        user = await store.find_user("telegram", str(officer))
        await store.set_role(user.id, Role.ORGANIZER)
        await store.add_organizer_provinces(user.id, ["ho_chi_minh"], None)
        await add_signup(store, "Nguyễn Thị Lan", "+84912345678", province="ho_chi_minh")
        fake.push_update(fake.user_message(STRANGER, "/forget 0912345678"))
        await fake.wait_for(lambda r: "reply_markup" in r.params, chat_id=STRANGER, timeout=10)
        fake.set_latency(LATENCY, methods=["sendMessage"], chats=[officer])
        mark = fake.mark()
        fake.push_update(fake.press_button(STRANGER, "🗑 Xóa hết"))
        await fake.wait_for(method="editMessageText", chat_id=STRANGER, since=mark, ok=True, timeout=10)
        # The notice's request has arrived but is not answered yet: stop now.
        await fake.wait_for(lambda r: "/erasure" in text_of(r.params), chat_id=officer, since=mark, timeout=10)
        (channel,) = runtime.test_channels  # type: ignore[attr-defined]
        assert channel.detached.pending == 1
    assert channel.detached.pending == 0
    [notice] = [r for r in fake.requests("sendMessage", chat_id=officer) if "/erasure" in text_of(r.params)]
    assert notice.ok, "answered before the client closed"
    assert fake.internal_errors == []
