"""A worker's own data: see it (/mydata), erase it (/forget).

/forget erases the account, and with it everything that references it (sign-up,
questions, subscriptions, program tickets, support cases, conversation state: every
feature table cascades from users(id)); the confirmation names the tickets and cases
that go, since a confirmed seat passes to the waiting list.

A sign-up a volunteer collected (or one imported from paper) has no account. A phone
number is no proof of anything (an employer's HR office knows every worker's number),
so `/forget <phone>` never erases a sign-up the asking account does not own: it files
an erasure request (storage/signups.py). The province's officers are told (ids only,
handlers/scope.officer_notices), call the number, and decide with `/erasure <id>
xoa|giu` (scoped to their provinces, audited), and tell the person on the call what they
did. The bot never tells the requester the outcome, erased or not: if an employer filed
the request and the worker agreed to erase, "erased" would tell the employer that the
number had signed up. The requester is told so up front, and every answer, button, count
and /mydata line is the same whether the number belongs to another account, to a
collected sign-up or to nobody, and however often it is asked for. A chat may file
ERASURE_REQUESTS_PER_DAY requests a day (every attempt counts, sign-up or not, repeat
or not). The account's own sign-up (also when the number given is its own) is erased
at once, as before.

Erasure needs a confirmation whose button carries a one-time nonce kept in the
conversation state: an old "erase" button never erases anything.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.context import Ctx
from handlers.forms import HELD, FormFlow, held_expired, held_form, hold
from handlers.join.common import (
    FLOW_COLLECT,
    FLOW_FORGET,
    FORM_FLOWS,
    in_scope,
    local_time,
    province_name,
    province_scope,
    source_label,
    status_label,
)
from handlers.join.form import FORM_TTL, alert
from handlers.join.phone import mask_phone, parse_vn_mobile
from handlers.router import Actions, Router, as_replies, payload
from handlers.scope import no_province_yet, officer_notices
from handlers.text import fold
from handlers.types import Button, Reply
from storage import ConversationState, Role
from storage.care import CaseStatus, RegStatus
from storage.signups import (
    ERASURE_REQUEST_TTL,
    ErasureOutcome,
    ErasureRequest,
    ErasureRequester,
    ErasureRequestResult,
)

logger = logging.getLogger(__name__)

PREFIX = "jp"
# Requests to erase by phone one chat may file (FILED or not: every attempt counts).
ERASURE_REQUESTS_PER_DAY = 3
ERASURE_WINDOW = timedelta(hours=24)
# The officer's word after `/erasure <id>`, folded.
_CONFIRM_WORDS = frozenset({"xoa", "erase", "confirm", "yes", "ok", "co", "dong y"})
_REJECT_WORDS = frozenset({"giu", "giu lai", "keep", "reject", "no", "khong", "tu choi"})
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
    # A form set aside by an open /forget, or held by a step opened over it (handlers/forms.py).
    held = held_form(state)
    if held is not None and held.flow in FORM_FLOWS and not held_expired(held):
        form_data = held.data
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
    parts += await _mydata_requests(ctx, tz)
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
    if phone is not None and not await _own_number(ctx, phone) and await _throttled(ctx):
        return Reply(ctx.t("join.privacy.erasure_throttled", phone=mask_phone(phone)), buttons=[ctx.back_button()])
    nonce = secrets.token_urlsafe(6)
    data: dict[str, Any] = {"nonce": nonce, "phone": phone}
    current = await ctx.store.get_state(ctx.user.id)
    # /forget twice, or a step holding a form (handlers/forms.py): the form is what comes
    # back, where storage's erasure by phone looks (`$.resume.data.phone`), not nested.
    aside = held_form(current) or (current if current is not None and current.flow != FLOW_FORGET else None)
    if aside is not None:
        # Put back if the worker keeps their data: a half-filled form is not lost to a "no".
        # Still personal data held without consent: bot.signup_retention erases forget
        # states after FORM_TTL like the forms themselves, and `/forget <phone>` finds the
        # number here too (storage: `$.resume.data.phone`).
        data[HELD] = hold(aside)
    await FORGET_FORM.save(ctx, "confirm", data)
    return await _confirmation(ctx, nonce, phone)


async def _own_number(ctx: Ctx, phone: str) -> bool:
    """The number of the account's own sign-up: erased at once, no request needed."""
    own = await ctx.store.signup_of_user(ctx.user.id)
    return own is not None and own.phone_e164 == phone


