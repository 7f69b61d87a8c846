"""Hardship support after an outside tester's round: a story needs words; text typed at
the consent step is added, never dropped, and the story can be edited; the same story
twice is not a silent second case; the worker sees their cases and the officers' reason
in /support; a reason needs words and a declined or closed case can be reopened; no
hotline to call when none is configured; the organizer sees the worker's language; the
province chosen for /programs is /support's and the other way round."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from handlers.care.common import render_notice
from handlers.context import Services, Settings
from handlers.dispatcher import Dispatcher
from handlers.i18n import load_catalog
from handlers.routes import build_router
from storage.care import CaseCategory, CaseMoved, CaseStatus, SupportCase
from tests.conftest import ChatDriver
from tests.test_care_programs import Outbox, deliver, same_database
from tests.test_care_support import STORY, cli, open_case, organizer, seed_case  # noqa: F401 (cli: a fixture)


async def to_consent(chat, text: str = STORY) -> None:  # type: ignore[no-untyped-def]
    await chat.say("/support")
    await chat.press_label("Ốm đau")
    await chat.say(text)
    await chat.say("0912 000 111")
    if "tỉnh/thành nào" in chat.text():  # not once chosen: kept for the next request
        await chat.say("TP HCM")
    assert "Trước khi gửi" in chat.text() or "giống hệt" in chat.text()


async def two_officers_on_a_case(store, chat, make_chat):  # type: ignore[no-untyped-def]
    """The worker's open case, the worker, and the chats of two officers of its province."""
    await open_case(chat, category="Ốm đau")
    case = await only_case(store)
    worker = await store.find_user("test", "u1")
    await organizer(store, "o101", ["ho_chi_minh"])
    await organizer(store, "o102", ["ho_chi_minh"])
    return case, worker, make_chat("o101"), make_chat("o102")


async def only_case(store):  # type: ignore[no-untyped-def]
    [case] = await store.list_cases(provinces=None)
    return case


async def test_a_story_of_only_emoji_is_refused_with_what_to_write(store, chat) -> None:
    await chat.say("/support")
    await chat.press_label("Ốm đau")
    for nothing in ("😭😭😭", "... !!!", "123 456"):
        await chat.say(nothing)
        assert "bằng chữ" in chat.text() and "Ví dụ" in chat.text(), nothing
        assert "điện thoại" not in chat.text().lower()
    await chat.say("Con tôi ốm 😭")
    assert "điện thoại" in chat.text().lower()


async def test_text_typed_at_consent_is_added_and_consent_asked_again(store, chat) -> None:
    await to_consent(chat, "Con tôi bị ốm")
    assert "✏️ Sửa nội dung" in chat.labels()
    await chat.say("Cháu đang nằm viện Nhi, cần hỗ trợ viện phí")
    assert "Đã thêm vào nội dung" in chat.text() and "Trước khi gửi" in chat.text()
    assert "Vui lòng chọn" not in chat.text()
    for answer in ("ok", "đồng ý", "😭"):  # a typed yes (or nothing) is not more of the story
        await chat.say(answer)
        assert "Vui lòng chọn" in chat.text() and "Trước khi gửi" in chat.text(), answer
    await chat.say("x" * 480)
    assert "quá giới hạn 500" in chat.text() and "chưa thêm" in chat.text()
    await chat.press_label("Đồng ý, gửi")
    case = await only_case(store)
    assert case.description == "Con tôi bị ốm\nCháu đang nằm viện Nhi, cần hỗ trợ viện phí"


async def test_the_story_can_be_rewritten_at_consent(store, chat) -> None:
    await to_consent(chat, "Con tôi bị ốm")
    await chat.press_label("Sửa nội dung")
    assert "Con tôi bị ốm" in chat.text() and "Gõ lại toàn bộ" in chat.text()
    await chat.say("Mẹ tôi mất tuần trước, nhà khó khăn")
    assert "Trước khi gửi" in chat.text()  # the phone and province are kept
    await chat.press_label("Đồng ý, gửi")
    assert (await only_case(store)).description == "Mẹ tôi mất tuần trước, nhà khó khăn"


