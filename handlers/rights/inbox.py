"""Hand-off: a worker's question goes to the organizers' inbox, an organizer answers,
and the answer reaches the worker in the bot, on whatever channel they wrote from.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from handlers.context import Ctx
from handlers.core import cancel
from handlers.forms import QA_FLOW, FormFlow, answered_instead, held_form, put_back
from handlers.i18n import LANGUAGES, Catalog
from handlers.join.common import province_name, province_scope
from handlers.join.provinces import ProvinceMatch, get_province, reading_note, resolve_province
from handlers.rights.context import ProvinceFinder
from handlers.router import Actions, OneMessageStep, Router, as_replies, payload
from handlers.scope import admins, no_province_yet, officer_notices, question_in_scope
from handlers.text import fold, shorten, written
from handlers.types import Button, Reply
from storage import Role
from storage.questions import OPEN, WITHDRAWN, Question

logger = logging.getLogger(__name__)

MIN_QUESTION_CHARS = 8
MAX_ID_DIGITS = 12  # question numbers are far smaller; longer input is not a question number
# A worker's story can be long; the officer must read all of it (Telegram's own limit
# for one message is 4,096 characters).
MAX_QUESTION_CHARS = 4000
HANDOFF_FLOW = "ask"  # the conversation state of an open hand-off step
MAX_ANSWER_CHARS = 3500
INBOX_PAGE = 5  # questions per message: one screen on a phone
INBOX_ITEM_CHARS = 300
# Why an organizer closes a question without answering it; stored as the code, shown
# through the catalog (console.questions.reason.*), counted in the audit log.
CLOSE_REASONS = ("spam", "duplicate", "resolved", "other")

# Forms kept in the conversation state (handlers/forms.py). The hand-off step and the
# organizer's answer have one copy per person, so no form id on buttons, and no expiry
# beyond the retention of conversation states. The rights Q&A's last question ("qa",
# handlers/rights/chat.py) is read for the one-tap hand-off.
# Both may open in the middle of the sign-up form ("☎️ Liên hệ cán bộ", /ask): they hold
# it and put it back when they end (handlers/forms.py), or the draft was lost.
HANDOFF = FormFlow(HANDOFF_FLOW, interrupts=True)
# After a question from someone not signed up whose question names no province: where
# they work, so the question reaches that province's officers.
WHERE_FLOW = "askw"
WHERE = FormFlow(WHERE_FLOW, interrupts=True)
ANSWER = FormFlow("inbox_reply")
LAST_QUESTION = FormFlow(QA_FLOW)


async def _submit(ctx: Ctx, text: str, *, follows: Question | None = None) -> list[Reply]:
    """Store the question for the officers of the asker's province: their sign-up's, else
    the worker is asked where they work. Without a province only admins would ever see it
    (handlers/scope.py). A province the question names is offered, never assumed: "mẹ em
    ở Hà Nội ốm, cty ở Hải Phòng..." would have gone to Hà Nội's officers (found in review)."""
    # The question's own language, for the confirmation and the officer's reply: an English
    # question typed after /ask was confirmed, and tagged for its answer, in Vietnamese
    # (found by an outside tester). The engine may still be loading: the setting then.
    if ctx.services.rights is not None or ctx.services.rights_loading is None:
        from handlers.rights.chat import rights  # chat imports this module: imported late

        ctx.reply_lang = rights(ctx).searcher.language_of(text, ctx.lang)
    signup = await ctx.store.signup_of_user(ctx.user.id)
    # "Ask more" under an officer's answer: the same officers, and the number it follows
    # for them to read the thread (found by an outside tester: a reply to the answer went
    # nowhere, and asked again the question reached them without its context).
    named = follows.province_id if follows is not None and signup is None else None
    province = signup.province_id if signup is not None else named
    # Only the bot marks a follow-up: a "↪" typed by the worker is dropped, so that no
    # question can pass for one following another worker's (found in review).
    text = text.replace("↪", "").strip() or text
    stored = ctx.t("ask.follows", id=follows.id, text=text) if follows is not None else text
    qid = await ctx.store.add_question(ctx.user.id, stored[:MAX_QUESTION_CHARS], ctx.lang, province_id=named)
    # The next step ("which province?") holds what the hand-off held; without one, the
    # hand-off ends here and a form it held comes back after the confirmation.
    back = [] if province is None else await _end_handoff(ctx)
    logger.info("inbox: user %s handed off question %s", ctx.user.id, qid)
    # Quote what was sent: the one-tap button forwards the question asked before it.
    quote = ctx.t("ask.sent_quote", text=shorten(text, 200))
    if province is None:
        offered = _province_in(text)
        await WHERE.save(ctx, "text", {"qid": qid, "named": offered, "lang": ctx.lang})
        prompt = _where_prompt(ctx, qid, offered)
        prompt.text = f"{prompt.text}\n\n{quote}"
        # Admins are told now: until a province is given only they can see it, and the
        # worker may leave the step any way at all (the menu, /start, silence; found in
        # review: such questions waited unannounced).
        return [prompt, *await _tell_admins(ctx, qid)]
    sent = ctx.t("ask.sent", id=qid, province=province_name(province, ctx.lang), hours=ctx.settings.answer_within_hours)
    return [Reply(f"{sent}\n\n{quote}", buttons=[ctx.back_button()]), *await tell_officers(ctx, province, qid), *back]


async def _end_handoff(ctx: Ctx) -> list[Reply]:
    """The hand-off is over: its step ends, putting back a form it held. Another state is
    the Q&A's memory (the 🙋 button under an answer), cleared as before, unless it is a
    form of its own that a held step would have kept."""
    state = await ctx.store.get_state(ctx.user.id)
    if state is not None and state.flow == HANDOFF_FLOW:
        return await HANDOFF.end(ctx)
    held = held_form(state)
    if held is not None:
        # Another step holding the form (the Q&A's state, "which province?", a care
        # step): that step is over, the form comes back (found in review: it was erased).
        await ctx.store.clear_state(ctx.user.id)
        back = await put_back(ctx, held)
        return [back] if back is not None else []
    resumable = ctx.router is not None and state is not None and state.flow in ctx.router.resumers
    if state is not None and not resumable:
        await ctx.store.clear_state(ctx.user.id)
    return []