async def _mydata_requests(ctx: Ctx, tz: ZoneInfo) -> list[str]:
    """The erasure requests this chat filed, by id and date only, whatever became of them:
    a number or a status would tell a stranger whether the number they typed signed up."""
    requests = await _requests_of_chat(ctx, since=datetime.now(UTC) - ERASURE_REQUEST_TTL)
    if not requests:
        return []
    listed = ", ".join(f"#{r.id} ({local_time(r.created_at, tz)})" for r in requests)
    return [ctx.t("join.privacy.mydata_erasure_requests", requests=listed)]


def _requester(ctx: Ctx) -> ErasureRequester:
    """The chat's address, for the daily limit only (the account goes with /forget)."""
    return ErasureRequester(ctx.user.channel, ctx.user.external_id)


async def _requests_of_chat(ctx: Ctx, *, since: datetime) -> list[ErasureRequest]:
    return await ctx.store.erasure_requests_by(ctx.user.channel, ctx.user.external_id, since=since)


async def _throttled(ctx: Ctx) -> bool:
    recent = await _requests_of_chat(ctx, since=datetime.now(UTC) - ERASURE_WINDOW)
    return len(recent) >= ERASURE_REQUESTS_PER_DAY


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


async def _confirmation(ctx: Ctx, nonce: str, phone: str | None) -> Reply:
    parts = [ctx.t("join.privacy.forget_confirm")]
    if care := await _care_lines(ctx):
        parts.append("\n".join([ctx.t("join.privacy.forget_care_head"), *care]))
    if phone is None:
        parts.append(ctx.t("join.privacy.forget_phone_hint"))
    elif not await _own_number(ctx, phone):
        parts.append(ctx.t("join.privacy.forget_phone", phone=mask_phone(phone)))
    return Reply(
        "\n\n".join(parts),
        buttons=[
            [Button(ctx.t("join.privacy.btn_erase"), payload(PREFIX, nonce, "y"))],
            [Button(ctx.t("join.privacy.btn_keep"), payload(PREFIX, nonce, "n"))],
        ],
    )


_TICKET_KEYS = {
    RegStatus.CONFIRMED: "join.privacy.forget_ticket_confirmed",
    RegStatus.WAITING: "join.privacy.forget_ticket_waiting",
    RegStatus.PENDING: "join.privacy.forget_ticket_pending",
    RegStatus.REJECTED: "join.privacy.forget_ticket_rejected",
}
_OPEN_CASES = frozenset({CaseStatus.RECEIVED, CaseStatus.CONTACTED})


async def _care_lines(ctx: Ctx) -> list[str]:
    """What erasing does to the worker's program tickets and support cases, in so many
    words: a confirmed seat passes to the waiting list, an open case is no longer followed."""
    lines = []
    now = datetime.now(UTC)
    for reg in reversed(await ctx.store.registrations_of_user(ctx.user.id)):  # oldest first
        program = await ctx.store.get_program(reg.program_id)
        title = program.title if program is not None else f"#{reg.program_id}"
        key = _TICKET_KEYS.get(reg.status, "join.privacy.forget_ticket_other")
        # Used or past: nothing left to cancel or pass on, only the record to erase.
        if reg.checked_in_at is not None or program is None or (program.event_at or program.closes_at) < now:
            key = "join.privacy.forget_ticket_other"
        lines.append(ctx.t(key, program=title, code=reg.code or "—", seats=reg.seats))
    cases = await ctx.store.cases_of_user(ctx.user.id)
    still_open = sum(1 for c in cases if c.status in _OPEN_CASES)
    if still_open:
        lines.append(ctx.t("join.privacy.forget_cases_open", count=still_open))
    if len(cases) > still_open:
        lines.append(ctx.t("join.privacy.forget_cases_closed", count=len(cases) - still_open))
    return lines


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
        # A volunteer's unfinished form may still hold the worker's own number. (No
        # sign-up but this account's can have it: numbers are unique.)
        await ctx.store.forget_signup_by_phone(own.phone_e164, form_flows=(FLOW_COLLECT,))
    requested: ErasureRequestResult | None = None
    notices: list[Reply] = []
    if phone is not None and (own is None or own.phone_e164 != phone):
        # Not this account's sign-up: a request the province's officers confirm by phone.
        requested = await ctx.store.request_signup_erasure(
            phone,
            _requester(ctx),
            requester_id=user_id,
            limit=ERASURE_REQUESTS_PER_DAY,
            since=datetime.now(UTC) - ERASURE_WINDOW,
        )
        notices = await _file_request(ctx, requested)
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
    alerts = [
        r for signup_id, province in erased for r in await alert(ctx, province, "join.alert.erased", id=signup_id)
    ]
    # The user row is gone: the next message starts afresh, in the default language.
    text = ctx.t("join.privacy.forgotten")
    if requested is not None and phone is not None:
        key = "erasure_throttled" if requested.outcome is ErasureOutcome.THROTTLED else "erasure_requested"
        text += "\n\n" + ctx.t(f"join.privacy.{key}", phone=mask_phone(phone))
    done = Reply(text, edit=True)
    return [done, *alerts, *notices]