async def seed_open_case(store, external: str = "u1", text: str = STORY) -> int:  # type: ignore[no-untyped-def]
    user = await store.touch_user("test", external, language="vi")
    return await store.create_case(
        user_id=user.id,
        category=CaseCategory.ILLNESS,
        description=text,
        phone_e164="+84912000111",
        province_id="ho_chi_minh",
        consent_version="t",
    )


async def test_the_same_story_twice_shows_the_open_case_and_the_organizer_sees_both(store, chat, make_chat) -> None:
    await seed_open_case(store)
    first = await only_case(store)
    # The same story again, without accents and a word changed: the open case, no new one.
    await to_consent(chat, "Toi bi nga gian giao o xuong, gay chan, dang nam vien Cho Ray!")
    assert f"#{first.id}" in chat.text() and "giống hệt" in chat.text()
    assert "Đồng ý, gửi" not in " ".join(chat.labels())
    await chat.press_label("Hủy")
    assert len(await store.list_cases(provinces=None)) == 1
    # Sent anyway: a second case, and the organizer sees the first beside it.
    await to_consent(chat)
    await chat.press_label("Vẫn gửi")
    assert "Trước khi gửi" in chat.text()
    await chat.press_label("Đồng ý, gửi")
    second = (await store.list_cases(provinces=None))[0]
    assert second.id != first.id
    await organizer(store, "hcm-dup", ["ho_chi_minh"])
    hcm = make_chat("hcm-dup")
    await hcm.press(f"cc:v:{second.id}")
    assert f"còn hồ sơ khác đang mở: #{first.id}" in hcm.text()


async def test_another_story_while_a_case_is_open_is_a_new_case_and_said_so(store, chat) -> None:
    first = await seed_open_case(store)
    await to_consent(chat, "Nhà tôi bị lũ cuốn trôi hết đồ đạc")
    assert f"Lưu ý: bạn đang có hồ sơ #{first}" in chat.text()
    await chat.press_label("Đồng ý, gửi")
    assert len(await store.list_cases(provinces=None)) == 2


async def test_support_shows_the_workers_cases_with_the_reason(store, chat, make_chat) -> None:
    await open_case(chat, category="Ốm đau")
    case = await only_case(store)
    await organizer(store, "hcm-mine", ["ho_chi_minh"])
    hcm = make_chat("hcm-mine")
    await hcm.press(f"cc:s:{case.id}:contacted")
    await hcm.say("Ghi chú nội bộ: đã gọi")
    await hcm.press(f"cc:s:{case.id}:declined")
    await hcm.say("Không thuộc diện hỗ trợ của quỹ năm nay")
    await chat.say("/support")
    mine = chat.last[0].text
    assert "Hồ sơ hỗ trợ của bạn" in mine and f"#{case.id}" in mine and "không hỗ trợ" in mine
    assert "Không thuộc diện hỗ trợ của quỹ năm nay" in mine
    assert "Ghi chú nội bộ" not in mine  # the officers' own notes are not the worker's
    assert "Bạn đang gặp khó khăn gì?" in chat.text()  # and a new request can start at once


async def test_a_reason_needs_words_and_a_declined_case_can_be_reopened(store, chat, make_chat) -> None:
    await open_case(chat, category="Ốm đau")
    case = await only_case(store)
    await organizer(store, "hcm-re", ["ho_chi_minh"])
    hcm = make_chat("hcm-re")
    await hcm.press(f"cc:s:{case.id}:declined")
    await hcm.say("😀")
    assert "cần có chữ" in hcm.text()
    assert (await store.get_case(case.id)).status is CaseStatus.RECEIVED
    await hcm.say("Không đủ điều kiện")
    await hcm.press(f"cc:v:{case.id}")
    assert "Mở lại" in " ".join(hcm.labels())
    await hcm.press_label("Mở lại")
    assert "Bỏ qua" not in hcm.labels()  # the worker is told why: a reason is needed
    await hcm.say("👍")
    assert "cần có chữ" in hcm.text()
    await hcm.say("Nhầm hồ sơ, chị vẫn được xét hỗ trợ")
    assert (await store.get_case(case.id)).status is CaseStatus.RECEIVED
    audit = await store.list_audit(action="care.case.status")
    assert ("declined", "received") in [(a.details["from"], a.details["to"]) for a in audit]
    outbox = Outbox()
    await deliver(store, outbox)
    last = [r.text for r in outbox.to("test", "u1")][-1]
    assert "đã được mở lại" in last and "Nhầm hồ sơ, chị vẫn được xét hỗ trợ" in last


