"""Issue 9's first list and issue 19's stories in the terminal chat: the real console
channel (numbered choices, typed labels), the real dispatcher, handlers and store."""

from __future__ import annotations

import io
import logging

import pytest

from bot.channels.console import ConsoleChannel
from handlers.dispatcher import Dispatcher
from handlers.rights.kb import AUTHORING_NOTES
from handlers.types import Inbound, InboundKind, Reply
from storage import Role, Store
from storage.signups import SignupDraft, SignupSource
from tests import conversation_cases as cases


class Terminal:
    """One person at `unionbot chat`: types lines, reads what the console prints."""

    def __init__(self, dispatcher: Dispatcher, user_id: str) -> None:
        self.out = io.StringIO()
        self.channel = ConsoleChannel(dispatcher, user_id, out=self.out)
        self.user_id = user_id
        self.replies: list[Reply] = []
        self.printed = ""

    async def type(self, line: str) -> str:
        start = len(self.out.getvalue())
        self.replies = await self.channel.handle_line(line)
        self.printed = self.out.getvalue()[start:]
        return self.printed

    async def press(self, label_part: str) -> str:
        """Type the number the console shows next to a button (last reply with buttons)."""
        for reply in reversed(self.replies):
            flat = [b for row in reply.buttons for b in row]
            if flat:
                for i, b in enumerate(flat, 1):
                    if label_part.lower() in b.label.lower():
                        return await self.type(str(i))
                break
        raise AssertionError(f"no button {label_part!r} in {self.labels()}")

    async def tap(self, payload: str) -> str:
        """A button press arriving with this payload (e.g. from a message sent days ago)."""
        self.replies = await self.channel.dispatcher.handle(
            Inbound("console", self.user_id, InboundKind.BUTTON, payload=payload)
        )
        self.printed = "\n".join(r.text for r in self.replies)
        return self.printed

    def labels(self) -> list[str]:
        return [b.label for r in self.replies for row in r.buttons for b in row]

    def payloads(self) -> list[str]:
        return [b.payload for r in self.replies for row in r.buttons for b in row]

    def answered_topic(self) -> str | None:
        """The topic whose answer was shown (its feedback buttons name it), if any."""
        for p in self.payloads():
            if p.startswith("fb:"):
                return p.split(":")[1]
        return None

    def offers_handoff(self) -> bool:
        return any(p.startswith("ask:") for p in self.payloads())


@pytest.fixture
def term(dispatcher):  # type: ignore[no-untyped-def]
    return lambda user_id="c1": Terminal(dispatcher, user_id)


async def _user(store: Store, term_: Terminal):  # type: ignore[no-untyped-def]
    return await store.find_user("console", term_.user_id)


async def _organizer(term, store: Store, province: str = "ha_noi") -> Terminal:  # type: ignore[no-untyped-def]
    """An officer of one province: the inbox shows its workers' questions."""
    org = term("org")
    await org.type("/start")
    org_id = (await _user(store, org)).id
    await store.set_role(org_id, Role.ORGANIZER)
    await store.add_organizer_provinces(org_id, [province], None)
    return org


async def _sign_up(store: Store, user_id: int, province: str, phone: str = "+84912000111") -> None:
    await store.submit_signup(
        SignupDraft(
            full_name="Lê Thị Hoa",
            phone_e164=phone,
            workplace="Công ty A",
            province_id=province,
            commune=None,
            source=SignupSource.SELF,
            volunteer_id=None,
            consent_version="2025-07.1",
            consent_lang="vi",
            consent_channel="console",
            owner_id=user_id,
        )
    )


# -- 1. hand-off ------------------------------------------------------------------------
async def test_contact_button_sends_any_question_to_the_inbox(term, store) -> None:
    worker = term("w1")
    await worker.type("/start")
    await _sign_up(store, (await _user(store, worker)).id, "ha_noi")
    await worker.press("Liên hệ cán bộ công đoàn")
    assert "tin nhắn tiếp theo sẽ được chuyển" in worker.printed
    await worker.type(cases.HANDOFF_QUESTION)
    assert "Đã gửi câu hỏi #1" in worker.printed and "48 giờ" in worker.printed
    assert await store.get_state((await _user(store, worker)).id) is None
    org = await _organizer(term, store)
    await org.type("/inbox")
    assert cases.HANDOFF_QUESTION in org.printed


async def test_ask_command_is_in_help_and_opens_the_step(term, store) -> None:
    worker = term("w2")
    assert "/ask" in await worker.type("/help")
    await worker.type("/ask")
    await worker.type("công ty bắt em ký cam kết không vào công đoàn")
    assert "#1" in worker.printed
    assert (await store.get_question(1)).text == "công ty bắt em ký cam kết không vào công đoàn"


