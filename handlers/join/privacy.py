"""A worker's own data: see it (/mydata), erase it (/forget).

/forget erases the account, and with it everything that references it (sign-up,
questions, subscriptions, conversation state: every feature table cascades from
users(id)). A sign-up a volunteer collected has no account; `/forget <phone>` erases
it too (see storage/signups.py for why that is allowed without proof of the number).
The answer is the same whether such a sign-up existed or not.

Erasure needs a confirmation whose button carries a one-time nonce kept in the
conversation state: an old "erase" button never erases anything.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.context import Ctx
from handlers.forms import FormFlow
from handlers.join.common import (
    FLOW_COLLECT,
    FLOW_FORGET,
    FORM_FLOWS,
    local_time,
    province_name,
    source_label,
    status_label,
)
from handlers.join.form import FORM_TTL, alert
from handlers.join.phone import mask_phone, parse_vn_mobile
from handlers.router import Actions, Router, as_replies, payload
from handlers.text import fold
from handlers.types import Button, Reply
from storage import ConversationState

logger = logging.getLogger(__name__)

PREFIX = "jp"
# The confirmation's buttons carry its one-time nonce: an old "erase" button never erases.
FORGET_FORM = FormFlow(FLOW_FORGET, id_key="nonce")


async def mydata(ctx: Ctx) -> Reply:
    """Everything stored about the person writing, in plain words."""
    u = ctx.user
    tz = ZoneInfo(ctx.settings.timezone)
    catalog, lang = ctx.services.catalog, ctx.lang
    parts = [
        ctx.t(
            "join.privacy.mydata_account",
            channel=u.channel,
            user=u.external_id,
            language=u.language,
            role=ctx.t(f"roles.one.{u.role.value}"),
            since=local_time(u.created_at, tz),
        )
    ]
    if u.referral_code:
        parts.append(ctx.t("join.privacy.mydata_referral", code=u.referral_code))

    s = await ctx.store.signup_of_user(u.id)
    if s is None:
        parts.append(ctx.t("join.privacy.mydata_no_signup"))
    else:
        lines = [
            ctx.t("join.privacy.mydata_signup", id=s.id),
            f"{ctx.t('join.form.field.name')}: {s.full_name}",
            f"{ctx.t('join.form.field.phone')}: {s.phone_e164}",
            f"{ctx.t('join.form.field.workplace')}: {s.workplace}",
            f"{ctx.t('join.form.field.province')}: {province_name(s.province_id, lang)}",
            f"{ctx.t('join.form.field.commune')}: {s.commune or ctx.t('join.form.review.empty')}",
            ctx.t("join.org.detail_source", source=source_label(catalog, lang, s.source, None)),
            ctx.t(
                "join.org.detail_consent",
                version=s.consent_version,
                at=local_time(s.consent_at, tz),
                channel=s.consent_channel,
            ),
            ctx.t("join.org.detail_dates", created=local_time(s.created_at, tz), updated=local_time(s.updated_at, tz)),
            ctx.t("join.org.detail_status", status=status_label(catalog, lang, s.status)),
        ]
        notes = await ctx.store.signup_notes(s.id)
        if notes:
            lines.append(ctx.t("join.org.detail_notes"))
            lines += [f"• {local_time(n.at, tz)}: {n.text}" for n in notes]
        parts.append("\n".join(lines))

    state = await ctx.store.get_state(u.id)
    form_data = state.data if state is not None and state.flow in FORM_FLOWS else None
    if state is not None and state.flow == FLOW_FORGET:
        resume = state.data.get("resume")  # a form set aside by an open /forget
        if isinstance(resume, dict) and resume.get("flow") in FORM_FLOWS and isinstance(resume.get("data"), dict):
            form_data = resume["data"]
    if form_data is not None:
        answers = ", ".join(f"{label}: {v}" for label, v in _form_answers(ctx, form_data)) or "—"
        parts.append(ctx.t("join.privacy.mydata_form", answers=answers))

    code = await ctx.store.volunteer_code(u.id)
    if code:
        parts.append(ctx.t("join.privacy.mydata_volunteer", code=code))
    provinces = await ctx.store.organizer_provinces(u.id)
    if provinces:
        names = ", ".join(sorted(province_name(p, lang) for p in provinces))
        parts.append(ctx.t("join.privacy.mydata_provinces", names=names))

    questions = await ctx.store.questions_of(u.id)
    if questions:
        listed = "\n".join(
            f"• {local_time(q.created_at, tz)}: {q.text[:300] or ctx.t('join.privacy.mydata_withdrawn')}"
            + (f"\n  ↳ {ctx.t('join.privacy.mydata_answer')} {q.answer[:1000]}" if q.answer else "")
            for q in questions
        )
        parts.append(ctx.t("join.privacy.mydata_questions", count=len(questions), questions=listed))
    from handlers.listening import mydata_section  # poll answers (the listening feature)

    if polls := await mydata_section(ctx):
        parts.append(polls)
    subscriptions = await _subscriptions(ctx)
    if subscriptions:
        parts.append(ctx.t("join.privacy.mydata_subscriptions", topics=", ".join(subscriptions)))

    from handlers.care import mydata_parts

    parts += await mydata_parts(ctx)
    parts.append(ctx.t("join.privacy.mydata_footer"))
    return Reply("\n\n".join(parts), buttons=[ctx.back_button()])


# A draft's keys and the form's field names, as the review screen shows them.
_FORM_FIELDS = (
    ("name", "name"),
    ("phone", "phone"),
    ("workplace", "workplace"),
    ("province", "province"),
    ("commune", "commune"),
    ("ref", "referral"),
)


def _form_answers(ctx: Ctx, data: dict[str, Any]) -> list[tuple[str, str]]:
    """The unsent form's answers under the names the worker saw ("Tỉnh/thành: Hồ Chí
    Minh", not "province: ho_chi_minh")."""
    out = []
    for key, field in _FORM_FIELDS:
        value = data.get(key)
        if value:
            shown = province_name(str(value), ctx.lang) if key == "province" else str(value)
            out.append((ctx.t(f"join.form.field.{field}"), shown))
    return out


