"""Programs with limited places (Tết trains, buses, gifts): `/programs`, registering,
`/mytickets` and cancelling.

Registering is a short form kept in the conversation state (it survives a restart):
seats (buttons 1..K), the program's priority questions in review mode, the phone and
full name unless the sign-up has them, then a review screen. Places are allocated by
the store in one write transaction that also consumes the form, so a confirm button
pressed twice registers once, and no program is ever oversold.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from handlers.care.common import (
    FLOW_REGISTER,
    PROVINCE_FORM,
    REGISTER_FORM,
    area_name,
    ask_province,
    local,
    new_fid,
    now_utc,
    province_question,
    ticket_reply,
    tz,
    worker_province,
)
from handlers.context import Ctx
from handlers.join.common import clean_text
from handlers.join.names import clean_name
from handlers.join.phone import mask_phone, parse_vn_mobile
from handlers.join.provinces import resolve_province
from handlers.router import Actions, Router, as_replies, payload
from handlers.types import Button, Reply
from storage.care import (
    NATIONWIDE,
    Program,
    ProgramMode,
    RegisterOutcome,
    RegisterResult,
    Registration,
    RegistrationDraft,
    RegStatus,
)

logger = logging.getLogger(__name__)

PREFIX = "cp"
ANSWER_LENGTH = (1, 200)


def _nav(ctx: Ctx, fid: str) -> list[Button]:
    # Not pressed by a typed word on Zalo: "Huy" typed as the name cancelled the
    # registration (found by an outside tester). Its number still works.
    return [Button(ctx.t("care.btn.cancel"), payload(PREFIX, "x", fid), typed=False)]


def program_line(ctx: Ctx, p: Program, left: int) -> str:
    zone = tz(ctx)
    lines = [
        f"🎫 {p.title} ({area_name(p.province_id, ctx.lang, ctx.services.catalog)})",
        ctx.t("care.programs.places_left", left=max(left, 0), places=p.places),
        ctx.t("care.programs.window", opens=local(p.opens_at, zone), closes=local(p.closes_at, zone)),
    ]
    if p.event_at:
        lines.append(ctx.t("care.programs.event", at=local(p.event_at, zone)))
    if p.place:
        lines.append(ctx.t("care.programs.place", place=p.place))
    if p.mode is ProgramMode.REVIEW:
        lines.append(ctx.t("care.programs.review_mode"))
    return "\n".join(lines)


async def programs_command(ctx: Ctx) -> Reply:
    """`/programs` or `/programs <province>` (the argument was ignored: found by an outside tester)."""
    if ctx.args:
        return await _programs_of_named(ctx, " ".join(ctx.args))
    return await list_programs(ctx)


async def list_programs(ctx: Ctx) -> Reply:
    province_id = await worker_province(ctx)
    if province_id is None:
        now = now_utc()
        if not any(p.is_open(now) for p in await ctx.store.list_programs()):
            # Asking for the province first only to say there is nothing (found trying the bot).
            return Reply(ctx.t("care.programs.none_anywhere"), buttons=[ctx.back_button()])
        return await ask_province(ctx, "p")
    return await programs_for(ctx, province_id)


async def _programs_of_named(ctx: Ctx, text: str) -> Reply:
    match = resolve_province(text)
    if match.province is None:
        await PROVINCE_FORM.save(ctx, "ask", {"then": "p"})
        return province_question(ctx, "p", note=ctx.t("care.province.unknown"))
    signup = await ctx.store.signup_of_user(ctx.user.id)
    if signup is not None and signup.province_id != match.province.id:
        # Registering is for the sign-up's province (_reachable_program): its list, said why.
        reply = await programs_for(ctx, signup.province_id)
        area = area_name(signup.province_id, ctx.lang, ctx.services.catalog)
        reply.text = f"{ctx.t('care.programs.signup_province', province=area)}\n\n{reply.text}"
        return reply
    if signup is None:
        await ctx.store.set_care_province(ctx.user.id, match.province.id)
    return await programs_for(ctx, match.province.id)


async def programs_for(ctx: Ctx, province_id: str) -> Reply:
    now = now_utc()
    shown = [p for p in await ctx.store.list_programs(provinces={province_id, NATIONWIDE}) if p.is_open(now)]
    area = area_name(province_id, ctx.lang, ctx.services.catalog)
    rows = [[Button(p.title[:60], payload(PREFIX, "v", p.id))] for p in shown]
    rows.append([Button(ctx.t("care.programs.my_tickets"), payload(PREFIX, "m"))])
    if await ctx.store.signup_of_user(ctx.user.id) is None:
        # A province picked by mistake could not be changed (found by an outside tester);
        # a sign-up's province is the sign-up's, changed there.
        rows.append([Button(ctx.t("care.province.change"), payload(PREFIX, "p"))])
    rows.append(ctx.back_button())
    key = "care.programs.title" if shown else "care.programs.none"
    return Reply(ctx.t(key, province=area), buttons=rows)


async def _reachable_program(ctx: Ctx, program_id: int) -> Program | None:
    """The program, if it is for this worker's province or nationwide (payloads are untrusted)."""
    program = await ctx.store.get_program(program_id)
    if program is None:
        return None
    if program.province_id != NATIONWIDE and program.province_id != await worker_province(ctx):
        return None
    return program


