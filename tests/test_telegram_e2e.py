"""The real python-telegram-bot Application against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from storage import Role
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import bot_idle, button_labels, config_for, running_bot, telegram_env

USER = 5001


@pytest.fixture
async def fake():
    async with FakeTelegramServer() as server:
        yield server


def texts(fake, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in fake.sent_messages(chat_id)]


async def test_start_menu_button_language_switch_and_back(fake, tmp_path) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg) as runtime:
        # setMyCommands in both languages, deleteWebhook before polling
        await fake.wait_for(method="getUpdates")
        assert [c["command"] for c in fake.commands("")][:3] == ["start", "help", "lang"]
        assert fake.commands("en")[1]["description"] == "What the bot can do"
        assert fake.requests("deleteWebhook")

        fake.push_update(fake.user_message(USER, "/start"))
        welcome = await fake.wait_for(method="sendMessage", chat_id=USER)
        assert "Xin chào" in welcome.params["text"]
        labels = button_labels(welcome.params)
        assert "🌐 Ngôn ngữ / Language" in labels and labels.index("🌐 Ngôn ngữ / Language") == 5

        mark = fake.mark()
        fake.push_update(fake.press_button(USER, "🌐 Ngôn ngữ / Language"))
        await fake.wait_for(method="answerCallbackQuery", since=mark)
        picker = await fake.wait_for(method="editMessageText", since=mark)
        assert picker.params["text"] == "Chọn ngôn ngữ:"

        mark = fake.mark()
        fake.push_update(fake.press_button(USER, "🇬🇧 English"))
        switched = await fake.wait_for(method="editMessageText", since=mark)
        assert switched.params["text"].startswith("Switched to English.")
        user = await runtime.store.find_user("telegram", str(USER))
        assert user is not None and user.language == "en"

        mark = fake.mark()
        fake.push_update(fake.user_message(USER, "/help"))
        help_msg = await fake.wait_for(method="sendMessage", chat_id=USER, since=mark)
        assert "I can help you" in help_msg.params["text"]

        mark = fake.mark()
        fake.push_update(fake.press_button(USER, "⬅️ Back to the menu"))
        back = await fake.wait_for(method="editMessageText", since=mark)
        assert back.params["text"] == "Main menu: choose an option."
    assert fake.internal_errors == []


async def test_repeated_update_id_is_ignored(fake, tmp_path) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg) as runtime:
        first = fake.push_update(fake.user_message(USER, "/help"))
        await fake.wait_for(method="sendMessage", chat_id=USER)
        fake.push_update(fake.user_message(USER, "/help"), update_id=first["update_id"])
        fake.push_update(fake.user_message(USER, "/whoami"))
        await fake.wait_for(lambda r: "5001" in r.params.get("text", ""), method="sendMessage")
        await bot_idle(runtime)
    assert len(fake.sent_messages(USER)) == 2


async def test_one_users_updates_are_handled_in_order(fake, tmp_path) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg):
        fake.push_updates([fake.user_message(USER, c) for c in ("/lang en", "/help", "/lang vi", "/help")])
        await fake.wait_for(lambda r: len(fake.sent_messages(USER)) >= 4, method="sendMessage", timeout=10)
        await asyncio.sleep(0.05)
    got = texts(fake, USER)
    assert got[0].startswith("Switched to English")
    assert got[1].startswith("I can help you")
    assert got[2].startswith("Đã chuyển sang tiếng Việt")
    assert got[3].startswith("Mình có thể giúp bạn")


async def test_bad_input_over_telegram(fake, tmp_path) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg):
        for update in (
            fake.sticker(USER),
            fake.photo(USER),
            fake.user_message(USER, "x" * 10_000),
            fake.user_message(USER, "🙂🙂"),
            fake.user_message(USER, "/nosuchcommand"),
            fake.callback_query(USER, "menu:\u0000garbage"),
            fake.callback_query(USER, "forged:admin:1"),
        ):
            mark = fake.mark()
            fake.push_update(update)
            await fake.wait_for(method="sendMessage", chat_id=USER, since=mark, timeout=10)
    sent = texts(fake, USER)
    assert "chữ" in sent[0] and "chữ" in sent[1]
    assert all(len(t) < 4096 for t in sent)
    assert "/nosuchcommand" in sent[4]
    assert "không còn dùng được" in sent[5] and "không còn dùng được" in sent[6]
    assert all(r.ok for r in fake.requests("answerCallbackQuery"))


async def test_flood_is_slowed_with_one_notice_others_unaffected(fake, tmp_path) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake), toml="[limits]\nflood_messages = 5\nflood_window_seconds = 30\n")
    async with running_bot(cfg) as runtime:
        fake.push_updates([fake.user_message(USER, "/whoami") for _ in range(12)])
        fake.push_update(fake.user_message(USER + 1, "/whoami"))
        await fake.wait_for(method="sendMessage", chat_id=USER + 1, timeout=10)
        await fake.wait_for(lambda r: "nhanh" in r.params.get("text", ""), method="sendMessage", timeout=10)
        await bot_idle(runtime)
    sent = texts(fake, USER)
    assert sum("nhanh" in t for t in sent) == 1
    assert len(sent) == 6
    # The notice promises nothing that is not done: the dropped messages are not
    # answered later, so it asks for them again.
    assert "gửi lại" in next(t for t in sent if "nhanh" in t)


async def test_handler_error_gets_an_apology_in_the_users_language(fake, tmp_path, caplog) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg) as runtime:

        @runtime.router.command("boom")
        async def boom(ctx):
            raise RuntimeError("kaboom")

        user = await runtime.store.touch_user("telegram", str(USER), language="en")
        await runtime.store.set_language(user.id, "en")
        fake.push_update(fake.user_message(USER, "/boom"))
        msg = await fake.wait_for(method="sendMessage", chat_id=USER)
        assert msg.params["text"].startswith("Sorry, something went wrong")
    assert "kaboom" in caplog.text and "Traceback" in caplog.text


async def test_blocking_marks_unreachable_and_writing_again_restores(fake, tmp_path) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg) as runtime:
        fake.push_update(fake.user_message(USER, "/start"))
        await fake.wait_for(method="sendMessage", chat_id=USER)
        fake.push_update(fake.my_chat_member(USER, blocked=True))
        for _ in range(100):
            user = await runtime.store.find_user("telegram", str(USER))
            if not user.reachable:
                break
            await asyncio.sleep(0.02)
        assert not user.reachable
        mark = fake.mark()
        fake.push_update(fake.user_message(USER, "/help"))
        await fake.wait_for(method="sendMessage", chat_id=USER, since=mark)
        assert (await runtime.store.find_user("telegram", str(USER))).reachable


async def test_admin_from_config_grants_roles(fake, tmp_path) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake), toml=f"[telegram]\nadmins = [{USER}]\n")
    async with running_bot(cfg) as runtime:
        fake.push_update(fake.user_message(777, "/start"))
        await fake.wait_for(method="sendMessage", chat_id=777)
        fake.push_update(fake.user_message(USER, "/grant 777 volunteer"))
        await fake.wait_for(method="sendMessage", chat_id=USER)
        target = await runtime.store.find_user("telegram", "777")
        assert target.role is Role.VOLUNTEER
        assert (await runtime.store.list_audit(action="role.grant"))[0].target == f"user:{target.id}"


async def test_webhook_mode_checks_the_secret_token(fake, tmp_path) -> None:
    toml = '[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.org/telegram/webhook"\n'
    env = {**telegram_env(fake), "TELEGRAM_WEBHOOK_SECRET": "s3cret-token_1"}
    cfg = config_for(tmp_path, env=env, toml=toml)
    async with running_bot(cfg) as runtime:
        set_hook = await fake.wait_for(method="setWebhook")
        assert set_hook.params["secret_token"] == "s3cret-token_1"
        port = runtime.web_port
        url = f"http://127.0.0.1:{port}"
        update = {"update_id": 9001, **fake.user_message(USER, "/help")}
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/healthz")).json()["ok"] is True
            bad = await http.post(
                f"{url}/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            )
            assert bad.status_code == 403
            none = await http.post(f"{url}/telegram/webhook", json=update)
            assert none.status_code == 403
            garbage = await http.post(
                f"{url}/telegram/webhook",
                content=b"{not json",
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_1"},
            )
            assert garbage.status_code == 400
            await bot_idle(runtime)
            assert fake.sent_messages(USER) == []
            ok = await http.post(
                f"{url}/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_1"}
            )
            assert ok.status_code == 200
        msg = await fake.wait_for(method="sendMessage", chat_id=USER)
        assert "Mình có thể giúp bạn" in msg.params["text"]


async def test_handoff_answer_reaches_worker_or_organizer_learns_it_did_not(fake, tmp_path) -> None:
    org, worker, gone = 6001, 6002, 6003
    cfg = config_for(tmp_path, env=telegram_env(fake), toml=f"[telegram]\nadmins = [{org}]\n")
    async with running_bot(cfg):
        fake.push_update(fake.user_message(worker, "/ask chủ nhà máy giữ căn cước của em có đúng không"))
        await fake.wait_for(lambda r: "#1" in r.params.get("text", ""), method="sendMessage", chat_id=worker)
        fake.push_update(fake.user_message(gone, "/ask xin hỏi về chế độ nghỉ ốm đau ạ"))
        await fake.wait_for(lambda r: "#2" in r.params.get("text", ""), method="sendMessage", chat_id=gone)

        fake.push_update(fake.user_message(org, "/inbox"))
        await fake.wait_for(lambda r: "căn cước" in r.params.get("text", ""), method="sendMessage", chat_id=org)
        mark = fake.mark()
        fake.push_update(fake.press_button(org, "✏️ Trả lời #1"))
        await fake.wait_for(lambda r: "Hãy gõ câu trả lời" in r.params.get("text", ""), since=mark, chat_id=org)
        fake.push_update(fake.user_message(org, "Không, chủ không được giữ giấy tờ tùy thân."))
        answer = await fake.wait_for(lambda r: "📩" in r.params.get("text", ""), method="sendMessage", chat_id=worker)
        assert "Không, chủ không được giữ giấy tờ tùy thân." in answer.params["text"]

        fake.block(gone)
        mark = fake.mark()
        fake.push_update(fake.user_message(org, "/reply 2 Bạn được hưởng chế độ ốm đau theo BHXH."))
        warning = await fake.wait_for(
            lambda r: "⚠️" in r.params.get("text", ""), method="sendMessage", chat_id=org, since=mark
        )
        assert "#2" in warning.params["text"]


async def test_all_36_topics_answer_over_telegram_in_both_languages(fake, tmp_path) -> None:
    from handlers.rights.chat import default_service
    from handlers.rights.kb import REQUIRED_TOPICS
    from handlers.rights.search import normalize

    kb = default_service().kb
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg):
        # One simulated worker per topic and language, typing the topic's name the way
        # workers do (no diacritics in Vietnamese), all at once.
        asked = {}
        for i, topic_id in enumerate(REQUIRED_TOPICS):
            topic = kb.topics[topic_id]
            vi_user, en_user = 70_000 + i, 80_000 + i
            fake.push_update(fake.user_message(vi_user, normalize(topic.title_in("vi"))))
            fake.push_update(fake.user_message(en_user, "/lang en"))
            fake.push_update(fake.user_message(en_user, topic.title_in("en")))
            asked[topic_id] = (vi_user, en_user)

        def starts(topic_id: str, lang: str) -> list[str]:
            """The topic's short answer, full answer, or one of its specific entries."""
            topic = kb.topics[topic_id]
            texts = [topic.summary_in(lang), topic.answer_in(lang)]
            texts += [e.answer_in(lang) for e in kb.entries_of(topic_id)]
            return [t.strip()[:30] for t in texts if t.strip()]

        for topic_id, (vi_user, en_user) in asked.items():
            vi = await fake.wait_for(lambda r: "Căn cứ" in r.params.get("text", ""), chat_id=vi_user, timeout=20)
            assert any(s in vi.params["text"] for s in starts(topic_id, "vi")), topic_id
            en = await fake.wait_for(lambda r: "Legal basis" in r.params.get("text", ""), chat_id=en_user, timeout=20)
            assert any(s in en.params["text"] for s in starts(topic_id, "en")), topic_id


