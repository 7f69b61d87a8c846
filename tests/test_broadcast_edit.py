"""Editing a broadcast's text before it goes out: at the draft's preview, and on a
scheduled broadcast not yet sending (within the organizer's provinces, refused once a
sender has claimed it), through the real dispatcher, store and delivery engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.broadcasts.render import MAX_TEXT, render_message
from handlers.context import Services, Settings
from handlers.i18n import load_catalog
from handlers.types import Inbound
from storage import Role, Store
from storage.broadcasts import Audience, BroadcastStatus, NewBroadcast
from storage.listening import NewPoll, PollChoice
from tests.conftest import ChatDriver
from tests.fakes.broadcast_support import OPTS, RecordingControl, RecordingSender, add_workers, make_engine
from tests.test_conversation_console_e2e import Terminal

CATALOG = load_catalog()
LATER = datetime(2099, 5, 1, 1, 0, tzinfo=UTC)
TOPIC = ("workers_month",)
OLD_VI, OLD_EN = "Hội thao ngày 1/5 lúc 7 giơ sáng", "Sports day on 1 May at 7 am"
NEW_VI, NEW_EN = "Hội thao ngày 1/5 lúc 7 giờ sáng tại nhà văn hoá", "Sports day: 1 May, 7 am, at the culture house"
EDITED = "Đã lưu nội dung mới"
STARTED = "đã bắt đầu gửi nên không sửa nội dung được nữa"
NOT_FOUND = "Không tìm thấy thông báo này."
CHANGED_MEANWHILE = "đã được thay đổi"
OTHER_EN = "Sports day on 1 May at 7 am, bring water"


@pytest.fixture
def settings() -> Settings:
    # Conftest's, with room for the many presses an organizer makes in a few seconds.
    return Settings(admins=frozenset({("test", "admin")}), flood_messages=10_000)


@pytest.fixture
def services(store: Store, settings: Settings) -> Services:
    return Services(store, CATALOG, settings, broadcast_options=OPTS, broadcast_control=RecordingControl())


async def officer(  # type: ignore[no-untyped-def]
    make_chat, store: Store, uid: str, *, provinces: tuple[str, ...] = ()
) -> ChatDriver:
    """An admin (the whole country), or an organizer of `provinces`."""
    chat = make_chat(uid)
    await chat.say("/start")
    user = await store.find_user("test", uid)
    assert user is not None
    await store.set_role(user.id, Role.ORGANIZER if provinces else Role.ADMIN)
    if provinces:
        await store.add_organizer_provinces(user.id, list(provinces), None)
    return chat


async def state_of(store: Store, chat: ChatDriver):  # type: ignore[no-untyped-def]
    user = await store.find_user(chat.channel, chat.user_id)
    assert user is not None
    return await store.get_state(user.id)


async def sent_texts(store: Store, broadcast_id: int) -> list[str]:
    """What the real delivery engine sends for the broadcast, in recipient order."""
    sender = RecordingSender()
    report = await make_engine(store, {"telegram": sender}).run(broadcast_id)
    assert report.outcome == "done"
    return [text for _, text in sender.sent]


def message(lang: str, text_vi: str, text_en: str | None) -> str:
    return render_message(CATALOG, lang, text_vi, text_en).text


async def compose_to_preview(org: ChatDriver, *, english: str | None = OLD_EN) -> None:
    await org.say("/broadcast new")
    await org.say(OLD_VI)
    if english:
        await org.say(english)
    else:
        await org.press("bcc:skip_en")
    await org.press("bcc:skip_photo")
    await org.press("bcc:t:workers_month")
    await org.press("bcc:aud_ok")
    await org.press("bcc:at")
    await org.say("01/05/2099 08:00")
    assert "Xem trước" in org.text() and "Sửa nội dung" in org.labels()[1]


# -- at the draft's preview ------------------------------------------------------------
async def test_edit_at_the_preview_keeps_audience_and_time_and_only_the_new_text_is_sent(
    make_chat, store: Store
) -> None:
    await add_workers(store, [1, 2], topics=TOPIC)
    await add_workers(store, [3], topics=TOPIC, language="en")
    org = await officer(make_chat, store, "org")
    await compose_to_preview(org)
    await org.press_label("Sửa nội dung")
    assert org.last[0].text == OLD_VI, "the current text on its own, to copy and correct"
    assert "tối đa 3800 ký tự" in org.text() and "Huỷ soạn" not in org.text()

    # Refused texts are answered as when composing, and lose nothing.
    await org.say("a" * (MAX_TEXT + 1))
    assert f"dài {MAX_TEXT + 1} ký tự, tối đa {MAX_TEXT}" in org.text()
    await org.say("   ")
    assert "Nội dung đang trống" in org.text()
    await org.send_sticker()
    assert "chỉ nhận nội dung chữ" in org.text()
    state = await state_of(store, org)
    assert (state.step, state.data["text_vi"], state.data["text_en"]) == ("edit_vi", OLD_VI, OLD_EN)

    await org.say(NEW_VI)
    assert "Đã nhận nội dung tiếng Việt mới" in org.text() and org.last[0].text == OLD_EN
    await org.say(NEW_EN)
    texts = [r.text for r in org.last]
    assert texts[1:3] == [message("vi", NEW_VI, NEW_EN), message("en", NEW_VI, NEW_EN)]
    assert "người đăng ký: Tháng Công nhân" in texts[3] and "01/05/2099 08:00" in texts[3]
    await org.press_label("Xác nhận")
    assert "Đã lên lịch thông báo" in org.text()

    (b,) = await store.list_broadcasts()
    assert (b.text_vi, b.text_en) == (NEW_VI, NEW_EN)
    assert b.audience == Audience(topics=TOPIC) and b.run_at == LATER
    sent = await sent_texts(store, b.id)
    assert sorted(sent) == sorted([message("vi", NEW_VI, NEW_EN)] * 2 + [message("en", NEW_VI, NEW_EN)])
    assert not [t for t in sent if "giơ sáng" in t or OLD_EN in t], "nothing of the old text goes out"


async def test_edit_only_the_english_add_or_remove_it_and_go_back(make_chat, store: Store) -> None:
    org = await officer(make_chat, store, "org")
    await compose_to_preview(org, english=None)
    assert len([r for r in org.last if r.text.startswith(OLD_VI)]) == 1, "Vietnamese only"

    # No English yet: a new Vietnamese text goes straight back to the preview.
    await org.press("bcc:edit")
    await org.say(NEW_VI)
    assert org.last[1].text == message("vi", NEW_VI, None) and "Xác nhận" in org.labels()[0]

    # Keep the Vietnamese, add an English text.
    await org.press("bcc:edit")
    await org.press_label("Giữ tiếng Việt, sửa bản tiếng Anh")
    assert "Không cần bản tiếng Anh" in org.labels()[0]
    await org.say(NEW_EN)
    assert org.last[2].text == message("en", NEW_VI, NEW_EN)

    # Remove it again.
    await org.press("bcc:edit")
    await org.press("bcc:ed_en")
    assert org.last[0].text == NEW_EN
    await org.press_label("Bỏ bản tiếng Anh")
    assert "tiếng Anh" not in org.last[-1].text.split("Ngôn ngữ:")[1]

    # Back without a change; a button of the edit pressed at the preview is stale.
    await org.press("bcc:edit")
    await org.press_label("Quay lại xem trước")
    assert "Nội dung giữ nguyên" in org.text() and "Xác nhận" in org.labels()[0]
    await org.press("bcc:ed_drop")
    assert "bước trước" in org.text()
    await org.press("bcc:confirm")
    (b,) = await store.list_broadcasts()
    assert (b.text_vi, b.text_en) == (NEW_VI, None)


async def test_edit_buttons_never_pressed_by_typed_words_in_the_terminal(term_factory, store: Store) -> None:
    """Zalo and the terminal list buttons as numbers: the new text is typed, the choices are numbers."""
    org = term_factory("c-org")
    await org.type("/start")
    user = await store.find_user("console", "c-org")
    await store.set_role(user.id, Role.ADMIN)
    await org.type("/broadcast new")
    await org.type(OLD_VI)
    await org.press("Bỏ qua")
    await org.press("Không kèm ảnh")
    await org.press("Tháng Công nhân")
    await org.press("Tiếp")
    await org.press("Gửi ngay")
    printed = await org.press("Sửa nội dung")
    assert OLD_VI in printed and "1) 🇬🇧 Giữ tiếng Việt" in printed
    await org.type("Quay lại xem trước")  # the label's words: a text like any other here
    assert (await state_of_console(store, "c-org")).data["text_vi"] == "Quay lại xem trước"
    await org.press("Sửa nội dung")
    await org.type(NEW_VI)
    await org.press("Xác nhận")
    (b,) = await store.list_broadcasts()
    assert b.text_vi == NEW_VI


async def state_of_console(store: Store, uid: str):  # type: ignore[no-untyped-def]
    user = await store.find_user("console", uid)
    return await store.get_state(user.id)


@pytest.fixture
def term_factory(dispatcher):  # type: ignore[no-untyped-def]
    return lambda user_id: Terminal(dispatcher, user_id)


# -- a scheduled broadcast -----------------------------------------------------------
async def scheduled(store: Store, *, provinces: tuple[str, ...] = (), **kw) -> int:  # type: ignore[no-untyped-def]
    b = await store.create_broadcast(
        NewBroadcast(OLD_VI, Audience(topics=TOPIC, provinces=provinces), run_at=LATER, text_en=OLD_EN, **kw)
    )
    return b.id


async def test_editing_a_scheduled_broadcast_changes_what_is_sent(make_chat, store: Store) -> None:
    await add_workers(store, [1], topics=TOPIC)
    await add_workers(store, [2], topics=TOPIC, language="en")
    bid = await scheduled(store)
    org = await officer(make_chat, store, "org")
    await org.say(f"/broadcast {bid}")
    await org.press_label("Sửa nội dung")
    assert org.last[0].text == OLD_VI
    await org.say("")
    assert "Nội dung đang trống" in org.text()
    await org.say(NEW_VI)
    assert org.last[0].text == OLD_EN
    await org.press_label("Giữ nguyên bản tiếng Anh")
    texts = [r.text for r in org.last]
    assert f"thông báo #{bid}" in texts[0]
    assert texts[1:3] == [message("vi", NEW_VI, OLD_EN), message("en", NEW_VI, OLD_EN)]
    assert "người đăng ký: Tháng Công nhân" in texts[3] and "01/05/2099 08:00" in texts[3]
    assert (await store.get_broadcast(bid)).text_vi == OLD_VI, "nothing changes before Save"

    # Edit again goes on from the text typed so far.
    await org.press_label("Sửa lại")
    assert org.last[0].text == NEW_VI
    await org.press_label("Giữ tiếng Việt")
    await org.say(NEW_EN)
    await org.press_label("Lưu nội dung mới")
    assert EDITED in org.text() and NEW_VI[:40] in org.text()
    assert await state_of(store, org) is None

    b = await store.get_broadcast(bid)
    assert (b.text_vi, b.text_en, b.status, b.run_at) == (NEW_VI, NEW_EN, BroadcastStatus.SCHEDULED, LATER)
    (entry,) = await store.list_audit(action="broadcast.edit")
    assert entry.target == f"broadcast:{bid}"
    assert entry.details == {"changed": ["text_vi", "text_en"], "before": {"text_vi": OLD_VI, "text_en": OLD_EN}}
    assert sorted(await sent_texts(store, bid)) == sorted(
        [message("vi", NEW_VI, NEW_EN), message("en", NEW_VI, NEW_EN)]
    )


async def test_quit_cancel_same_text_and_leaving_change_nothing(make_chat, store: Store) -> None:
    bid = await scheduled(store)
    org = await officer(make_chat, store, "org")
    await org.press(f"bce:start:{bid}")
    await org.press_label("Thôi, giữ nội dung cũ")
    assert "giữ nội dung cũ" in org.text() and f"Thông báo #{bid}" in org.text()

    await org.press(f"bce:start:{bid}")
    await org.say("/cancel")
    assert f"thông báo #{bid} giữ nội dung cũ" in org.text()

    # Leaving for another screen ends the edit: the next message is not the new text.
    await org.press(f"bce:start:{bid}")
    await org.say("/broadcast list")
    await org.say(NEW_VI)  # a question for the rights Q&A now
    assert (await state_of(store, org)).flow != "bc_edit"
    await org.press(f"bce:save:{bid}")
    assert "không còn mở" in org.text()

    await org.press(f"bce:start:{bid}")
    await org.say(OLD_VI)
    await org.press("bce:keep:" + str(bid))
    await org.press(f"bce:save:{bid}")
    assert "giống hệt nội dung cũ" in org.text()
    assert await store.list_audit(action="broadcast.edit") == []
    assert (await store.get_broadcast(bid)).text_vi == OLD_VI


async def test_a_broadcast_that_started_sending_cannot_be_edited(make_chat, store: Store) -> None:
    await add_workers(store, [1], topics=TOPIC)
    bid = await scheduled(store)
    org = await officer(make_chat, store, "org")
    await org.press(f"bce:start:{bid}")
    await org.say(NEW_VI)
    await org.press(f"bce:keep:{bid}")

    # The scheduler claims it while the organizer looks at the preview.
    now = datetime.now(UTC)
    assert await store.claim_broadcast(bid, "sender-1", now=now, lease_until=now) is not None
    await org.press(f"bce:save:{bid}")
    assert "Chưa lưu" in org.text() and "giữ nội dung cũ" in org.text()
    # What was typed is given back, a message of its own to copy into a new broadcast; the
    # English kept as it was is not.
    texts = [r.text for r in org.last]
    assert NEW_VI in texts and OLD_EN not in texts and "thông báo mới" in org.text()
    assert await state_of(store, org) is None
    assert (await store.get_broadcast(bid)).text_vi == OLD_VI
    assert await store.list_audit(action="broadcast.edit") == []

    # Its screen no longer offers it, a stale button says why, and so does a text typed into an edit.
    await org.say(f"/broadcast {bid}")
    assert "Sửa nội dung" not in " ".join(org.labels())
    await org.press(f"bce:start:{bid}")
    assert STARTED in org.text()
    await store.release_broadcast(bid, "sender-1")
    await store.set_broadcast_status(bid, BroadcastStatus.PAUSED)
    await org.press(f"bce:start:{bid}")
    assert STARTED in org.text(), "paused after it started is still started"
    user = await store.find_user("test", "org")
    edit = {"id": bid, "text_vi": OLD_VI, "text_en": OLD_EN, "old_vi": OLD_VI, "old_en": OLD_EN}
    await store.set_state(user.id, "bc_edit", "en", {**edit, "text_vi": NEW_VI})
    await org.say(NEW_EN)
    assert STARTED in org.text() and await state_of(store, org) is None
    texts = [r.text for r in org.last]
    assert NEW_VI in texts and NEW_EN in texts, "the texts typed in the edit, to copy"
    assert (await store.get_broadcast(bid)).text_vi == OLD_VI


async def test_cancelled_polls_and_series(make_chat, store: Store) -> None:
    org = await officer(make_chat, store, "org")
    cancelled = await scheduled(store)
    await store.set_broadcast_status(cancelled, BroadcastStatus.CANCELLED)
    await org.press(f"bce:start:{cancelled}")
    assert "không còn gì để sửa" in org.text()

    # A poll's message is its question: its broadcast's text is not offered for editing.
    _, poll = await store.create_poll(
        NewPoll("Công ty đã trả lương chưa?", (PollChoice("Có", "Yes"), PollChoice("Chưa", "No")), LATER),
        NewBroadcast("Bình chọn", Audience(everyone=True), run_at=LATER),
    )
    await org.say(f"/broadcast {poll.id}")
    assert "Huỷ thông báo" in " ".join(org.labels()) and "Sửa nội dung" not in " ".join(org.labels())
    await org.press(f"bce:start:{poll.id}")
    assert "câu hỏi khảo sát" in org.text() and await state_of(store, org) is None

    # A recurring broadcast: the sends to come take the new text.
    series = await store.create_broadcast(
        NewBroadcast(OLD_VI, Audience(everyone=True), run_at=LATER, cron="0 19 * * mon", until=LATER)
    )
    earlier = await store.create_occurrence(series, LATER - timedelta(days=7))  # made before the edit
    await org.say(f"/broadcast {series.id}")
    await org.press_label("Sửa nội dung")
    await org.say(NEW_VI)
    assert "các lần gửi sau dùng nội dung mới" in org.text()
    await org.press_label("Lưu")
    occurrence = await store.create_occurrence(series, LATER)
    assert occurrence is not None and occurrence.text_vi == NEW_VI
    # ...and the one made before keeps the text it was made with ("các lần đã gửi không đổi").
    assert earlier is not None and (await store.get_broadcast(earlier.id)).text_vi == OLD_VI


async def test_an_organizer_of_another_province_cannot_edit(make_chat, store: Store) -> None:
    hn_id = await scheduled(store, provinces=("ha_noi",))
    hcm = await officer(make_chat, store, "org_hcm", provinces=("ho_chi_minh",))
    for action in ("start", "en", "keep", "drop", "save", "quit"):
        await hcm.press(f"bce:{action}:{hn_id}")
        assert NOT_FOUND in hcm.text(), action
    # Even with an edit of it forged into the conversation state.
    user = await store.find_user("test", "org_hcm")
    await store.set_state(user.id, "bc_edit", "confirm", {"id": hn_id, "text_vi": NEW_VI, "text_en": None})
    await hcm.press(f"bce:save:{hn_id}")
    assert NOT_FOUND in hcm.text()
    await hcm.say(NEW_VI)
    assert NOT_FOUND in hcm.text()
    assert (await store.get_broadcast(hn_id)).text_vi == OLD_VI
    assert await store.list_audit(action="broadcast.edit") == []

    # Their own province's organizer may, until the province is taken from them mid-edit.
    hn = await officer(make_chat, store, "org_hn", provinces=("ha_noi",))
    await hn.say(f"/broadcast {hn_id}")
    await hn.press_label("Sửa nội dung")
    await hn.say(NEW_VI)
    await hn.press_label("Giữ nguyên bản tiếng Anh")
    org = await store.find_user("test", "org_hn")
    await store.remove_organizer_provinces(org.id, ["ha_noi"])
    await hn.press_label("Lưu")
    assert NOT_FOUND in hn.text()
    assert (await store.get_broadcast(hn_id)).text_vi == OLD_VI


async def test_workers_cannot_edit(chat, store: Store) -> None:
    bid = await scheduled(store)
    await chat.say("/start")
    for payload in (f"bce:start:{bid}", f"bce:save:{bid}", "bcc:edit"):
        await chat.press(payload)
        assert "chỉ dành cho cán bộ công đoàn" in chat.text()
    assert (await store.get_broadcast(bid)).text_vi == OLD_VI


async def test_a_role_revoked_mid_edit_ends_it(make_chat, store: Store, dispatcher) -> None:
    bid = await scheduled(store)
    org = await officer(make_chat, store, "org")
    await org.press(f"bce:start:{bid}")
    user = await store.find_user("test", "org")
    await store.set_role(user.id, Role.WORKER)
    replies = await dispatcher.handle(Inbound.parse_text("test", "org", NEW_VI))
    assert "chỉ dành cho cán bộ công đoàn" in replies[0].text
    assert await store.get_state(user.id) is None
    assert (await store.get_broadcast(bid)).text_vi == OLD_VI


# -- two organizers, one broadcast -----------------------------------------------------
async def save_english(org: ChatDriver, bid: int, english: str) -> None:
    """An organizer corrects the English of broadcast `bid` and saves it, from its screen."""
    await org.say(f"/broadcast {bid}")
    await org.press_label("Sửa nội dung")
    await org.press_label("Giữ tiếng Việt")
    await org.say(english)
    await org.press_label("Lưu nội dung mới")
    assert EDITED in org.text()


async def test_a_later_save_never_undoes_another_organizers_edit(make_chat, store: Store) -> None:
    bid = await scheduled(store)
    a = await officer(make_chat, store, "org_a")
    b = await officer(make_chat, store, "org_b")
    # A corrects the Vietnamese, keeps the English, and looks at the preview...
    await a.say(f"/broadcast {bid}")
    await a.press_label("Sửa nội dung")
    await a.say(NEW_VI)
    await a.press_label("Giữ nguyên bản tiếng Anh")
    # ... while B corrects the English and saves.
    await save_english(b, bid, NEW_EN)

    await a.press_label("Lưu nội dung mới")
    assert EDITED not in a.text() and CHANGED_MEANWHILE in a.text()
    texts = [r.text for r in a.last]
    assert NEW_EN in texts, "the current text, each a message of its own"
    assert NEW_VI in texts, "what A typed, given back to copy"
    assert OLD_EN not in texts, "not the English A only kept: pasted back, it would undo B's fix"
    assert await state_of(store, a) is None
    got = await store.get_broadcast(bid)
    assert (got.text_vi, got.text_en) == (OLD_VI, NEW_EN)
    (entry,) = await store.list_audit(action="broadcast.edit")
    assert entry.details == {"changed": ["text_en"], "before": {"text_en": OLD_EN}}

    # Editing again starts from the text as it is now, and A's fix lands beside B's.
    await a.press_label("Sửa nội dung")
    assert a.last[0].text == OLD_VI
    await a.say(NEW_VI)
    assert a.last[0].text == NEW_EN
    await a.press_label("Giữ nguyên bản tiếng Anh")
    await a.press_label("Lưu nội dung mới")
    assert EDITED in a.text()
    got = await store.get_broadcast(bid)
    assert (got.text_vi, got.text_en) == (NEW_VI, NEW_EN)
    latest, _ = await store.list_audit(action="broadcast.edit")
    assert latest.details == {"changed": ["text_vi"], "before": {"text_vi": OLD_VI}}


async def test_an_edit_overtaken_by_another_save_is_said_at_its_next_step(make_chat, store: Store) -> None:
    bid = await scheduled(store)
    a = await officer(make_chat, store, "org_a")
    b = await officer(make_chat, store, "org_b")
    await a.press(f"bce:start:{bid}")
    await save_english(b, bid, NEW_EN)
    # Said as soon as A types, not after the whole edit; the text typed comes back.
    await a.say(NEW_VI)
    assert CHANGED_MEANWHILE in a.text() and NEW_VI in [r.text for r in a.last]
    assert await state_of(store, a) is None

    # "Edit again" at a preview someone else's save has made stale: not from the stale copy.
    await a.press(f"bce:start:{bid}")
    await a.say(NEW_VI)
    await a.press_label("Giữ nguyên bản tiếng Anh")
    await save_english(b, bid, OTHER_EN)
    await a.press_label("Sửa lại")
    texts = [r.text for r in a.last]
    assert CHANGED_MEANWHILE in a.text() and OTHER_EN in texts and NEW_VI in texts
    assert "Gửi nội dung mới" not in a.text()
    got = await store.get_broadcast(bid)
    assert (got.text_vi, got.text_en) == (OLD_VI, OTHER_EN)


async def test_another_save_landing_just_before_the_write_is_not_undone(
    make_chat, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the last look at the broadcast and the write, only the store's condition sees it."""
    bid = await scheduled(store)
    org = await officer(make_chat, store, "org")
    await org.press(f"bce:start:{bid}")
    await org.say(NEW_VI)
    await org.press(f"bce:keep:{bid}")
    write = store.edit_broadcast_text

    async def another_lands_first(*args, **kw) -> object:  # type: ignore[no-untyped-def]
        assert await write(bid, OLD_VI, NEW_EN, old_vi=OLD_VI, old_en=OLD_EN) is not None
        return await write(*args, **kw)

    monkeypatch.setattr(store, "edit_broadcast_text", another_lands_first)
    await org.press(f"bce:save:{bid}")
    assert CHANGED_MEANWHILE in org.text() and NEW_VI in [r.text for r in org.last]
    got = await store.get_broadcast(bid)
    assert (got.text_vi, got.text_en) == (OLD_VI, NEW_EN)
    assert await store.list_audit(action="broadcast.edit") == []


