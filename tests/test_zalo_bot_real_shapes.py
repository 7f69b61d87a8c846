"""Zalo Bot updates shaped as the real platform sends them (reference zalo-real-payloads.md).

* The official getUpdates sample has no `event_name`: the kind is read from the fields
  present, so "Xin chào" is answered as text, not "I can only read text" (item 14).
* Images carry `photo_url`; senders carry `first_name` (item 14).
* Updates without `message_id` are told apart by sender, chat, time and content, so a
  second worker's message is not dropped as a repeat of the first's (item 5).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.channels.zalo.bot_client import BotUpdateKind, parse_bot_update
from handlers.i18n import load_catalog
from tests.fakes.zalo_servers import (
    FakeZaloBot,
    bot_doc_update,
    bot_image_update,
    bot_sticker_update,
    bot_text_update,
)
from tests.harness import wait_until
from tests.zalo_harness import bot_env, running

CATALOG = load_catalog()
UNSUPPORTED = CATALOG.t("vi", "fallback.unsupported")

# Verbatim from the reference (BOT_GETUPDATES_DOC, BOT_IMAGE_PHOTO_URL).
GETUPDATES_DOC = (
    '{"ok": true, "result": {"message": {"chat": {"id": "e4ea2cd5189df1c3a88c", "chat_type": "PRIVATE"}, '
    '"text": "Xin chào", "message_id": "16f6366b3f02645a3d15", "date": 1766619597466, '
    '"from": {"id": "e4ea2cd5189df1c3a88c", "first_name": "Nguyen Van A"}}}}'
)
IMAGE_PHOTO_URL = (
    '{"event_name": "message.image.received", "message": {"message_id": "img-1", "date": 1750316131602, '
    '"photo_url": "https://example.com/photo.jpg", "caption": "ảnh", "from": {"id": "u-img", '
    '"display_name": "A", "is_bot": false}, "chat": {"id": "u-img", "chat_type": "PRIVATE"}}}'
)


@pytest.fixture
async def bot():
    async with FakeZaloBot() as server:
        yield server


def texts_to(bot: FakeZaloBot, chat_id: str) -> list[str]:
    return [s.text or "" for s in bot.sent if s.chat_id == chat_id and s.method == "sendMessage"]


def test_the_official_sample_without_event_name_is_text_with_first_name() -> None:
    update = parse_bot_update(GETUPDATES_DOC)
    assert update.kind is BotUpdateKind.TEXT
    assert update.text == "Xin chào" and update.display_name == "Nguyen Van A"
    assert update.user_id == update.chat_id == "e4ea2cd5189df1c3a88c"


def test_photo_url_is_read() -> None:
    update = parse_bot_update(IMAGE_PHOTO_URL)
    assert update.kind is BotUpdateKind.IMAGE
    assert update.photo_url == "https://example.com/photo.jpg" and update.text == "ảnh"


@pytest.mark.parametrize(
    ("update", "kind"),
    [
        pytest.param(bot_image_update("u", event_name=None), BotUpdateKind.IMAGE, id="photo_url"),
        pytest.param(bot_sticker_update("u", event_name=None), BotUpdateKind.STICKER, id="sticker"),
        pytest.param(bot_doc_update("u", "hi", wrapped=False), BotUpdateKind.TEXT, id="text"),
        pytest.param(
            {"message": {"from": {"id": "u"}, "chat": {"id": "u"}, "date": 1}}, BotUpdateKind.UNKNOWN, id="nothing"
        ),
    ],
)
def test_the_kind_is_inferred_from_the_fields_present(update: dict, kind: BotUpdateKind) -> None:
    assert parse_bot_update(json.dumps(update)).kind is kind


def test_dedupe_keys_without_message_id_tell_messages_apart() -> None:
    a = parse_bot_update(bot_doc_update("user-a", "Xin chào", date_ms=1766619597466))
    b = parse_bot_update(bot_doc_update("user-b", "Xin chào", date_ms=1766619597466))
    a_later = parse_bot_update(bot_doc_update("user-a", "Xin chào", date_ms=1766619599999))
    a_other = parse_bot_update(bot_doc_update("user-a", "Tạm biệt", date_ms=1766619597466))
    a_again = parse_bot_update(bot_doc_update("user-a", "Xin chào", date_ms=1766619597466))
    keys = {u.dedup_key for u in (a, b, a_later, a_other)}
    assert len(keys) == 4
    assert a_again.dedup_key == a.dedup_key
    assert "Xin" not in a.dedup_key  # the text is hashed, never stored in the clear


async def test_xin_chao_from_the_official_sample_is_answered_as_text(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        bot.push_update(json.loads(GETUPDATES_DOC)["result"])
        chat = "e4ea2cd5189df1c3a88c"
        await wait_until(lambda: bool(texts_to(bot, chat)))
        await h.settle()
        assert texts_to(bot, chat) and UNSUPPORTED not in texts_to(bot, chat)[0]


async def test_two_workers_without_message_ids_are_both_answered_and_a_repeat_once(
    tmp_path: Path,
    bot: FakeZaloBot,
) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        first = bot_doc_update("worker-a", "/help", wrapped=False, date_ms=1766619597466)
        second = bot_doc_update("worker-b", "/help", wrapped=False, date_ms=1766619597466)
        bot.push_update(first)
        bot.push_update(second)
        bot.push_update(first)  # Zalo delivering the first again
        await wait_until(lambda: bool(texts_to(bot, "worker-a")) and bool(texts_to(bot, "worker-b")))
        bot.push_update(bot_text_update("worker-a", "/whoami"))  # after the repeat, in order
        await wait_until(lambda: len(texts_to(bot, "worker-a")) >= 2)
        await h.settle()
        help_text = CATALOG.t("vi", "help.text")
        assert sum(help_text in t for t in texts_to(bot, "worker-a")) == 1
        assert sum(help_text in t for t in texts_to(bot, "worker-b")) == 1


async def test_an_image_sent_as_photo_url_without_event_name_gets_the_unsupported_answer(
    tmp_path: Path,
    bot: FakeZaloBot,
) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        bot.push_update(bot_image_update("worker-c", event_name=None))
        await wait_until(lambda: bool(texts_to(bot, "worker-c")))
        await h.settle()
        assert UNSUPPORTED in texts_to(bot, "worker-c")[0]
