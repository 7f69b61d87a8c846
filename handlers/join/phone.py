"""Vietnamese mobile numbers: parse what a worker typed, mask it for display and logs.

Validation is phonenumbers' (Google libphonenumber metadata), which follows carriers'
prefix changes; a hand-written pattern would silently go stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from handlers.text import fold

__all__ = [
    "PHONE_ERRORS",
    "PhoneResult",
    "mask_phone",
    "parse_vn_mobile",
]

# Error codes are catalog keys: the handler turns them into text in the worker's language.
INVALID = "phone.invalid"
LANDLINE = "phone.landline"
NOT_VN = "phone.not_vn"
NOT_MOBILE = "phone.not_mobile"  # valid VN number that takes no SMS/Zalo: 1800/1900, VoIP...
OLD_PREFIX = "phone.old_prefix"  # an 11-digit mobile (0166..., 0123...) from before 2018
PHONE_ERRORS = (INVALID, LANDLINE, NOT_VN, NOT_MOBILE, OLD_PREFIX)

_VN_COUNTRY_CODE = 84
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# What people put between digits. Anything else is refused before parsing because
# phonenumbers reads letters as keypad digits ("0912345abc" -> ...222) and skips
# trailing words such as "ext 12", which would turn a typo into someone else's number.
_SEPARATORS = frozenset(" .-()/+\u00a0")
# One number among words that only say what it is ("sdt 0912 345 678", "0912345678 (zalo)";
# refused until an outside tester typed them). Any other word, or two numbers, is refused:
# which number, or which digits, is not ours to guess.
_NUMBER_RUN = re.compile(r"\+?\d[\d .\-()/\u00a0]*\d")
_LABEL_WORDS = frozenset(
    {
        *("sdt", "so", "dien", "thoai", "dt", "di", "dong", "phone", "mobile", "tel", "zalo", "la", "cua", "em"),
        *("toi", "minh", "a", "nhe", "nha", "day", "my", "number", "is"),
    }
)
# Mobile numbers had 11 digits until 2018, when 016x, 012x, 018x and 0199 moved to 10-digit
# prefixes (0166 -> 036, 0123 -> 083...): such a number is told so, not just "not valid".
_OLD_PREFIX = re.compile(r"(?:0|84|0084)1(?:6[2-9]|2[0-9]|8[68]|99)\d{7}")


@dataclass(frozen=True, slots=True)
class PhoneResult:
    e164: str | None  # "+84912345678" when valid
    error: str | None = None  # one of PHONE_ERRORS when not

    @property
    def ok(self) -> bool:
        return self.e164 is not None


def parse_vn_mobile(text: str) -> PhoneResult:
    """Parse a Vietnamese mobile number written as 0…, +84…, 84… or 0084….

    Spaces, dots, dashes and brackets are allowed anywhere. Landlines, service numbers,
    foreign numbers and anything phonenumbers does not hold valid are refused.
    """
    stripped = text.strip()
    if stripped and any(not (ch.isdecimal() or ch in _SEPARATORS) for ch in stripped):
        stripped = _number_among_labels(stripped) or ""
    if not stripped or any(not (ch.isdecimal() or ch in _SEPARATORS) for ch in stripped):
        return PhoneResult(None, INVALID)
    if _OLD_PREFIX.fullmatch(re.sub(r"\D", "", stripped)):
        return PhoneResult(None, OLD_PREFIX)
    try:
        number = phonenumbers.parse(stripped, "VN")
    except phonenumbers.NumberParseException:
        return PhoneResult(None, INVALID)
    if number.country_code != _VN_COUNTRY_CODE:
        return PhoneResult(None, NOT_VN)
    if not phonenumbers.is_valid_number(number):
        return PhoneResult(None, INVALID)
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.FIXED_LINE:
        return PhoneResult(None, LANDLINE)
    if kind not in _MOBILE_TYPES:
        return PhoneResult(None, NOT_MOBILE)
    return PhoneResult(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def _number_among_labels(text: str) -> str | None:
    runs = _NUMBER_RUN.findall(text)
    if len(runs) != 1:
        return None
    rest = fold(text.replace(runs[0], " ", 1)).split()
    return runs[0] if all(word in _LABEL_WORDS for word in rest) else None


_MASK = "•"


def mask_phone(e164: str | None) -> str:
    """Show a number without revealing it: "+84912345678" -> "+84 9•• ••• •78".

    Keeps the country code, the first digit (tells an organizer it is a mobile) and the
    last two (enough to tell two sign-ups apart on a call). Never raises, so it is safe
    in log lines; anything that is not E.164 comes back fully masked.
    """
    if not e164 or not e164.startswith("+") or not e164[1:].isdigit():
        return _MASK * 3
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return _MASK * 3
    national = phonenumbers.national_significant_number(number)
    if len(national) < 5:
        return f"+{number.country_code} " + _MASK * len(national)
    masked = national[0] + _MASK * (len(national) - 3) + national[-2:]
    # Threes from the right, as Vietnamese mobiles are read: "9•• ••• •78".
    head = len(masked) % 3
    groups = ([masked[:head]] if head else []) + [masked[i : i + 3] for i in range(head, len(masked), 3)]
    return f"+{number.country_code} " + " ".join(groups)
