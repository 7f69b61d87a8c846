"""The province picker against the official list of the 34 units (Resolution 202/2025/QH15)."""

from __future__ import annotations

import re
import unicodedata

import pytest

from handlers.join.provinces import (
    Province,
    ProvinceKind,
    all_provinces,
    get_province,
    resolve_province,
)

# Transcribed from the resolution, independently of data/provinces.json, so a typo in
# the data file shows up here: new unit -> pre-2025 units merged into it.
REFERENCE: dict[str, tuple[str, ...]] = {
    "Hà Nội": (),
    "Huế": ("Thừa Thiên Huế",),
    "Lai Châu": (),
    "Điện Biên": (),
    "Sơn La": (),
    "Lạng Sơn": (),
    "Quảng Ninh": (),
    "Thanh Hóa": (),
    "Nghệ An": (),
    "Hà Tĩnh": (),
    "Cao Bằng": (),
    "Tuyên Quang": ("Tuyên Quang", "Hà Giang"),
    "Lào Cai": ("Lào Cai", "Yên Bái"),
    "Thái Nguyên": ("Thái Nguyên", "Bắc Kạn"),
    "Phú Thọ": ("Phú Thọ", "Vĩnh Phúc", "Hòa Bình"),
    "Bắc Ninh": ("Bắc Ninh", "Bắc Giang"),
    "Hưng Yên": ("Hưng Yên", "Thái Bình"),
    "Hải Phòng": ("Hải Phòng", "Hải Dương"),
    "Ninh Bình": ("Ninh Bình", "Hà Nam", "Nam Định"),
    "Quảng Trị": ("Quảng Trị", "Quảng Bình"),
    "Đà Nẵng": ("Đà Nẵng", "Quảng Nam"),
    "Quảng Ngãi": ("Quảng Ngãi", "Kon Tum"),
    "Gia Lai": ("Gia Lai", "Bình Định"),
    "Khánh Hòa": ("Khánh Hòa", "Ninh Thuận"),
    "Lâm Đồng": ("Lâm Đồng", "Đắk Nông", "Bình Thuận"),
    "Đắk Lắk": ("Đắk Lắk", "Phú Yên"),
    "Hồ Chí Minh": ("TP. Hồ Chí Minh", "Bình Dương", "Bà Rịa - Vũng Tàu"),
    "Đồng Nai": ("Đồng Nai", "Bình Phước"),
    "Tây Ninh": ("Tây Ninh", "Long An"),
    "Cần Thơ": ("Cần Thơ", "Sóc Trăng", "Hậu Giang"),
    "Vĩnh Long": ("Vĩnh Long", "Bến Tre", "Trà Vinh"),
    "Đồng Tháp": ("Đồng Tháp", "Tiền Giang"),
    "Cà Mau": ("Cà Mau", "Bạc Liêu"),
    "An Giang": ("An Giang", "Kiên Giang"),
}
CITIES = {"Hà Nội", "Huế", "Hải Phòng", "Đà Nẵng", "Hồ Chí Minh", "Cần Thơ"}