async def _file_request(ctx: Ctx, result: ErasureRequestResult) -> list[Reply]:
    """A new request: audited (ids only) and its province's officers told (ids only: they
    find the number in the sign-up). Nothing for a number without a sign-up, a request
    this chat already has open or a throttled chat; the requester is answered the same in
    every case."""
    if result.outcome is not ErasureOutcome.FILED:
        logger.info("user %s: erasure request by phone %s", ctx.user.id, result.outcome.value)
        return []
    request_id, signup_id, province = result.request_id, result.signup_id, result.province_id
    assert request_id is not None
    assert signup_id is not None
    assert province is not None
    await ctx.store.audit(ctx.user.id, "privacy.erasure_request", f"signup:{signup_id}", {"request": request_id})
    logger.info("user %s filed erasure request %s for sign-up %s", ctx.user.id, request_id, signup_id)
    catalog = ctx.services.catalog

    def text(lang: str) -> str:
        return catalog.t(
            lang, "join.erasure.notice", request=request_id, signup=signup_id, province=province_name(province, lang)
        )

    notices = await officer_notices(ctx, province, text, or_admins=True, skip=ctx.user.id)
    for notice in notices:
        # Sent in the background: a requester must not learn from how long the next
        # answer takes that the number signed up (one notice per officer).
        notice.detached = True
    return notices


async def erasure(ctx: Ctx) -> Reply | list[Reply]:
    """`/erasure`: the open erasure requests of the organizer's provinces; `/erasure <id>
    xoa|giu`: confirm (the number's holder asked for it on the call) or reject one."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    if not ctx.args:
        return await _open_requests(ctx, scope)
    raw_id = ctx.args[0].lstrip("#")
    word = fold(" ".join(ctx.args[1:]).strip().lower())
    if not raw_id.isdigit() or word not in _CONFIRM_WORDS | _REJECT_WORDS:
        return ctx.reply("join.erasure.usage")
    request_id = int(raw_id)
    request = await ctx.store.get_erasure_request(request_id)
    # Unknown, another province's and already decided: one answer, nothing revealed.
    if request is None or request.province_id is None or not in_scope(scope, request.province_id):
        return ctx.reply("join.erasure.not_open", request=request_id)
    confirm = word in _CONFIRM_WORDS
    decision = await ctx.store.decide_signup_erasure(
        request_id, confirm=confirm, decided_by=ctx.user.id, form_flows=FORM_FLOWS
    )
    if decision is None:
        return ctx.reply("join.erasure.not_open", request=request_id)
    signup_id, province = decision.request.signup_id, request.province_id
    action = "privacy.erasure_confirm" if decision.erased else "privacy.erasure_reject"
    await ctx.store.audit(ctx.user.id, action, f"signup:{signup_id}", {"request": request_id})
    logger.info("user %s %s erasure request %s (sign-up %s)", ctx.user.id, action, request_id, signup_id)
    # Nobody else is told: the officer tells the number's holder on the call, and the
    # requester is never told the outcome (it would tell an employer the number signed up).
    if not decision.erased:
        return ctx.reply("join.erasure.rejected", request=request_id, signup=signup_id)
    done = ctx.reply("join.erasure.confirmed", request=request_id, signup=signup_id)
    return [done, *await alert(ctx, province, "join.alert.erased", id=signup_id)]


async def _open_requests(ctx: Ctx, scope: frozenset[str] | None) -> Reply:
    requests = await ctx.store.open_erasure_requests(provinces=scope)
    if not requests:
        return ctx.reply("join.erasure.list_empty")
    tz = ZoneInfo(ctx.settings.timezone)
    lines = [ctx.t("join.erasure.list_head", count=len(requests))]
    lines += [
        ctx.t(
            "join.erasure.list_item",
            request=r.id,
            signup=r.signup_id,
            province=province_name(r.province_id, ctx.lang),
            phone=mask_phone(r.phone_e164),
            at=local_time(r.created_at, tz),
        )
        for r in requests[:50]
    ]
    lines.append(ctx.t("join.erasure.usage"))
    return Reply("\n".join(lines), buttons=[ctx.back_button()])


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
        reply = await _confirmation(ctx, str(state.data["nonce"]), state.data.get("phone"))
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
    router.command("erasure", min_role=Role.ORGANIZER)(erasure)
    router.button(PREFIX, actions=ACTIONS)(on_button)
    router.flow(FLOW_FORGET)(typed_instead)
