"""Hardship support (thăm hỏi, hỗ trợ): `/support` opens a case.

The category, a short description (at most 500 characters), the phone and province
unless the sign-up has them, then a plain consent text (who sees it: the union officers
of their province; how long it is kept) and a case number. Nothing is stored as a case
before the worker agrees; the answers so far live in the conversation state, which
retention erases with abandoned forms. A work-accident case also offers the rights
answer on work accidents.

At the consent step a typed text is added to the description (nothing typed is lost)
and "✏️ Sửa nội dung" rewrites it; a typed no ("không đồng ý") is the "Không gửi" button.
A quit word ("hủy", "thôi"), at any step, shows the way out and keeps the draft. The
same story sent again while its case is open is shown its case instead of becoming a
silent duplicate. `/support` lists the worker's own cases first (status and what the
officers told them), and reuses the province chosen for /benefits and /programs (and
stores the one chosen here for them).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from difflib import SequenceMatcher
from typing import Any
from zoneinfo import ZoneInfo

from handlers.care.common import FLOW_SUPPORT, SUPPORT_FORM, local, new_fid, tz
from handlers.context import Ctx
from handlers.forms import QuitWords
from handlers.join.common import province_name
from handlers.join.phone import parse_vn_mobile
from handlers.join.provinces import all_provinces, get_province, resolve_province
from handlers.router import Actions, Router, payload
from handlers.scope import officer_notices
from handlers.text import fold
from handlers.types import Button, Reply
from storage.care import CaseCategory, CaseStatus, SupportCase

logger = logging.getLogger(__name__)

PREFIX = "cs"
DESCRIPTION_MAX = 500
# Changing the consent keys (care.support.consent) changes what people agree to: bump this.
CONSENT_VERSION = "care-2026-12.1"
RIGHTS_TOPIC = "work_accident"
# A case still being handled: a second one from the same account is pointed out.
OPEN_STATUSES = frozenset({CaseStatus.RECEIVED, CaseStatus.CONTACTED})
# Folded texts this alike are the same story sent again (a typo fixed, a word added).
SAME_STORY = 0.9
# The cases /support lists; older ones are in /mydata.
MY_CASES = 5
# The notes the worker is sent with the status (storage's set_case_status): a refusal's
# reason and a reopening's. Other notes are the officers' own and are not shown.
_TOLD_STATUSES = frozenset({CaseStatus.DECLINED, CaseStatus.RECEIVED})
# A yes typed at the consent step: never more of the story, and no consent either (the
# worker is pointed to the buttons; channels of numbered choices, bot/channels/numbered.py,
# turn "đồng ý" into a press of "✅ Đồng ý, gửi" before it gets here).
_YES_WORDS = frozenset({"ok", "oke", "okay", "yes", "y", "co", "dong y", "dong y gui", "gui", "gui di"})
# A no typed at the consent step is the "Không gửi" button (found by a reviewer: "không
# đồng ý" became part of the story and consent was asked again). Folded (handlers.text.fold).
_NO_WORDS = frozenset(
    fold(w)
    for w in (
        *("không", "ko", "no", "không đồng ý", "ko đồng ý", "k đồng ý", "tôi không đồng ý", "không đồng ý gửi"),
        *("không gửi", "ko gửi", "k gửi", "không gửi nữa", "thôi không gửi", "thôi không gửi nữa", "không muốn gửi"),
    )
)
# "I want to stop" (handlers/forms.py): the common words, a no, and the request's own.
# Never the answer, and never pressing a button either ("đúng", a yes, folds to "dung",
# a quit word): the way out is shown and the draft kept.
QUIT = QuitWords(*_NO_WORDS, "hủy yêu cầu", "hủy hỗ trợ", "hủy yêu cầu hỗ trợ", "thôi không cần nữa")
# Two letters in a row: a word, where "😭😭😭", "..." or "123" is none.
_WORD = re.compile(r"[^\W\d_]{2,}")


def has_words(text: str) -> bool:
    """Whether `text` holds a word, as a story or a reason the reader can understand must."""
    return _WORD.search(unicodedata.normalize("NFC", text)) is not None


def _cancel_row(ctx: Ctx, fid: str) -> list[Button]:
    # As every form's cancel: a typed word never presses it (handlers/types.Button.typed).
    return [Button(ctx.t("care.btn.cancel"), payload(PREFIX, "x", fid), typed=False)]


def _next_step(data: dict[str, Any]) -> str:
    for step in ("category", "description", "phone", "province"):
        if not data.get(step):
            return step
    return "consent"


def consent_text(ctx: Ctx, province_id: str) -> str:
    return ctx.t(
        "care.support.consent", province=province_name(province_id, ctx.lang), months=ctx.settings.join_retention_months
    )


def _edit_button(ctx: Ctx, fid: str) -> list[Button]:
    return [Button(ctx.t("support.btn.edit"), payload(PREFIX, "e", fid))]


def _prompt(ctx: Ctx, data: dict[str, Any], step: str, note: str | None = None) -> Reply:
    fid = data["fid"]
    if step == "category":
        rows = [
            [Button(ctx.t(f"care.case.category.{c.value}"), payload(PREFIX, "k", fid, c.value))] for c in CaseCategory
        ]
        reply = Reply(ctx.t("care.support.q.category"), buttons=[*rows, _cancel_row(ctx, fid)])
    elif step == "description":
        reply = Reply(ctx.t("care.support.q.description", max=DESCRIPTION_MAX), buttons=[_cancel_row(ctx, fid)])
    elif step == "phone":
        reply = Reply(ctx.t("care.support.q.phone"), buttons=[_cancel_row(ctx, fid)])
    elif step == "province":
        buttons = [Button(p.name(ctx.lang), payload(PREFIX, "p", fid, p.id)) for p in all_provinces()]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        reply = Reply(ctx.t("care.support.q.province"), buttons=[*rows, _cancel_row(ctx, fid)])
    elif step == "duplicate":
        dup = data["duplicate"]
        status = ctx.t(f"care.case.status.{dup['status']}")
        reply = Reply(
            ctx.t("support.duplicate", case=dup["id"], status=status, at=dup["at"]),
            buttons=[
                _edit_button(ctx, fid),
                [Button(ctx.t("support.btn.send_anyway"), payload(PREFIX, "n", fid))],
                _cancel_row(ctx, fid),
            ],
        )
    else:
        text = consent_text(ctx, data["province"])
        if data.get("open"):
            status = ctx.t(f"care.case.status.{data['open']['status']}")
            text = f"{ctx.t('support.open_case', case=data['open']['id'], status=status)}\n\n{text}"
        reply = Reply(
            text,
            buttons=[
                [Button(ctx.t("care.support.btn.agree"), payload(PREFIX, "a", fid))],
                _edit_button(ctx, fid),
                [Button(ctx.t("care.province.change"), payload(PREFIX, "c", fid))],
                [Button(ctx.t("care.support.btn.disagree"), payload(PREFIX, "d", fid))],
            ],
        )
    if note:
        reply.text = f"{note}\n\n{reply.text}"
    return reply


def same_story(a: str, b: str) -> bool:
    """Whether two descriptions tell the same story (case, accents, spacing, a few characters aside)."""
    a, b = fold(a), fold(b)
    return a == b or SequenceMatcher(None, a, b).ratio() >= SAME_STORY


async def _ask_next(ctx: Ctx, data: dict[str, Any], note: str | None = None) -> Reply:
    step = _next_step(data)
    if step == "consent":
        # Before consent, the worker's cases still open: the same story again is shown its
        # case (no silent duplicate for the officers); another story is sent as a new case,
        # and the worker is told so.
        data.pop("duplicate", None)
        data.pop("open", None)
        zone = tz(ctx)
        for case in await ctx.store.cases_of_user(ctx.user.id):  # newest first
            if case.status not in OPEN_STATUSES:
                continue
            seen = {"id": case.id, "status": case.status.value, "at": local(case.created_at, zone)}
            if not data.get("anyway") and same_story(case.description, data["description"]):
                data["duplicate"] = seen
                step = "duplicate"
                break
            data.setdefault("open", seen)
        if step == "duplicate":
            data.pop("open", None)
    await SUPPORT_FORM.save(ctx, step, data)
    return _prompt(ctx, data, step, note)


async def start(ctx: Ctx) -> Reply | list[Reply]:
    """/support: the request left unfinished, if its story is written (found by an outside
    tester: /start, then /support, began again and the story was gone), or a new one."""
    form = await _form(ctx)
    if form is not None and form[0].get("description"):
        data, step = form
        reply = _prompt(ctx, data, step, ctx.t("support.still_open"))
        reply.buttons.append([Button(ctx.t("support.btn.restart"), payload(PREFIX, "r", data["fid"]))])
        mine = await my_cases(ctx)
        return [mine, reply] if mine is not None else reply
    return await _begin(ctx)


async def _begin(ctx: Ctx) -> Reply | list[Reply]:
    data: dict[str, Any] = {"fid": new_fid()}
    signup = await ctx.store.signup_of_user(ctx.user.id)
    if signup is not None:
        data["phone"], data["province"] = signup.phone_e164, signup.province_id
    else:
        # The province chosen for /benefits or /programs; the consent step can change it.
        chosen = await ctx.store.care_province(ctx.user.id)
        if chosen and get_province(chosen) is not None:
            data["province"] = chosen
    reply = await _ask_next(ctx, data)
    reply.text = f"{ctx.t('care.support.intro')}\n\n{reply.text}"
    mine = await my_cases(ctx)
    return [mine, reply] if mine is not None else reply


async def my_cases(ctx: Ctx) -> Reply | None:
    """The worker's own cases, newest first: status, and what the officers told them
    (a refusal's reason, a reopening's); None if they have none."""
    cases = await ctx.store.cases_of_user(ctx.user.id)
    if not cases:
        return None
    zone = tz(ctx)
    lines = [ctx.t("support.mine.title")]
    for case in cases[:MY_CASES]:
        lines.append(_my_case_line(ctx, case, zone))
        told = [e for e in await ctx.store.case_events(case.id) if e.note and e.status in _TOLD_STATUSES]
        if told:
            lines.append(ctx.t("support.mine.message", at=local(told[-1].at, zone), note=told[-1].note))
    if len(cases) > MY_CASES:
        lines.append(ctx.t("support.mine.more"))
    return Reply("\n".join(lines))


def _my_case_line(ctx: Ctx, case: SupportCase, zone: ZoneInfo) -> str:
    return ctx.t(
        "support.mine.case",
        id=case.id,
        category=ctx.t(f"care.case.category.{case.category.value}"),
        status=ctx.t(f"care.case.status.{case.status.value}"),
        at=local(case.created_at, zone),
    )


async def _form(ctx: Ctx, fid: str | None = None) -> tuple[dict[str, Any], str] | None:
    state = await SUPPORT_FORM.load(ctx, form_id=fid)
    if state is None:
        return None
    return dict(state.data), state.step


def clean_description(text: str) -> str | None:
    """Several lines allowed; control characters dropped; None if empty."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    cleaned = "\n".join(line for line in lines if line)
    return "".join(ch for ch in cleaned if ch == "\n" or ch.isprintable()) or None