async def tell_officers(ctx: Ctx, province_id: str, qid: int, *, or_admins: bool = True) -> list[Reply]:
    """A new question for the province's officers (handlers/scope.officer_notices), so the
    hand-off reaches a person and not only the inbox; the admins where nobody covers the
    province, unless they were told of it already (`or_admins`). The number only, never
    the question's words."""
    catalog = ctx.services.catalog

    def text(lang: str) -> str:
        return catalog.t(lang, "inbox.new_question", id=qid, province=province_name(province_id, lang))

    return await officer_notices(ctx, province_id, text, or_admins=or_admins, skip=ctx.user.id)


async def _tell_admins(ctx: Ctx, qid: int) -> list[Reply]:
    """A question not placed in any province, which only admins can see, is announced to
    them, or it waited unseen (found by an outside tester)."""
    catalog = ctx.services.catalog
    return [
        Reply(catalog.t(u.language, "inbox.new_question_unplaced", id=qid), to_channel=u.channel, to_user=u.external_id)
        for u in await admins(ctx, skip=ctx.user.id)
    ]


@functools.cache
def _provinces() -> ProvinceFinder:
    return ProvinceFinder()


def _province_in(text: str) -> str | None:
    return _provinces().find(fold(text).split(), text)


# The step's buttons carry their question's number: an old screen's button must not act on
# the question waiting now (found in review: an old "📍 Hà Nội" placed the next question).
def _where_prompt(ctx: Ctx, qid: int, named: str | None) -> Reply:
    rows = [[_province_button(ctx, qid, named, f"📍 {province_name(named, ctx.lang)}")]] if named else []
    rows += [[_skip_where(ctx, qid)], [_withdraw(ctx, qid)]]
    return Reply(ctx.t("ask.where", id=qid), buttons=[*rows, ctx.back_button()])


def _province_button(ctx: Ctx, qid: int, province_id: str, label: str) -> Button:
    return Button(label, payload(WHERE_FLOW, "p", qid, province_id, ctx.lang))


def _skip_where(ctx: Ctx, qid: int) -> Button:
    return Button(ctx.t("ask.where_skip"), payload(WHERE_FLOW, "skip", qid))


def _withdraw(ctx: Ctx, qid: int) -> Button:
    return Button(ctx.t("ask.where_withdraw"), payload(WHERE_FLOW, "x", qid))


# Typed at "which province?": take the question back, as never-mind words do.
_TAKE_BACK = frozenset({"xoa", "xoa cau hoi", "xoa cau hoi di", "rut lai", "rut lai cau hoi"})
# Typed at "which province?": "I'd rather not say" (the question still goes, unplaced).
_NOT_SAYING = frozenset({"khong", "ko", "k", "khong muon noi", "khong noi", "bo qua", "skip", "no", "none", "-"})
# The same inside a short message ("em không muốn nói đâu ạ"), or at its start ("bỏ qua
# nhé"): added to the question as detail, they would have kept the step asking.
_NOT_SAYING_PARTS = ("khong muon noi", "khong muon cho biet", "rather not say", "prefer not to say", "dont want to say")
_NOT_SAYING_STARTS = ("bo qua", "skip")
# Typed at "which province?" under the province the question named (its 📍 button): yes,
# that one ("đúng" was looked up as a province and the suggestion lost; an outside tester).
_CONFIRM = frozenset({"dung", "dung roi", "dung a", "dung vay", "ok", "oke", "okay", "ok a", "vang", "vang a", "yes"})
# Words a place answer holds besides the place's own name ("em làm ở KCN Quế Võ, Bắc Ninh
# ạ", "I work in Hanoi"). A message with DETAIL_MIN_WORDS other words or more says more
# about the question: it is added to it, wherever it names a province. A question typed
# there was answered by the bot instead and the earlier question sent unplaced, so "My
# factory in Bac Ninh has not paid overtime for 3 months, what can we do?" was lost for
# the officers and Bắc Ninh with it (found by an outside tester). A new question typed
# there now reaches the officers with the one just sent.
_PLACE_ANSWER_WORDS = frozenset(
    {
        *("em", "toi", "minh", "lam", "viec", "o", "tai", "kcn", "kcx", "khu", "cong", "nghiep", "che", "xuat"),
        *("tinh", "thanh", "pho", "tp", "huyen", "quan", "q", "thi", "xa", "tx", "cu", "a", "ah", "nha", "nhe"),
        *("oi", "i", "im", "m", "work", "live", "in", "at", "near", "from", "the", "province", "city", "my"),
    }
)
DETAIL_MIN_WORDS = 3


async def _placed(ctx: Ctx, qid: int, province_id: str, note: str | None = None) -> Reply | list[Reply]:
    back = await WHERE.end(ctx)
    if not await ctx.store.set_question_province(qid, ctx.user.id, province_id):
        return [Reply(ctx.t("ask.where_closed", id=qid), buttons=[ctx.back_button()]), *back]
    logger.info("inbox: user %s placed question %s", ctx.user.id, qid)
    text = ctx.t("ask.where_set", id=qid, province=province_name(province_id, ctx.lang))
    expect = ctx.t("ask.expect", hours=ctx.settings.answer_within_hours)
    text = f"{note}\n\n{text} {expect}" if note else f"{text} {expect}"
    # The admins were told of the question when it came unplaced (`_tell_admins`): where
    # nobody covers the province they were told twice (found by an outside tester).
    told = await tell_officers(ctx, province_id, qid, or_admins=False)
    return [Reply(text, buttons=[ctx.back_button()]), *told, *back]