def _closed_reason(ctx: Ctx, p: Program) -> str | None:
    now = now_utc()
    if p.closed or now >= p.closes_at:
        return ctx.t("care.reg.ended", title=p.title)
    if now < p.opens_at:
        return ctx.t("care.reg.not_open", title=p.title, opens=local(p.opens_at, tz(ctx)))
    return None


async def detail(ctx: Ctx, program_id: int) -> Reply:
    p = await _reachable_program(ctx, program_id)
    if p is None:
        return ctx.reply("care.programs.unknown")
    counts = await ctx.store.program_counts(p.id)
    rows = []
    reason = _closed_reason(ctx, p)
    if reason is None:
        rows.append([Button(ctx.t("care.programs.register"), payload(PREFIX, "r", p.id))])
    rows.append(ctx.back_button())
    text = program_line(ctx, p, p.places - counts.confirmed_seats)
    if counts.confirmed_seats >= p.places and p.mode is ProgramMode.FIRST_COME:
        text += "\n" + ctx.t("care.programs.full_waitlist")
    return Reply(text + (f"\n\n{reason}" if reason else ""), buttons=rows)


# -- the registration form ------------------------------------------------------------
async def start_registration(ctx: Ctx, program_id: int) -> Reply | list[Reply]:
    p = await _reachable_program(ctx, program_id)
    if p is None:
        return ctx.reply("care.programs.unknown")
    reason = _closed_reason(ctx, p)
    if reason is not None:
        return Reply(reason, buttons=[ctx.back_button()])
    data: dict[str, Any] = {"fid": new_fid(), "pid": p.id, "answers": []}
    signup = await ctx.store.signup_of_user(ctx.user.id)
    if signup is not None:
        data["phone"], data["name"], data["known"] = signup.phone_e164, signup.full_name, True
        existing = [
            r
            for r in await ctx.store.registrations_of_user(ctx.user.id)
            if r.program_id == p.id and r.phone_e164 == signup.phone_e164
        ]
        if existing:
            return await _existing(ctx, p, existing[0])
    # max_per_person is per person: the account's seats under other phones count too.
    held = await _seats_held(ctx, p)
    if held >= p.max_per_person:
        return _account_limit(ctx, p, held)
    data["cap"] = p.max_per_person - held
    if data["cap"] == 1:
        data["seats"] = 1
    return await _ask_next(ctx, p, data)


async def _seats_held(ctx: Ctx, p: Program) -> int:
    """Seats this account holds or asks for in `p`, across phones (the store's rule)."""
    regs = await ctx.store.registrations_of_user(ctx.user.id)
    return sum(r.seats for r in regs if r.program_id == p.id and r.status is not RegStatus.REJECTED)


def _account_limit(ctx: Ctx, p: Program, held: int) -> Reply:
    text = ctx.t("care.reg.account_limit", title=p.title, held=held, max=p.max_per_person)
    return Reply(text, buttons=[[Button(ctx.t("care.programs.my_tickets"), payload(PREFIX, "m"))], ctx.back_button()])


def _cap(p: Program, data: dict[str, Any]) -> int:
    """The most seats this form may ask for: fewer than max_per_person when the account
    holds some already (forms saved before the limit per account have no cap)."""
    return min(int(data.get("cap", p.max_per_person)), p.max_per_person)


def _next_step(p: Program, data: dict[str, Any]) -> str:
    if "seats" not in data:
        return "seats"
    if p.mode is ProgramMode.REVIEW and len(data["answers"]) < len(p.questions):
        return f"q{len(data['answers'])}"
    if not data.get("phone"):
        return "phone"
    if not data.get("name"):
        return "name"
    return "review"