async def on_text(ctx: Ctx) -> Reply | list[Reply]:
    """Text typed during a support request: the description or the phone."""
    form = await _form(ctx)
    if form is None:
        await ctx.store.clear_state(ctx.user.id)
        return ctx.reply("care.expired")
    data, step = form
    text = ctx.inbound.text
    if step == "consent" and fold(text) in _NO_WORDS:
        # A typed no at the last step: what the "Không gửi" button does and says.
        return await _not_sent(ctx)
    if QUIT.typed(text):
        # Checked before any answer: "hủy" or "thôi" is neither the story nor the phone.
        return _prompt(ctx, data, step, _quit_hint(ctx, step))
    if step == "description":
        return await _story(ctx, data, step, text)
    if step in ("consent", "duplicate"):
        return await _more_story(ctx, data, step, text)
    if step == "phone":
        phone = parse_vn_mobile(text)
        if not phone.ok:
            return _prompt(ctx, data, step, ctx.t(f"join.form.err.{phone.error}"))
        data["phone"] = phone.e164
        return await _ask_next(ctx, data)
    if step == "province":
        match = resolve_province(text)
        if match.province is None:
            return _prompt(ctx, data, step, ctx.t("care.province.unknown"))
        data["province"] = match.province.id
        return await _ask_next(ctx, data)
    return _prompt(ctx, data, step, ctx.t("care.use_buttons"))


