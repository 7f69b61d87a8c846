"""The anonymous report, second outside tester's findings: personal details beyond phone
numbers (names after job titles, e-mail addresses, ID-card numbers, a name in the company
field) are refused and never kept, and the head-count step reads the answers workers
type ("khoảng 300 người", "200-300") and keeps a story typed there too early."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from handlers.context import Settings
from handlers.listening.text import has_person_name, personal_data_in, read_count
from storage import Store
from storage.sqlite import SQLiteStore
from tests.conftest import ChatDriver


@pytest.fixture
def settings() -> Settings:
    # Room for every step of a report: the flood guard is tested elsewhere.
    return Settings(admins=frozenset({("test", "admin")}), flood_messages=1000)


async def at_workers(chat: ChatDriver, company: str = "Cty Hansol") -> None:
    await chat.say("/report")
    await chat.press("rp:cat:harassment")
    await chat.say(company)
    await chat.say("Bắc Ninh")
    assert "bao nhiêu người" in chat.text()


async def at_description(chat: ChatDriver) -> None:
    await at_workers(chat)
    await chat.press("rp:w:5")
    assert "Mô tả ngắn" in chat.text()


async def state_of(store: Store, external_id: str):  # type: ignore[no-untyped-def]
    return await store.get_state((await store.find_user("test", external_id)).id)


def stored_bytes(store: Store) -> bytes:
    assert isinstance(store, SQLiteStore)
    path = Path(store.path)
    wal = Path(f"{store.path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


# -- spotting personal data ------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "quan ly Tuan chuyen may 3 hay chui boi cong nhan",
        "quản lý Tuấn hay chửi bới",
        "chuyền trưởng Nam bắt làm thêm",
        "Tổ phó Hùng ép ký giấy",
        "giám sát Bình phạt tiền",
        "sếp Long không cho nghỉ",
        "quản lý chuyền Tuấn hay quát",
        "Ông Giám đốc Hưng không trả lương",
    ],
)
def test_names_after_job_titles_are_found(text: str) -> None:
    assert personal_data_in(text) == ["name"]


@pytest.mark.parametrize(
    "text",
    [
        "quản lý hay chửi công nhân",
        "anh em công nhân bị nợ lương",
        "chị em trong chuyền bị quấy rối",
        "cô ấy bị đánh",
        "ông chủ không trả lương",
        "quản lý chuyền bắt làm thêm",
        "sếp mới rất khó",
        "quan ly hay chui, to truong cung vay",
        # Capitalised at a sentence's start or typed in title case: still no name.
        "Anh Em công nhân bị nợ lương",
        "Cô Ấy bị đánh",
        "Ông Chủ không trả lương",
        "Sếp Mới phạt tiền",
        "Quản lý Chuyền 3 bắt làm thêm",
        "trưởng phòng Nhân sự không nghe",
        "Tôi hỏi chị. Chị nói không biết",
        "anh Tổ trưởng chửi công nhân",
        "Xưởng Cơ Khí nóng 40 độ",
        "ở phòng 301 ký túc xá bị mất nước",
    ],
)
def test_ordinary_words_after_a_title_are_not_names(text: str) -> None:
    assert personal_data_in(text) == []


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("email em la nam.nguyen@gmail.com", ["email"]),
        ("gửi vào Nam.Nguyen @ gmail.com nhé", ["email"]),
        ("so cccd 001203004567", ["id_number"]),
        ("CCCD: 001 203 004 567", ["id_number"]),
        ("cccd 001.203.004.567", ["id_number"]),  # starts like a phone number: named once
        ("số CMND 123456789", ["id_number"]),
        ("cmnd 123.456.789 bị giữ", ["id_number"]),
        ("gọi 0912 345 678", ["phone"]),
    ],
)
def test_email_and_id_card_numbers_are_found(text: str, kinds: list[str]) -> None:
    assert personal_data_in(text) == kinds


@pytest.mark.parametrize(
    "text",
    [
        "nợ tổng cộng 150.000.000 đồng",
        "nợ 150000000",
        "nợ 123.456.789đ",
        "tháng 10 2024 300 người bị nợ lương",
        "ngày 15.06.2025 2 ca liền",
        "lương 4.500.000 một tháng",
    ],
)
def test_amounts_and_dates_are_not_id_numbers(text: str) -> None:
    assert personal_data_in(text) == []


@pytest.mark.parametrize("company", ["Cty Hansol chi Lan", "cty may quan ly Tuan", "Hansol ong Hung"])
def test_a_person_in_the_company_field_is_found(company: str) -> None:
    assert personal_data_in(company, company=True) == ["name"]


@pytest.mark.parametrize(
    "company",
    ["Công Ty Cổ Phần May Việt Tiến", "Cao su Bà Rịa", "Công ty TNHH Minh Anh", "Công ty Nguyễn Hoàng", "Cty Hansol"],
)
def test_company_names_are_not_people(company: str) -> None:
    assert personal_data_in(company, company=True) == []
    assert not has_person_name(company, titles_in_lowercase=True)


# -- reading a head count --------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("khoang 300", (300, 300)),
        ("300 nguoi", (300, 300)),
        ("khoảng 50 người", (50, 50)),
        ("tren 200", (200, 200)),
        ("about 300", (300, 300)),
        ("~300", (300, 300)),
        ("300+", (300, 300)),
        ("200-300", (200, 300)),
        ("từ 200 đến 300 người", (200, 300)),
        ("2 nghìn", (2000, 2000)),
        ("2-3 nghìn", (2000, 3000)),
        ("1.000", (1000, 1000)),
        ("1 mình tôi", (1, 1)),
    ],
)
def test_head_counts_are_read(text: str, count: tuple[int, int]) -> None:
    assert read_count(text) == count


# "50 100": two numbers, not fifty thousand one hundred (found in review).
@pytest.mark.parametrize(
    "text",
    ["nhiều lắm", "nợ lương 2 tháng", "chuyền 3", "ca 2", "300 hay 500 ca 3", "", "300 500", "khoảng 50 100 người"],
)
def test_other_answers_are_no_head_count(text: str) -> None:
    assert read_count(text) is None


# -- the report flow -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "secret"),
    [
        ("quan ly Tuan chuyen may 3 hay chui boi cong nhan", "Tuan"),
        ("chuyền trưởng Nam hay chửi bới", "Nam"),
        ("email em la nam.nguyen@gmail.com", "nam.nguyen@gmail.com"),
        ("so cccd 001203004567", "001203004567"),
        ("cmnd 123 456 789 bị công ty giữ", "123 456 789"),
    ],
)
async def test_a_description_with_personal_data_is_refused_and_never_kept(
    store: Store, make_chat, caplog: pytest.LogCaptureFixture, typed: str, secret: str
) -> None:
    caplog.set_level(logging.DEBUG)
    w = make_chat("d1")
    await at_description(w)
    await w.say(typed)
    assert "ẩn danh" in w.text() and "chưa lưu" in w.text() and "gõ lại" in w.text()
    assert "email" in w.text() and "CCCD/CMND" in w.text()  # says what to leave out
    state = await state_of(store, "d1")
    assert state.step == "description" and "description" not in state.data
    await w.say("Bị chửi bới hằng ngày ở chuyền may 3")
    await w.press("rp:send:anon")
    (r,) = await store.list_reports()
    assert r.description == "Bị chửi bới hằng ngày ở chuyền may 3"
    assert typed.encode() not in stored_bytes(store)
    assert all(typed not in rec.getMessage() and secret not in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize(
    ("company", "kind"),
    [
        ("Cty Hansol chi Lan", "tên người"),
        ("Cty Hansol nam.nguyen@gmail.com", "địa chỉ email"),
        ("Cty Hansol 001203004567", "số CCCD/CMND"),
    ],
)
async def test_a_company_with_personal_data_is_refused(store: Store, make_chat, company: str, kind: str) -> None:
    w = make_chat("c1")
    await w.say("/report")
    await w.press("rp:cat:wages")
    await w.say(company)
    assert kind in w.text() and "ẩn danh" in w.text() and "Tên công ty?" in w.text()
    state = await state_of(store, "c1")
    assert state.step == "company" and "company" not in state.data
    await w.say("Cty Hansol")
    assert "tỉnh/thành nào" in w.text()


async def test_a_capitalised_company_name_is_still_a_company(store: Store, make_chat) -> None:
    w = make_chat("c2")
    await w.say("/report")
    await w.press("rp:cat:wages")
    await w.say("Công Ty Cổ Phần Minh Anh")
    assert "tỉnh/thành nào" in w.text()


@pytest.mark.parametrize(
    ("typed", "workers"),
    [
        ("khoang 300", 300),
        ("300 nguoi", 300),
        ("khoảng 50 người", 50),
        ("tren 200", 200),
        ("about 300", 300),
        ("~300", 300),
        ("300+", 300),
        ("200-300", 250),  # a range: its middle
        ("10-50", 30),  # a button's range: that button's estimate
        ("50–200 người", 100),
        ("2 nghìn người", 2000),
    ],
)
async def test_typed_head_counts_are_taken(store: Store, make_chat, typed: str, workers: int) -> None:
    w = make_chat("h1")
    await at_workers(w)
    await w.say(typed)
    assert "Mô tả ngắn" in w.text()
    await w.press("rp:skip")
    await w.press("rp:send:anon")
    (r,) = await store.list_reports()
    assert r.workers == workers


async def test_a_short_answer_without_a_count_is_asked_again(store: Store, make_chat) -> None:
    w = make_chat("h2")
    await at_workers(w)
    await w.say("nợ lương 2 tháng")  # a number, but not of people
    assert "từ 1 đến 100000" in w.text()
    assert (await state_of(store, "h2")).step == "workers"


STORY = "công ty nợ lương ba tháng rồi mà không ai nói gì cả, mọi người rất lo"


async def test_a_story_typed_at_the_head_count_is_kept_for_the_description(store: Store, make_chat) -> None:
    w = make_chat("s1")
    await at_workers(w)
    await w.say(STORY)
    assert "giữ lại" in w.text() and "bước ngay sau" in w.text() and "bao nhiêu người" in w.text()
    state = await state_of(store, "s1")
    assert (state.step, state.data["description"]) == ("workers", STORY)
    await w.say("khoảng 300 người")
    assert STORY in w.text() and "rp:keep" in w.payloads() and "rp:skip" in w.payloads()
    await w.press("rp:keep")
    assert "Kiểm tra báo cáo" in w.text() and STORY in w.text()
    await w.press("rp:send:anon")
    (r,) = await store.list_reports()
    assert (r.workers, r.description) == (300, STORY)


async def test_a_story_in_two_messages_is_kept_whole_and_can_be_replaced(store: Store, make_chat) -> None:
    w = make_chat("s2")
    await at_workers(w)
    await w.say(STORY)
    await w.say("tháng này lại bị trừ tiền ăn ca mà không có lý do gì hết")
    assert (await state_of(store, "s2")).data["description"] == (
        f"{STORY}\ntháng này lại bị trừ tiền ăn ca mà không có lý do gì hết"
    )
    await w.press("rp:w:100")
    await w.say("Nợ lương ba tháng")  # typed again at the description step: this one is sent
    await w.press("rp:send:anon")
    (r,) = await store.list_reports()
    assert (r.workers, r.description) == (100, "Nợ lương ba tháng")


async def test_a_kept_story_can_be_left_out(store: Store, make_chat) -> None:
    w = make_chat("s3")
    await at_workers(w)
    await w.say(STORY)
    await w.press("rp:w:30")
    await w.press("rp:skip")
    await w.press("rp:send:anon")
    (r,) = await store.list_reports()
    assert (r.workers, r.description) == (30, None)


async def test_a_story_with_personal_data_at_the_head_count_is_not_kept(
    store: Store, make_chat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    w = make_chat("s4")
    await at_workers(w)
    story = "quản lý Tuấn chửi bới công nhân suốt, em có email nam.nguyen@gmail.com nếu cần"
    await w.say(story)
    assert "chưa lưu" in w.text() and "tên người" in w.text() and "địa chỉ email" in w.text()
    assert "bao nhiêu người" in w.text()
    state = await state_of(store, "s4")
    assert state.step == "workers" and "description" not in state.data
    await w.say("khoảng 50")
    assert "rp:keep" not in w.payloads()
    await w.press("rp:skip")
    await w.press("rp:send:anon")
    assert b"nam.nguyen" not in stored_bytes(store) and "Tuấn".encode() not in stored_bytes(store)
    assert all("nam.nguyen" not in rec.getMessage() for rec in caplog.records)


async def test_a_story_too_long_at_the_head_count_says_so(store: Store, make_chat) -> None:
    w = make_chat("s5")
    await at_workers(w)
    await w.say(" ".join(["nợ lương"] * 400))
    assert "1000 ký tự" in w.text() and "bao nhiêu người" in w.text()
    assert "description" not in (await state_of(store, "s5")).data


async def test_the_keep_button_without_a_kept_story_asks_again(store: Store, make_chat) -> None:
    w = make_chat("s6")
    await at_description(w)
    await w.press("rp:keep")
    assert "nút" in w.text() and (await state_of(store, "s6")).step == "description"


async def test_report_again_after_start_continues_the_unfinished_draft(store: Store, make_chat) -> None:
    """Found by an outside tester: /report, the company, /start, /report began again and the
    company typed was gone. The step is asked again with the answers kept; starting over
    is one tap; a draft with nothing typed yet simply starts again."""
    chat = make_chat("rp-again")
    await at_workers(chat)
    await chat.say("/start")
    await chat.say("/report")
    assert "làm dở" in chat.text() and "bao nhiêu người" in chat.text()
    await chat.press("rp:w:5")
    await chat.say("Quản lý hay chửi bới công nhân chuyền may")
    await chat.press("rp:send:anon")
    assert "Cty Hansol" in str([(r.company, r.description) for r in await store.list_reports()])
    await at_workers(chat, company="Cty Pouchen")
    await chat.say("/report")
    await chat.press_label("Làm lại từ đầu")
    assert "làm dở" not in chat.text() and "rp:cat:harassment" in chat.payloads()
    await chat.press("rp:cat:harassment")
    await chat.say("/report")  # nothing typed yet: a new report, no question
    assert "làm dở" not in chat.text() and "rp:cat:harassment" in chat.payloads()
