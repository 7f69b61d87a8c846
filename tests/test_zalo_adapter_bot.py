"""The Zalo Bot channel end to end: long polling and webhooks against the fake Bot API,
the real handlers and SQLite store, buttons as numbered choices."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from bot.app import Runtime, serve
from bot.config import load_config
from handlers.i18n import load_catalog
from handlers.types import Photo, Reply
from tests.fakes.zalo_servers import FakeZaloBot, FakeZaloOA, bot_text_update, oa_text_event, signed_oa_webhook
from tests.harness import wait_until
from tests.zalo_harness import (
    BOT_SECRET,
    BOT_WEBHOOK_URL,
    OA_SECRET,
    BotChat,
    Wrapped,
    bot_env,
    oa_env,
    running,
    write_config,
)

WORKER = "6ede9afa66b88fe6d6a9"
CATALOG = load_catalog()
WEBHOOK_CONFIG = f'[zalo]\nbot_mode = "webhook"\nbot_webhook_url = "{BOT_WEBHOOK_URL}"\n'


@pytest.fixture
async def bot():
    async with FakeZaloBot(max_poll_wait=0.2) as server:
        yield server


def texts_to(bot: FakeZaloBot, chat_id: str) -> list[str]:
    return [s.text or "" for s in bot.sent if s.method == "sendMessage" and s.chat_id == chat_id]


async def test_a_worker_completes_the_signup_form_with_numbered_choices(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        chat = BotChat(bot, h, WORKER)
        (menu,) = await chat.say("/start")
        assert "\n1. " + CATALOG.t("vi", "menu.rights") in menu
        assert menu.endswith(CATALOG.t("vi", "zalo.choose_hint"))

        await chat.choose(CATALOG.t("vi", "menu.join").split(" ", 1)[1])  # by number
        assert CATALOG.t("vi", "join.form.q.name") in "\n".join(chat.last())
        await chat.say("Nguyễn Văn An")
        await chat.say("0912345678")
        await chat.say("Công ty May Việt Tiến")
        await chat.say("ha noi")  # the province's label, typed without diacritics
        await chat.choose("Bỏ qua")  # no commune, by number
        await chat.say("bo qua")  # no referral, by the label's words
        review = await chat.say("dong y")  # "✅ Tôi đồng ý", not "🚫 Tôi không đồng ý"
        assert "Nguyễn Văn An" in "\n".join(review) and "Hà Nội" in "\n".join(review)
        await chat.choose("Gửi")

        store = h.runtime.store
        user = await store.find_user("zalo_bot", WORKER)
        assert user is not None
        signup = await store.signup_of_user(user.id)
        assert signup is not None
        assert (signup.full_name, signup.phone_e164, signup.workplace) == (
            "Nguyễn Văn An",
            "+84912345678",
            "Công ty May Việt Tiến",
        )
        assert signup.consent_channel == "zalo_bot"
        assert all(0 < len(t) <= 2000 for t in texts_to(bot, WORKER))
        # Every reply went through sendMessage to the worker's chat; typing came first.
        assert {s.method for s in bot.sent} == {"sendMessage", "sendChatAction"}


async def test_an_update_delivered_twice_is_handled_once(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        update = bot_text_update(WORKER, "/help", message_id="m-1")
        bot.push_update(update)
        bot.push_update(update)
        chat = BotChat(bot, h, WORKER)
        await chat.say("/whoami")  # same worker, so handled after both copies
        help_text = CATALOG.t("vi", "help.text")
        assert sum(help_text in t for t in texts_to(bot, WORKER)) == 1


async def test_polling_backs_off_and_recovers_from_failures(tmp_path: Path, bot: FakeZaloBot) -> None:
    bot.fail_next("getUpdates", 500, "boom", http_status=500)
    bot.fail_next("getUpdates", 429, "slow down", http_status=429)
    bot.fail_next("getUpdates", 401, "Unauthorized", http_status=401)
    bot.fail_next("getUpdates", 400, "bad request")
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        replies = await BotChat(bot, h, WORKER).say("/help")
        assert CATALOG.t("vi", "help.text") in replies[0]
    polls = [r for r in bot.log if r.path.endswith("/getUpdates")]
    assert len(polls) >= 5
    # Nothing that failed reached the worker twice or leaked the token into a reply.
    assert all(bot.token not in (s.text or "") for s in bot.sent)


async def test_images_and_groups(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        image = bot_text_update(WORKER, "")
        image["event_name"] = "message.image.received"
        image["message"].pop("text")
        image["message"] |= {"photo": "https://f.zalo.me/x.jpg", "caption": "xem giúp"}
        group = bot_text_update("group-1", "/help")
        group["message"]["chat"]["chat_type"] = "GROUP"
        bot.push_update(group)
        bot.push_update(image)
        await wait_until(lambda: len(texts_to(bot, WORKER)) == 1)
        await h.settle()
        assert CATALOG.t("vi", "fallback.unsupported") in texts_to(bot, WORKER)[0]
        assert texts_to(bot, "group-1") == []


async def test_a_photo_reply_becomes_its_text_with_a_note(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        await h.bot.send(WORKER, Reply("Mã QR của bạn", photo=Photo(b"png", "qr.png")))
    (text,) = texts_to(bot, WORKER)
    assert text == "Mã QR của bạn\n\n" + CATALOG.t("vi", "zalo.photo_unavailable")


async def test_webhook_mode_accepts_wrapped_and_bare_updates(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with running(tmp_path, bot_env(tmp_path, bot, webhook=True), WEBHOOK_CONFIG) as h:
        assert bot.webhook is not None and bot.webhook["url"] == BOT_WEBHOOK_URL
        (set_webhook,) = [r for r in bot.log if r.path.endswith("/setWebhook")]
        assert set_webhook.json == {"url": BOT_WEBHOOK_URL, "secret_token": BOT_SECRET}
        assert not any(r.path.endswith("/getUpdates") for r in bot.log)

        for wrapped in (True, False):
            response = await h.post_bot(bot_text_update(WORKER, "/help", wrapped=wrapped))
            assert response.status_code == 200
        await h.settle()
        assert sum(CATALOG.t("vi", "help.text") in t for t in texts_to(bot, WORKER)) == 2

        assert (await h.post_bot(bot_text_update(WORKER, "/help"), secret="wrong-secret!")).status_code == 401
        bad = await h.http.post(
            h.base_url + "/zalo/bot/webhook",
            content=b"{not json",
            headers={"X-Bot-Api-Secret-Token": BOT_SECRET},
        )
        assert bad.status_code == 200  # taken and dropped: Zalo would only resend it
        await h.settle()
        assert len(texts_to(bot, WORKER)) == 2


async def test_a_reply_for_someone_else_goes_through_their_channel(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with FakeZaloOA() as zalo, running(tmp_path, bot_env(tmp_path, bot) | oa_env(tmp_path, zalo)) as h:

        async def answer(inbound):  # type: ignore[no-untyped-def]
            # An officer on the Zalo Bot answers a worker who asked on the OA.
            return [Reply("Đã gửi câu trả lời."), Reply("Câu trả lời của cán bộ", to_channel="zalo_oa", to_user="w-oa")]

        h.bot.dispatcher = Wrapped(h.bot.dispatcher, answer)
        replies = await BotChat(bot, h, WORKER).say("/answer 1")
        assert replies == ["Đã gửi câu trả lời."]
        assert [(m.user_id, m.text) for m in zalo.delivered] == [("w-oa", "Câu trả lời của cán bộ")]


async def test_one_web_server_serves_both_zalo_webhooks_and_healthz(tmp_path: Path, bot: FakeZaloBot) -> None:
    async with FakeZaloOA() as zalo:
        port = _free_port()
        env = oa_env(tmp_path, zalo) | bot_env(tmp_path, bot, webhook=True) | {"UNIONBOT_HTTP_PORT": str(port)}
        config = load_config(write_config(tmp_path, WEBHOOK_CONFIG), env=env)
        assert config.needs_web_server
        stop = asyncio.Event()
        async with Runtime(config) as runtime, httpx.AsyncClient(timeout=5) as http:
            channels = runtime.build_channels()
            assert sorted(c.name for c in channels) == ["zalo_bot", "zalo_oa"]
            task = asyncio.create_task(serve(runtime, channels, stop))
            base = f"http://127.0.0.1:{port}"
            await wait_until(lambda: bot.webhook is not None)
            await _until_up(http, base)

            health = await http.get(base + "/healthz")
            assert health.status_code == 200 and health.json()["ok"] is True
            body, headers = signed_oa_webhook(oa_text_event("oa-worker", "/help", app_id=zalo.app_id), OA_SECRET)
            assert (await http.post(base + "/zalo/oa/webhook", content=body, headers=headers)).status_code == 200
            body = bot_text_update(WORKER, "/help")
            response = await http.post(
                base + "/zalo/bot/webhook",
                json=body,
                headers={"X-Bot-Api-Secret-Token": BOT_SECRET},
            )
            assert response.status_code == 200
            await wait_until(lambda: bool(zalo.delivered) and bool(texts_to(bot, WORKER)))
            stop.set()
            await task
        assert [m.user_id for m in zalo.delivered] == ["oa-worker"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until_up(http: httpx.AsyncClient, base: str) -> None:
    for _ in range(200):
        try:
            await http.get(base + "/healthz")
            return
        except httpx.TransportError:
            await asyncio.sleep(0.02)
    raise AssertionError("web server did not come up")


async def test_a_number_typed_where_it_is_the_answer_is_not_a_choice(tmp_path: Path, bot: FakeZaloBot) -> None:
    # Found by an outside tester: at "about how many workers? choose or type a number",
    # "6" pressed the sixth listed choice, Cancel, and the report was lost; "3" recorded
    # the third choice. There the choices are lettered and a typed number is the answer.
    async with running(tmp_path, bot_env(tmp_path, bot)) as h:
        chat = BotChat(bot, h, WORKER)
        await chat.say("/report")
        await chat.say("1")  # the first category, by number as everywhere else
        await chat.say("Công ty May Hưng Phát")
        (ask,) = await chat.say("binh duong")
        assert CATALOG.t("vi", "listening.report.ask_workers") in ask
        assert "\na. " in ask and "\n1. " not in ask and ask.endswith(CATALOG.t("vi", "zalo.choose_letter_hint"))
        (after,) = await chat.say("6")
        assert CATALOG.t("vi", "listening.report.cancelled") not in after
        assert CATALOG.t("vi", "listening.report.skip_button") in after  # on to the description
        (review,) = await chat.say("bo qua")
        assert "\n1. " in review  # numbers again once a number is not an answer
        assert "• Số người bị ảnh hưởng: 6\n" in review, review
