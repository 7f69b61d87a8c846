"""Referral codes, Telegram deep links and printable QR codes for volunteers.

A volunteer at a factory gate shows or prints a QR code; scanning it opens the bot with
`/start <code>`, so the sign-up is credited to that volunteer.
"""

from __future__ import annotations

import io
import re
import secrets
import string

import qrcode
from qrcode.constants import ERROR_CORRECT_H
from qrcode.image.pil import PilImage

__all__ = ["new_referral_code", "qr_png", "referral_link"]

# Telegram's rule for a /start payload: up to 64 of A-Z a-z 0-9 _ -.
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Telegram usernames: 5-32 of letters, digits and underscores, starting with a letter.
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")

_CODE_PREFIX = "v_"  # marks a volunteer referral among other /start payloads
_CODE_ALPHABET = string.ascii_letters + string.digits
# 62**12 is about 2**71: guessing someone's code by enumeration is out of reach.
_CODE_LENGTH = 12


def new_referral_code() -> str:
    """A fresh, unguessable code such as "v_3kQ9xZbT0aLm", valid as a Telegram payload."""
    return _CODE_PREFIX + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))


def referral_link(bot_username: str, code: str) -> str:
    """The t.me deep link that starts the bot with `code`: "https://t.me/unionbot?start=v_…".

    Raises ValueError for a username or code Telegram would not accept, so a bad config
    value fails when the link is made rather than when a worker scans a dead QR code.
    """
    username = bot_username.removeprefix("@")
    if not _USERNAME.fullmatch(username):
        raise ValueError(f"not a Telegram username: {bot_username!r}")
    if not _PAYLOAD.fullmatch(code):
        raise ValueError(f"not a valid deep-link payload: {code!r}")
    return f"https://t.me/{username}?start={code}"


def qr_png(url: str, *, box_size: int = 12, border: int = 4) -> bytes:
    """A black-on-white PNG QR code for `url`.

    Error correction H (30% of the code can be lost) because these get printed on
    leaflets and posters, folded, and scanned by cheap phone cameras in poor light.
    The 4-module border is the quiet zone the QR specification requires.
    """
    if not url:
        raise ValueError("empty URL")
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_H,
        box_size=box_size,
        border=border,
        image_factory=PilImage,  # explicit: the default falls back to pypng when PIL is absent
    )
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()
