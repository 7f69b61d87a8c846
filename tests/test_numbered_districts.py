"""Hồ Chí Minh City's numbered districts typed instead of a province ("quận 7", "Q.12",
"q7"): the sign-up form, the hand-off's "which province?" step and a rights question read
them as Hồ Chí Minh, while a number alone, a ward's number, a product code or a shop
("quán 7") is no place."""

from __future__ import annotations

from functools import partial

import pytest

from handlers.i18n import load_catalog
from handlers.join.provinces import get_province, numbered_districts, reading_note, resolve_province
from handlers.rights.context import ProvinceFinder
from handlers.rights.kb import load_knowledge_base
from handlers.rights.search import Searcher
from handlers.text import fold
from tests.test_join_form import current_step


@pytest.fixture(scope="module")
def searcher() -> Searcher:
    return Searcher(load_knowledge_base())


def note(text: str, lang: str = "vi") -> str | None:
    return reading_note(resolve_province(text), lang, partial(load_catalog().t, lang))


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Quận 7", "Quận 7"),
        ("quận 7", "Quận 7"),
        ("QUẬN 7", "Quận 7"),
        ("quan 7", "Quận 7"),
        ("quận7", "Quận 7"),
        ("Q.12", "Quận 12"),
        ("Q. 12", "Quận 12"),
        ("Q 12", "Quận 12"),
        ("q7", "Quận 7"),
        ("Q1", "Quận 1"),
        ("quận 10 ạ", "Quận 10"),
        ("em ở quận 7", "Quận 7"),
        ("làm ở Q.12", "Quận 12"),
        ("cty em o q7", "Quận 7"),
        ("Quận 7, TP.HCM", "Quận 7"),  # agreeing with the province named: the place is said
        ("123 Nguyễn Văn Linh, Q7", "Quận 7"),  # an address's part
        ("phường 7 quận 3", "Quận 3"),  # the ward's number is no district; the district's is
        ("p7 q3", "Quận 3"),
        # Merged into Thủ Đức city in 2021, and still how people name them.
        ("Quận 2", "Quận 2"),
        ("quan 9", "Quận 9"),
    ],
)
def test_a_numbered_district_is_ho_chi_minh(text: str, place: str) -> None:
    match = resolve_province(text)
    assert match.province == get_province("ho_chi_minh"), text
    assert (match.via_place, match.via_old_name, match.suggestions) == (place, None, ()), text


@pytest.mark.parametrize(
    "text",
    [
        "7",
        "12",
        "12 người",
        "quận",
        "Quận",
        "quận 13",
        "quận 0",
        "quận 00",
        "Q07",
        "quan 100",
        "Q7A9",  # a product code, not a whole token
        "mã Q7A9",
        "Q7-A9",
        "ở quận 7.5",
        "phường 7",
        "phuong 12",
        "p7",
        "huyện 7",
        "xe audi q7",  # "Q" after no place word is not a district
        "em làm ở quán 7 năm",  # quán (a shop): its diacritics say so
        "em lam o quan 2 nam roi",  # ...and without them, a count follows the number
        "lien quan 2 van de",  # liên quan
        "co quan 1 cua",  # cơ quan
        "quan 12.000 dong",
        "quận ٧",  # another script's digit
    ],
)
def test_a_number_alone_a_ward_or_a_code_is_no_district(text: str) -> None:
    match = resolve_province(text)
    assert match.province is None, text
    assert match.via_place is None
    assert numbered_districts(text) == []


def test_a_province_named_beats_a_numbered_district_elsewhere() -> None:
    # As for named places: "Quận 7, Hà Nội" is a street or a mistake, and the province wins.
    match = resolve_province("Quận 7, Hà Nội")
    assert match.province == get_province("ha_noi") and match.via_place is None


def test_the_first_place_typed_is_the_one_reported() -> None:
    assert resolve_province("quận 1 hoặc Thuận An").via_place == "Quận 1"
    assert resolve_province("Thuận An hoặc quận 1").via_place == "Thuận An"