async def _subscriptions(ctx: Ctx) -> list[str]:
    """Announcement topics the user follows (the broadcast feature's table), by the names
    /news shows; a topic no longer configured by its id."""
    from handlers.broadcasts.options import options as broadcast_options

    opts = broadcast_options(ctx)
    names = []
    for topic_id in await ctx.store.subscriptions(ctx.user.id):
        topic = opts.topic(topic_id)
        names.append(topic.name(ctx.lang) if topic is not None else topic_id)
    return sorted(names)


async def forget(ctx: Ctx) -> Reply:
    """`/forget` or `/forget <phone>`: show what will be erased and ask to confirm."""
    phone = None
    if ctx.args:
        parsed = parse_vn_mobile(" ".join(ctx.args))
        if not parsed.ok:
            return ctx.reply(f"join.form.err.{parsed.error}")
        phone = parsed.e164
    nonce = secrets.token_urlsafe(6)
    data: dict[str, Any] = {"nonce": nonce, "phone": phone}
    current = await ctx.store.get_state(ctx.user.id)
    if current is not None and current.flow != FLOW_FORGET:
        # Put back if the worker keeps their data: a half-filled form is not lost to a "no".
        # Still personal data held without consent: bot.signup_retention erases forget
        # states after FORM_TTL like the forms themselves, and `/forget <phone>` finds the
        # number here too (storage: `$.resume.data.phone`).
        data["resume"] = {
            "flow": current.flow,
            "step": current.step,
            "data": current.data,
            "at": current.updated_at.isoformat(),
        }
    elif current is not None and isinstance(current.data.get("resume"), dict):
        data["resume"] = current.data["resume"]  # /forget twice: the form is still put back
    await FORGET_FORM.save(ctx, "confirm", data)
    return _confirmation(ctx, nonce, phone)


async def _keep(ctx: Ctx, data: dict[str, Any]) -> Reply:
    resume = data.get("resume")
    if isinstance(resume, dict) and not _stale(resume):
        await ctx.store.set_state(ctx.user.id, resume["flow"], resume["step"], resume["data"])
    else:
        await ctx.store.clear_state(ctx.user.id)
    return Reply(ctx.t("join.privacy.kept"), buttons=[ctx.back_button()])


def _stale(resume: dict[str, Any]) -> bool:
    """A stashed form past FORM_TTL is not put back: that would restart its clock."""
    try:
        at = datetime.fromisoformat(str(resume["at"]))
    except (KeyError, ValueError):
        return False
    return resume.get("flow") in FORM_FLOWS and datetime.now(UTC) - at > FORM_TTL


def _confirmation(ctx: Ctx, nonce: str, phone: str | None) -> Reply:
    text = ctx.t("join.privacy.forget_confirm")
    text += "\n" + (
        ctx.t("join.privacy.forget_phone", phone=mask_phone(phone))
        if phone
        else ctx.t("join.privacy.forget_phone_hint")
    )
    return Reply(
        text,
        buttons=[
            [Button(ctx.t("join.privacy.btn_erase"), payload(PREFIX, nonce, "y"))],
            [Button(ctx.t("join.privacy.btn_keep"), payload(PREFIX, nonce, "n"))],
        ],
    )


