"""Recognise a message that is, as a whole, a request to stop announcements.

An unsubscribe that fires by accident silently costs a campaign its audience, so only
an unambiguous message counts:

* a whole message that is an opt-out phrase written with its diacritics ("dừng",
  "hủy"/"huỷ", "thôi nhận tin"), or an unambiguous English one ("stop", "unsubscribe",
  "stop please"), or a diacritic-free phrase with only one reading ("thoi nhan tin",
  "huy dang ky");
* a bare diacritic-free "dung" or "huy" has several readings (dừng / đúng / dùng / the
  name Dũng; hủy / the name Huy): the bot asks before unsubscribing;
* "đúng", "Dũng", "dùng" and any sentence that merely contains such a word are not
  opt-outs ("công ty bắt dừng việc" is a question for the rights Q&A).

Checked only outside forms, where "Huy" or "Dung" may be a name.
"""

from __future__ import annotations

from enum import StrEnum

from handlers.text import fold, written

# Written forms, lower-case, NFC, single spaces, with the new tone placement ("hủy").
OPT_OUT_PHRASES = frozenset(
    {
        "dừng",
        "dừng lại",
        "dừng nhận tin",
        "dừng gửi tin",
        "xin dừng",
        "dừng nhận thông báo",
        "hủy",
        "hủy đăng ký",
        "hủy đăng kí",
        "hủy nhận tin",
        "hủy theo dõi",
        "ngừng",
        "ngưng",
        "ngừng nhận tin",
        "ngừng gửi tin",
        "ngưng nhận tin",
        "thôi nhận tin",
        "thôi gửi tin",
        "không nhận tin",
        "không nhận tin nữa",
        "tắt thông báo",
        "bỏ theo dõi",
        "stop",
        "unsubscribe",
        "unsub",
        "opt out",
        "optout",
        "stop messages",
        "stop please",
        "please stop",
        "stop sending",
        "stop sending messages",
        "stop sending me messages",
        "stop messaging me",
        "stop texting me",
        "don t send me messages",  # written() splits "don't"
        "dont send me messages",
        "no more messages",
        "đừng gửi tin nữa",
        "đừng gửi nữa",
        "đừng nhắn tin nữa",
        "đừng nhắn nữa",
        "đừng gửi thông báo nữa",
        "không nhận thông báo",
        "không nhận thông báo nữa",
        "không muốn nhận tin nữa",
        "không muốn nhận thông báo nữa",
        "ko nhận tin nữa",
        "ko nhận thông báo nữa",
    }
)

# Diacritic-free forms with one reading only: typed without diacritics they still
# can only mean "stop the messages".
UNAMBIGUOUS_FOLDED = frozenset(
    {
        "dung nhan tin",
        "dung gui tin",
        "dung nhan thong bao",
        "huy dang ky",
        "huy dang ki",
        "huy nhan tin",
        "huy theo doi",
        "ngung nhan tin",
        "ngung gui tin",
        "thoi nhan tin",
        "thoi gui tin",
        "khong nhan tin",
        "khong nhan tin nua",
        "ko nhan tin nua",
        "k nhan tin nua",
        "khong nhan thong bao",
        "khong nhan thong bao nua",
        "ko nhan thong bao nua",
        "khong muon nhan tin nua",
        "dung gui tin nua",
        "dung gui nua",
        "dung nhan tin nua",
        "dung nhan nua",
        "dung gui thong bao nua",
        "tat thong bao",
        "bo theo doi",
    }
)

# Diacritic-free words with several readings: ask first.
AMBIGUOUS_FOLDED = frozenset({"dung", "huy", "dung lai", "xin dung", "ngung"})

MAX_CHARS = 40  # longer is a sentence, not a one-word request


class OptOut(StrEnum):
    NO = "no"  # not an opt-out: the message goes on to the rights Q&A
    YES = "yes"  # unsubscribe now
    ASK = "ask"  # could be an opt-out: ask "do you want to stop announcements?"


def classify(text: str) -> OptOut:
    if len(text) > MAX_CHARS:
        return OptOut.NO
    form = written(text)
    if form in OPT_OUT_PHRASES:
        return OptOut.YES
    folded = fold(text)
    if form != folded:
        # Typed with diacritics that are not an opt-out's: "đúng", "Dũng", "dùng".
        return OptOut.NO
    if folded in UNAMBIGUOUS_FOLDED:
        return OptOut.YES
    if folded in AMBIGUOUS_FOLDED:
        return OptOut.ASK
    return OptOut.NO


def is_opt_out(text: str) -> bool:
    """True only for a message that unsubscribes without asking."""
    return classify(text) is OptOut.YES
