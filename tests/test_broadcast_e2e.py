"""The whole bot on the fake Bot API: workers subscribe with buttons, an organizer
schedules a Workers' Month announcement in the chat, subscribers get it once, in their
language, and the organizer gets the summary."""

from __future__ import annotations

import asyncio

from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import button_labels, config_for, running_bot, telegram_env

ORGANIZER = 9000
WORKERS = [101, 102, 103]
ENGLISH = 104
STOPPED = 105

# Quiet hours off: the test must pass at any time of day.
CONFIG = f"""
[telegram]
admins = [{ORGANIZER}]

[broadcast]
quiet_start = "00:00"
quiet_end = "00:00"

[[broadcast.topics]]
id = "workers_month"
name_vi = "Tháng Công nhân"
name_en = "Workers' Month"

[[broadcast.topics]]
id = "union_news"
name_vi = "Tin công đoàn"
name_en = "Union news"
"""


async def say(fake: FakeTelegramServer, user: int, text: str, **kw) -> None:  # type: ignore[no-untyped-def]
    mark = fake.mark()
    fake.push_update(fake.user_message(user, text, **kw))
    await fake.wait_for(method="sendMessage", chat_id=user, since=mark)


async def press(fake: FakeTelegramServer, user: int, label: str) -> None:
    mark = fake.mark()
    fake.push_update(fake.press_button(user, label))
    await fake.wait_for(lambda r: r.method in {"sendMessage", "editMessageText"}, chat_id=user, since=mark)


async def test_workers_month_announcement_from_the_chat(tmp_path, db_url) -> None:
    async with FakeTelegramServer() as fake:
        cfg = config_for(tmp_path, toml=CONFIG, env=telegram_env(fake), db=db_url)
        async with running_bot(cfg) as runtime:
            for user in WORKERS:
                await say(fake, user, "/news")
                await press(fake, user, "➕ Tháng Công nhân")
            await say(fake, ENGLISH, "/lang en", language_code="en")
            await say(fake, ENGLISH, "/news")
            await press(fake, ENGLISH, "➕ Workers' Month")
            await say(fake, STOPPED, "/news")
            await press(fake, STOPPED, "➕ Tháng Công nhân")
            await say(fake, STOPPED, "Dừng")
            assert "Đã dừng" in fake.sent_messages(STOPPED)[-1]["text"]

            await say(fake, ORGANIZER, "/broadcast")
            await press(fake, ORGANIZER, "✍️ Soạn thông báo mới")
            await say(fake, ORGANIZER, "Chào mừng Tháng Công nhân 2025! Hội thao công nhân sáng Chủ nhật.")
            await say(fake, ORGANIZER, "Welcome to Workers' Month 2025! Workers' sports day on Sunday morning.")
            await press(fake, ORGANIZER, "⏭ Không kèm ảnh")
            await press(fake, ORGANIZER, "▫️ Tháng Công nhân")
            await press(fake, ORGANIZER, "Tiếp ➡️")
            mark = fake.mark()
            await press(fake, ORGANIZER, "🚀 Gửi ngay")
            preview = await fake.wait_for(
                lambda r: "Xác nhận" in (r.params.get("text") or ""),
                method="sendMessage",
                chat_id=ORGANIZER,
                since=mark,
            )
            assert "4 người" in preview.params["text"]
            await press(fake, ORGANIZER, "✅ Xác nhận")

            summary = await fake.wait_for(
                lambda r: r.ok and "📊" in (r.params.get("text") or ""),
                method="sendMessage",
                chat_id=ORGANIZER,
                timeout=10,
            )
            assert "đã gửi 4" in summary.params["text"]
            for user in WORKERS:
                got = [m["text"] for m in fake.sent_messages(user) if "Hội thao" in m.get("text", "")]
                assert len(got) == 1 and got[0].endswith("/news để chọn chủ đề.")
            (english,) = [m["text"] for m in fake.sent_messages(ENGLISH) if "sports day" in m.get("text", "")]
            assert english.startswith("Welcome to Workers' Month 2025!")
            assert not [m for m in fake.sent_messages(STOPPED) if "Hội thao" in m.get("text", "")]
            assert fake.duplicate_send_count == 0
            (b,) = await runtime.store.list_broadcasts()
            assert b.status.value == "done" and b.created_by is not None
            await asyncio.sleep(0)
    assert fake.internal_errors == []


async def act_until(fake: FakeTelegramServer, update: dict, shown: str) -> None:  # type: ignore[type-arg]
    """Push an update and wait until the organizer is sent a message containing `shown`
    (a turn may send several messages: the screen wanted is not always the first)."""
    mark = fake.mark()
    fake.push_update(update)
    await fake.wait_for(
        lambda r: shown in (r.params.get("text") or ""), method="sendMessage", chat_id=ORGANIZER, since=mark
    )


async def test_a_typo_seen_in_the_preview_is_fixed_and_only_the_fix_goes_out(tmp_path, db_url) -> None:
    typo = "Hội thao công nhân sáng Chủ nhật lúc 7 giơ tại sân vận đông."
    fixed = "Hội thao công nhân sáng Chủ nhật lúc 7 giờ tại sân vận động."
    async with FakeTelegramServer() as fake:
        cfg = config_for(tmp_path, toml=CONFIG, env=telegram_env(fake), db=db_url)
        async with running_bot(cfg) as runtime:
            for user in WORKERS:
                await say(fake, user, "/news")
                await press(fake, user, "➕ Tháng Công nhân")
            await say(fake, ORGANIZER, "/broadcast new")
            await say(fake, ORGANIZER, typo)
            await press(fake, ORGANIZER, "⏭ Bỏ qua")
            await press(fake, ORGANIZER, "⏭ Không kèm ảnh")
            await press(fake, ORGANIZER, "▫️ Tháng Công nhân")
            await press(fake, ORGANIZER, "Tiếp ➡️")
            await act_until(fake, fake.press_button(ORGANIZER, "🚀 Gửi ngay"), "Xác nhận")
            assert any(m.get("text", "").startswith(typo) for m in fake.sent_messages(ORGANIZER))

            await act_until(fake, fake.press_button(ORGANIZER, "✏️ Sửa nội dung"), "Gửi nội dung mới")
            assert typo in [m.get("text") for m in fake.sent_messages(ORGANIZER)][-2:], "the text to copy"
            await act_until(fake, fake.user_message(ORGANIZER, fixed), "Xác nhận")
            preview = [m.get("text", "") for m in fake.sent_messages(ORGANIZER)][-3:]
            assert preview[1].startswith(fixed) and "3 người" in preview[2] and "gửi ngay" in preview[2]
            assert "✏️ Sửa nội dung" in button_labels(fake.sent_messages(ORGANIZER)[-1])
            await press(fake, ORGANIZER, "✅ Xác nhận")

            summary = await fake.wait_for(
                lambda r: r.ok and "📊" in (r.params.get("text") or ""),
                method="sendMessage",
                chat_id=ORGANIZER,
                timeout=10,
            )
            assert "đã gửi 3" in summary.params["text"]
            for user in WORKERS:
                got = [m["text"] for m in fake.sent_messages(user) if "Hội thao" in m.get("text", "")]
                assert len(got) == 1 and got[0].startswith(fixed), got
            (b,) = await runtime.store.list_broadcasts()
            assert b.text_vi == fixed and b.status.value == "done"
            # The organizer saw the typo twice (the preview, then the text to copy): workers never.
            assert [chat for chat, _, _ in fake.duplicate_sends() if chat != ORGANIZER] == []
    assert fake.internal_errors == []
