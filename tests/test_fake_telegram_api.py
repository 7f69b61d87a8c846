"""The fake Bot API against the real python-telegram-bot client.

If PTB can talk to the fake unmodified, and the fake's errors surface as PTB's own
exceptions, tests of the bot built on this fake exercise the production code path.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import (
    DEFAULT_TOKEN,
    FakeControlError,
    FakeTelegramProcess,
    FakeTelegramServer,
    InLoopServer,
    render_text,
    tiny_png,
)
from tests.harness import wait_until

USER = 424242


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in pairs])


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as client:
        yield client


@pytest.fixture
def known_user(fake: FakeTelegramServer) -> int:
    fake.push_update(fake.user_message(USER, "xin chào", first_name="Lan"))
    return USER


# -- basics -------------------------------------------------------------------


async def test_get_me_identifies_the_bot(fake: FakeTelegramServer, bot: Bot) -> None:
    me = await bot.get_me()

    assert me.id == 110201543
    assert me.is_bot
    assert me.username == "unionbot_test_bot"
    assert fake.requests("getMe")[0].ok


async def test_send_then_edit_message_with_inline_keyboard(fake: FakeTelegramServer, bot: Bot, known_user: int) -> None:
    sent = await bot.send_message(known_user, "Chọn chủ đề", reply_markup=keyboard(("Lương", "t:wage")))

    assert sent.message_id == 2  # the user's message was 1: ids are per chat, shared by both sides
    assert sent.from_user is not None and sent.from_user.id == fake.bot_id
    assert sent.chat.id == known_user and sent.chat.first_name == "Lan"
    assert sent.reply_markup == keyboard(("Lương", "t:wage"))

    edited = await bot.edit_message_text("Đã chọn: Lương", chat_id=known_user, message_id=sent.message_id)
    assert isinstance(edited, type(sent))
    assert edited.text == "Đã chọn: Lương"
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard

    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("Đã chọn: Lương", chat_id=known_user, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="to edit not found"):
        await bot.edit_message_text("x", chat_id=known_user, message_id=999)

    await bot.edit_message_reply_markup(known_user, sent.message_id, reply_markup=keyboard(("OK", "ok")))
    current = fake.message(known_user, sent.message_id)
    assert current is not None and current["reply_markup"]["inline_keyboard"][0][0]["text"] == "OK"
    assert [m["text"] for m in fake.sent_messages(known_user)] == ["Chọn chủ đề"]  # as sent


async def test_reply_keyboard_is_validated_but_not_echoed(fake: FakeTelegramServer, bot: Bot, known_user: int) -> None:
    markup = ReplyKeyboardMarkup([[KeyboardButton("Chia sẻ số điện thoại", request_contact=True)]])

    sent = await bot.send_message(known_user, "Số điện thoại?", reply_markup=markup)

    assert sent.reply_markup is None  # Message.reply_markup only ever holds inline keyboards
    request = fake.last_request("sendMessage", chat_id=known_user)
    assert request is not None
    assert request.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True


async def test_html_is_parsed_into_entities_and_bad_html_is_rejected(bot: Bot, known_user: int) -> None:
    sent = await bot.send_message(known_user, "<b>Lương</b> tối thiểu &lt; 5tr", parse_mode="HTML")
    assert sent.text == "Lương tối thiểu < 5tr"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 5)]

    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(known_user, "lương < 5 triệu", parse_mode="HTML")
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(known_user, "Điều 1.5", parse_mode="MarkdownV2")


def test_render_text_handles_markdown_v2_and_utf16_offsets() -> None:
    text, entities = render_text("*đậm* 👍 _nghiêng_ \\.", "MarkdownV2")

    assert text == "đậm 👍 nghiêng ."
    assert entities == [
        {"offset": 0, "length": 3, "type": "bold"},
        {"offset": 7, "length": 7, "type": "italic"},  # the emoji counts as two UTF-16 units
    ]


async def test_send_photo_and_document_uploads_as_multipart(
    fake: FakeTelegramServer, bot: Bot, known_user: int
) -> None:
    photo = await bot.send_photo(known_user, tiny_png(40, 30), caption="Áp phích")
    assert photo.caption == "Áp phích"
    assert (photo.photo[-1].width, photo.photo[-1].height) == (40, 30)
    assert photo.photo[-1].file_id and photo.photo[-1].file_unique_id

    csv = b"ho_ten,so_dien_thoai\nLan,0912345678\n"
    document = await bot.send_document(known_user, csv, filename="dang_ky.csv")
    assert document.document is not None
    assert document.document.file_name == "dang_ky.csv"
    assert document.document.mime_type == "text/csv"
    assert document.document.file_size == len(csv)

    upload = fake.last_request("sendDocument")
    assert upload is not None and upload.params["document"]["upload"] == "dang_ky.csv"
    downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == csv

    again = await bot.send_photo(known_user, photo.photo[-1].file_id)  # resend by file_id
    assert again.photo[-1].file_unique_id == photo.photo[-1].file_unique_id
    assert fake.duplicate_send_count == 0  # a caption differs, so it is not the same content

    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(known_user, b"not an image")


async def test_callback_query_round_trip(fake: FakeTelegramServer, bot: Bot, known_user: int) -> None:
    shown = await bot.send_message(known_user, "Bạn là?", reply_markup=keyboard(("Công nhân", "role:w")))
    fake.push_update(fake.press_button(known_user, "Công nhân"))

    updates = await bot.get_updates(offset=2, timeout=1)
    query = updates[-1].callback_query
    assert query is not None and query.data == "role:w"
    assert query.message is not None and query.message.message_id == shown.message_id

    assert await bot.answer_callback_query(query.id, text="Đã ghi nhận")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(LookupError, match="Công nhân"):
        fake.press_button(known_user, "Quản lý")


async def test_chat_action_get_chat_caption_edit_and_delete(bot: Bot, known_user: int) -> None:
    sent = await bot.send_message(known_user, "tạm thời")

    assert await bot.send_chat_action(known_user, "typing")
    assert (await bot.get_chat(known_user)).first_name == "Lan"
    photo = await bot.send_photo(known_user, tiny_png(), caption="cũ")
    edited = await bot.edit_message_caption(known_user, photo.message_id, caption="mới")
    assert isinstance(edited, type(photo)) and edited.caption == "mới"
    with pytest.raises(BadRequest, match="no caption"):
        await bot.edit_message_caption(known_user, sent.message_id, caption="x")
    assert await bot.delete_message(known_user, sent.message_id)
    with pytest.raises(BadRequest, match="to delete not found"):
        await bot.delete_message(known_user, sent.message_id)


async def test_commands_are_kept_per_language(bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands([BotCommand("start", "Bắt đầu")], language_code="vi")

    assert [c.description for c in await bot.get_my_commands(language_code="vi")] == ["Bắt đầu"]
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert await bot.get_my_commands(language_code="en") == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start-Now", "x")])


# -- errors as PTB raises them ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "markup", "expected"),
    [
        ("", None, "Message text is empty"),
        ("   \n", None, "Message text is empty"),
        ("x" * 4097, None, "Message is too long"),
        ("ok", keyboard(("b", "x" * 65)), "Button_data_invalid"),
    ],
)
async def test_invalid_messages_raise_bad_request(
    bot: Bot, known_user: int, text: str, markup: InlineKeyboardMarkup | None, expected: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(known_user, text, reply_markup=markup)
    assert caught.value.message == expected


async def test_limits_are_inclusive(bot: Bot, known_user: int) -> None:
    assert (await bot.send_message(known_user, "x" * 4096)).text == "x" * 4096
    assert await bot.send_message(known_user, "ok", reply_markup=keyboard(("b", "đ" * 32)))  # 64 bytes
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_photo(known_user, tiny_png(), caption="c" * 1025)


async def test_unknown_chat_is_not_found(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(777, "ai đó")


async def test_blocked_chat_raises_forbidden_until_the_user_writes_again(
    fake: FakeTelegramServer, bot: Bot, known_user: int
) -> None:
    fake.block(known_user)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(known_user, "tin mới")

    fake.push_update(fake.user_message(known_user, "/start"))
    assert await bot.send_message(known_user, "chào lại")

    fake.push_update(fake.my_chat_member(known_user, blocked=True))
    assert fake.is_blocked(known_user)


async def test_retry_after_every_nth_send(
    fake: FakeTelegramServer, bot: Bot, known_user: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns on int retry_after otherwise
    fake.retry_after_every(3, 7)

    await bot.send_message(known_user, "1")
    await bot.send_message(known_user, "2")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(known_user, "3")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    assert await bot.send_message(known_user, "3")
    assert fake.counters["injected_429"] == 1


async def test_fail_next_and_server_errors(fake: FakeTelegramServer, bot: Bot, known_user: int) -> None:
    fake.fail_next("sendMessage", 502)
    fake.fail_next("sendMessage", 403, chat_id=known_user)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(known_user, "a")
    with pytest.raises(Forbidden):
        await bot.send_message(known_user, "b")

    fake.server_error_every(2)
    await bot.send_message(known_user, "c")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(known_user, "d")
    assert [r.status for r in fake.requests("sendMessage")] == [502, 403, 200, 500]


async def test_latency_turns_into_timed_out_yet_the_message_was_sent(fake: FakeTelegramServer, known_user: int) -> None:
    fake.set_latency(0.5, methods=["sendMessage"])
    request = HTTPXRequest(read_timeout=0.1)
    async with Bot(fake.token, base_url=fake.base_url, request=request) as slow_bot:
        with pytest.raises(TimedOut):
            await slow_bot.send_message(known_user, "có tới không?")
    assert [m["text"] for m in fake.sent_messages(known_user)] == ["có tới không?"]


async def test_latency_for_some_chats_only(fake: FakeTelegramServer, known_user: int) -> None:
    other = USER + 1
    fake.push_update(fake.user_message(other, "chào"))
    fake.set_latency(0.5, methods=["sendMessage"], chats=[other])
    request = HTTPXRequest(read_timeout=0.1)
    async with Bot(fake.token, base_url=fake.base_url, request=request) as slow_bot:
        await slow_bot.send_message(known_user, "nhanh")
        with pytest.raises(TimedOut):
            await slow_bot.send_message(other, "chậm")
    assert [m["text"] for m in fake.sent_messages(other)] == ["chậm"]


async def test_bad_token_raises_invalid_token(fake: FakeTelegramServer) -> None:
    async with httpx.AsyncClient() as http:
        unknown = await http.post(f"{fake.url}/bot123:WRONG/getMe")
        malformed = await http.post(f"{fake.url}/botnot-a-token/getMe")
    assert unknown.status_code == 401
    assert unknown.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert malformed.status_code == 404

    with pytest.raises(InvalidToken):
        async with Bot("123:WRONG", base_url=fake.base_url):
            pass


async def test_unknown_method_and_raw_transports(fake: FakeTelegramServer, known_user: int) -> None:
    async with httpx.AsyncClient(base_url=f"{fake.base_url}{fake.token}") as http:
        missing = await http.post("/sendTelepathy")
        by_get = await http.get("/sendMessage", params={"chat_id": known_user, "text": "qua GET"})
        by_json = await http.post("/sendmessage", json={"chat_id": known_user, "text": "qua JSON"})
        no_chat = await http.post("/sendMessage", json={"text": "ai?"})

    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert by_get.json()["result"]["text"] == "qua GET"
    assert by_json.json()["result"]["text"] == "qua JSON"  # method names are case-insensitive
    assert no_chat.json()["description"] == "Bad Request: chat_id is empty"


# -- receiving updates ---------------------------------------------------------------


async def test_long_poll_waits_for_a_push_and_offset_confirms(fake: FakeTelegramServer, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    waiting = await fake.wait_for(method="getUpdates")  # matches on arrival: polling has begun
    assert waiting.pending and not poll.done()
    fake.push_update(fake.user_message(1, "/start"))
    updates = await poll
    assert time.monotonic() - started < 2
    assert waiting.ok and waiting.result[0]["message"]["text"] == "/start"
    assert [u.message.text for u in updates if u.message] == ["/start"]
    assert updates[0].message is not None and updates[0].message.entities[0].type == "bot_command"

    fake.push_update(fake.user_message(2, "hai"))
    fake.push_update(fake.sticker(3))
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [1, 2, 3]  # not confirmed yet: delivered again

    rest = await bot.get_updates(offset=2, timeout=0)
    assert [u.update_id for u in rest] == [2, 3]
    assert rest[1].message is not None and rest[1].message.sticker is not None
    assert await bot.get_updates(offset=4, timeout=0) == ()
    assert fake.pending_updates == 0


async def test_long_poll_returns_empty_after_its_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 < time.monotonic() - started < 3


async def test_pushed_updates_deserialize_into_ptb_objects(fake: FakeTelegramServer, bot: Bot) -> None:
    fake.push_update(fake.photo(5, caption="biên bản"))
    fake.push_update(fake.contact(5, "+84912345678"))
    fake.push_update(fake.document(5, file_name="hop_dong.pdf"))
    fake.push_update(fake.callback_query(5, "menu:home"))

    photo, contact, document, query = await bot.get_updates(timeout=0)

    assert photo.message is not None and photo.message.photo[-1].width == 1280
    assert contact.message is not None and contact.message.contact is not None
    assert contact.message.contact.user_id == 5
    assert document.message is not None and document.message.document is not None
    assert document.message.document.mime_type == "application/pdf"
    assert query.callback_query is not None and query.callback_query.data == "menu:home"


async def test_explicit_duplicate_update_is_redelivered(fake: FakeTelegramServer, bot: Bot) -> None:
    first = fake.push_update(fake.user_message(1, "một"))
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [1]
    assert await bot.get_updates(offset=2, timeout=0) == ()

    fake.push_update(first)  # same update_id again, as Telegram may redeliver

    assert [u.update_id for u in await bot.get_updates(offset=2, timeout=0)] == [1]
    assert fake.push_update(fake.user_message(1, "hai"))["update_id"] == 2


async def test_second_poller_gets_conflict(fake: FakeTelegramServer, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    async with Bot(fake.token, base_url=fake.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=0))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await first
        assert await second == ()


async def test_webhook_blocks_get_updates_and_delivers_updates(fake: FakeTelegramServer, bot: Bot) -> None:
    received: list[tuple[str | None, dict]] = []

    async def hook(request: Request) -> Response:
        received.append((request.headers.get("x-telegram-bot-api-secret-token"), await request.json()))
        return Response()

    async with InLoopServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        assert await bot.set_webhook(f"{receiver.url}/hook", secret_token="s3cret")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()

        fake.push_update(fake.user_message(9, "/start"))
        await wait_until(lambda: len(received) == 1, what="the webhook to receive the update")
        assert received[0][0] == "s3cret"
        assert received[0][1]["message"]["text"] == "/start"
        info = await bot.get_webhook_info()
        assert info.url == f"{receiver.url}/hook" and info.pending_update_count == 0

        assert await bot.delete_webhook()
    fake.push_update(fake.user_message(9, "lại polling"))
    assert [u.message.text for u in await bot.get_updates(timeout=0) if u.message] == ["lại polling"]


async def test_webhook_failures_show_in_webhook_info(fake: FakeTelegramServer, bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:9/unreachable")
    fake.push_update(fake.user_message(9, "hi"))
    await wait_until(lambda: fake.counters["webhook_failures"] > 0, what="a failed webhook delivery")

    info = await bot.get_webhook_info()

    assert info.pending_update_count == 1
    assert info.last_error_message and "Connection failed" in info.last_error_message


# -- observation ---------------------------------------------------------------------


async def test_wait_for_sees_past_and_future_requests(fake: FakeTelegramServer, bot: Bot, known_user: int) -> None:
    await bot.send_message(known_user, "trước")
    assert (await fake.wait_for(method="sendMessage")).params["text"] == "trước"

    since = fake.mark()
    later = asyncio.create_task(fake.wait_for(method="sendMessage", chat_id=known_user, since=since))
    await asyncio.sleep(0.05)
    assert not later.done()
    await bot.send_message(known_user, "sau")
    assert (await later).params["text"] == "sau"

    with pytest.raises(TimeoutError, match="no request matching"):
        await fake.wait_for(method="sendPhoto", timeout=0.1)


async def test_bounded_log_keeps_recent_requests_and_counters() -> None:
    async with FakeTelegramServer(max_log=5) as fake, httpx.AsyncClient() as http:
        for _ in range(12):
            await http.get(f"{fake.base_url}{fake.token}/getMe")
        assert 5 <= len(fake.log) <= 10
        assert fake.log[-1].seq == 11
        assert len(fake.requests(since=10)) == 2
        assert fake.counters["requests"] == 12


async def test_send_statistics(fake: FakeTelegramServer, bot: Bot) -> None:
    fake.register_chats(range(1000, 1010))
    await asyncio.gather(*(bot.send_message(chat_id, "Thông báo") for chat_id in range(1000, 1010)))
    await bot.send_message(1000, "Thông báo")

    assert fake.max_sends_per_second_window() == 11
    assert fake.duplicate_send_count == 1
    assert fake.duplicate_sends() == [(1000, "Thông báo", 2)]
    assert sum(fake.sends_per_second().values()) == 11
    assert fake.min_same_chat_interval is not None
    stats = fake.stats()
    assert stats["sends_ok"] == 11 and stats["by_method"]["sendMessage"] == 11


async def test_flood_limit_answers_429_beyond_the_rate(
    fake: FakeTelegramServer, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.register_chats(range(1, 6))
    fake.set_flood_limit(3, retry_after=2)

    results = await asyncio.gather(*(bot.send_message(chat_id, "x") for chat_id in range(1, 6)), return_exceptions=True)

    assert sum(isinstance(r, RetryAfter) for r in results) == 2
    assert fake.max_sends_per_second_window(delivered_only=True) == 3


# -- the full PTB Application --------------------------------------------------------


async def test_ptb_application_polls_and_replies(fake: FakeTelegramServer) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Chào mừng đến với công đoàn!")

    application = (
        ApplicationBuilder().token(fake.token).base_url(fake.base_url).base_file_url(fake.base_file_url).build()
    )
    application.add_handler(CommandHandler("start", start))
    fake.push_update(fake.user_message(USER, "/start"))

    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            reply = await fake.wait_for(method="sendMessage", chat_id=USER, timeout=10)
        finally:
            await application.updater.stop()
            await application.stop()

    assert reply.params["text"] == "Chào mừng đến với công đoàn!"
    assert fake.pending_updates == 0  # PTB confirmed the offset on shutdown


# -- its own process -----------------------------------------------------------------


async def test_out_of_process_fake_with_control_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with FakeTelegramProcess() as proc:
        control = proc.control
        assert control is not None
        assert (await control.health())["token"] == DEFAULT_TOKEN
        assert await control.register_chats(range(10, 13)) == 3
        update_ids = await control.push_updates(
            [
                {"factory": "user_message", "user_id": 10, "text": "/start"},
                {
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": 11, "type": "private", "first_name": "B"},
                        "text": "thô",
                    }
                },
            ]
        )
        assert update_ids == [1, 2]
        await control.retry_after_every(2, 1)

        async with Bot(proc.token, base_url=proc.base_url) as remote_bot:
            updates = await remote_bot.get_updates(timeout=1)
            assert [u.message.text for u in updates if u.message] == ["/start", "thô"]
            since = await control.mark()
            await remote_bot.send_message(10, "một")
            with pytest.raises(RetryAfter):
                await remote_bot.send_message(11, "hai")

        record = await control.wait_for(method="sendMessage", chat_id=10, since=since)
        assert record["params"]["text"] == "một"
        stats = await control.stats()
        assert stats["sends_attempted"] == 2 and stats["sends_ok"] == 1
        assert [m["text"] for m in await control.sent_messages(10)] == ["một"]
        assert len(await control.requests("sendMessage")) == 2
        with pytest.raises(FakeControlError, match="unknown factory"):
            await control.push_updates([{"factory": "nope"}])

        await control.reset()
        assert (await control.stats())["requests"] == 0