async def where_text(ctx: Ctx) -> Reply | list[Reply]:
    """The province typed after a question from someone not signed up: the question goes
    to that province's officers. A typed word that is no province asks again; a longer
    message is added to the question (`_detail`). Only a skip leaves it unplaced."""
    state = await WHERE.load(ctx)
    if state is None:
        return Reply(ctx.t("ask.where_gone"), buttons=[ctx.back_button()])
    qid = int(state.data["qid"])
    _reply_lang(ctx, state.data)
    text = ctx.inbound.text.strip()
    if never_mind(text) or fold(text) in _TAKE_BACK:
        return await withdraw(ctx)  # "hủy", "thôi không hỏi nữa": taken back, as it says
    if _not_saying(text) or fold(text) in _LEAVE_HANDOFF or written(text) in _STOP_WRITTEN:
        # "quay lại", "dừng" were looked up as provinces (found by an outside tester): the
        # question goes on unplaced, as with a skip.
        return await _skipped(ctx, qid)
    named = state.data.get("named")
    # "dừng" (stop) folds like "đúng": only the typed word without that reading confirms.
    if isinstance(named, str) and fold(text) in _CONFIRM and "dừng" not in text.lower():
        return await _placed(ctx, qid, named)
    if person_request(text) is not None:
        # "hỏi cán bộ công đoàn" again: the question just sent is on its way to them.
        return _where_again(ctx, state.data)
    match = resolve_province(text)
    if _beyond_the_place(text, match) and await _a_new_question(ctx, qid, text, match):
        # (A province named with a question's words, "Bac Ninh, em phải làm sao bây giờ",
        # is a place answer that asks on: placed below; found in review.)
        # Another question, not more of this one: the one sent goes on unplaced, and this
        # one is answered like any other (found by an outside tester: "nghỉ phép năm được
        # bao nhiêu ngày" was added to a sick-leave question and never answered, and
        # "lương tối thiểu ở Hà Nội" placed it in Hà Nội). A form the step held is put
        # back first, so that a step the text opens holds it.
        first = _leading_province(text)
        if first is not None and first.province is not None:
            # "Bắc Ninh, mà cho em hỏi luôn ..." answers where, then asks on (found by an
            # outside tester: the question went to the officers in charge overall).
            placed = await _placed(ctx, qid, first.province.id, note=reading_note(first, ctx.lang, ctx.t))
            return [*as_replies(placed), *await answered_instead(ctx, WHERE)]
        return await answered_instead(ctx, WHERE, first=[_skipped_note(ctx, qid)])
    if _says_more(text, match):
        return await _detail(ctx, qid, text, match, named)
    if match.province is not None:
        # "Thuận An" placed in Hồ Chí Minh says so, or the unit shown would be a surprise.
        return await _placed(ctx, qid, match.province.id, note=reading_note(match, ctx.lang, ctx.t))
    key = "ask.where_suggest" if match.suggestions else "ask.where_unknown"
    return Reply(
        ctx.t(key, text=shorten(text, 40) or "…"),
        buttons=_province_choices(ctx, qid, [p.id for p in match.suggestions], named),
    )


def _not_saying(text: str) -> bool:
    folded = fold(text)
    if folded in _NOT_SAYING:
        return True
    if len(folded.split()) > NEVER_MIND_MAX_WORDS:
        return False
    padded = f" {folded} "
    return any(f" {p} " in padded for p in _NOT_SAYING_PARTS) or any(
        f"{folded} ".startswith(f"{start} ") for start in _NOT_SAYING_STARTS
    )


# Words of a question, not of a place answer or a detail: "bao nhiêu", "có được ... không".
# Only words no place answer holds ("ko", "chưa", "bn" for Bắc Ninh are in those too).
_QUESTION_MARKERS = (
    *("bao nhieu", "sao", "the nao", "co duoc", "duoc khong", "dc khong", "dc ko", "duoc ko", "phai lam gi"),
    *("lam the nao", "what", "how", "why", "can i", "is it"),
)
# A message sharing this share of the question's words retells it ("... 3 months, what can
# we do?" after "... 3 months"): more of the same question, whatever it asks.
RETOLD = 0.5
NEW_QUESTION_CONFIDENCE = 0.9  # the engine answers the message alone this surely


async def _a_new_question(ctx: Ctx, qid: int, text: str, match: ProvinceMatch) -> bool:
    """Whether a longer message at "which province?" is another question rather than more
    of the one just sent: it asks (a question's words, or the engine answers it surely on
    another topic) and does not retell the question sent."""
    sent = await ctx.store.get_question(qid)
    if sent is None:
        return False
    said, before = set(fold(text).split()), set(fold(sent.text).split())
    if before and len(said & before) / len(before) >= RETOLD:
        return False
    folded = f" {fold(text)} "
    # A question's words, in a message of more than a few words ("Sao Hỏa" is a place
    # typed) naming no province ("I work in Bac Ninh, what happens now?" answers where).
    markers = any(f" {m} " in folded for m in _QUESTION_MARKERS)
    if markers and match.province is None and _says_more(text, match):
        return True
    if ctx.services.rights is None and ctx.services.rights_loading is not None:
        return False  # the engine is still loading: more of the question, as before
    from handlers.rights.chat import rights  # chat imports this module: imported late

    searcher = rights(ctx).searcher
    new, old = searcher.search(text, ctx.lang), searcher.search(sent.text, ctx.lang)
    return new.kind == "answer" and new.confidence >= NEW_QUESTION_CONFIDENCE and new.topic != old.topic


_FIRST_CLAUSE = re.compile(r"[,.;:!?\n]| - ")


def _leading_province(text: str) -> ProvinceMatch | None:
    """The province a message opens with, before its first comma or full stop, when that
    clause is nothing but a place answer ("Bắc Ninh, mà cho em hỏi ...")."""
    head = _FIRST_CLAUSE.split(text, maxsplit=1)[0]
    if head.strip() == text.strip():
        return None
    match = resolve_province(head)
    if match.province is None or _beyond_the_place(head, match):
        return None
    return match


def _beyond_the_place(text: str, match: ProvinceMatch) -> int:
    """How many words of a message typed at "which province?" a place answer does not hold."""
    names: set[str] = set()
    for p in (match.province, *match.suggestions):
        if p is not None:
            names.update(w for n in (p.name_vi, p.name_en, *p.merged_from, *p.aliases) for w in fold(n).split())
    names.update(fold(f"{match.via_place or ''} {match.via_old_name or ''}").split())
    return len([w for w in fold(text).split() if w not in _PLACE_ANSWER_WORDS and w not in names])


