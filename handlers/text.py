"""Text helpers every channel needs."""

from __future__ import annotations

import re
import unicodedata

# Paragraphs first so an answer about one right stays in one message, then lines
# (list items), then words: a cut inside a Vietnamese syllable is unreadable, so
# word boundaries come before the hard cut of last resort.
_SEPARATORS = ("\n\n", "\n", " ")


def fold(text: str) -> str:
    """Lower-case, without diacritics or punctuation; emoji and symbols become spaces:
    the form typed words are compared in ("TP. Hồ Chí Minh" -> "tp ho chi minh",
    "⬅️ Về menu chính" -> "ve menu chinh", "Đồng ý!" -> "dong y", "2." -> "2")."""
    # đ has no decomposition in Unicode, so NFD alone would leave it in place.
    text = text.replace("đ", "d").replace("Đ", "D")
    kept = [
        ch.lower() if ch.isalnum() else " "
        for ch in unicodedata.normalize("NFD", text)
        if unicodedata.category(ch) != "Mn"
    ]
    return " ".join("".join(kept).split())


_NON_WORD = re.compile(r"[\W_]+")
# Old ("huỷ") and new ("hủy") tone placement are both common: compare in the new one.
_OLD_TONE = {"uỷ": "ủy", "uý": "úy", "uỳ": "ùy", "uỹ": "ũy", "uỵ": "ụy"}


def written(text: str) -> str:
    """'  Huỷ ĐĂNG ký!' -> 'hủy đăng ký': lower-case, NFC, diacritics kept: the form
    typed words are compared in where the diacritics decide ("ôm" is not "ốm")."""
    words = [w for w in _NON_WORD.split(unicodedata.normalize("NFC", text).lower()) if w]
    out = []
    for w in words:
        for old, new in _OLD_TONE.items():
            if w.endswith(old):
                w = w[: -len(old)] + new
        out.append(w)
    return " ".join(out)


# Joiners and variation selectors belong to the character before them, like combining marks.
_GLUE = {"\u200d", "\ufe0e", "\ufe0f"}


def text_length(text: str) -> int:
    """Length in UTF-16 units, as Telegram counts its limits.

    Whether Zalo counts code points or UTF-16 units (a JavaScript `length`) is not
    documented; UTF-16 units are never fewer than code points, so a part that fits
    by this count fits by either.
    """
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int) -> list[str]:
    """Cut `text` into parts of at most `limit` (see `text_length`), in order.

    Text that already fits comes back unchanged as one part; blank text gives no parts.
    Parts of a longer text are stripped of the whitespace at their cut edges.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if not text.strip():
        return []
    if text_length(text) <= limit:
        return [text]
    parts = _split(text, limit, 0)
    return [stripped for part in parts if (stripped := part.strip())]


def _split(text: str, limit: int, level: int) -> list[str]:
    if text_length(text) <= limit:
        return [text]
    if level == len(_SEPARATORS):
        return _hard_split(text, limit)
    sep = _SEPARATORS[level]
    pieces = text.split(sep)
    if len(pieces) == 1:
        return _split(text, limit, level + 1)

    out: list[str] = []
    current: str | None = None
    current_len = 0
    sep_len = text_length(sep)
    for piece in pieces:
        piece_len = text_length(piece)
        if piece_len > limit:
            if current is not None:
                out.append(current)
                current = None
            out.extend(_split(piece, limit, level + 1))
        elif current is None:
            current, current_len = piece, piece_len
        elif current_len + sep_len + piece_len <= limit:
            current += sep + piece
            current_len += sep_len + piece_len
        else:
            out.append(current)
            current, current_len = piece, piece_len
    if current is not None:
        out.append(current)
    return out


def _hard_split(text: str, limit: int) -> list[str]:
    out: list[str] = []
    start = 0
    while start < len(text):
        end, used = start, 0
        while end < len(text) and used + text_length(text[end]) <= limit:
            used += text_length(text[end])
            end += 1
        if end == len(text):
            out.append(text[start:])
            break
        # Decomposed Vietnamese (NFD) puts tone marks after the vowel: keep them together.
        cut = end
        while cut > start + 1 and _attaches_to_previous(text[cut]):
            cut -= 1
        if cut == start + 1 and _attaches_to_previous(text[cut]):
            cut = end  # one enormous cluster: cutting it is the only way forward
        out.append(text[start:cut])
        start = cut
    return out


def _attaches_to_previous(ch: str) -> bool:
    return unicodedata.combining(ch) != 0 or ch in _GLUE


def shorten(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters with an ellipsis, on a word boundary if possible."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > limit // 2 else limit - 1] + "…"
