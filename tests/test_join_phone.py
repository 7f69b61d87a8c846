"""The sign-up form's typed fields: phone number and full name.

Names live here too because both are "what a worker typed -> clean value or error code".
"""

from __future__ import annotations

import unicodedata

import pytest

from handlers.join.names import MAX_LENGTH, NAME_ERRORS, clean_name
from handlers.join.phone import INVALID, OLD_PREFIX, PHONE_ERRORS, PhoneResult, mask_phone, parse_vn_mobile


@pytest.mark.parametrize(
    "text",
    [
        "0912345678",
        "+84912345678",
        "84912345678",
        "0084912345678",
        "0912 345 678",
        "0912.345.678",
        "091-234-5678",
        "(+84) 912-345-678",
        "+84 912 345 678",
        "+84 0912345678",  # the stray trunk 0 people keep after +84
        "  0912345678\n",
        "0912\u00a0345\u00a0678",  # no-break spaces from a copied contact card
        "０９１２３４５６７８",  # full-width digits from some CJK keyboards
    ],
)
def test_accepts_vietnamese_mobile_in_common_spellings(text):
    result = parse_vn_mobile(text)
    assert result.error is None
    assert result.e164 == "+84912345678"
    assert result.ok


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("0351234567", "+84351234567"),  # Viettel 03x
        ("0561234567", "+84561234567"),  # Vietnamobile 05x
        ("0701234567", "+84701234567"),  # MobiFone 07x
        ("0812345678", "+84812345678"),  # VinaPhone 08x
    ],
)
def test_accepts_every_mobile_prefix_family(text, e164):
    assert parse_vn_mobile(text).e164 == e164


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("024 3825 3571", "phone.landline"),  # Hà Nội landline
        ("028 3829 5555", "phone.landline"),  # Hồ Chí Minh landline
        ("+84 24 3825 3571", "phone.landline"),
        ("1900 545 454", "phone.not_mobile"),  # premium-rate hotline
        ("1800 1091", "phone.not_mobile"),  # toll-free
        ("+1 650 253 0000", "phone.not_vn"),
        ("+66 81 234 5678", "phone.not_vn"),
        ("0066 81 234 5678", "phone.not_vn"),
        ("091234567", "phone.invalid"),  # 9 digits with the trunk 0: a digit short
        ("09123456789", "phone.invalid"),  # a digit too many
        ("0123456789", "phone.invalid"),  # 01x mobile prefixes were retired in 2018
        ("0912345abc", "phone.invalid"),  # phonenumbers would read letters as keypad digits
        ("O912345678", "phone.invalid"),  # letter O for zero
        ("0912345678 ext 12", "phone.invalid"),
        ("số tôi ở 0912345678", "phone.invalid"),  # "ở" says more than what the number is
        ("", "phone.invalid"),
        ("   ", "phone.invalid"),
        ("+84", "phone.invalid"),
        ("++84912345678x", "phone.invalid"),
        ("0" * 300, "phone.invalid"),
    ],
)
def test_refuses_with_a_stable_code(text, error):
    result = parse_vn_mobile(text)
    assert result.e164 is None
    assert result.error == error
    assert not result.ok
    assert result.error in PHONE_ERRORS


def test_mask_keeps_country_first_digit_and_last_two():
    assert mask_phone("+84912345645") == "+84 9•• ••• •45"
    masked = mask_phone(parse_vn_mobile("0351234567").e164)
    assert masked == "+84 3•• ••• •67"
    assert "1234" not in masked.replace(" ", "").replace("•", "")


@pytest.mark.parametrize("value", [None, "", "0912345678", "garbage", "+84", "+84abc"])
def test_mask_never_raises_and_leaks_nothing_on_bad_input(value):
    masked = mask_phone(value)
    assert not any(ch.isdigit() for ch in masked)