async def test_webhook_refuses_updates_while_the_bot_is_not_running(tmp_path) -> None:
    """A 200 while stopping would lose the update; a 503 makes Telegram send it again."""
    from bot.app import Runtime
    from bot.web import build_web_app

    toml = '[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.org/telegram/webhook"\n'
    env = {
        "TELEGRAM_BOT_TOKEN": "1:abc",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
        "TELEGRAM_WEBHOOK_SECRET": "s3cret",
    }
    async with Runtime(config_for(tmp_path, env=env, toml=toml)) as runtime:
        (channel,) = runtime.build_channels()
        app = build_web_app(channel.web_routes(), runtime.health)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            r = await http.post(
                "/telegram/webhook", json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            )
        assert r.status_code == 503
        assert channel.application.update_queue.empty()


async def test_a_reply_refused_by_flood_control_is_sent_after_retry_after(fake, tmp_path) -> None:
    cfg = config_for(tmp_path, env=telegram_env(fake))
    async with running_bot(cfg):
        fake.push_update(fake.user_message(USER, "/start"))
        await fake.wait_for(method="sendMessage", chat_id=USER, ok=True)
        fake.fail_next("sendMessage", 429, retry_after=1)
        mark = fake.mark()
        fake.push_update(fake.user_message(USER, "/help"))
        refused = await fake.wait_for(method="sendMessage", chat_id=USER, since=mark, ok=False)
        sent = await fake.wait_for(method="sendMessage", chat_id=USER, since=mark, ok=True, timeout=10)
        assert sent.time - refused.time >= 0.9
        assert "Mình có thể giúp bạn" in sent.params["text"]
    assert sum("Mình có thể giúp bạn" in t for t in texts(fake, USER)) == 1
