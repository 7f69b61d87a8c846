"""Recognise a message that is, as a whole, a request to stop announcements.

Workers type "dừng", "dung", "HỦY", "huỷ", "thôi nhận tin", "stop"... with or without
diacritics. Only a whole message counts: "công ty bắt dừng việc" is a question for the
rights Q&A, not an opt-out. Checked only outside forms, where "Dung" may be a name.
"""

from __future__ import annotations

import unicodedata

# Folded (lower-case, no diacritics, single spaces) forms of the accepted phrases.
OPT_OUT_PHRASES = frozenset({
    "dung", "dung lai", "dung nhan tin", "dung gui tin", "xin dung",
    "huy", "huy dang ky", "huy nhan tin", "huy theo doi",
    "ngung", "ngung nhan tin", "ngung gui tin",
    "thoi nhan tin", "thoi gui tin", "khong nhan tin", "khong nhan tin nua",
    "tat thong bao", "bo theo doi",
    "stop", "unsubscribe", "unsub", "opt out", "optout", "stop messages",
})


def fold(text: str) -> str:
    """'  Thôi nhận TIN! ' -> 'thoi nhan tin'."""
    # đ has no Unicode decomposition, so NFD alone would keep it.
    text = text.replace("đ", "d").replace("Đ", "D")
    kept = [
        ch.lower() if ch.isalnum() else " "
        for ch in unicodedata.normalize("NFD", text)
        if unicodedata.category(ch) != "Mn"
    ]
    return " ".join("".join(kept).split())


def is_opt_out(text: str) -> bool:
    if len(text) > 40:  # a sentence, not a one-word request
        return False
    return fold(text) in OPT_OUT_PHRASES