async def test_the_same_fix_saved_by_another_organizer_first_is_nothing_to_save(make_chat, store: Store) -> None:
    bid = await scheduled(store)
    a = await officer(make_chat, store, "org_a")
    b = await officer(make_chat, store, "org_b")
    for org in (a, b):
        await org.press(f"bce:start:{bid}")
        await org.press(f"bce:en:{bid}")
        await org.say(NEW_EN)
    await b.press(f"bce:save:{bid}")
    await a.press(f"bce:save:{bid}")
    assert "giống hệt nội dung của bạn" in a.text() and CHANGED_MEANWHILE not in a.text()
    assert len(await store.list_audit(action="broadcast.edit")) == 1


# -- the composer's draft and its preview ----------------------------------------------
async def test_editing_a_broadcast_while_composing_asks_before_discarding_the_draft(make_chat, store: Store) -> None:
    bid = await scheduled(store)
    org = await officer(make_chat, store, "org")
    await compose_to_preview(org, english=None)
    await org.say(f"/broadcast {bid}")
    await org.press_label("Sửa nội dung")
    assert "Bạn đang soạn một thông báo chưa gửi" in org.text() and f"#{bid}" in org.text()
    assert (await state_of(store, org)).flow == "bc_compose", "the draft is still there"

    # Back to the draft: shown where it was, and it still goes out.
    await org.press_label("Quay lại bản nháp")
    assert message("vi", OLD_VI, None) in [r.text for r in org.last] and "Xác nhận" in org.labels()[0]
    await org.press_label("Xác nhận")
    assert "Đã lên lịch thông báo" in org.text()

    # Discarding the draft on purpose opens the edit.
    await compose_to_preview(org)
    await org.press(f"bce:start:{bid}")
    await org.press_label("Bỏ nháp và sửa")
    assert org.last[0].text == OLD_VI and (await state_of(store, org)).flow == "bc_edit"
    await org.say(NEW_VI)
    await org.press_label("Giữ nguyên bản tiếng Anh")
    await org.press_label("Lưu nội dung mới")
    assert EDITED in org.text()
    await org.press("bcc:confirm")
    assert "Bản nháp này không còn nữa" in org.text()
    assert len(await store.list_broadcasts()) == 2