async def _ask_next(ctx: Ctx, p: Program, data: dict[str, Any], *, note: str | None = None) -> Reply:
    step = _next_step(p, data)
    await REGISTER_FORM.save(ctx, step, data)
    fewer = await _places_left(ctx, p, int(data["seats"])) if step == "review" else None
    if fewer is not None:
        extra = ctx.t("care.reg.fewer_left", left=fewer, seats=data["seats"])
        note = f"{note}\n\n{extra}" if note else extra
    return _prompt(ctx, p, data, step, note, fewer=fewer)


async def _places_left(ctx: Ctx, p: Program, seats: int) -> int | None:
    """The places still free when fewer than asked for (but some): first come, first
    served would put the whole request on the waiting list while places remain (found
    trying the bot: 2 asked, 1 left, "full")."""
    if p.mode is not ProgramMode.FIRST_COME:
        return None
    left = p.places - (await ctx.store.program_counts(p.id)).confirmed_seats
    return left if 0 < left < seats else None


def _prompt(
    ctx: Ctx, p: Program, data: dict[str, Any], step: str, note: str | None, *, fewer: int | None = None
) -> Reply:
    fid = data["fid"]
    if step == "seats":
        cap = _cap(p, data)
        seats = [Button(str(n), payload(PREFIX, "s", fid, n)) for n in range(1, cap + 1)]
        rows = [seats[i : i + 5] for i in range(0, len(seats), 5)]
        reply = Reply(ctx.t("care.reg.q.seats", title=p.title, max=cap), buttons=[*rows, _nav(ctx, fid)])
    elif step.startswith("q"):
        question = p.questions_in(ctx.lang)[int(step[1:])]
        reply = Reply(ctx.t("care.reg.q.question", question=question), buttons=[_nav(ctx, fid)])
    elif step == "phone":
        reply = Reply(ctx.t("care.reg.q.phone"), buttons=[_nav(ctx, fid)])
    elif step == "name":
        reply = Reply(ctx.t("care.reg.q.name"), buttons=[_nav(ctx, fid)])
    else:
        lines = [
            ctx.t("care.reg.review.title", title=p.title),
            ctx.t("care.reg.review.seats", seats=data["seats"]),
            ctx.t("care.reg.review.name", name=data["name"]),
            ctx.t("care.reg.review.phone", phone=data["phone"]),
        ]
        lines += [f"• {q}: {a}" for q, a in zip(p.questions_in(ctx.lang), data["answers"], strict=False)]
        lines.append(ctx.t("care.reg.review.privacy"))
        rows = [[Button(ctx.t("care.reg.btn.confirm"), payload(PREFIX, "ok", fid))]]
        if fewer is not None:
            rows.insert(0, [Button(ctx.t("care.reg.btn.fewer", left=fewer), payload(PREFIX, "s", fid, fewer))])
        reply = Reply("\n".join(lines), buttons=[*rows, _nav(ctx, fid)])
    if note:
        reply.text = f"{note}\n\n{reply.text}"
    return reply


async def _form(ctx: Ctx, fid: str | None = None) -> tuple[Program, dict[str, Any], str] | None:
    state = await REGISTER_FORM.load(ctx, form_id=fid)
    if state is None:
        return None
    program = await ctx.store.get_program(int(state.data.get("pid", 0)))
    if program is None:
        await ctx.store.clear_state(ctx.user.id)
        return None
    return program, dict(state.data), state.step