async def _story(ctx: Ctx, data: dict[str, Any], step: str, text: str) -> Reply:
    """The description typed: kept if it has words and fits, else the step again, told why."""
    description = clean_description(text)
    if description is None:
        return _prompt(ctx, data, step, ctx.t("care.support.err.empty"))
    if not has_words(description):
        # Only emoji or signs: the officers could not act on it; say what to write.
        return _prompt(ctx, data, step, ctx.t("support.err.no_words"))
    if len(description) > DESCRIPTION_MAX:
        # The text is not kept: the worker shortens it and sends it again.
        return _prompt(ctx, data, step, ctx.t("care.support.err.too_long", max=DESCRIPTION_MAX, n=len(description)))
    data["description"] = description
    return await _ask_next(ctx, data)


def _quit_hint(ctx: Ctx, step: str) -> str:
    """The way out, the draft kept: at the consent step its two buttons, elsewhere the cancel."""
    if step == "consent":
        return ctx.t(
            "support.consent_quit_hint",
            decline=ctx.t("care.support.btn.disagree"),
            agree=ctx.t("care.support.btn.agree"),
        )
    return ctx.t("support.quit_hint", button=ctx.t("care.btn.cancel"))


async def _more_story(ctx: Ctx, data: dict[str, Any], step: str, text: str) -> Reply:
    """Text typed when the story is already written: more of it (found by an outside
    tester: the real story typed here was dropped), added and shown before consent is
    asked again. A typed yes, or no words, is pointed to the buttons (a no declined before)."""
    more = clean_description(text)
    if more is None or not has_words(more) or fold(more) in _YES_WORDS:
        return _prompt(ctx, data, step, ctx.t("care.use_buttons"))
    description = f"{data['description']}\n{more}"
    if len(description) > DESCRIPTION_MAX:
        # Told, not silently dropped: the worker rewrites the whole text shorter.
        return _prompt(ctx, data, step, ctx.t("support.add_too_long", max=DESCRIPTION_MAX, n=len(description)))
    data["description"] = description
    return await _ask_next(ctx, data, ctx.t("support.added", description=description))


