"""A person's full name as typed into the sign-up form, tidied and checked.

Letters of any script are accepted: the 2024 Trade Union Law lets foreign workers join,
so "Nguyễn Thị Ánh", "Kim Min-jun", "O'Brien" and "李伟" are all names. Case is kept as
typed: title-casing would mangle "McDonald" or "de la Cruz", and organizers can read
"nguyen van a".
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "NAME_ERRORS",
    "NameResult",
    "clean_name",
]

TOO_SHORT = "name.too_short"
TOO_LONG = "name.too_long"
INVALID_CHARS = "name.invalid_chars"
NAME_ERRORS = (TOO_SHORT, TOO_LONG, INVALID_CHARS)

MIN_LENGTH = 2
MAX_LENGTH = 100

# Hyphen, apostrophes (straight and the typographic one phones insert), and the period
# of an initial ("Muhammad S. Ali").
_NAME_PUNCTUATION = frozenset("-\u2010'\u2019.")
# Invisible characters that ride along with copy-paste; dropping them loses nothing,
# whereas refusing them would reject a name the worker sees as correct.
_INVISIBLE = frozenset("\u200b\ufeff\u2060\u00ad")
# Line breaks and tabs are a worker pressing Enter; other control characters are not
# typed by people, and str.split() would quietly turn some of them (\x1c-\x1f) into spaces.
_TYPED_WHITESPACE = frozenset("\t\n\r")


@dataclass(frozen=True, slots=True)
class NameResult:
    value: str | None  # the cleaned name when acceptable
    error: str | None = None  # one of NAME_ERRORS when not

    @property
    def ok(self) -> bool:
        return self.value is not None


def _chars_ok(name: str) -> bool:
    has_letter = False
    previous = ""
    for ch in name:
        category = unicodedata.category(ch)
        if category.startswith("L"):
            has_letter = True
        elif category.startswith("M"):
            # A combining mark left over after NFC must sit on a letter, not on a digit,
            # a space or an emoji.
            if not previous or not unicodedata.category(previous).startswith(("L", "M")):
                return False
        elif ch != " " and ch not in _NAME_PUNCTUATION:
            return False  # digits, emoji and other symbols, control and format characters
        previous = ch
    return has_letter


def clean_name(text: str) -> NameResult:
    """Normalise (NFC, single spaces, trimmed) and check a full name."""
    text = "".join(ch for ch in text if ch not in _INVISIBLE)
    if any(unicodedata.category(ch) == "Cc" and ch not in _TYPED_WHITESPACE for ch in text):
        return NameResult(None, INVALID_CHARS)
    # NFC first: phones send Vietnamese both precomposed and as base letter + marks,
    # and the stored name must compare equal either way.
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not name:
        return NameResult(None, TOO_SHORT)
    if not _chars_ok(name):
        return NameResult(None, INVALID_CHARS)
    if len(name) < MIN_LENGTH:
        return NameResult(None, TOO_SHORT)
    if len(name) > MAX_LENGTH:
        return NameResult(None, TOO_LONG)
    return NameResult(name)