async def on_text(ctx: Ctx) -> Reply | list[Reply]:
    """Text typed while registering for a program: the name, phone or number of seats."""
    form = await _form(ctx)
    if form is None:
        await ctx.store.clear_state(ctx.user.id)
        return ctx.reply("care.expired")
    p, data, step = form
    text = ctx.inbound.text
    if step == "seats":
        n = text.strip()
        if n.isdigit() and 1 <= int(n) <= _cap(p, data):
            data["seats"] = int(n)
            return await _ask_next(ctx, p, data)
        return _prompt(ctx, p, data, step, ctx.t("care.reg.err.seats", max=_cap(p, data)))
    if step.startswith("q"):
        answer = clean_text(text, min_len=ANSWER_LENGTH[0], max_len=ANSWER_LENGTH[1])
        if answer is None:
            return _prompt(ctx, p, data, step, ctx.t("care.reg.err.answer", max=ANSWER_LENGTH[1]))
        data["answers"] = [*data["answers"], answer]
        return await _ask_next(ctx, p, data)
    if step == "phone":
        phone = parse_vn_mobile(text)
        if not phone.ok:
            return _prompt(ctx, p, data, step, ctx.t(f"join.form.err.{phone.error}"))
        data["phone"] = phone.e164
        return await _ask_next(ctx, p, data)
    if step == "name":
        name = clean_name(text)
        if not name.ok:
            return _prompt(ctx, p, data, step, ctx.t("care.reg.err.name"))
        data["name"] = name.value
        return await _ask_next(ctx, p, data)
    return _prompt(ctx, p, data, step, ctx.t("care.use_buttons"))


async def _submit(ctx: Ctx, p: Program, data: dict[str, Any]) -> Reply | list[Reply]:
    draft = RegistrationDraft(
        p.id, ctx.user.id, data["phone"], data["name"], int(data["seats"]), tuple(data["answers"])
    )
    result = await ctx.store.register(draft, claim=(ctx.user.id, FLOW_REGISTER, data["fid"]))
    if result is None:
        return ctx.reply("care.reg.already_sent")
    # Ids and the outcome only: never the name or the number.
    logger.info("program %s: registration by user %s: %s", p.id, ctx.user.id, result.outcome)
    # The store consumed the form, whatever the outcome: a sign-up form it held comes back from `data`.
    return [*as_replies(await _outcome(ctx, p, result)), *await REGISTER_FORM.end(ctx, data)]


async def _outcome(ctx: Ctx, p: Program, result: RegisterResult) -> Reply | list[Reply]:
    o, reg = result.outcome, result.registration
    if o is RegisterOutcome.EXISTING and reg is not None:
        return await _existing(ctx, p, reg)
    if o is RegisterOutcome.CONFIRMED and reg is not None:
        reply = ticket_reply(
            ctx.t("care.reg.confirmed", title=p.title, code=reg.code, seats=reg.seats), reg.code, ctx.inbound.channel
        )
        reply.buttons = [[Button(ctx.t("care.programs.my_tickets"), payload(PREFIX, "m"))], ctx.back_button()]
        return reply
    if o is RegisterOutcome.WAITING:
        return ctx.reply("care.reg.waiting", title=p.title, position=result.position)
    if o is RegisterOutcome.PENDING:
        return ctx.reply("care.reg.pending", title=p.title, closes=local(p.closes_at, tz(ctx)))
    if o is RegisterOutcome.NOT_OPEN:
        return ctx.reply("care.reg.not_open", title=p.title, opens=local(p.opens_at, tz(ctx)))
    if o is RegisterOutcome.TOO_MANY_SEATS:
        return ctx.reply("care.reg.err.seats", max=p.max_per_person)
    if o is RegisterOutcome.ACCOUNT_LIMIT:
        return _account_limit(ctx, p, await _seats_held(ctx, p))
    return ctx.reply("care.reg.ended", title=p.title)


async def _existing(ctx: Ctx, p: Program, reg: Registration) -> Reply | list[Reply]:
    """The account's own registration of this number (the store never answers EXISTING
    with another account's: a number registered by someone else is registered again like
    any other, and flagged to the officers, so the replies never tell that it was)."""
    # A registration form only: pressed from the list, "register" found the ticket before
    # any form opened, and clearing dropped the sign-up form being filled in.
    back = await REGISTER_FORM.end(ctx)
    if reg.status is RegStatus.CONFIRMED:
        text = ctx.t("care.reg.existing_confirmed", title=p.title, code=reg.code, seats=reg.seats)
    elif reg.status is RegStatus.WAITING:
        text = ctx.t("care.reg.existing_waiting", title=p.title, position=await ctx.store.waiting_position(reg.id))
    elif reg.status is RegStatus.PENDING:
        text = ctx.t("care.reg.existing_pending", title=p.title)
    else:
        text = ctx.t("care.reg.existing_rejected", title=p.title, reason=reg.reason or "—")
    buttons = [[Button(ctx.t("care.programs.my_tickets"), payload(PREFIX, "m"))], ctx.back_button()]
    return [Reply(text, buttons=buttons), *back] if back else Reply(text, buttons=buttons)