async def on_button(ctx: Ctx) -> Reply | list[Reply]:
    """The answer to "erase everything?" (`jp:<nonce>:<y|n>`): only the open confirmation's
    own buttons do anything."""
    nonce, answer = (*ctx.args, "", "")[:2]
    state = await FORGET_FORM.load(ctx, form_id=nonce)
    if state is None:
        return Reply(ctx.t("join.privacy.expired"), buttons=[ctx.back_button()], edit=True)
    # Anything but a clear "erase" keeps the data.
    handler = ACTIONS.get(answer) or keep_data
    return await handler(ctx, state)


PrivacyAction = Callable[[Ctx, ConversationState], Awaitable[Reply | list[Reply]]]
ACTIONS: Actions[PrivacyAction] = Actions(PREFIX)


@ACTIONS.on("y")
async def erase_data(ctx: Ctx, state: ConversationState) -> list[Reply]:
    """Erase: the account and everything referencing it deleted; the organizers told which sign-ups went."""
    return await _erase(ctx, state.data.get("phone"))


@ACTIONS.on("n")
async def keep_data(ctx: Ctx, state: ConversationState) -> Reply:
    """Keep my data: nothing erased, and a form set aside by /forget is put back."""
    reply = await _keep(ctx, state.data)
    reply.edit = True
    return reply


async def _erase(ctx: Ctx, phone: str | None) -> list[Reply]:
    user_id = ctx.user.id
    erased: list[tuple[int, str]] = []  # (sign-up id, province) for the organizers' alerts
    own = await ctx.store.signup_of_user(user_id)
    if own is not None:
        erased.append((own.id, own.province_id))
    # The worker's own number too: a volunteer's unfinished form may still hold it.
    for number in sorted({n for n in (phone, own.phone_e164 if own else None) if n}):
        gone = await ctx.store.forget_signup_by_phone(number, form_flows=(FLOW_COLLECT,))
        if gone is not None:
            erased.append(gone)
    await ctx.store.audit(
        user_id,
        "privacy.forget",
        f"user:{user_id}",
        {"signups": sorted(i for i, _ in erased), "by_phone": phone is not None},
    )
    # Registrations first, so their seats go to those waiting before the account goes.
    await ctx.store.forget_care(user_id)
    await ctx.store.forget_user(user_id)
    logger.info("user %s erased their data (%s sign-ups)", user_id, len(erased))
    alerts = [r for signup_id, province in erased for r in alert(ctx, province, "join.alert.erased", id=signup_id)]
    # The user row is gone: the next message starts afresh, in the default language.
    done = Reply(ctx.t("join.privacy.forgotten"), edit=True)
    return [done, *alerts]


# A typed "yes" to "erase everything?": the buttons again, never an erasure (that takes
# the button with the confirmation's nonce), and never "nothing was erased" either.
_TYPED_YES = frozenset(
    {"xoa", "xoa di", "xoa het", "xoa luon", "xoa het di", "co", "dung", "dung roi", "ok", "oke", "dong y", "yes"}
    | {"erase", "delete", "erase it", "delete it", "y"}
)


async def typed_instead(ctx: Ctx) -> list[Reply]:
    """Typing instead of pressing: nothing erased; the form set aside comes back, or the message is answered."""
    state = await FORGET_FORM.load(ctx)
    # "dừng" folds to "dung" too: that is "stop", not "yes, erase".
    said = ctx.inbound.text.strip().lower()
    if state is not None and fold(said) in _TYPED_YES and not said.startswith("dừng"):
        reply = _confirmation(ctx, str(state.data["nonce"]), state.data.get("phone"))
        reply.text = f"{ctx.t('join.privacy.press_to_erase')}\n\n{reply.text}"
        return [reply]
    # As if no confirmation had been open: a question typed here stays a question.
    replies = [await _keep(ctx, state.data if state is not None else {})]
    if ctx.router is not None and ctx.inbound.text.strip() and (state is None or "resume" not in state.data):
        # The way any free text goes (opt-out words, poll answers, the rights Q&A).
        replies += as_replies(await ctx.router.free_text(ctx))
    return replies


def register(router: Router) -> None:
    router.command("mydata", describe="join.cmd.mydata")(mydata)
    router.command("forget", describe="join.cmd.forget")(forget)
    router.button(PREFIX, actions=ACTIONS)(on_button)
    router.flow(FLOW_FORGET)(typed_instead)
