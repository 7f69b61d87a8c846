"""A broadcast photo sent in the chat: an organizer composes over Telegram (the real bot
against the fake Bot API), the preview shows the photo, and each subscriber gets it once
by Telegram's file id; non-photos at the photo step are asked again, and skipping works."""

from __future__ import annotations

from bot.broadcast.limits import ChannelLimits
from bot.broadcast.senders import TelegramSender
from handlers.broadcasts.compose import FLOW
from handlers.broadcasts.render import render_message
from handlers.i18n import load_catalog
from handlers.types import Inbound, InboundKind, InboundPhoto
from storage import Role, Store
from storage.broadcasts import BroadcastPhoto
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import button_labels, config_for, running_bot, telegram_env

ORGANIZER = 9000
WORKERS = [201, 202]
ENGLISH = 203

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
"""

TEXT_VI = "Hội thao công nhân sáng Chủ nhật tại nhà văn hoá."
TEXT_EN = "Workers' sports day on Sunday morning at the cultural house."


async def send(fake: FakeTelegramServer, user: int, update: dict) -> str:
    """Push an update and return the text of the bot's answer."""
    mark = fake.mark()
    fake.push_update(update)
    answer = await fake.wait_for(method="sendMessage", chat_id=user, since=mark)
    return str(answer.params.get("text") or "")


async def press(fake: FakeTelegramServer, user: int, label: str) -> str:
    mark = fake.mark()
    fake.push_update(fake.press_button(user, label))
    answer = await fake.wait_for(
        lambda r: r.method in {"sendMessage", "editMessageText"},
        chat_id=user,
        since=mark,
    )
    return str(answer.params.get("text") or "")


async def test_organizer_broadcasts_a_photo_sent_in_the_chat(tmp_path) -> None:
    catalog = load_catalog()
    async with FakeTelegramServer() as fake:
        cfg = config_for(tmp_path, toml=CONFIG, env=telegram_env(fake))
        async with running_bot(cfg) as runtime:
            for user in WORKERS:
                await send(fake, user, fake.user_message(user, "/news"))
                await press(fake, user, "➕ Tháng Công nhân")
            await send(fake, ENGLISH, fake.user_message(ENGLISH, "/lang en", language_code="en"))
            await send(fake, ENGLISH, fake.user_message(ENGLISH, "/news"))
            await press(fake, ENGLISH, "➕ Workers' Month")

            await send(fake, ORGANIZER, fake.user_message(ORGANIZER, "/broadcast"))
            await press(fake, ORGANIZER, "✍️ Soạn thông báo mới")
            # A photo where the text is expected: the text is still asked for.
            assert "bước kèm ảnh" in await send(fake, ORGANIZER, fake.photo(ORGANIZER, caption="x"))
            await send(fake, ORGANIZER, fake.user_message(ORGANIZER, TEXT_VI))
            assert "Kèm một ảnh" in await send(fake, ORGANIZER, fake.user_message(ORGANIZER, TEXT_EN))
            # Not a photo at the photo step: a friendly word and the same step again.
            for update in (fake.user_message(ORGANIZER, "ảnh đây"), fake.sticker(ORGANIZER)):
                text = await send(fake, ORGANIZER, update)
                assert text.startswith("Bước này cần một ảnh") and "Kèm một ảnh" in text
            photo_update = fake.photo(ORGANIZER, caption="poster")
            file_id = photo_update["message"]["photo"][-1]["file_id"]
            assert "Đã nhận ảnh" in await send(fake, ORGANIZER, photo_update)
            await press(fake, ORGANIZER, "▫️ Tháng Công nhân")
            await press(fake, ORGANIZER, "Tiếp ➡️")
            mark = fake.mark()
            await press(fake, ORGANIZER, "🚀 Gửi ngay")
            summary = await fake.wait_for(
                lambda r: "Xác nhận" in str(button_labels(r.params)),
                method="sendMessage",
                chat_id=ORGANIZER,
                since=mark,
            )
            assert "3 người" in summary.params["text"] and "Zalo" in summary.params["text"]
            # The preview: each language's message as the photo's caption, by file id.
            previews = fake.requests("sendPhoto", chat_id=ORGANIZER, since=mark)
            assert [r.params["photo"] for r in previews] == [file_id, file_id]
            expected = [render_message(catalog, lang, TEXT_VI, TEXT_EN).text for lang in ("vi", "en")]
            assert [r.params["caption"] for r in previews] == expected

            await press(fake, ORGANIZER, "✅ Xác nhận")
            report = await fake.wait_for(
                lambda r: r.ok and "📊" in (r.params.get("text") or ""),
                method="sendMessage",
                chat_id=ORGANIZER,
                timeout=10,
            )
            assert "đã gửi 3" in report.params["text"]
            for user, lang in [(WORKERS[0], "vi"), (WORKERS[1], "vi"), (ENGLISH, "en")]:
                (sent,) = fake.requests("sendPhoto", chat_id=user)
                assert sent.ok and sent.params["photo"] == file_id
                assert sent.params["caption"] == expected[0 if lang == "vi" else 1]
                assert not [m for m in fake.sent_messages(user) if "Hội thao" in m.get("text", "")]
            # The organizer got the same "needs a photo" answer twice, on purpose; nobody else
            # got anything twice.
            assert [d[0] for d in fake.duplicate_sends()] == [ORGANIZER]
            (b,) = await runtime.store.list_broadcasts()
            photo = await runtime.store.get_photo(b.photo_id)
            assert photo is not None and photo.telegram_file_id == file_id and photo.data == b""
    assert fake.internal_errors == []