# -- /mytickets ---------------------------------------------------------------------------
def _status_text(ctx: Ctx, reg: Registration, position: int | None) -> str:
    if reg.status is RegStatus.CONFIRMED and reg.checked_in_at is not None:
        at = local(reg.checked_in_at, tz(ctx))
        return ctx.t("care.tickets.checked_in", code=reg.code, seats=reg.seats, at=at)
    if reg.status is RegStatus.CONFIRMED:
        return ctx.t("care.tickets.confirmed", code=reg.code, seats=reg.seats)
    if reg.status is RegStatus.WAITING:
        return ctx.t("care.tickets.waiting", position=position, seats=reg.seats)
    if reg.status is RegStatus.PENDING:
        return ctx.t("care.tickets.pending", seats=reg.seats)
    return ctx.t("care.tickets.rejected", reason=reg.reason or "—")


async def my_tickets(ctx: Ctx) -> Reply:
    regs = await ctx.store.registrations_of_user(ctx.user.id)
    if not regs:
        return Reply(
            ctx.t("care.tickets.none"),
            buttons=[[Button(ctx.t("care.programs.open_list"), payload(PREFIX, "l"))], ctx.back_button()],
        )
    zone = tz(ctx)
    lines, rows = [ctx.t("care.tickets.title")], []
    for reg in regs:
        p = await ctx.store.get_program(reg.program_id)
        if p is None:
            continue
        position = await ctx.store.waiting_position(reg.id)
        when = f" — {local(p.event_at, zone)}" if p.event_at else ""
        phone = mask_phone(reg.phone_e164)
        lines.append(f"• {p.title}{when}\n  {_status_text(ctx, reg, position)} · {phone}")
        if reg.status is not RegStatus.REJECTED and reg.checked_in_at is None:
            rows.append([Button(_cancel_label(ctx, reg, p), payload(PREFIX, "c", reg.id))])
    rows.append(ctx.back_button())
    return Reply("\n".join(lines), buttons=rows)


def _cancel_label(ctx: Ctx, reg: Registration, p: Program) -> str:
    """Two registrations for one program were two identical "Cancel: <title>" buttons
    (found by an outside tester): the ticket code, or the status and the masked phone."""
    if reg.status is RegStatus.CONFIRMED:
        return ctx.t("care.tickets.cancel_ticket", code=reg.code, title=p.title[:30])
    status = ctx.t(f"care.reg.status.{reg.status.value}")
    return ctx.t("care.tickets.cancel_other", status=status, phone=mask_phone(reg.phone_e164), title=p.title[:30])


async def _cancel(ctx: Ctx, registration_id: int, confirmed: bool) -> Reply:
    reg = await ctx.store.get_registration(registration_id)
    if reg is None or reg.user_id != ctx.user.id:
        return ctx.reply("care.tickets.gone")
    p = await ctx.store.get_program(reg.program_id)
    title = p.title if p else ""
    if not confirmed:
        # Worded per status: "your places go to the next person" is wrong for someone
        # waiting or under review, who holds none.
        return Reply(
            ctx.t(
                f"care.tickets.confirm_cancel.{reg.status.value}",
                title=title,
                code=reg.code or "",
                seats=reg.seats,
                phone=mask_phone(reg.phone_e164),
            ),
            buttons=[
                [Button(ctx.t("care.tickets.cancel_yes"), payload(PREFIX, "cy", reg.id))],
                [Button(ctx.t("care.tickets.cancel_no"), payload(PREFIX, "m"))],
            ],
        )
    promoted = await ctx.store.cancel_registration(reg.id, user_id=ctx.user.id)
    if promoted is None:
        return ctx.reply("care.tickets.gone")
    await ctx.store.audit(
        ctx.user.id,
        "care.registration.cancel",
        f"registration:{reg.id}",
        {"program": reg.program_id, "promoted": [r.id for r in promoted]},
    )
    return ctx.reply("care.tickets.cancelled", title=title)


async def on_button(ctx: Ctx) -> Reply | list[Reply]:
    """A program's details, registering for a place, the waiting list and cancelling."""
    action, *args = ctx.args or ("",)
    handler = ACTIONS.get(action)
    reply = await handler(ctx, args) if handler is not None else None
    return reply if reply is not None else ctx.reply("care.expired")