def test_cases_cli_needs_a_worded_reason_and_reopens(cli) -> None:  # noqa: F811
    case_id, _ = asyncio.run(seed_case(cli.db))
    code, _, err = cli("cases", "set", str(case_id), "--status", "declined", "--note", "😀")
    assert code == 2 and "--note" in err
    assert cli("cases", "set", str(case_id), "--status", "declined", "--note", "Không đủ điều kiện")[0] == 0
    code, _, err = cli("cases", "set", str(case_id), "--status", "received")
    assert code == 2 and "--note" in err
    code, out, _ = cli("cases", "set", str(case_id), "--status", "received", "--note", "Nhầm, xét lại")
    assert code == 0 and "declined -> received" in out
    code, _, err = cli("cases", "set", str(case_id), "--status", "received", "--note", "Lần nữa")
    assert code == 1 and "cannot become received" in err  # open already


async def test_not_sending_mentions_the_hotline_only_with_a_number(store, rights_service) -> None:
    for hotline, told, untold in (("1900 0000", "1900 0000", "/ask"), ("", "/ask", "đường dây nóng")):
        services = Services(store, load_catalog(), Settings(hotline=hotline), rights=rights_service)
        chat = ChatDriver(Dispatcher(services, build_router()), f"h{hotline[:4]}")
        await to_consent(chat)
        await chat.press_label("Không gửi")
        assert told in chat.text() and untold not in chat.text(), hotline


async def test_the_organizer_sees_the_workers_language(store, make_chat) -> None:
    worker = make_chat("lang-en")
    await worker.say("/lang en")
    await worker.say("/support")
    await worker.press_label("Illness")
    await worker.say("My child is in hospital")
    await worker.say("0912 000 111")
    await worker.say("TP HCM")
    await worker.press_label("I agree")
    case = await only_case(store)
    await organizer(store, "hcm-lang", ["ho_chi_minh"])
    hcm = make_chat("hcm-lang")
    await hcm.press(f"cc:v:{case.id}")
    assert "Ngôn ngữ của người lao động: 🇬🇧 English" in hcm.text()


async def test_the_province_of_programs_is_reused_by_support_and_back(store, make_chat) -> None:
    chat = make_chat("prov")
    await chat.say("/programs")
    await chat.press("cv:p:bac_ninh")
    await chat.say("/support")
    await chat.press_label("Ốm đau")
    await chat.say("Con tôi bị ốm")
    await chat.say("0912 000 111")
    assert "Trước khi gửi" in chat.text() and "Bắc Ninh" in chat.text()  # not asked again
    await chat.press_label("Đổi tỉnh/thành")
    await chat.say("Đà Nẵng")
    assert "Trước khi gửi" in chat.text() and "Đà Nẵng" in chat.text()
    await chat.press_label("Đồng ý, gửi")
    assert (await only_case(store)).province_id == "da_nang"
    user = await store.find_user("test", "prov")
    assert await store.care_province(user.id) == "da_nang"  # /programs and /benefits now use it


async def test_store_a_reopening_notice_carries_its_reason_on_every_backend(backend) -> None:
    store = backend
    case_id = await seed_open_case(store, "reopen")
    user = await store.find_user("test", "reopen")
    await store.set_case_status(
        case_id, CaseStatus.DECLINED, expected=CaseStatus.RECEIVED, note="Không đủ điều kiện", author_id=None
    )
    reopened = await store.set_case_status(
        case_id, CaseStatus.RECEIVED, expected=CaseStatus.DECLINED, note="Nhầm, xét lại", author_id=None
    )
    assert reopened is not None and reopened.status is CaseStatus.RECEIVED
    assert [m.params for m in await store.pending_outbox(user.id)] == [
        {"case": case_id, "status": "declined", "reason": "Không đủ điều kiện"},
        {"case": case_id, "status": "received", "reason": "Nhầm, xét lại", "reopened": True},
    ]
    # The worker reads it as a reopening, not as a bare "received" after the refusal.
    catalog = load_catalog()
    notice = (await store.pending_outbox(user.id))[-1]
    text = render_notice(catalog, "vi", ZoneInfo("Asia/Ho_Chi_Minh"), notice, "test").text
    assert text.startswith(f"🤝 Hồ sơ hỗ trợ số {case_id} đã được mở lại") and "Nhầm, xét lại" in text
    assert [(e.status, e.note) for e in await store.case_events(case_id)][-1] == (
        CaseStatus.RECEIVED,
        "Nhầm, xét lại",
    )