@pytest.mark.parametrize("leave", ["/start", "/cancel", "menu", "/menu"])
async def test_start_cancel_and_menu_leave_a_pending_handoff(term, store, leave) -> None:
    worker = term(f"w-{leave}")
    await worker.type("/start")
    await worker.press("Liên hệ cán bộ công đoàn")
    if leave == "menu":
        await worker.press("Về menu chính")
    else:
        await worker.type(leave)
    await worker.type("nghỉ phép năm được bao nhiêu ngày")
    assert "12" in worker.printed and worker.answered_topic() == "annual_leave"
    assert await store.count_open_questions() == 0


async def test_unsure_answers_clarifications_and_stories_offer_the_handoff(term) -> None:
    worker = term("w3")
    for text in ("luong", cases.STORY_NO_QUESTION, "bhxh"):
        await worker.type(text)
        assert worker.offers_handoff(), text
    await worker.press("Hỏi cán bộ công đoàn")
    assert "#1" in worker.printed or "Gõ câu hỏi" in worker.printed


async def test_asking_for_an_officer_in_words_never_sends_those_words_as_the_question(term, store) -> None:
    # An outside tester's lines: a question, then the 🙋 button's label typed twice (the
    # first time no such button was on screen, so the words were answered as a question;
    # the second "pressed" the 🙋 under that answer and sent them to the officers).
    worker = term("w3-words")
    await worker.type("/start")
    await worker.type("nghỉ phép năm được bao nhiêu ngày")
    assert worker.answered_topic() == "annual_leave" and not worker.offers_handoff()
    await worker.type("Hỏi cán bộ công đoàn")
    assert "Gõ câu hỏi của bạn ngay bên dưới" in worker.printed and worker.answered_topic() is None
    await worker.type("Hỏi cán bộ công đoàn")
    assert "Gõ câu hỏi của bạn ngay bên dưới" in worker.printed
    assert await store.count_open_questions() == 0
    await worker.press("Gửi câu hỏi vừa rồi")
    assert (await store.get_question(1)).text == "nghỉ phép năm được bao nhiêu ngày"
    # The menu's label typed where no menu is on screen (Zalo users type it).
    other = term("w3-label")
    await other.type("lương tối thiểu vùng 1 bao nhiêu")
    await other.type("Liên hệ cán bộ công đoàn")
    assert "Gõ câu hỏi của bạn ngay bên dưới" in other.printed and other.answered_topic() is None


async def test_details_typed_at_which_province_reach_the_officers_of_the_province_named(term, store) -> None:
    worker = term("w3-detail")
    await worker.type("/start")
    await worker.type("My factory in Bac Ninh has not paid overtime for 3 months")
    await worker.press("Ask a union officer")
    assert "Which province" in worker.printed
    await worker.type("My factory in Bac Ninh has not paid overtime for 3 months, what can we do?")
    assert "added to question #1" in worker.printed and "Bac Ninh" in worker.printed
    q = await store.get_question(1)
    assert q.province_id == "bac_ninh" and "what can we do?" in q.text
    org = await _organizer(term, store, "bac_ninh")
    await org.type("/inbox")
    assert "what can we do?" in org.printed


async def test_chitchat_gets_a_short_polite_reply_and_the_menu(term) -> None:
    worker = term("w4")
    for text in cases.CHITCHAT:
        await worker.type(text)
        assert worker.answered_topic() is None, text
        assert "menu:rights" in worker.payloads(), text
        assert len(worker.replies[0].text) < 400


# -- 2. opt-out never by accident ------------------------------------------------------------
async def test_yes_and_names_never_unsubscribe(term, store) -> None:
    worker = term("w5")
    await worker.type("/start")
    user = await _user(store, worker)
    await store.subscribe(user.id, ["workers_month"])
    for text in ("đúng", "Dũng", "dùng", "Đúng rồi"):
        await worker.type(text)
        assert "Đã dừng" not in worker.printed, text
    # "dung" typed under an answer or a "Did you mean…?" never unsubscribes.
    await worker.type("bhxh")
    await worker.type("dung")
    assert "Đã dừng" not in worker.printed
    # A bare "dung" elsewhere asks first; "dung" typed at that question is not a yes.
    await worker.type("/start")
    await worker.type("dung")
    assert "Bạn muốn dừng nhận thông báo?" in worker.printed
    assert worker.labels() == ["Dừng nhận tin", "Không"]
    await worker.type("dung")
    assert "Đã dừng" not in worker.printed
    await worker.press("Không")
    assert "vẫn nhận thông báo" in worker.printed
    assert await store.subscriptions(user.id) == {"workers_month"}
    assert not await store.is_opted_out(user.id)


