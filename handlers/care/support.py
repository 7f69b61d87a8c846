"""Hardship support (thăm hỏi, hỗ trợ): `/support` opens a case.

The category, a short description (at most 500 characters), the phone and province
unless the sign-up has them, then a plain consent text (who sees it: the union officers
of their province; how long it is kept) and a case number. Nothing is stored as a case
before the worker agrees; the answers so far live in the conversation state, which
retention erases with abandoned forms. A work-accident case also offers the rights
answer on work accidents.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from handlers.care.common import FLOW_SUPPORT, SUPPORT_FORM, new_fid
from handlers.context import Ctx
from handlers.join.common import province_name
from handlers.join.phone import parse_vn_mobile
from handlers.join.provinces import all_provinces, get_province, resolve_province
from handlers.router import Actions, Router, payload
from handlers.types import Button, Reply
from storage.care import CaseCategory

logger = logging.getLogger(__name__)

PREFIX = "cs"
DESCRIPTION_MAX = 500
# Changing the consent keys (care.support.consent) changes what people agree to: bump this.
CONSENT_VERSION = "care-2026-12.1"
RIGHTS_TOPIC = "work_accident"


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
    else:
        reply = Reply(
            consent_text(ctx, data["province"]),
            buttons=[
                [Button(ctx.t("care.support.btn.agree"), payload(PREFIX, "a", fid))],
                [Button(ctx.t("care.support.btn.disagree"), payload(PREFIX, "d", fid))],
            ],
        )
    if note:
        reply.text = f"{note}\n\n{reply.text}"
    return reply


async def _ask_next(ctx: Ctx, data: dict[str, Any], note: str | None = None) -> Reply:
    step = _next_step(data)
    await SUPPORT_FORM.save(ctx, step, data)
    return _prompt(ctx, data, step, note)


async def start(ctx: Ctx) -> Reply:
    data: dict[str, Any] = {"fid": new_fid()}
    signup = await ctx.store.signup_of_user(ctx.user.id)
    if signup is not None:
        data["phone"], data["province"] = signup.phone_e164, signup.province_id
    reply = await _ask_next(ctx, data)
    reply.text = f"{ctx.t('care.support.intro')}\n\n{reply.text}"
    return reply


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


async def on_text(ctx: Ctx) -> Reply:
    """Text typed during a support request: the description or the phone."""
    form = await _form(ctx)
    if form is None:
        await ctx.store.clear_state(ctx.user.id)
        return ctx.reply("care.expired")
    data, step = form
    text = ctx.inbound.text
    if step == "description":
        description = clean_description(text)
        if description is None:
            return _prompt(ctx, data, step, ctx.t("care.support.err.empty"))
        if len(description) > DESCRIPTION_MAX:
            # The text is not kept: the worker shortens it and sends it again.
            return _prompt(ctx, data, step, ctx.t("care.support.err.too_long", max=DESCRIPTION_MAX, n=len(description)))
        data["description"] = description
        return await _ask_next(ctx, data)
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
async def _cancel(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply:
    """Stop the request: the answers so far are dropped."""
    await ctx.store.clear_state(ctx.user.id)
    return ctx.reply("care.support.cancelled")


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


@ACTIONS.on("d")
async def _decline(ctx: Ctx, data: dict[str, Any], step: str, rest: Sequence[str]) -> Reply | None:
    """No consent: no case, and the answers go."""
    if step != "consent":
        return None
    await ctx.store.clear_state(ctx.user.id)
    return ctx.reply("care.support.declined")


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
    rows: list[list[Button]] = []
    text = ctx.t("care.support.done", case=case_id, province=province_name(data["province"], ctx.lang))
    if category is CaseCategory.WORK_ACCIDENT:
        text += "\n\n" + ctx.t("care.support.work_accident")
        rows.append([Button(ctx.t("care.support.btn.rights"), payload("qa", RIGHTS_TOPIC))])
    rows.append(ctx.back_button())
    return Reply(text, buttons=rows)


def register(router: Router) -> None:
    router.command("support", "hotro", describe="care.cmd.support")(start)
    router.button(PREFIX, actions=ACTIONS)(on_button)
    router.flow(FLOW_SUPPORT)(on_text)