# -- a reviewer's round: two officers moving one case; a typed no at the consent step --------------
async def test_store_a_stale_expected_status_changes_nothing_and_queues_nothing(backend) -> None:
    store = backend
    case_id = await seed_open_case(store, "stale")
    user = await store.find_user("test", "stale")
    kw = {"author_id": None}
    await store.set_case_status(case_id, CaseStatus.DECLINED, expected=CaseStatus.RECEIVED, note="Không đủ", **kw)
    reopened = await store.set_case_status(
        case_id, CaseStatus.RECEIVED, expected=CaseStatus.DECLINED, note="Xét lại", **kw
    )
    assert isinstance(reopened, SupportCase) and reopened.status is CaseStatus.RECEIVED
    await store.set_case_status(case_id, CaseStatus.CONTACTED, expected=CaseStatus.RECEIVED, note=None, **kw)
    before = await store.get_case(case_id)
    events, notices = await store.case_events(case_id), await store.pending_outbox(user.id)
    # The second officer's reopening, from the refusal they saw: the case has moved on since.
    late = await store.set_case_status(case_id, CaseStatus.RECEIVED, expected=CaseStatus.DECLINED, note="Lần 2", **kw)
    assert isinstance(late, CaseMoved) and late.case == before and late.case.status is CaseStatus.CONTACTED
    assert await store.get_case(case_id) == before  # nothing changed, not even updated_at
    assert await store.case_events(case_id) == events
    assert await store.pending_outbox(user.id) == notices  # and the worker is told nothing
    assert [m.params.get("reopened") for m in notices] == [None, True, None]
    missing = await store.set_case_status(999, CaseStatus.RECEIVED, expected=CaseStatus.DECLINED, note="x", **kw)
    assert missing is None


async def test_store_two_reopenings_at_once_reopen_once_on_every_backend(backend) -> None:
    """As two bot processes (or the bot and the CLI) would: one wins, one notice."""
    case_id = await seed_open_case(backend, "race")
    user = await backend.find_user("test", "race")
    await backend.set_case_status(
        case_id, CaseStatus.DECLINED, expected=CaseStatus.RECEIVED, note="Không đủ", author_id=None
    )
    other = same_database(backend)
    await other.open()
    try:
        results = await asyncio.gather(
            *(
                s.set_case_status(
                    case_id, CaseStatus.RECEIVED, expected=CaseStatus.DECLINED, note=f"Mở lại {i}", author_id=None
                )
                for i, s in enumerate((backend, other, backend, other))
            )
        )
    finally:
        await other.close()
    assert sum(isinstance(r, SupportCase) for r in results) == 1
    assert sum(isinstance(r, CaseMoved) for r in results) == 3
    reopened = [m for m in await backend.pending_outbox(user.id) if m.params.get("reopened")]
    assert len(reopened) == 1
    assert [e.status for e in await backend.case_events(case_id)] == [
        CaseStatus.RECEIVED,
        CaseStatus.DECLINED,
        CaseStatus.RECEIVED,
    ]