@pytest.mark.parametrize("word", ["dừng", "huỷ", "hủy", "thôi nhận tin", "stop", "unsubscribe", "Stop please"])
async def test_exact_opt_out_words_unsubscribe_and_say_how_to_come_back(term, store, word) -> None:
    worker = term(f"w6-{word}")
    await worker.type("/start")
    user = await _user(store, worker)
    await store.subscribe(user.id, ["workers_month"])
    await worker.type(word)
    assert "Đã dừng" in worker.printed and "/news" in worker.printed
    assert await store.is_opted_out(user.id)


async def test_dung_confirmed_with_the_button_unsubscribes(term, store) -> None:
    worker = term("w7")
    await worker.type("/start")
    user = await _user(store, worker)
    await store.subscribe(user.id, ["workers_month"])
    await worker.type("dung")
    await worker.type("1")  # the number of "Dừng nhận tin"
    assert "Đã dừng" in worker.printed and await store.is_opted_out(user.id)


async def test_huy_is_a_name_and_typed_words_never_cancel_the_form(term, store) -> None:
    worker = term("w8")
    await worker.type("/join")
    await worker.type("Huy")
    assert "Câu 2/" in worker.printed and "Đã hủy" not in worker.printed
    await worker.type("hủy")  # at the phone step: not a phone number, not a cancel
    assert "Đã hủy" not in worker.printed
    state = await store.get_state((await _user(store, worker)).id)
    assert state is not None and state.flow == "join" and state.data["name"] == "Huy"
    await worker.press("Hủy")  # the cancel button itself still works, by its number
    assert "Đã hủy" in worker.printed


# -- 3. phone-shaped answers ----------------------------------------------------------------------
async def test_answers_fit_a_phone_with_details_next_step_and_one_disclaimer(term) -> None:
    worker = term("w9")
    await worker.type("lam them gio toi da bao nhieu mot thang")
    first = worker.replies[0].text
    assert worker.answered_topic() in {"overtime_limits", "working_hours"}
    assert "40" in first  # the monthly overtime cap is stated on the first screen
    assert "Bước tiếp theo" in first and "📖 Căn cứ" in first
    assert "thông tin chung" in first
    assert len(first) <= 1100
    # A topic answer has its details behind a button; a specific entry, its topic's answer.
    await worker.press("Xem chi tiết" if "Xem chi tiết" in " ".join(worker.labels()) else "thông tin chung")
    assert "Căn cứ" in worker.printed
    assert "thông tin chung, không phải tư vấn" not in worker.printed  # said once, not under every answer
    assert any(p.startswith("fb:") for p in worker.payloads())
    await worker.type("nghỉ phép năm bao nhiêu ngày")
    assert "thông tin chung, không phải tư vấn" not in worker.printed


async def test_no_authoring_notes_reach_workers(term) -> None:
    from handlers.rights.chat import default_service

    for topic_id in default_service().kb.topics:
        for lang in ("vi", "en"):
            worker = term(f"w10-{topic_id}-{lang}")  # one user each: under the flood limit
            await worker.tap(f"qa:{topic_id}:{lang}")
            text = worker.replies[0].text.lower()
            assert not [n for n in AUTHORING_NOTES if n in text], (topic_id, lang)


# -- 4. language per message ----------------------------------------------------------------------------
async def test_english_question_answered_in_english_setting_unchanged(term, store) -> None:
    worker = term("w11")
    await worker.type("/start")
    await worker.type("how many days of annual leave do I get?")
    assert "12" in worker.printed and "Legal basis" in worker.printed
    assert any("Helpful" in label for label in worker.labels())
    assert (await _user(store, worker)).language == "vi"
    await worker.type("nghi phep nam bao nhieu ngay")
    assert "Căn cứ" in worker.printed


# -- 5. minimum wage by province ------------------------------------------------------------------------
async def test_minimum_wage_names_the_region_of_the_province_in_the_question(term) -> None:
    worker = term("w12")
    await worker.type("em o binh duong luong toi thieu la bao nhieu")
    assert worker.answered_topic() == "minimum_wage"
    assert "Hồ Chí Minh" in worker.printed  # Bình Dương is now part of Hồ Chí Minh City
    assert "vùng i" in worker.printed.lower() and "5.310.000" in worker.printed
    # The city spans several regions: which wards and communes are in which, one tap away.
    await worker.press("📍")
    assert "Vùng I (5.310.000" in worker.printed and "Vùng II (4.730.000" in worker.printed
    assert "Thủ Dầu Một" in worker.printed


async def test_minimum_wage_names_the_region_of_the_workers_signup(term, store) -> None:
    worker = term("w13")
    await worker.type("/start")
    await _sign_up(store, (await _user(store, worker)).id, "ha_noi")
    await worker.type("luong toi thieu vung bao nhieu")
    assert "📍 Hà Nội" in worker.printed


