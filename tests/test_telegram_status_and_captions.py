"""Telegram replies through the fake Bot API: a progress message edited in place (the
channel-neutral status API) and a photo caption over 1,024 characters (issue 17)."""

from __future__ import annotations

import pytest

from bot.channels.base import ChannelRegistry
from handlers.types import Button, Photo, Reply
from tests.fakes.telegram_api import FakeTelegramServer, tiny_png
from tests.harness import config_for, running_bot, telegram_env

USER = 5301


@pytest.fixture
async def fake():
    async with FakeTelegramServer() as server:
        yield server


async def test_a_status_message_is_sent_once_then_edited_in_place(fake, tmp_path) -> None:
    async with running_bot(config_for(tmp_path, env=telegram_env(fake))) as runtime:
        fake.push_update(fake.user_message(USER, "/start"))
        await fake.wait_for(method="sendMessage", chat_id=USER)
        mark = fake.mark()
        status = await runtime.registry.open_status("telegram", str(USER), "⏳ 0/10")
        assert status is not None
        await status.edit("⏳ 5/10")
        await status.edit("⏳ 10/10")
        [sent] = fake.requests("sendMessage", chat_id=USER, since=mark)
        edits = fake.requests("editMessageText", since=mark)
        assert [e.params["text"] for e in edits] == ["⏳ 5/10", "⏳ 10/10"]
        message_id = sent.result["message_id"]
        assert fake.message(USER, message_id)["text"] == "⏳ 10/10"


async def test_a_channel_that_cannot_edit_sends_the_status_once_and_nothing_more() -> None:
    sent: list[tuple[str, str]] = []

    class PlainChannel:
        name = "plain"

        async def send(self, user_id: str, reply: Reply) -> None:
            sent.append((user_id, reply.text))

    registry = ChannelRegistry()
    registry.add(PlainChannel())  # type: ignore[arg-type]
    status = await registry.open_status("plain", "u1", "⏳ 0/10")
    assert status is not None
    await status.edit("⏳ 5/10")
    assert sent == [("u1", "⏳ 0/10")]
    assert await registry.open_status("nowhere", "u1", "⏳") is None


async def test_a_caption_over_1024_characters_is_cut_and_the_rest_sent_after(fake, tmp_path) -> None:
    text = "\n".join(f"• Tình nguyện viên số {i}: {i * 7} đăng ký, {i * 3} qua đường dẫn" for i in range(60))
    assert 1024 < len(text) < 4096
    async with running_bot(config_for(tmp_path, env=telegram_env(fake))) as runtime:
        fake.push_update(fake.user_message(USER, "/start"))
        await fake.wait_for(method="sendMessage", chat_id=USER)
        mark = fake.mark()
        reply = Reply(text, photo=Photo(tiny_png()), buttons=[[Button("⬅️ Menu", "menu:main")]])
        assert await runtime.registry.deliver("telegram", str(USER), reply)
        [photo] = fake.requests("sendPhoto", chat_id=USER, since=mark)
        rest = fake.requests("sendMessage", chat_id=USER, since=mark)
    caption = photo.params.get("caption", "")
    assert 0 < len(caption) <= 1024 and text.startswith(caption), "the caption is the text's start"
    assert caption.endswith("đường dẫn"), "cut at a line's end, not inside a word"
    assert [r.params["text"] for r in rest] and "\n".join([caption, *(r.params["text"] for r in rest)]) == text
    assert "reply_markup" not in photo.params, "the buttons go under the text's end"
    assert "menu:main" in str(rest[-1].params["reply_markup"])
