"""A short message that names one of the bot's own features runs it.

Workers type what they see on posters and hear at the factory gate ("ưu đãi", "xe Tết về
quê", "vé của tôi", "xin hỗ trợ khó khăn") rather than /benefits or /programs. The rights
Q&A read those as questions: "uu dai" got "I can only help with labour rights", and "co
xe tet ve que ko" the Tết bonus article (found by an outside tester). A phrase here runs
the feature's own command, with its role check, as the main menu's buttons do.

Matching is deliberately narrow, on folded words (no diacritics): a whole short message
that is a feature's name ("ve cua toi"), or a message of a few words holding one of the
names that mean nothing else ("xe tet", "uu dai"). A question about a right that mentions
them in passing ("công ty có bắt đóng tiền xe Tết không, vì lương em...") is longer and
goes to the Q&A.
"""

from __future__ import annotations

from handlers.context import Ctx
from handlers.core import run_command
from handlers.router import HandlerResult
from handlers.text import fold

# command -> (names that are the whole message, names that may sit in a short message).
# "về"/"vé" fold alike, so "xem ve" is "see the tickets" only as the whole message ("xem
# về lương" is about wages); "hỗ trợ" alone is also legal aid, so support needs "khó khăn".
_FEATURES: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "benefits": (
        frozenset({"uu dai", "giam gia", "benefits", "benefit", "discounts", "discount", "member benefits"}),
        ("uu dai", "giam gia cho doan vien", "member discount"),
    ),
    "programs": (
        frozenset({"chuong trinh", "xe tet", "tau tet", "ve xe", "ve tau", "dat ve", "tet bus", "tet train"}),
        (
            *("xe tet", "tau tet", "xe ve que", "tau ve que", "ve xe tet", "ve tau tet", "chuyen xe tet"),
            *("chuyen tau tet", "xe mien phi ve que", "bus home", "train home"),
        ),
    ),
    "mytickets": (
        frozenset({"ve cua toi", "ve cua em", "ve cua minh", "xem ve", "huy ve", "huy ve xe", "my tickets", "tickets"}),
        ("ve cua toi", "ve cua em", "ve cua minh", "huy ve xe", "huy ve tau", "my ticket"),
    ),
    # The worker's own data (found by an outside tester: "delete my data" got the employer's
    # duty to delete data, never /forget, which asks before erasing anything).
    "mydata": (
        frozenset(
            {"xem thong tin cua toi", "thong tin cua toi", "du lieu cua toi", "xem du lieu cua toi", "my data"}
            | {"show my data", "see my data", "what do you know about me", "thong tin cua", "du lieu cua"}
        ),
        (),
    ),
    "forget": (
        frozenset(
            {"xoa thong tin cua toi", "xoa du lieu cua toi", "xoa thong tin cua em", "xoa du lieu cua em"}
            | {"xoa het thong tin", "delete my data", "erase my data", "delete my information", "forget me"}
            | {"xoa thong tin cua", "xoa du lieu cua", "xoa thong tin", "xoa du lieu"}
        ),
        (),
    ),
    # "quay lại" alone got sexual harassment among the choices (it folds near "quấy rối";
    # found by an outside tester): the menu, as /join teaches it for "go back".
    "menu": (
        frozenset({"quay lai", "tro lai", "tro ve", "ve menu", "menu chinh", "back", "go back", "main menu"}),
        (),
    ),
    # "help" alone got the legal aid answer (found by an outside tester): the bot's own help.
    "help": (
        frozenset({"help", "help me", "tro giup", "giup", "giup do", "huong dan", "huong dan su dung", "cach dung"}),
        (),
    ),
    "support": (
        frozenset({"ho tro kho khan", "xin ho tro kho khan", "hardship", "hardship support"}),
        ("ho tro kho khan", "hoan canh kho khan", "tro cap kho khan", "giup do kho khan", "hardship"),
    ),
}
# Said around a feature's name without changing what is asked ("cho em xem ưu đãi ạ").
_AROUND = frozenset(
    {
        *("cho", "em", "toi", "minh", "xem", "muon", "hoi", "dang", "ky", "co", "khong", "ko", "k", "a", "ah"),
        *("voi", "nhe", "nha", "di", "gi", "nao", "the", "i", "want", "to", "see", "show", "me", "my", "please"),
    }
)
_SHORT = 8  # words: a feature named inside more than this is part of a question
# A feature's name inside a message that also holds one of these is a rights question
# about it ("tiền xe Tết có bị trừ lương không", "ưu đãi cho lao động nữ mang thai"), which
# the Q&A answers well (found in review): only the whole-message names count then. Only
# words that make a question about rights: "bị", "tiền", "trả" are in every request too
# ("em bị ốm xin hỗ trợ khó khăn", "xe Tết về quê có mất tiền không", "tra cứu ưu đãi").
_RIGHTS_WORDS = frozenset(
    {
        *("luong", "thue", "phu cap", "mang thai", "lao dong nu", "hop dong", "bhxh", "bao hiem"),
        *("che do", "luat", "quyen loi", "khong tra", "ko tra", "chua tra", "boi thuong"),
        *("salary", "wage", "wages", "deduct", "deducted", "tax", "pregnant", "law", "contract"),
    }
)


def _contains(words: list[str], phrase: str) -> bool:
    return f" {phrase} " in f" {' '.join(words)} "


def feature_named(text: str) -> str | None:
    """The command a short message names, or None."""
    words = fold(text).split()
    if not words or len(words) > _SHORT:
        return None
    core = [w for w in words if w not in _AROUND]
    whole = " ".join(core)
    for command, (names, _) in _FEATURES.items():
        if " ".join(words) in names or whole in names:
            return command
    if any(_contains(words, w) for w in _RIGHTS_WORDS):
        return None
    for command, (_, inside) in _FEATURES.items():
        if any(_contains(words, phrase) for phrase in inside):
            return command
    return None


async def typed_feature(ctx: Ctx) -> HandlerResult:
    """Free text that names a feature ("ưu đãi", "vé của tôi") runs its command."""
    command = feature_named(ctx.inbound.text or "")
    # Not theirs to run (or no such command): the Q&A answers as before.
    return await run_command(ctx, command, quiet=True) if command is not None else None