async def test_two_officers_reopening_one_case_reopen_it_once(store, chat, make_chat) -> None:
    """The reviewer's repro: both press "Mở lại", one reopens and moves the case on to
    "đã liên hệ", then the other finishes typing: nothing goes back, one notice."""
    case, worker, o101, o102 = await two_officers_on_a_case(store, chat, make_chat)
    await o101.press(f"cc:v:{case.id}")
    await o101.press_label("không hỗ trợ")
    await o101.say("Không đủ điều kiện")
    for officer in (o101, o102):
        await officer.press(f"cc:v:{case.id}")
        await officer.press_label("Mở lại")
        assert "Gõ lý do" in officer.text()
    await o102.say("Nhầm hồ sơ, xét lại")
    await o102.press(f"cc:v:{case.id}")
    await o102.press_label("đã liên hệ")
    await o102.press_label("Bỏ qua")
    assert (await store.get_case(case.id)).status is CaseStatus.CONTACTED
    await o101.say("Mở lại vì thiếu giấy tờ")
    said = o101.text()
    assert "đổi trạng thái trong lúc" in said and '"đã liên hệ"' in said and "chưa được lưu" in said
    assert "Mở lại vì thiếu giấy tờ" in said  # what they typed is shown, not lost
    assert f"cc:v:{case.id}" in o101.payloads()
    assert (await store.get_case(case.id)).status is CaseStatus.CONTACTED
    assert await store.get_state((await store.find_user("test", "o101")).id) is None
    notices = [m.params for m in await store.pending_outbox(worker.id)]
    assert [p["status"] for p in notices] == ["declined", "received", "contacted"]
    assert sum(1 for p in notices if p.get("reopened")) == 1
    audit = [(a.details["from"], a.details["to"]) for a in await store.list_audit(action="care.case.status")]
    assert sorted(audit) == sorted([("received", "declined"), ("declined", "received"), ("received", "contacted")])


async def test_a_press_on_a_stale_case_view_changes_nothing(store, chat, make_chat) -> None:
    await open_case(chat, category="Ốm đau")
    case = await only_case(store)
    await organizer(store, "o201", ["ho_chi_minh"])
    await organizer(store, "o202", ["ho_chi_minh"])
    o201, o202 = make_chat("o201"), make_chat("o202")
    await o201.press(f"cc:v:{case.id}")  # seen as received
    await o202.press(f"cc:s:{case.id}:contacted")
    await o202.press_label("Bỏ qua")
    # Declining is allowed from "đã liên hệ" too, but o201 decided on what they saw.
    await o201.press_label("không hỗ trợ")
    assert "đổi trạng thái trong lúc" in o201.text() and '"đã liên hệ"' in o201.text()
    assert "Gõ lý do" not in o201.text()
    assert (await store.get_case(case.id)).status is CaseStatus.CONTACTED
    # The fresh view moves it as before.
    await o201.press(f"cc:v:{case.id}")
    await o201.press_label("không hỗ trợ")
    await o201.say("Không thuộc diện hỗ trợ")
    assert (await store.get_case(case.id)).status is CaseStatus.DECLINED


async def test_a_typed_no_at_consent_is_the_dont_send_button(store, make_chat) -> None:
    button = make_chat("no-button")
    await to_consent(button)
    await button.press_label("Không gửi")
    expected = button.text()
    for i, no in enumerate(("không đồng ý", "Không gửi", "ko dong y", "khong", "No", "Không đồng ý!")):
        chat = make_chat(f"no{i}")
        await to_consent(chat, "Con tôi bị ốm")
        await chat.say(no)
        assert chat.text() == expected, no
        user = await store.find_user("test", f"no{i}")
        assert await store.get_state(user.id) is None, no  # the answers go, as with the button
    assert await store.list_cases(provinces=None) == []


async def test_the_reviewers_sequence_at_consent_adds_nothing_to_the_story(store, chat) -> None:
    await to_consent(chat, "Con tôi bị ốm")
    await chat.say("không đồng ý")
    assert "Đã hủy, không có gì được lưu" in chat.text() and "Trước khi gửi" not in chat.text()
    for more in ("hủy", "thôi"):  # the request is gone: nothing to add these to
        await chat.say(more)
        assert "Đã thêm vào nội dung" not in chat.text() and "Trước khi gửi" not in chat.text()
    assert await store.list_cases(provinces=None) == []


async def test_quit_words_at_consent_show_the_way_out_and_keep_the_story(store, chat) -> None:
    await to_consent(chat, "Con tôi bị ốm")
    # "đúng" (a yes) folds to "dung" (dừng, a quit word): neither declines nor is the story.
    for quit in ("hủy", "thôi", "Dừng lại", "đúng", "stop", "hủy yêu cầu"):
        await chat.say(quit)
        said = chat.text()
        assert 'Bấm "Không gửi"' in said and "✅ Đồng ý, gửi" in said, quit
        assert "Đã thêm vào nội dung" not in said and "Trước khi gửi" in said, quit
    await chat.press_label("Đồng ý, gửi")
    assert (await only_case(store)).description == "Con tôi bị ốm"