def _says_more(text: str, match: ProvinceMatch) -> bool:
    """Whether a message typed at "which province?" holds more than a place answer does."""
    return _beyond_the_place(text, match) >= DETAIL_MIN_WORDS


async def _detail(ctx: Ctx, qid: int, text: str, match: ProvinceMatch, named: object) -> Reply | list[Reply]:
    """A message saying more at "which province?": added to the question just sent. The
    province it names places the question when both readings agree on one (the step's
    own and the rights engine's, which needs a place word: "mang thai bình thường" is no
    Thái Bình); otherwise what it names is offered, never assumed."""
    note = await _add_detail(ctx, qid, text)
    if note is None:
        back = await WHERE.end(ctx)
        return [Reply(ctx.t("ask.where_closed", id=qid), buttons=[ctx.back_button()]), *back]
    # Asked where they work, the worker's first words are an answer: "Bac Ninh, cty no
    # luong..." names a place as "o bac ninh" would.
    found = _provinces().find(["o", *fold(text).split()], text)
    if match.province is not None and match.province.id == found:
        said = "\n\n".join(n for n in (note, reading_note(match, ctx.lang, ctx.t)) if n)
        return await _placed(ctx, qid, found, note=said or None)
    offered = [*(p.id for p in match.suggestions), *(p.id for p in (match.province,) if p is not None)]
    offered += [found] if found else []
    prompt = ctx.t("ask.detail_where")
    return Reply(
        f"{note}\n\n{prompt}" if note else prompt,
        buttons=_province_choices(ctx, qid, list(dict.fromkeys(offered)), named),
    )


async def _add_detail(ctx: Ctx, qid: int, text: str) -> str | None:
    """Append `text` to question `qid` (within its length limit); what to tell the worker
    ("" when the question already says it), None when the question is no longer open."""
    q = await ctx.store.get_question(qid)
    if q is None or q.user_id != ctx.user.id or q.status != OPEN:
        return None
    if fold(text) in fold(q.text):
        return ""  # the question sent again: nothing new for the officers
    added = f"\n\n{text}"
    stored = await ctx.store.add_to_question(qid, ctx.user.id, added, limit=MAX_QUESTION_CHARS)
    if stored is None:
        return None
    logger.info("inbox: user %s added to question %s", ctx.user.id, qid)
    key = "ask.detail_added" if stored.endswith(added) else "ask.detail_cut"
    return ctx.t(key, id=qid, limit=MAX_QUESTION_CHARS)


def _province_choices(ctx: Ctx, qid: int, provinces: list[str], named: object) -> list[list[Button]]:
    """The provinces offered at "which province?", two a row, then skip, take back, menu."""
    choices = [_province_button(ctx, qid, pid, province_name(pid, ctx.lang)) for pid in provinces]
    if isinstance(named, str) and get_province(named) is not None and named not in provinces:
        # The province the question named stays on offer, or one stray word lost it.
        choices.insert(0, _province_button(ctx, qid, named, f"📍 {province_name(named, ctx.lang)}"))
    rows = [choices[i : i + 2] for i in range(0, len(choices), 2)]
    return [*rows, [_skip_where(ctx, qid)], [_withdraw(ctx, qid)], ctx.back_button()]


def _reply_lang(ctx: Ctx, data: dict[str, object]) -> None:
    """The step answers in the language it was opened in (an English question's hand-off
    confirmed in Vietnamese; found by an outside tester)."""
    lang = data.get("lang")
    if isinstance(lang, str) and lang in LANGUAGES:
        ctx.reply_lang = lang


async def _skipped(ctx: Ctx, qid: int) -> list[Reply]:
    # The admins were told when the question came (_submit).
    back = await WHERE.end(ctx)
    return [_skipped_note(ctx, qid), *back]


def _skipped_note(ctx: Ctx, qid: int) -> Reply:
    return Reply(ctx.t("ask.where_skipped", id=qid), buttons=[ctx.back_button()])


async def where_button(ctx: Ctx) -> Reply | list[Reply]:
    """`askw:p:<question>:<province>:<lang>`, `askw:skip:<question>`, `askw:x:<question>`."""
    action = ctx.args[0] if ctx.args else ""
    pressed = int(ctx.args[1]) if len(ctx.args) >= 2 and _is_id(ctx.args[1]) else None
    state = await WHERE.load(ctx)
    if state is None or pressed != int(state.data["qid"]):
        # A button of a screen already dealt with (a double tap, an older question).
        return await _stale_where_button(ctx, action, pressed, state.data if state is not None else None)
    qid = pressed
    _reply_lang(ctx, state.data)
    if action == "p" and len(ctx.args) >= 3 and get_province(ctx.args[2]) is not None:
        return await _placed(ctx, qid, ctx.args[2])
    if action == "x":
        return await withdraw(ctx)
    if action == "skip":
        return await _skipped(ctx, qid)
    return _where_again(ctx, state.data)


async def _stale_where_button(ctx: Ctx, action: str, pressed: int | None, current: dict[str, object] | None) -> Reply:
    q = await ctx.store.get_question(pressed) if pressed is not None else None
    if q is not None and q.user_id == ctx.user.id and action == "x" and q.close_reason == WITHDRAWN:
        return Reply(ctx.t("ask.withdrawn", id=q.id), buttons=[ctx.back_button()])  # a double tap
    if current is not None:
        return _where_again(ctx, current)  # the question waiting now, not the old one
    return Reply(ctx.t("ask.where_gone"), buttons=[ctx.back_button()])