async def test_cancel_while_editing_at_the_preview_keeps_the_draft_and_its_text(make_chat, store: Store) -> None:
    org = await officer(make_chat, store, "org")
    await compose_to_preview(org)
    await org.press_label("Sửa nội dung")
    await org.say("/cancel")
    assert "Nội dung giữ nguyên" in org.text() and "Đã hủy" not in org.text()
    assert "Xác nhận" in " ".join(org.labels())
    state = await state_of(store, org)
    assert (state.flow, state.step, state.data["text_vi"]) == ("bc_compose", "confirm", OLD_VI)

    # At the English step, after a new Vietnamese text: the whole edit is undone.
    await org.press("bcc:edit")
    await org.say(NEW_VI)
    assert "Đã nhận nội dung tiếng Việt mới" in org.text()
    await org.say("/cancel")
    assert "Nội dung giữ nguyên" in org.text()
    state = await state_of(store, org)
    assert (state.step, state.data["text_vi"], state.data["text_en"]) == ("confirm", OLD_VI, OLD_EN)
    await org.press_label("Xác nhận")
    (b,) = await store.list_broadcasts()
    assert (b.text_vi, b.text_en) == (OLD_VI, OLD_EN)

    # Anywhere else in the composer, /cancel still discards the draft.
    await org.say("/broadcast new")
    await org.say("/cancel")
    assert "Đã hủy" in org.text() and await state_of(store, org) is None