async def test_quit_words_before_consent_are_not_answers(store, chat) -> None:
    await chat.say("/support")
    await chat.press_label("Ốm đau")
    for quit in ("hủy", "thôi"):
        await chat.say(quit)
        said = chat.text()
        assert 'Bấm "✖ Hủy"' in said and "/cancel" in said and "điện thoại" not in said.lower(), quit
    await chat.say("Con tôi bị ốm")
    await chat.say("thôi")
    assert 'Bấm "✖ Hủy"' in chat.text() and "điện thoại" in chat.text().lower()  # the phone asked again
    await chat.say("0912 000 111")
    if "tỉnh/thành nào" in chat.text():
        await chat.say("hủy")
        assert 'Bấm "✖ Hủy"' in chat.text() and "tỉnh/thành nào" in chat.text()
        await chat.say("TP HCM")
    await chat.press_label("Đồng ý, gửi")
    case = await only_case(store)
    assert case.description == "Con tôi bị ốm" and case.phone_e164 == "+84912000111"


async def test_a_no_at_the_same_story_step_is_not_more_story(store, chat) -> None:
    await seed_open_case(store)
    await to_consent(chat)
    assert "giống hệt" in chat.text()
    for no in ("không gửi", "hủy"):
        await chat.say(no)
        assert 'Bấm "✖ Hủy"' in chat.text() and "giống hệt" in chat.text(), no
    await chat.press_label("Vẫn gửi")
    await chat.press_label("Đồng ý, gửi")
    assert (await store.list_cases(provinces=None))[0].description == STORY


async def test_a_typed_yes_at_consent_still_only_points_to_the_buttons(store, chat) -> None:
    await to_consent(chat, "Con tôi bị ốm")
    for yes in ("đồng ý", "ok", "gửi"):
        await chat.say(yes)
        assert "Vui lòng chọn" in chat.text() and "Trước khi gửi" in chat.text(), yes
    assert await store.list_cases(provinces=None) == []


def test_cases_cli_set_does_not_overwrite_a_change_made_meanwhile(cli, monkeypatch) -> None:  # noqa: F811
    from storage.sqlite import SQLiteStore

    case_id, user_id = asyncio.run(seed_case(cli.db))
    real = SQLiteStore.set_case_status

    async def officer_first(self, case_id, status, **kw):  # type: ignore[no-untyped-def]
        # An officer in the bot moves the case between the CLI's read and its write.
        monkeypatch.setattr(SQLiteStore, "set_case_status", real)
        await real(self, case_id, CaseStatus.CONTACTED, expected=CaseStatus.RECEIVED, note=None, author_id=None)
        return await real(self, case_id, status, **kw)

    monkeypatch.setattr(SQLiteStore, "set_case_status", officer_first)
    code, out, err = cli("cases", "set", str(case_id), "--status", "declined", "--note", "Không đủ điều kiện")
    assert code == 1 and "changed meanwhile" in err and "now contacted" in err and "->" not in out

    async def check() -> None:
        async with SQLiteStore(cli.db) as store:
            assert (await store.get_case(case_id)).status is CaseStatus.CONTACTED
            assert [m.params["status"] for m in await store.pending_outbox(user_id)] == ["contacted"]
            assert [a.details["via"] for a in await store.list_audit(action="care.case.status")] == []

    asyncio.run(check())