async def withdraw(ctx: Ctx) -> Reply | list[Reply]:
    """`/cancel` or "withdraw" at "which province?": the question just sent is taken back
    (it was open to admins for a moment only); "Đã hủy... đã được xóa" said so while the
    question stayed in the inbox (found in review)."""
    state = await WHERE.load(ctx)
    back = await WHERE.end(ctx) if state is not None else []
    if state is None:
        await ctx.store.clear_state(ctx.user.id)
        return Reply(ctx.t("ask.where_gone"), buttons=[ctx.back_button()])
    qid = int(state.data["qid"])
    _reply_lang(ctx, state.data)
    gone = await ctx.store.withdraw_question(qid, ctx.user.id)
    logger.info("inbox: user %s withdrew question %s (%s)", ctx.user.id, qid, "done" if gone else "too late")
    if gone:
        await ctx.store.audit(ctx.user.id, "question.withdraw", f"question:{qid}", {})
    return [Reply(ctx.t("ask.withdrawn" if gone else "ask.where_closed", id=qid), buttons=[ctx.back_button()]), *back]


# The Q&A's last question is offered when the hand-off opens this long after it was asked.
LAST_QUESTION_OFFERED = timedelta(days=1)


async def recent_question(ctx: Ctx) -> str | None:
    """The question the worker last asked the bot, if recent: one from another day is
    not brought back (found in review: a typed request for an officer offered one from
    weeks before)."""
    state = await LAST_QUESTION.load(ctx)
    if state is None or state.updated_at is None:
        return None
    last = state.data.get("q")
    fresh = datetime.now(UTC) - state.updated_at < LAST_QUESTION_OFFERED
    return last if isinstance(last, str) and fresh else None


async def open_handoff(ctx: Ctx, *, intro: str | None = None, last: str | None = None) -> Reply:
    """The hand-off step: whatever the worker types next goes to the union officers,
    whatever its topic. /cancel, /start, the menu or any other button leave it
    (handlers/dispatcher.py). `last`, the question the worker asked the bot before, stays
    one tap away: the step replaces the Q&A's memory that kept it."""
    data: dict[str, str] = {"lang": ctx.lang}
    if last is not None and len(last.strip()) >= MIN_QUESTION_CHARS and person_request(last) is None:
        data["q"] = last
    await HANDOFF.save(ctx, "text", data)
    return _handoff_prompt(ctx, data, intro)


def _handoff_prompt(ctx: Ctx, data: Mapping[str, object], intro: str | None = None) -> Reply:
    parts = [intro, ctx.t("ask.prompt")] if intro else [ctx.t("ask.prompt")]
    rows = [ctx.back_button()]
    last = data.get("q")
    if isinstance(last, str) and last:
        send = ctx.t("ask.send_last")
        parts.append(ctx.t("ask.last_offer", button=send, text=shorten(last, 200)))
        rows.insert(0, [Button(send, payload(HANDOFF_FLOW, "q", ctx.lang))])
    return Reply("\n\n".join(parts), buttons=rows)


async def handoff(ctx: Ctx, question: str | None) -> Reply | list[Reply]:
    """The 🙋 button: send the question just asked at once, or ask for one. A request for
    a person kept as the question before it was told apart asks for one too."""
    if question is not None and len(question.strip()) >= MIN_QUESTION_CHARS and person_request(question) is None:
        return await _submit(ctx, question.strip())
    return await open_handoff(ctx)


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS


def _age(ctx: Ctx, created: datetime) -> str:
    minutes = int((datetime.now(UTC) - created).total_seconds() // 60)
    if minutes < 120:
        return ctx.t("inbox.age_minutes", n=max(minutes, 0))
    return ctx.t("inbox.age_hours", n=minutes // 60)


async def deliver_answer(ctx: Ctx, q: Question, answer: str, catalog: Catalog) -> list[Reply]:
    # In the question's own language (an English question from a Vietnamese setting got a
    # Vietnamese header; found by an outside tester), with a way to ask more.
    worker = await ctx.store.get_user(q.user_id)
    lang = q.lang if q.lang in LANGUAGES else worker.language if worker is not None else LANGUAGES[0]
    more = Button(catalog.t(lang, "inbox.ask_more"), payload(HANDOFF_FLOW, "re", q.id, lang))
    return [
        ctx.reply("inbox.answered", id=q.id),
        Reply(
            catalog.t(lang, "inbox.delivered", id=q.id, answer=answer),
            buttons=[[more]],
            to_channel=q.channel,
            to_user=q.external_id,
            on_failure=ctx.reply("inbox.not_delivered", id=q.id),
        ),
    ]


async def _inbox_page(ctx: Ctx, scope: frozenset[str] | None, after: int | None) -> Reply:
    """One message, however long the queue: a page of the oldest open questions with an
    Answer button each, and a button to the next page."""
    total = await ctx.store.count_open_questions(provinces=scope)
    if total == 0:
        return ctx.reply("inbox.empty")
    items = await ctx.store.list_open_questions(limit=INBOX_PAGE, provinces=scope, after_id=after)
    lines = [ctx.t("inbox.header", count=total)]
    lines += [
        ctx.t("inbox.item", id=q.id, age=_age(ctx, q.created_at), lang=q.lang, text=shorten(q.text, INBOX_ITEM_CHARS))
        for q in items
    ]
    if not items:
        lines.append(ctx.t("inbox.page_end"))
    answer = [Button(ctx.t("inbox.reply_button", id=q.id), payload("inbox", "r", q.id)) for q in items]
    rows = [answer[i : i + 2] for i in range(0, len(answer), 2)]
    if len(items) == INBOX_PAGE:
        rows.append([Button(ctx.t("inbox.next_page"), payload("inbox", "p", items[-1].id))])
    elif after is not None:
        rows.append([Button(ctx.t("inbox.first_page"), payload("inbox", "p", 0))])
    rows.append(ctx.back_button())
    return Reply("\n\n".join(lines), buttons=rows)


async def _in_scope(ctx: Ctx, q: Question | None) -> bool:
    """Organizers see the questions of their provinces' workers only (handlers/scope.py);
    one outside is answered exactly like one that does not exist."""
    if q is None:
        return False
    if question_in_scope(await province_scope(ctx), q):
        return True
    logger.info("inbox: user %s asked for question %s outside their provinces", ctx.user.id, q.id)
    return False


async def _answer(ctx: Ctx, qid: int, answer: str) -> list[Reply]:
    answer = answer.strip()[:MAX_ANSWER_CHARS]
    # Checked when the answer comes, not only when the button was pressed: the worker's
    # sign-up or the organizer's provinces may have changed meanwhile.
    if not await _in_scope(ctx, await ctx.store.get_question(qid)):
        await ctx.store.clear_state(ctx.user.id)
        return [ctx.reply("inbox.not_found", id=qid)]
    q = await ctx.store.answer_question(qid, ctx.user.id, answer)
    await ctx.store.clear_state(ctx.user.id)
    if q is None:
        return [ctx.reply("inbox.not_found", id=qid)]
    logger.info("inbox: organizer %s answered question %s", ctx.user.id, qid)
    return await deliver_answer(ctx, q, answer, ctx.services.catalog)


async def ask(ctx: Ctx) -> Reply | list[Reply]:
    """`/ask <question>` sends at once; `/ask` alone asks for the question."""
    # Keep the worker's line breaks: take the question from the raw text.
    raw = ctx.inbound.text.strip()
    parts = raw.split(None, 1)
    text = parts[1].strip() if len(parts) == 2 else ""
    where = await WHERE.load(ctx)
    if where is not None:
        if len(text) < MIN_QUESTION_CHARS:
            return _where_again(ctx, where.data)  # finish the question just sent first
        # A new question: the one waiting goes on unplaced, and both are said (found in
        # review: the new text was dropped under the old "#1 received"). The step stays
        # until the new question is stored, so the form it holds goes on to the next one
        # instead of being asked for in between (found in review).
        earlier = _skipped_note(ctx, int(str(where.data["qid"])))
        return [earlier, *await _submit(ctx, text)]
    if len(text) >= MIN_QUESTION_CHARS and person_request(text) is None:
        # Typed in a step "💬 Hỏi thêm" opened: still that question's follow-up.
        step = await HANDOFF.load(ctx)
        return await _submit(ctx, text, follows=await _follows(ctx, step.data) if step is not None else None)
    return await open_handoff(ctx)


def _where_again(ctx: Ctx, data: dict[str, object]) -> Reply:
    _reply_lang(ctx, data)
    named = data.get("named")
    return _where_prompt(ctx, int(str(data["qid"])), named if isinstance(named, str) else None)


async def ask_button(ctx: Ctx) -> Reply | list[Reply]:
    """`ask:q[:<lang>]`, 'Ask a union officer' under an answer: forwards the question
    just asked, in the language of the answer the button was under; `ask:new` asks for one."""
    if len(ctx.args) >= 2 and ctx.args[1] in LANGUAGES:
        ctx.reply_lang = ctx.args[1]
    where = await WHERE.load(ctx)
    if where is not None:
        # A second tap while "which province?" is open (a double tap, a late press): that
        # question again, not a new hand-off that would take the province typed next as a
        # question of its own (found in review).
        return _where_again(ctx, where.data)
    if ctx.args[:1] == ("new",):  # `ask:new`: offered away from any answer, asks afresh
        return await open_handoff(ctx)
    if ctx.args[:1] == ("re",):  # `ask:re:<id>:<lang>`: more about an answered question
        return await _ask_more(ctx)
    return await handoff(ctx, await _last_question(ctx))


async def _ask_more(ctx: Ctx) -> Reply:
    """The hand-off step for more about one of the worker's own questions (the button under
    an officer's answer); what is typed next goes to the same officers, marked as following
    it. Another's question, or one erased since, opens the ordinary step."""
    if len(ctx.args) >= 3 and ctx.args[2] in LANGUAGES:
        ctx.reply_lang = ctx.args[2]
    qid = int(ctx.args[1]) if len(ctx.args) >= 2 and _is_id(ctx.args[1]) else None
    q = await ctx.store.get_question(qid) if qid is not None else None
    if q is None or q.user_id != ctx.user.id:
        return await open_handoff(ctx)
    await HANDOFF.save(ctx, "text", {"lang": ctx.lang, "re": q.id})
    return Reply(ctx.t("ask.more_prompt", id=q.id), buttons=[ctx.back_button()])


async def _last_question(ctx: Ctx) -> str | None:
    """The question last asked of the bot: in the Q&A's memory, or kept by the hand-off
    step a typed "hỏi cán bộ" opened over it (a 🙋 under the answer still forwards it)."""
    state = await ctx.store.get_state(ctx.user.id)
    if state is None or state.flow != HANDOFF_FLOW:
        state = await LAST_QUESTION.load(ctx)
    question = state.data.get("q") if state is not None else None
    return question if isinstance(question, str) and question else None


def ask_officer_button(ctx: Ctx, *, forward: bool) -> Button:
    """ "🙋 Ask a union officer": under an answer it forwards the question just asked
    (`ask:q:<lang>`); elsewhere (`ask:new`) it asks for one."""
    code = payload(HANDOFF_FLOW, "q", ctx.lang) if forward else payload(HANDOFF_FLOW, "new")
    return Button(ctx.t("qa.ask_officer"), code)


# Typed in the hand-off step, these say "never mind", not a question for the officers
# (found trying the bot: "không hỏi nữa" went to the inbox as question #4). Nothing is
# lost by leaving: the step holds no answers.
_NEVER_MIND = frozenset(
    {"huy", "thoi", "cancel", "khong hoi nua", "thoi khong hoi nua", "khong can nua", "thoi khoi", "dung lai"}
)
# Inside a short message these still say it ("thôi em không hỏi nữa, cảm ơn", "ko hoi
# nua"; found by an outside tester: sent to the officers as a question).
_NEVER_MIND_PARTS = ("khong hoi nua", "ko hoi nua", "k hoi nua", "khong can hoi nua", "khong muon hoi nua")
NEVER_MIND_MAX_WORDS = 8
# Before a question is typed, these leave the hand-off too (found by an outside tester:
# "quay lai", which /join teaches for "go back", and "never mind" went to the officers as
# questions; "menu", "dừng", "stop" were told the question was too short). Not at "which
# province?", where the question is already sent and "never mind" takes it back.
_LEAVE_HANDOFF = frozenset(
    {
        *("quay lai", "tro lai", "tro ve", "ve menu", "menu", "stop", "exit", "quit", "back"),
        *("go back", "never mind", "nevermind", "cancel my question", "cancel question", "khong hoi"),
    }
)
# "dừng" folds like "đúng" (yes), which must not leave the step (found in review): as typed.
_STOP_WRITTEN = frozenset({"dừng", "dừng lại", "ngừng", "ngưng"})


def never_mind(text: str) -> bool:
    folded = fold(text)
    if folded in _NEVER_MIND:
        return True
    padded = f" {folded} "
    return len(folded.split()) <= NEVER_MIND_MAX_WORDS and any(f" {p} " in padded for p in _NEVER_MIND_PARTS)


# A message that only asks for a person ("cho em gặp cán bộ", "Liên hệ cán bộ công đoàn"
# typed from the menu as Zalo users do, "I want to speak to a person"): answered by the
# rights search, it got a law article or "not sure", and kept as the question, the 🙋
# button sent the words "Hỏi cán bộ công đoàn" to the officers (an outside tester). Read
# as folded phrases: one asking (ACT), one naming a person (WHO), and nothing else but
# the words around them (FILL); the language of the phrases is the reply's. A message
# holding anything more ("cán bộ công đoàn có được bảo vệ không", "cho em hỏi cán bộ: cty
# nợ lương") is a question, for the rights search (chat.wants_an_officer keeps the 🙋).
_ACT, _WHO, _FILL = "act", "who", "fill"
_PERSON_WORDS: dict[tuple[str, ...], tuple[str, str | None]] = {
    tuple(phrase.split()): (kind, lang)
    for kind, lang, phrases in (
        (_ACT, "vi", ("hoi", "gap", "gap go", "lien he", "lien lac", "noi chuyen", "tro chuyen", "ket noi", "nho")),
        # Not "chuyển" alone: "em muốn chuyển công đoàn" moves a membership.
        (_ACT, "vi", ("chuyen cho", "chuyen cau hoi", "gui", "gui cau hoi", "tu van", "muon", "xin", "goi")),
        (_ACT, "en", ("talk", "speak", "chat", "contact", "reach", "ask", "connect", "want", "need", "get")),
        (_ACT, None, ("can",)),  # cần, "can I"
        (_WHO, "vi", ("can bo", "can bo cong doan", "cong doan", "cong doan co so", "nguoi that", "con nguoi")),
        (_WHO, "vi", ("nguoi that su", "nguoi tu van", "tu van vien", "nhan vien", "nhan vien tu van", "ai do")),
        (_WHO, "vi", ("nguoi cua cong doan", "nguoi ben cong doan", "lien doan lao dong")),
        # Not "union" alone: "I want a union" is about forming one.
        (_WHO, "en", ("officer", "officers", "union officer", "union officers", "person", "real person")),
        (_WHO, "en", ("human", "real human", "human being", "someone", "somebody", "agent", "staff", "people")),
        (_WHO, "en", ("representative", "union representative", "union rep", "organizer", "official")),
        (_FILL, "vi", ("cho", "em", "toi", "minh", "anh", "chi", "voi", "cua", "ben", "den", "mot", "vai", "chut")),
        (_FILL, "vi", ("vui long", "lam on", "giup", "gium", "dum", "duoc", "dc", "co the", "truc tiep", "ngay")),
        (_FILL, "vi", ("bay gio", "xin chao", "chao", "a", "ah", "nhe", "nha", "di", "oi", "voi a", "luon")),
        (_FILL, "en", ("i", "i d", "id", "to", "a", "an", "the", "with", "me", "my", "please", "pls", "could")),
        (_FILL, "en", ("may", "would", "like", "let", "hey", "how", "do", "now", "directly", "actual", "just")),
        (_FILL, None, ("hi", "hello", "alo", "ok")),
    )
    for phrase in phrases
}
_PERSON_LONGEST = max(len(k) for k in _PERSON_WORDS)
# Ending a request, these ask "may I?" ("cho em gặp cán bộ được không ạ?", polite words
# after them); inside one they may deny it ("em không muốn gặp cán bộ").
_PERSON_ENDINGS = frozenset({"khong", "ko", "k", "kh", "khg", "duoc khong", "dc khong", "duoc ko", "dc ko", "dc k"})
_POLITE_ENDINGS = frozenset({"a", "ah", "nhe", "nha", "di", "oi", "voi", "please", "pls"})
PERSON_REQUEST_MAX_WORDS = 12


def person_request(text: str) -> str | None:
    """The language ("vi", "en") of a message that only asks to reach a union officer or
    a person, else None."""
    words = fold(text).split()
    if not words or len(words) > PERSON_REQUEST_MAX_WORDS:
        return None
    while len(words) > 1 and words[-1] in _POLITE_ENDINGS:
        words = words[:-1]
    for n in (2, 1):
        if len(words) > n and " ".join(words[-n:]) in _PERSON_ENDINGS:
            words = words[:-n]
            break
    kinds: set[str] = set()
    langs: set[str] = set()
    i = 0
    while i < len(words):
        for n in range(min(_PERSON_LONGEST, len(words) - i), 0, -1):
            found = _PERSON_WORDS.get(tuple(words[i : i + n]))
            if found is not None:
                break
        else:
            return None  # a word of a question: not only a request for a person
        kind, lang = found
        kinds.add(kind)
        if lang is not None and kind != _FILL:
            langs.add(lang)
        i += n
    if not {_ACT, _WHO} <= kinds:
        return None
    return "en" if langs == {"en"} else "vi"


def is_ask_label(ctx: Ctx, text: str) -> bool:
    """Whether `text` is the label of one of the hand-off's own buttons, typed (Zalo users
    type what they see), in any language."""
    catalog = ctx.services.catalog
    keys = ("inbox.ask_more", "ask.send_last", "qa.ask_officer")
    return fold(text) in {fold(catalog.t(lang, key)) for lang in LANGUAGES for key in keys}


async def _follows(ctx: Ctx, data: Mapping[str, object]) -> Question | None:
    """The worker's own question a hand-off opened with "💬 Hỏi thêm" follows, if any."""
    ref = str(data.get("re", ""))
    q = await ctx.store.get_question(int(ref)) if ref.isdigit() and len(ref) <= MAX_ID_DIGITS else None
    return q if q is not None and q.user_id == ctx.user.id else None


async def ask_text(ctx: Ctx) -> Reply | list[Reply]:
    """The question typed after 'ask a union officer': it goes to the officers' inbox."""
    step = await HANDOFF.load(ctx)
    data = dict(step.data) if step is not None else {}
    _reply_lang(ctx, data)
    follows = await _follows(ctx, data)
    text = ctx.inbound.text.strip()
    if ctx.inbound.photo is not None:
        # Photos are not stored, but the caption is the question: it was dropped and the
        # worker told the question was too short (found by an outside tester).
        text = ctx.inbound.photo.caption.strip()
        if len(text) < MIN_QUESTION_CHARS:
            return ctx.reply("ask.photo_only")
        sent = await _submit(ctx, text, follows=follows)
        sent[0].text = f"{ctx.t('ask.photo_not_sent')}\n\n{sent[0].text}"
        return sent
    if never_mind(text) or fold(text) in _LEAVE_HANDOFF or written(text) in _STOP_WRITTEN:
        left = await cancel(ctx)
        last = data.get("q")
        if isinstance(last, str) and await ctx.store.get_state(ctx.user.id) is None:
            # Asked again for a person, the worker is offered it again (found by an outside
            # tester: it was lost by backing out once). Not over a form put back.
            await ctx.store.set_state(ctx.user.id, QA_FLOW, "asked", {"q": last})
        return left
    if person_request(text) is not None or is_ask_label(ctx, text):
        # "hỏi cán bộ công đoàn" typed again (the 🙋 button's label, with no button left
        # to match on Zalo): still the step, never the question (an outside tester's went
        # to the officers as the question itself; "💬 Hỏi thêm" typed did so too).
        return _handoff_prompt(ctx, data)
    if len(text) < MIN_QUESTION_CHARS:
        # Still in the step: a typed word never leaves it by accident.
        return ctx.reply("ask.too_short")
    return await _submit(ctx, text, follows=follows)


async def inbox(ctx: Ctx) -> list[Reply]:
    """Open questions of the organizer's provinces (all for an admin), oldest first,
    each with an Answer button."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return [no_province_yet(ctx)]
    return [await _inbox_page(ctx, scope, None)]


InboxAction = Callable[[Ctx, int], Awaitable[Reply]]
# `inbox:<action>:<question id>`: the organizer's inbox buttons (codes kept short and
# unchanged: buttons already sent in chats still carry them).
ACTIONS: Actions[InboxAction] = Actions("inbox")


async def inbox_button(ctx: Ctx) -> Reply:
    """The organizer's inbox: the open questions, one question's details, answering it."""
    action = ACTIONS.get(ctx.args[0]) if len(ctx.args) == 2 and _is_id(ctx.args[1]) else None
    if action is None:
        return ctx.reply("inbox.reply_usage")
    return await action(ctx, int(ctx.args[1]))


@ACTIONS.on("p")
async def _page(ctx: Ctx, after: int) -> Reply:
    """The next page of open questions (the first again after the last)."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    page = await _inbox_page(ctx, scope, after)
    page.edit = True
    return page


@ACTIONS.on("r")
async def _reply(ctx: Ctx, qid: int) -> Reply:
    """Answer a question: shows it in full and waits for the answer typed next."""
    q = await ctx.store.get_question(qid)
    if q is None or q.status != "open" or not await _in_scope(ctx, q):
        return ctx.reply("inbox.not_found", id=qid)
    await ANSWER.save(ctx, "text", {"qid": qid})
    return ctx.reply("inbox.type_answer", back=False, id=qid, text=shorten(q.text, 1500))


async def inbox_reply_text(ctx: Ctx) -> list[Reply]:
    """The organizer's answer typed after 'answer': it reaches the worker."""
    state = await ANSWER.load(ctx)
    if state is None:  # answered or left elsewhere while this message was on its way
        return [ctx.reply("inbox.reply_usage")]
    if not ctx.inbound.text.strip():
        return [ctx.reply("inbox.reply_usage")]
    # A question number is never given twice (storage/questions.py), so the number alone
    # names the asker; a question taken back meanwhile is closed and takes no answer.
    return await _answer(ctx, int(state.data["qid"]), ctx.inbound.text)


async def reply_cmd(ctx: Ctx) -> list[Reply]:
    """`/reply <id> <answer>`: answer without the button, e.g. from a laptop."""
    if len(ctx.args) < 2 or not _is_id(ctx.args[0].lstrip("#")):
        return [ctx.reply("inbox.reply_usage")]
    # Keep the organizer's line breaks: take the answer from the raw text.
    raw = ctx.inbound.text.strip()
    answer = raw.split(None, 2)[2] if len(raw.split(None, 2)) == 3 else " ".join(ctx.args[1:])
    return await _answer(ctx, int(ctx.args[0].lstrip("#")), answer)


def register(router: Router) -> None:
    router.command("ask", describe="cmd.ask")(ask)
    router.button(HANDOFF_FLOW)(ask_button)
    router.flow(HANDOFF_FLOW, one_message=OneMessageStep(frozenset({"ask"}), frozenset({HANDOFF_FLOW})))(ask_text)
    router.button(WHERE_FLOW)(where_button)
    # The hand-off button and /ask keep the step: they show it again.
    where_step = OneMessageStep(commands=frozenset({"ask"}), buttons=frozenset({WHERE_FLOW, HANDOFF_FLOW}))
    router.flow(WHERE_FLOW, one_message=where_step, on_cancel=withdraw)(where_text)
    router.command("inbox", min_role=Role.ORGANIZER)(inbox)
    router.button("inbox", min_role=Role.ORGANIZER, actions=ACTIONS)(inbox_button)
    router.flow(ANSWER.flows[0], min_role=Role.ORGANIZER, one_message=OneMessageStep())(inbox_reply_text)
    router.command("reply", min_role=Role.ORGANIZER)(reply_cmd)