async def test_skip_the_photo_and_photo_at_a_text_step(make_chat, store: Store, dispatcher) -> None:
    chat = make_chat("org")
    await chat.say("/start")
    user = await store.find_user("test", "org")
    await store.set_role(user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(user.id, ["ha_noi"], None)  # organizers act within a province
    await chat.say("/broadcast new")
    await chat.say("Tin công đoàn")
    await chat.press("bcc:skip_en")
    assert "Kèm một ảnh" in chat.text()
    await chat.press("bcc:skip_photo")
    assert "bước 2/4" in chat.text()
    await chat.press("bcc:skip_photo")
    assert "bước trước" in chat.text(), "the skip button of an earlier screen is stale"
    # A photo sent at a later step is not taken as the broadcast's photo.
    replies = await dispatcher.handle(
        Inbound("test", "org", InboundKind.UNSUPPORTED, photo=InboundPhoto("ref-1")),
    )
    assert "bước kèm ảnh" in replies[0].text
    state = await store.get_state(user.id)
    assert state is not None and state.flow == FLOW and "photo_ref" not in state.data
    await chat.press("bcc:all")
    await chat.press("bcc:aud_ok")
    await chat.press("bcc:now")
    assert all(r.photo_ref is None for r in chat.last)
    await chat.press("bcc:confirm")
    (b,) = await store.list_broadcasts()
    assert b.photo_id is None


def test_a_file_id_only_photo_is_sent_on_telegram_and_left_out_elsewhere() -> None:
    photo = BroadcastPhoto(1, "photo.jpg", b"", "AgAD-file-id")
    assert photo.available_on("telegram") and not photo.available_on("zalo_oa")
    assert BroadcastPhoto(2, "a.png", b"png", None).available_on("zalo_oa")
    sender = TelegramSender(object(), ChannelLimits())  # type: ignore[arg-type]
    (part,) = sender.plan("short", photo)
    assert part.photo is photo and part.text == "short"
    long = "x" * 2000
    parts = sender.plan(long, photo)
    assert parts[0].photo is photo and parts[0].text is None and parts[1].text == long
    assert all(p.photo is None for p in sender.plan("short", BroadcastPhoto(3, "p.jpg", b"", None)))
