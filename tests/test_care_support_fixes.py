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
from storage.care import CaseCategory, CaseStatus
from tests.conftest import ChatDriver
from tests.test_care_programs import Outbox, deliver
from tests.test_care_support import STORY, cli, open_case, organizer, seed_case  # noqa: F401 (cli: a fixture)


async def to_consent(chat, text: str = STORY) -> None:  # type: ignore[no-untyped-def]
    await chat.say("/support")
    await chat.press_label("Ốm đau")
    await chat.say(text)
    await chat.say("0912 000 111")
    if "tỉnh/thành nào" in chat.text():  # not once chosen: kept for the next request
        await chat.say("TP HCM")
    assert "Trước khi gửi" in chat.text() or "giống hệt" in chat.text()


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
    await store.set_case_status(case_id, CaseStatus.DECLINED, note="Không đủ điều kiện", author_id=None)
    reopened = await store.set_case_status(case_id, CaseStatus.RECEIVED, note="Nhầm, xét lại", author_id=None)
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