# --- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nguyễn Thị Ánh", "Nguyễn Thị Ánh"),
        ("  Trần   Văn  Bình  ", "Trần Văn Bình"),
        ("Lê\tVăn\nĐức", "Lê Văn Đức"),
        ("nguyen van a", "nguyen van a"),  # case kept: organizers can read it
        ("Phạm Thị Thu-Hà", "Phạm Thị Thu-Hà"),
        ("O'Brien", "O'Brien"),
        ("D’Souza Maria", "D’Souza Maria"),
        ("Kim Min-jun", "Kim Min-jun"),
        ("李伟", "李伟"),
        ("Muhammad S. Ali", "Muhammad S. Ali"),
        ("Hồ\u200b Thị Hoa", "Hồ Thị Hoa"),  # zero-width space from copy-paste
        ("Ý", None),
    ],
)
def test_clean_name_accepts_and_tidies(text, expected):
    result = clean_name(text)
    assert result.value == expected
    if expected is None:
        assert result.error == "name.too_short"
    else:
        assert result.ok


def test_clean_name_composes_decomposed_vietnamese():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    assert decomposed != "Nguyễn Thị Ánh"
    assert clean_name(decomposed).value == "Nguyễn Thị Ánh"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "name.too_short"),
        ("   ", "name.too_short"),
        ("A", "name.too_short"),
        ("x" * (MAX_LENGTH + 1), "name.too_long"),
        ("Nguyễn Văn An 2", "name.invalid_chars"),
        ("Nguyễn 😀", "name.invalid_chars"),
        ("😀😀", "name.invalid_chars"),
        ("Trần\x00Văn", "name.invalid_chars"),
        ("Trần\x1fVăn", "name.invalid_chars"),
        ("Lê\u202eVăn", "name.invalid_chars"),  # right-to-left override
        ("---", "name.invalid_chars"),
        ("...'", "name.invalid_chars"),
        ("Lê Văn <b>", "name.invalid_chars"),
        ("=HYPERLINK(1)", "name.invalid_chars"),
        ("\u0301a", "name.invalid_chars"),  # a combining accent on nothing
    ],
)
def test_clean_name_refuses_with_a_stable_code(text, error):
    result = clean_name(text)
    assert result.value is None
    assert result.error == error
    assert result.error in NAME_ERRORS


def test_clean_name_length_bounds():
    assert clean_name("An").value == "An"
    assert clean_name("a" * MAX_LENGTH).value == "a" * MAX_LENGTH
    # Length is counted in composed characters, not in the bytes or marks a phone sent.
    long_vn = "Ễ" * MAX_LENGTH
    assert clean_name(unicodedata.normalize("NFD", long_vn)).value == long_vn


@pytest.mark.parametrize(
    "typed",
    [
        "sdt 0912345678",
        "0912345678 (zalo)",
        "Số điện thoại: 0912 345 678",
        "số của em là 0912.345.678 ạ",
        "SĐT 0912345678",
    ],
)
def test_one_number_among_words_that_only_label_it_is_read(typed: str) -> None:
    # Found by an outside tester: the number was plainly there, and it was refused.
    assert parse_vn_mobile(typed) == PhoneResult("+84912345678")


@pytest.mark.parametrize(
    "typed",
    ["0912345678 va 0987654321", "em ten Lan 0912345678", "0912345abc", "em 1 so 0912345678", "goi 0912345678 sau 5h"],
)
def test_other_words_or_two_numbers_are_still_refused(typed: str) -> None:
    assert parse_vn_mobile(typed) == PhoneResult(None, INVALID)


@pytest.mark.parametrize("typed", ["01662345678", "0166 234 5678", "+84 166 234 5678", "01234567890", "0199 123 4567"])
def test_an_old_eleven_digit_number_is_told_its_prefix_changed(typed: str) -> None:
    assert parse_vn_mobile(typed) == PhoneResult(None, OLD_PREFIX)


async def test_the_form_says_how_old_prefixes_changed(chat) -> None:
    await chat.say("/join")
    await chat.say("Phạm Văn Nam")
    await chat.say("01662345678")
    assert "0166 → 036" in chat.text() and "Câu 2/7" in chat.text()