# -- 6. foreign law, joining --------------------------------------------------------------------------------
async def test_foreign_law_is_declined_with_the_handoff(term) -> None:
    worker = term("w14")
    for text in cases.FOREIGN_LAW:
        await worker.type(text)
        assert worker.answered_topic() is None, text
        assert "Việt Nam" in worker.printed or "Vietnamese" in worker.printed, text
        assert worker.offers_handoff(), text


async def test_a_tax_question_is_declined_with_the_handoff_in_the_workers_language(term, store) -> None:
    worker = term("w14-tax")
    await worker.type("thuong tet co phai dong thue ko")
    assert worker.answered_topic() is None
    assert "thuế thu nhập cá nhân" in worker.printed and worker.offers_handoff()
    await worker.type("Is my Tet bonus taxed?")
    assert worker.answered_topic() is None
    assert "income tax" in worker.printed and worker.offers_handoff()
    # "send your question to a union officer with the button below": it is sent.
    await worker.press("Ask a union officer")
    assert (await store.get_question(1)).text == "Is my Tet bonus taxed?"


@pytest.mark.parametrize("question", cases.JOIN_QUESTIONS)
async def test_how_to_join_offers_the_signup_form(term, question) -> None:
    worker = term(f"w15-{question[:8]}")
    await worker.type(question)
    assert "menu:join" in worker.payloads(), worker.labels()
    await worker.press("✍️")
    assert "Câu 1/" in worker.printed or "Question 1/" in worker.printed


# -- issue 9: ambiguous words -------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "wrong"), cases.NOT_CONFIDENTLY_WRONG)
async def test_words_with_several_readings_are_not_answered_with_the_wrong_reading(term, text, wrong) -> None:
    worker = term(f"w16-{text[:10]}")
    await worker.type(text)
    assert worker.answered_topic() != wrong, worker.printed


# -- issue 19: a story answered by its specific entry ---------------------------------------------------------
async def test_story_is_answered_by_its_specific_entry(term) -> None:
    from handlers.rights.chat import default_service

    kb = default_service().kb
    worker = term("w17")
    await worker.type(cases.STORY_BOOK_NOT_CLOSED)
    shown = [
        eid
        for eid in cases.STORY_ENTRIES
        if eid in kb.entries and kb.entries[eid].answer_in("vi")[:60] in worker.printed
    ]
    assert shown, worker.printed
    assert "Bước tiếp theo" in worker.printed
    assert any("thông tin chung" in label for label in worker.labels())  # the topic's general answer
    await worker.press("thông tin chung")
    assert kb.topics["social_insurance"].summary_in("vi")[:40] in worker.printed


# -- bad input ---------------------------------------------------------------------------------------------------
async def test_bad_input_gets_sensible_replies(term, store) -> None:
    worker = term("w18")
    await worker.type("/start")
    user = await _user(store, worker)
    await store.subscribe(user.id, ["workers_month"])
    await worker.type("luong")
    assert worker.offers_handoff()
    await worker.type("🙂🙂🙂")
    assert worker.replies and worker.replies[0].text
    await worker.type("công ty nợ lương em 3 tháng rồi " * 130)  # ~4,000 characters
    assert worker.replies and all(len(r.text) < 4096 for r in worker.replies)
    assert worker.offers_handoff() or worker.answered_topic() is not None
    await worker.type(cases.MIXED)
    assert worker.replies[0].text
    await worker.type("nghỉ phép năm bao nhiêu ngày")
    await worker.type("nghỉ phép năm bao nhiêu ngày")
    assert "Bạn vừa hỏi câu này" in worker.printed and worker.offers_handoff()
    # Buttons from an answer sent days ago (older payloads without a language, too).
    for old in ("qa:minimum_wage", "fb:minimum_wage:1", "qd:annual_leave:en", "ask:q", "qa:gone_topic:vi"):
        await worker.tap(old)
        assert worker.replies and worker.replies[0].text, old
    assert await store.subscriptions(user.id) == {"workers_month"}


async def test_stories_with_names_and_phones_are_never_logged(term, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    # As bot/logsetup.py sets it in production: aiosqlite's DEBUG lines carry parameters.
    caplog.set_level(logging.WARNING, logger="aiosqlite")
    worker = term("w19")
    await worker.type(cases.STORY_WITH_PERSONAL_DATA)
    assert worker.replies[0].text
    await worker.type("/ask " + cases.STORY_WITH_PERSONAL_DATA)
    assert "#1" in worker.printed
    for bit in cases.PERSONAL_BITS:
        assert bit not in caplog.text