async def on_button(ctx: Ctx) -> Reply | list[Reply]:
    """A step of the hardship-support request (category, consent, send)."""
    if len(ctx.args) < 2:
        return ctx.reply("care.expired")
    action, fid, rest = ctx.args[0], ctx.args[1], ctx.args[2:]
    form = await _form(ctx, fid)
    if form is None:
        return ctx.reply("care.expired")
    data, step = form
    handler = ACTIONS.get(action)
    reply = await handler(ctx, data, step, rest) if handler is not None else None
    # A button of another step (pressed late, or twice): the current question again.
    return reply if reply is not None else _prompt(ctx, data, step, ctx.t("care.use_buttons"))


# The buttons of /support (`cs:<action>:<form id>:<args>`), each given the open form's
# answers, its step and the rest of the payload; None when the button is not for this
# step, answered with the current question again.
SupportAction = Callable[[Ctx, dict[str, Any], str, Sequence[str]], Awaitable[Reply | list[Reply] | None]]
ACTIONS: Actions[SupportAction] = Actions(PREFIX)


@ACTIONS.on("x")
async def _cancel(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> list[Reply]:
    """Stop the request: the answers so far are dropped (a sign-up form it held comes back)."""
    back = await SUPPORT_FORM.end(ctx)
    return [ctx.reply("care.support.cancelled"), *back]


@ACTIONS.on("r")
async def _restart(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | list[Reply]:
    """Start over: the unfinished request is dropped for a new one."""
    return await _begin(ctx)


@ACTIONS.on("k")
async def _category(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | None:
    """The kind of hardship (`k:<form>:<category>`), then the description."""
    if step != "category" or not rest:
        return None
    try:
        data["category"] = CaseCategory(rest[0]).value
    except ValueError:
        return None
    return await _ask_next(ctx, data)


@ACTIONS.on("p")
async def _province(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | None:
    """The province pressed (`p:<form>:<province>`), then the consent text."""
    if step != "province" or not rest or get_province(rest[0]) is None:
        return None
    data["province"] = rest[0]
    return await _ask_next(ctx, data)


@ACTIONS.on("e")
async def _edit(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | None:
    """Rewrite the story (`e:<form>`), from the consent step: the current text is shown."""
    if step not in ("consent", "duplicate"):
        return None
    current = data.pop("description")
    data.pop("anyway", None)
    return await _ask_next(ctx, data, ctx.t("support.edit", description=current))


@ACTIONS.on("c")
async def _change_province(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | None:
    """Another province (`c:<form>`), from the consent step: the province question again."""
    if step != "consent":
        return None
    data.pop("province", None)
    return await _ask_next(ctx, data)


@ACTIONS.on("n")
async def _send_anyway(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | None:
    """The same story as an open case, sent as a new one all the same (`n:<form>`): consent."""
    if step != "duplicate":
        return None
    data["anyway"] = True
    return await _ask_next(ctx, data)


@ACTIONS.on("d")
async def _decline(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | list[Reply] | None:
    """No consent: no case, and the answers go."""
    if step != "consent":
        return None
    return await _not_sent(ctx)


async def _not_sent(ctx: Ctx) -> list[Reply]:
    """The request dropped at the consent step (the button, or a typed no)."""
    back = await SUPPORT_FORM.end(ctx)
    # An empty hotline (the default) is no number to call: point to the officers instead.
    hotline = ctx.settings.hotline.strip()
    if hotline:
        return [ctx.reply("support.declined.hotline", hotline=hotline), *back]
    return [ctx.reply("support.declined.no_hotline"), *back]


@ACTIONS.on("a")
async def _agree(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | list[Reply] | None:
    """Agree and send: the case is opened and its number given."""
    if step != "consent":
        return None
    return await _submit(ctx, data)


async def _submit(ctx: Ctx, data: dict[str, Any]) -> Reply | list[Reply]:
    category = CaseCategory(data["category"])
    case_id = await ctx.store.create_case(
        user_id=ctx.user.id,
        category=category,
        description=data["description"],
        phone_e164=data["phone"],
        province_id=data["province"],
        consent_version=CONSENT_VERSION,
        claim=(ctx.user.id, FLOW_SUPPORT, data["fid"]),
    )
    if case_id is None:
        return ctx.reply("care.support.already_sent")
    await ctx.store.audit(
        ctx.user.id, "care.case.create", f"case:{case_id}", {"province": data["province"], "category": category.value}
    )
    logger.info("support case %s opened by user %s", case_id, ctx.user.id)
    if await ctx.store.signup_of_user(ctx.user.id) is None:
        # Kept (after consent) for /benefits and /programs, as their choice is kept for this.
        await ctx.store.set_care_province(ctx.user.id, data["province"])
    rows: list[list[Button]] = []
    text = ctx.t("care.support.done", case=case_id, province=province_name(data["province"], ctx.lang))
    if category is CaseCategory.WORK_ACCIDENT:
        text += "\n\n" + ctx.t("care.support.work_accident")
        rows.append([Button(ctx.t("care.support.btn.rights"), payload("qa", RIGHTS_TOPIC))])
    rows.append(ctx.back_button())
    # The province's officers are told by number only (the category and the story are for
    # /cases, scoped): the worker is promised contact, and nobody had been told (found by
    # an outside tester).
    province = data["province"]
    catalog = ctx.services.catalog

    def notice(lang: str) -> str:
        return catalog.t(lang, "care.support.new_case", case=case_id, province=province_name(province, lang))

    told = await officer_notices(ctx, province, notice, or_admins=True, skip=ctx.user.id)
    # The store consumed the form with the case: a sign-up form it held comes back from `data`.
    return [Reply(text, buttons=rows), *told, *await SUPPORT_FORM.end(ctx, data)]


def register(router: Router) -> None:
    router.command("support", "hotro", describe="care.cmd.support")(start)
    router.button(PREFIX, actions=ACTIONS)(on_button)
    router.flow(FLOW_SUPPORT)(on_text)