# -- declined, reopened and declined again: back at the status seen, not the case seen -----------
async def test_store_a_case_back_at_the_status_seen_after_other_changes_is_not_moved(backend) -> None:
    store = backend
    case_id = await seed_open_case(store, "aba")
    user = await store.find_user("test", "aba")
    kw = {"author_id": None}
    await store.set_case_status(case_id, CaseStatus.DECLINED, expected=CaseStatus.RECEIVED, note="Không đủ", **kw)
    seen = len(await store.case_events(case_id))  # what an officer's view of the refusal holds
    await store.set_case_status(case_id, CaseStatus.RECEIVED, expected=CaseStatus.DECLINED, note="Xét lại", **kw)
    await store.set_case_status(case_id, CaseStatus.DECLINED, expected=CaseStatus.RECEIVED, note="Vẫn thiếu", **kw)
    before, notices = await store.get_case(case_id), await store.pending_outbox(user.id)
    late = await store.set_case_status(
        case_id, CaseStatus.RECEIVED, expected=CaseStatus.DECLINED, note="Mở lại", changes=seen, **kw
    )
    assert isinstance(late, CaseMoved) and late.case == before
    assert await store.get_case(case_id) == before and await store.pending_outbox(user.id) == notices
    # Seen as it is now, the same move is made.
    now_seen = len(await store.case_events(case_id))
    moved = await store.set_case_status(
        case_id, CaseStatus.RECEIVED, expected=CaseStatus.DECLINED, note="Mở lại", changes=now_seen, **kw
    )
    assert isinstance(moved, SupportCase) and moved.status is CaseStatus.RECEIVED
    assert len(await store.case_events(case_id)) == now_seen + 1


async def test_a_reopen_pressed_on_a_refusal_since_reopened_and_refused_again_changes_nothing(
    store, chat, make_chat
) -> None:
    case, worker, o101, o102 = await two_officers_on_a_case(store, chat, make_chat)
    await o102.press(f"cc:v:{case.id}")
    await o102.press_label("không hỗ trợ")
    await o102.say("Không đủ điều kiện")
    await o101.press(f"cc:v:{case.id}")  # o101 looks at the refusal, and keeps the view open
    (stale,) = [p for p in o101.payloads() if p.startswith(f"cc:s:{case.id}:received:")]
    await o102.press(f"cc:v:{case.id}")
    await o102.press_label("Mở lại")
    await o102.say("Có giấy mới")
    await o102.press(f"cc:v:{case.id}")
    await o102.press_label("không hỗ trợ")
    await o102.say("Giấy mới cũng không đủ")
    notices = await store.pending_outbox(worker.id)
    await o101.press(stale)
    assert "đổi trạng thái trong lúc" in o101.text()
    assert (await store.get_case(case.id)).status is CaseStatus.DECLINED
    assert await store.pending_outbox(worker.id) == notices
    # Pressed before the second refusal, with the reason typed after it: still nothing.
    await o102.press(f"cc:v:{case.id}")
    await o102.press_label("Mở lại")
    await o101.press(f"cc:v:{case.id}")
    await o101.press_label("Mở lại")
    await o102.say("Xét lại lần nữa")
    await o102.press(f"cc:v:{case.id}")
    await o102.press_label("không hỗ trợ")
    await o102.say("Vẫn không đủ")
    await o101.say("Mở lại vì thiếu giấy tờ")
    said = o101.text()
    assert "đổi trạng thái trong lúc" in said and "Mở lại vì thiếu giấy tờ" in said
    assert (await store.get_case(case.id)).status is CaseStatus.DECLINED
    assert sum(1 for m in await store.pending_outbox(worker.id) if m.params.get("reopened")) == 2


async def test_support_again_after_start_continues_the_unfinished_request(store, chat) -> None:
    """Found by an outside tester: /support, a story, /start, /support began again and the
    story was gone (/join asks "continue or start over?"). The step is asked again with the
    answers kept, and starting over is one tap."""
    await chat.say("/support")
    await chat.press_label("Ốm đau")
    await chat.say(STORY)
    assert "điện thoại" in chat.text().lower()
    await chat.say("/start")
    await chat.say("/support")
    assert "viết dở" in chat.text() and "điện thoại" in chat.text().lower()
    await chat.say("0912 000 111")
    if "tỉnh/thành nào" in chat.text():
        await chat.say("TP HCM")
    assert "Trước khi gửi" in chat.text()
    await chat.press_label("Đồng ý")
    assert (await only_case(store)).description == STORY
    # A new request after the last was sent: no "unfinished" notice.
    await chat.say("/support")
    assert "viết dở" not in chat.text()
    await chat.press_label("Ốm đau")
    await chat.say("Nhà bị ngập")
    await chat.say("/support")
    await chat.press_label("Làm lại từ đầu")
    assert "viết dở" not in chat.text() and any(p.startswith("cs:k:") for p in chat.payloads())