def strip_diacritics(text: str) -> str:
    """What a worker types on a keyboard without Vietnamese input: "Đắk Lắk" -> "Dak Lak"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def by_name(name_vi: str) -> Province:
    matches = [p for p in all_provinces() if p.name_vi == name_vi]
    assert len(matches) == 1, name_vi
    return matches[0]


OLD_NAMES = [(new, old) for new, olds in REFERENCE.items() for old in olds]


def test_there_are_34_units_matching_the_resolution():
    provinces = all_provinces()
    assert len(provinces) == 34
    assert [p.name_vi for p in provinces] == list(REFERENCE)
    assert {p.name_vi for p in provinces if p.kind is ProvinceKind.CITY} == CITIES


def test_ids_are_stable_ascii_and_unique():
    ids = [p.id for p in all_provinces()]
    assert len(set(ids)) == 34
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", i) for i in ids), ids
    assert ids[0] == "ha_noi"
    assert "ho_chi_minh" in ids


def test_order_is_stable_between_calls():
    assert all_provinces() == all_provinces()


def test_get_province_by_id():
    hcm = get_province("ho_chi_minh")
    assert hcm is not None
    assert hcm.name_vi == "Hồ Chí Minh"
    assert hcm.name_en == "Ho Chi Minh City"
    assert hcm.full_name_vi == "Thành phố Hồ Chí Minh"
    assert hcm.name("en") == "Ho Chi Minh City"
    assert "Bình Dương" in hcm.merged_from
    assert get_province("binh_duong") is None  # old units have no id of their own
    assert get_province("") is None


def test_names_are_nfc_with_diacritics_and_english_is_ascii():
    for p in all_provinces():
        assert unicodedata.is_normalized("NFC", p.name_vi)
        assert p.name_en.isascii()
    assert by_name("Nghệ An").full_name_vi == "Tỉnh Nghệ An"


@pytest.mark.parametrize("name", list(REFERENCE))
def test_every_current_name_resolves_without_an_old_name(name):
    expected = by_name(name)
    for text in (
        name,
        name.upper(),
        name.lower(),
        strip_diacritics(name),
        strip_diacritics(name).lower(),
        strip_diacritics(name).replace(" ", "").lower(),
        f"  {name}  ",
        f"tỉnh {name}",
        f"Thành phố {name}",
        f"TP. {name}",
        f"tp {strip_diacritics(name)}",
        unicodedata.normalize("NFD", name),
    ):
        match = resolve_province(text)
        assert match.province == expected, text
        assert match.via_old_name is None, text
        assert match.suggestions == ()


@pytest.mark.parametrize(("new", "old"), OLD_NAMES)
def test_every_old_name_resolves_to_its_new_unit(new, old):
    expected = by_name(new)
    for text in (old, strip_diacritics(old).lower(), f"Tỉnh {old}", f"{old} cũ"):
        match = resolve_province(text)
        assert match.province == expected, text
        if strip_diacritics(old).removeprefix("TP. ") == strip_diacritics(new):
            # The old unit that lent its name is no news to the worker.
            assert match.via_old_name is None, text
        else:
            assert match.via_old_name == old, text


@pytest.mark.parametrize(
    ("text", "province_id", "via"),
    [
        ("Sài Gòn", "ho_chi_minh", None),
        ("sai gon", "ho_chi_minh", None),
        ("Saigon", "ho_chi_minh", None),
        ("HCM", "ho_chi_minh", None),
        ("TP HCM", "ho_chi_minh", None),
        ("tphcm", "ho_chi_minh", None),
        ("TP.HCM", "ho_chi_minh", None),
        ("Tp. Hồ Chí Minh", "ho_chi_minh", None),
        ("Ho Chi Minh City", "ho_chi_minh", None),
        ("HN", "ha_noi", None),
        ("hn", "ha_noi", None),
        ("Hanoi", "ha_noi", None),
        ("Vũng Tàu", "ho_chi_minh", "Bà Rịa - Vũng Tàu"),
        ("vung tau", "ho_chi_minh", "Bà Rịa - Vũng Tàu"),
        ("Bà Rịa - Vũng Tàu", "ho_chi_minh", "Bà Rịa - Vũng Tàu"),
        ("Bà Rịa Vũng Tàu", "ho_chi_minh", "Bà Rịa - Vũng Tàu"),
        ("BR-VT", "ho_chi_minh", "Bà Rịa - Vũng Tàu"),
        ("Huế", "hue", None),
        ("HUE", "hue", None),
        ("Thừa Thiên Huế", "hue", "Thừa Thiên Huế"),
        ("Thừa Thiên - Huế", "hue", "Thừa Thiên Huế"),
        ("thua thien hue", "hue", "Thừa Thiên Huế"),
        ("Đắc Lắc", "dak_lak", None),
        ("daklak", "dak_lak", None),
        ("Đăk Lăk", "dak_lak", None),
        ("Thanh Hoá", "thanh_hoa", None),  # old-style tone placement
        ("Bắc Cạn", "thai_nguyen", "Bắc Kạn"),
        ("binhduong", "ho_chi_minh", "Bình Dương"),
        ("Da Nang", "da_nang", None),
        ("danang", "da_nang", None),
    ],
)
def test_informal_names(text, province_id, via):
    match = resolve_province(text)
    assert match.province is not None, text
    assert match.province.id == province_id
    assert match.via_old_name == via


def test_name_inside_a_longer_answer():
    match = resolve_province("KCN Mỹ Phước, tỉnh Bình Dương")
    assert match.province == get_province("ho_chi_minh")
    assert match.via_old_name == "Bình Dương"

    # Vũng Tàu inside Bà Rịa - Vũng Tàu is one mention, not two.
    assert resolve_province("tôi ở Bà Rịa - Vũng Tàu").via_old_name == "Bà Rịa - Vũng Tàu"


def test_two_units_in_one_answer_are_offered_not_guessed():
    match = resolve_province("Bình Dương hoặc Đồng Nai")
    assert match.province is None
    assert {p.id for p in match.suggestions} == {"ho_chi_minh", "dong_nai"}


@pytest.mark.parametrize("text", ["Paris", "London", "Tokyo", "xyz", "12345"])
def test_foreign_or_nonsense_gives_no_province(text):
    match = resolve_province(text)
    assert match.province is None
    assert match.via_old_name is None


@pytest.mark.parametrize("text", ["", "   ", "...", "tỉnh"])
def test_empty_gives_no_province(text):
    assert resolve_province(text).province is None


@pytest.mark.parametrize(
    ("text", "expected_first"),
    [
        ("Nghe Anh", "nghe_an"),
        ("Binh Duonh", "ho_chi_minh"),
        ("Lam Dongg", "lam_dong"),
        ("ha nooi", "ha_noi"),
        ("Tien Gian", "dong_thap"),
        ("Ca mao", "ca_mau"),
    ],
)
def test_typos_get_suggestions_not_a_guess(text, expected_first):
    match = resolve_province(text)
    assert match.province is None
    assert 1 <= len(match.suggestions) <= 3
    assert match.suggestions[0].id == expected_first
    assert len(set(match.suggestions)) == len(match.suggestions)