def test_the_reading_note_names_the_district() -> None:
    assert note("quận 7") == "Lưu ý: Quận 7 thuộc Hồ Chí Minh."
    assert note("Q.12", "en") == "Note: Quận 12 is in Ho Chi Minh City."


async def test_the_sign_up_form_accepts_a_numbered_district(chat, store) -> None:  # type: ignore[no-untyped-def]
    await chat.say("/join")
    for text in ("Nguyễn Thị Lan", "0912 345 678", "Công ty TNHH May Sông Hồng"):
        await chat.say(text)
    await chat.say("quận 7")
    assert "Quận 7 thuộc Hồ Chí Minh" in chat.text()
    assert await current_step(chat) == "commune"
    user = await store.find_user("test", "u1")
    assert (await store.get_state(user.id)).data["province"] == "ho_chi_minh"


async def test_the_sign_up_form_asks_again_for_a_number_alone(chat, store) -> None:  # type: ignore[no-untyped-def]
    await chat.say("/join")
    for text in ("Nguyễn Thị Lan", "0912 345 678", "Công ty TNHH May Sông Hồng"):
        await chat.say(text)
    await chat.say("phường 7")
    assert await current_step(chat) == "province"
    user = await store.find_user("test", "u1")
    assert "province" not in (await store.get_state(user.id)).data


async def test_the_hand_off_places_a_question_by_a_numbered_district(make_chat, store) -> None:  # type: ignore[no-untyped-def]
    worker = make_chat("wnd1")
    await worker.say("/ask công ty giữ bằng gốc của em có đúng không")
    await worker.say("Q7A9")  # a code: asked again
    assert (await store.get_question(1)).province_id is None
    await worker.say("Q.7")
    assert (await store.get_question(1)).province_id == "ho_chi_minh"
    assert "Quận 7 thuộc Hồ Chí Minh" in worker.text()
    assert "cán bộ công đoàn Hồ Chí Minh" in worker.text()


async def test_a_question_naming_a_numbered_district_offers_its_province(make_chat, store) -> None:  # type: ignore[no-untyped-def]
    worker = make_chat("wnd2")
    await worker.say("/ask cty em o quan 7 no luong 2 thang thi phai lam sao")
    # Named in the question: offered with one tap, never assumed.
    assert "📍 Hồ Chí Minh" in worker.labels()
    assert (await store.get_question(1)).province_id is None


@pytest.mark.parametrize(
    ("question", "province"),
    [
        ("em lam o quan 7 luong toi thieu", "ho_chi_minh"),
        ("quan 12 luong toi thieu bao nhieu", "ho_chi_minh"),
        ("Em làm ở Q.12 lương tối thiểu bao nhiêu", "ho_chi_minh"),
        ("lương tối thiểu ở quận 3 là bao nhiêu", "ho_chi_minh"),
        ("cty em o q7 tra luong thap hon toi thieu", "ho_chi_minh"),
        # The first place typed wins, as among named places.
        ("cty em o kcn yen phong, truoc o quan 7", "bac_ninh"),
        ("em o quan 7, cty o kcn yen phong", "ho_chi_minh"),
        # A ward's number, a count, a code or "liên quan" is no place.
        ("lương tối thiểu phường 7 là bao nhiêu", None),
        ("em lam o quan 2 nam roi luong toi thieu bao nhieu", None),
        ("luong toi thieu 7 trieu co dung khong", None),
        ("may Q7A9 luong toi thieu", None),
        ("lien quan 2 van de luong toi thieu", None),
    ],
)
def test_a_numbered_district_in_a_rights_question(searcher: Searcher, question: str, province: str | None) -> None:
    assert searcher.search(question, "vi").province == province
    assert ProvinceFinder().find(fold(question).split(), question) == province


async def test_a_minimum_wage_question_in_a_numbered_district_gets_the_citys_regions(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.say("em lam o quan 7 luong toi thieu bao nhieu")
    # The city's regions, with the wards of each one tap away, as for "em o binh duong".
    assert "📍 Hồ Chí Minh có nhiều vùng (I, II, III)" in chat.text()
    assert any(label.startswith("📍") and "Hồ Chí Minh" in label for label in chat.labels())
