"""Issue 9's first list and issue 19's stories on Telegram: `unionbot run` with the real
python-telegram-bot Application against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from handlers.rights.chat import default_service
from tests import conversation_cases as cases
from tests.fakes.telegram_api import FakeTelegramServer
from tests.harness import button_labels, config_for, running_bot, telegram_env

ORGANIZER = 7100
SETTLE = 0.25  # a reply of several messages is sent back to back


@pytest.fixture
async def fake():
    async with FakeTelegramServer() as server:
        yield server


def _payloads(params: dict) -> list[str]:
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


class TgUser:
    """One Telegram user: sends a message or presses a button, reads what the bot sent."""

    def __init__(self, fake: FakeTelegramServer, user_id: int) -> None:
        self.fake = fake
        self.id = user_id
        self.messages: list[dict] = []

    async def _exchange(self, update: dict) -> str:
        mark = self.fake.mark()
        self.fake.push_update(update)
        await self.fake.wait_for(
            lambda r: r.method in ("sendMessage", "editMessageText"), chat_id=self.id, since=mark, timeout=20
        )
        await asyncio.sleep(SETTLE)
        self.messages = [
            r.params
            for r in self.fake.requests(chat_id=self.id, since=mark)
            if r.method in ("sendMessage", "editMessageText")
        ]
        return self.text

    async def say(self, text: str) -> str:
        return await self._exchange(self.fake.user_message(self.id, text))

    async def press(self, label_part: str) -> str:
        for label in self.labels:
            if label_part.lower() in label.lower():
                return await self._exchange(self.fake.press_button(self.id, label))
        raise AssertionError(f"no button {label_part!r} in {self.labels}")

    async def tap(self, data: str) -> str:
        """A callback with this data, as from a message sent days ago."""
        return await self._exchange(self.fake.callback_query(self.id, data))

    @property
    def text(self) -> str:
        return "\n".join(m.get("text", "") for m in self.messages)

    @property
    def labels(self) -> list[str]:
        return [label for m in self.messages for label in button_labels(m)]

    @property
    def payloads(self) -> list[str]:
        return [p for m in self.messages for p in _payloads(m)]

    def answered_topic(self) -> str | None:
        for p in self.payloads:
            if p.startswith("fb:"):
                return p.split(":")[1]
        return None

    def offers_handoff(self) -> bool:
        return any(p.startswith("ask:") for p in self.payloads)


def _config(fake, tmp_path):  # type: ignore[no-untyped-def]
    return config_for(tmp_path, env=telegram_env(fake), toml=f"[telegram]\nadmins = [{ORGANIZER}]\n")


async def test_handoff_reaches_the_inbox_and_start_or_menu_leave_it(fake, tmp_path) -> None:
    async with running_bot(_config(fake, tmp_path)) as runtime:
        org = TgUser(fake, ORGANIZER)  # an admin by configuration
        await org.say("/start")
        worker = TgUser(fake, 7001)
        await worker.say("/start")
        await worker.press("☎️ Liên hệ cán bộ công đoàn")
        assert "tin nhắn tiếp theo sẽ được chuyển" in worker.text
        await worker.say(cases.HANDOFF_QUESTION)
        # Not signed up and no province in the question: asked where, so the question
        # reaches that province's officers and not only the national admins.
        assert "Đã nhận câu hỏi #1" in worker.text and "tỉnh, thành phố nào" in worker.text
        await worker.say("bac ninh")
        assert "cán bộ công đoàn Bắc Ninh" in worker.text and "48 giờ" in worker.text
        assert (await runtime.store.get_question(1)).province_id == "bac_ninh"
        # The promise followed to its end: an officer is told (Bắc Ninh has no organizer,
        # so the admin), the number only, and the answer reaches the worker in this chat.
        notices = [m["text"] for m in fake.sent_messages(ORGANIZER) if "Câu hỏi mới #1" in m.get("text", "")]
        assert notices and all(cases.HANDOFF_QUESTION not in n for n in notices)
        await org.say("/inbox")
        assert cases.HANDOFF_QUESTION in org.text
        mark = fake.mark()
        await org.say("/reply 1 Chủ tịch công đoàn cơ sở do đoàn viên bầu, không do công ty chỉ định.")
        answer = await fake.wait_for(method="sendMessage", chat_id=7001, since=mark, timeout=20)
        assert "do đoàn viên bầu" in answer.params["text"] and "#1" in answer.params["text"]

        for user_id, leave in ((7002, "/start"), (7003, "menu"), (7004, "/cancel")):
            other = TgUser(fake, user_id)
            await other.say("/start")
            await other.press("☎️ Liên hệ cán bộ công đoàn")
            if leave == "menu":
                await other.press("Về menu chính")
            else:
                await other.say(leave)
            await other.say("nghỉ phép năm được bao nhiêu ngày")
            assert "12" in other.text and other.answered_topic() == "annual_leave", leave

        help_text = await TgUser(fake, 7005).say("/help")
        assert "/ask" in help_text
        assert await runtime.store.count_open_questions() == 0, "answered; the others left the step"
    assert fake.internal_errors == []


async def test_opt_out_never_by_accident_and_huy_is_a_name(fake, tmp_path) -> None:
    async with running_bot(_config(fake, tmp_path)) as runtime:
        store = runtime.store
        worker = TgUser(fake, 7011)
        await worker.say("/start")
        user = await store.find_user("telegram", str(worker.id))
        await store.subscribe(user.id, ["workers_month"])
        for text in ("đúng", "Dũng", "dùng"):
            await worker.say(text)
            assert "Đã dừng" not in worker.text, text
        await worker.say("bhxh")
        await worker.say("dung")  # typed under an answer: "đúng" or "dừng"? never unsubscribes
        assert "Đã dừng" not in worker.text
        await worker.say("/start")
        await worker.say("dung")
        assert "Bạn muốn dừng nhận thông báo?" in worker.text
        assert worker.labels == ["Dừng nhận tin", "Không"]
        await worker.press("Không")
        assert await store.subscriptions(user.id) == {"workers_month"}
        await worker.say("Stop please")
        assert "Đã dừng" in worker.text and "/news" in worker.text
        assert await store.is_opted_out(user.id)

        huy = TgUser(fake, 7012)
        await huy.say("/join")
        await huy.say("Huy")
        assert "Câu 2/" in huy.text and "Đã hủy" not in huy.text
        state = await store.get_state((await store.find_user("telegram", str(huy.id))).id)
        assert state.flow == "join" and state.data["name"] == "Huy"


async def test_answers_shaped_for_a_phone_in_the_questions_language(fake, tmp_path) -> None:
    async with running_bot(_config(fake, tmp_path)) as runtime:
        worker = TgUser(fake, 7021)
        await worker.say("lam them gio toi da bao nhieu mot thang")
        first = worker.messages[0]["text"]
        assert worker.answered_topic() in {"overtime_limits", "working_hours"}
        assert "40" in first and "Bước tiếp theo" in first and "📖 Căn cứ" in first
        assert "thông tin chung" in first and len(first) <= 1100
        await worker.press("Xem chi tiết" if "Xem chi tiết" in " ".join(worker.labels) else "thông tin chung")
        assert "Căn cứ" in worker.text and "thông tin chung, không phải tư vấn" not in worker.text

        english = TgUser(fake, 7022)
        await english.say("how many days of annual leave do I get?")
        assert "12" in english.text and "Legal basis" in english.text
        assert any("Helpful" in label for label in english.labels)
        assert (await runtime.store.find_user("telegram", str(english.id))).language == "vi"

        wage = TgUser(fake, 7023)
        await wage.say("em o binh duong luong toi thieu la bao nhieu")
        assert wage.answered_topic() == "minimum_wage" and "5.310.000" in wage.text
        await wage.press("📍")  # Bình Dương is now in Hồ Chí Minh City, which spans regions
        assert "Vùng I (5.310.000" in wage.text and "Thủ Dầu Một" in wage.text
        assert all(len(m["text"]) < 4096 for m in wage.messages)

        for i, text in enumerate(cases.FOREIGN_LAW):
            abroad = TgUser(fake, 7030 + i)
            await abroad.say(text)
            assert abroad.answered_topic() is None and abroad.offers_handoff(), text
            assert "Việt Nam" in abroad.text or "Vietnamese" in abroad.text, text
        for i, text in enumerate(cases.CHITCHAT):
            chatter = TgUser(fake, 7040 + i)
            await chatter.say(text)
            assert chatter.answered_topic() is None and "menu:rights" in chatter.payloads, text

        for i, text in enumerate(cases.JOIN_QUESTIONS):
            joiner = TgUser(fake, 7050 + i)
            await joiner.say(text)
            assert "menu:join" in joiner.payloads, (text, joiner.labels)
        await joiner.press("✍️")
        assert "Question 1/" in joiner.text or "Câu 1/" in joiner.text

        for i, (text, wrong) in enumerate(cases.NOT_CONFIDENTLY_WRONG):
            reader = TgUser(fake, 7060 + i)
            await reader.say(text)
            assert reader.answered_topic() != wrong, text
    assert fake.internal_errors == []


async def test_story_answered_by_its_specific_entry_and_never_logged(fake, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    kb = default_service().kb
    async with running_bot(_config(fake, tmp_path)):
        worker = TgUser(fake, 7071)
        await worker.say(cases.STORY_BOOK_NOT_CLOSED)
        assert any(
            eid in kb.entries and kb.entries[eid].answer_in("vi")[:60] in worker.text for eid in cases.STORY_ENTRIES
        ), worker.text
        assert "Bước tiếp theo" in worker.text
        await worker.press("thông tin chung")
        assert kb.topics["social_insurance"].summary_in("vi")[:40] in worker.text

        teller = TgUser(fake, 7072)
        await teller.say(cases.STORY_WITH_PERSONAL_DATA)
        assert teller.text
        await teller.say("/ask " + cases.STORY_WITH_PERSONAL_DATA)
        assert "#1" in teller.text
    for bit in cases.PERSONAL_BITS:
        assert bit not in caplog.text


async def test_bad_input_over_telegram_gets_sensible_replies(fake, tmp_path) -> None:
    async with running_bot(_config(fake, tmp_path)) as runtime:
        store = runtime.store
        worker = TgUser(fake, 7081)
        await worker.say("/start")
        user = await store.find_user("telegram", str(worker.id))
        await store.subscribe(user.id, ["workers_month"])
        await worker.say("luong")
        assert worker.offers_handoff()
        await worker.say("🙂🙂🙂")
        assert worker.text
        await worker.say("công ty nợ lương em 3 tháng rồi " * 130)
        assert worker.messages and all(len(m.get("text", "")) < 4096 for m in worker.messages)
        await worker.say(cases.STORY_NO_QUESTION)
        assert worker.offers_handoff()
        await worker.say(cases.MIXED)
        assert worker.text
        await worker.say("nghỉ phép năm bao nhiêu ngày")
        await worker.say("nghỉ phép năm bao nhiêu ngày")
        assert "Bạn vừa hỏi câu này" in worker.text and worker.offers_handoff()
        for old in ("qa:minimum_wage", "fb:minimum_wage:1", "qd:annual_leave:en", "qa:gone_topic:vi"):
            await worker.tap(old)
            assert worker.text, old
        assert await store.subscriptions(user.id) == {"workers_month"}
        assert all(r.ok for r in fake.requests("answerCallbackQuery"))
    assert fake.internal_errors == []