# The buttons of /programs and /mytickets (`cp:<action>:<args>`). An action returns None
# for a payload of another shape (a missing or non-numeric id, a form no longer open),
# answered as an expired button.
ProgramAction = Callable[[Ctx, Sequence[str]], Awaitable[Reply | list[Reply] | None]]
ACTIONS: Actions[ProgramAction] = Actions(PREFIX)


def _id(args: Sequence[str]) -> int | None:
    return int(args[0]) if args and args[0].isdigit() else None


async def _pressed_form(ctx: Ctx, args: Sequence[str]) -> tuple[Program, dict[str, Any], str] | None:
    """The registration form the pressed button belongs to (`<action>:<form id>:...`)."""
    return await _form(ctx, args[0]) if args else None


@ACTIONS.on("l")
async def _open_programs(ctx: Ctx, args: Sequence[str]) -> Reply:
    """The open programs of the worker's province and nationwide, one button each."""
    return await list_programs(ctx)


@ACTIONS.on("p")
async def _change_province(ctx: Ctx, args: Sequence[str]) -> Reply:
    """Choose another province for the programs shown (a worker without a sign-up)."""
    if await ctx.store.signup_of_user(ctx.user.id) is not None:
        return await list_programs(ctx)
    reply = await ask_province(ctx, "p")
    reply.edit = True
    return reply


@ACTIONS.on("m")
async def _my_tickets(ctx: Ctx, args: Sequence[str]) -> Reply:
    """The worker's registrations (as /mytickets), each with a cancel button."""
    return await my_tickets(ctx)


@ACTIONS.on("v")
async def _view(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """One program (`v:<id>`): places left, dates, place, and a register button while open."""
    program_id = _id(args)
    return await detail(ctx, program_id) if program_id is not None else None


@ACTIONS.on("r")
async def _register(ctx: Ctx, args: Sequence[str]) -> Reply | list[Reply] | None:
    """Register for a program (`r:<id>`): the form's first question, or the existing ticket."""
    program_id = _id(args)
    return await start_registration(ctx, program_id) if program_id is not None else None


@ACTIONS.on("c")
async def _ask_cancel(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """Cancel a registration (`c:<id>`): asks "are you sure?" first."""
    registration_id = _id(args)
    return await _cancel(ctx, registration_id, confirmed=False) if registration_id is not None else None


@ACTIONS.on("cy")
async def _cancel_confirmed(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """Yes, cancel (`cy:<id>`): the seats freed, the first waiting registration that fits promoted."""
    registration_id = _id(args)
    return await _cancel(ctx, registration_id, confirmed=True) if registration_id is not None else None


@ACTIONS.on("s")
async def _seats(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """The number of seats pressed (`s:<form>:<n>`), then the next question."""
    form = await _pressed_form(ctx, args)
    if form is None:
        return None
    p, data, step = form
    # At the review too: "take the places left" changes the number of seats.
    if step in ("seats", "review") and len(args) == 2 and args[1].isdigit():
        if not 1 <= int(args[1]) <= _cap(p, data):
            return _prompt(ctx, p, data, step, ctx.t("care.reg.err.seats", max=_cap(p, data)))
        data["seats"] = int(args[1])
        return await _ask_next(ctx, p, data)
    return _prompt(ctx, p, data, step, ctx.t("care.use_buttons"))


@ACTIONS.on("ok")
async def _confirm(ctx: Ctx, args: Sequence[str]) -> Reply | list[Reply] | None:
    """Confirm on the review screen (`ok:<form>`): a ticket code, the waiting list or review."""
    form = await _pressed_form(ctx, args)
    if form is None:
        return None
    p, data, step = form
    if step == "review":
        return await _submit(ctx, p, data)
    return _prompt(ctx, p, data, step, ctx.t("care.use_buttons"))


@ACTIONS.on("x")
async def _cancel_form(ctx: Ctx, args: Sequence[str]) -> list[Reply] | None:
    """Stop registering (`x:<form>`): the answers so far are dropped (a sign-up form it held comes back)."""
    if await _pressed_form(ctx, args) is None:
        return None
    back = await REGISTER_FORM.end(ctx)
    return [ctx.reply("care.reg.cancelled"), *back]


def register(router: Router) -> None:
    router.command("programs", "chuongtrinh", describe="care.cmd.programs")(programs_command)
    router.command("mytickets", "vecuatoi", describe="care.cmd.mytickets")(my_tickets)
    router.button(PREFIX, actions=ACTIONS)(on_button)
    router.flow(FLOW_REGISTER)(on_text)
