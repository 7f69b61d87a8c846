"""Organizers' side of member care: `/checkin CODE` (from the day before the event, with
a button to undo it), `/review ID` (approve or reject
registrations of a review-mode program) and `/cases` (hardship cases: pages, newest
first, filter by status, status changes with a note; a refusal needs a reason).

Strictly scoped: an organizer acts only on programs and cases of their provinces
(handlers/join/common.province_scope); nationwide programs are for admins. Every id
comes back from a button or a command and is checked against the store each time.
Each change is audited (ids only) and the worker is told through the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from handlers.care.common import FLOW_NOTE, NOTE_FORM, checkin_opens, local, new_fid, now_utc, tz
from handlers.care.export import registration_refs
from handlers.care.support import OPEN_STATUSES, has_words
from handlers.context import Ctx
from handlers.i18n import LANGUAGES
from handlers.join.common import clean_note, in_scope, province_name, province_scope
from handlers.router import Actions, OneMessageStep, Router, payload
from handlers.scope import no_province_yet
from handlers.types import Button, Reply
from storage import Role
from storage.care import (
    NATIONWIDE,
    CaseMoved,
    CaseStatus,
    CheckinOutcome,
    Program,
    Registration,
    RegStatus,
    SupportCase,
)

logger = logging.getLogger(__name__)

CASES = "cc"
CHECKIN = "ck"  # undo a check-in: ck:u:<registration id>
# The note prompt's own buttons (skip, cancel) keep the note step; any other press leaves it.
NOTE_STEP = OneMessageStep(buttons=frozenset({f"{CASES}:n", f"{CASES}:nx"}))
REVIEW = "cr"
CASE_PAGE = 5
REVIEW_PAGE = 5
NOTE_MAX = 500
NEXT_STATUSES = {
    CaseStatus.RECEIVED: (CaseStatus.CONTACTED, CaseStatus.DECLINED),
    CaseStatus.CONTACTED: (CaseStatus.SUPPORTED, CaseStatus.CLOSED, CaseStatus.DECLINED),
    CaseStatus.SUPPORTED: (CaseStatus.CLOSED,),
    # Reopening, back to received (with a reason the worker is told): a slip is fixed.
    CaseStatus.CLOSED: (CaseStatus.RECEIVED,),
    CaseStatus.DECLINED: (CaseStatus.RECEIVED,),
}
# Changes the worker is told the reason of, so one with words is required.
REASONED = frozenset({CaseStatus.DECLINED, CaseStatus.RECEIVED})


def program_in_scope(scope: frozenset[str] | None, program: Program) -> bool:
    """Nationwide programs are the admins' (scope None); others need their province."""
    if scope is None:
        return True
    return program.province_id != NATIONWIDE and program.province_id in scope


# -- check-in --------------------------------------------------------------------------
async def checkin(ctx: Ctx) -> Reply:
    """`/checkin CODE` (or `/checkin PROGRAM_ID CODE`)."""
    if not ctx.args or len(ctx.args) > 2:
        return ctx.reply("care.checkin.usage")
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    code = ctx.args[-1][:16].upper()
    reg = await ctx.store.registration_by_code(code)
    program = await ctx.store.get_program(reg.program_id) if reg else None
    wanted = ctx.args[0] if len(ctx.args) == 2 else None
    if (
        reg is None
        or program is None
        or (wanted is not None and wanted != str(program.id))
        or not program_in_scope(scope, program)
    ):
        # One answer for unknown codes and codes of programs out of reach: nothing leaks.
        return ctx.reply("care.checkin.unknown", code=code)
    zone = tz(ctx)
    opens = checkin_opens(program, zone)
    if opens is not None and now_utc() < opens:
        # Checked in months ahead by mistake, the worker lost their cancel button.
        return ctx.reply(
            "care.checkin.too_early", event=local(program.event_at, zone), opens=local(opens, zone), title=program.title
        )
    result = await ctx.store.checkin(program.id, code)
    if result.outcome is CheckinOutcome.ALREADY and result.registration:
        at = result.registration.checked_in_at
        assert at is not None  # ALREADY: the registration holds its first check-in
        text = ctx.t("care.checkin.already", at=at.astimezone(zone).strftime("%H:%M"))
        text += await _same_phone_line(ctx, result.registration)
        return Reply(text, buttons=[_undo_button(ctx, result.registration), ctx.back_button()])
    if result.outcome is CheckinOutcome.OK and result.registration:
        await ctx.store.audit(
            ctx.user.id, "care.checkin", f"registration:{result.registration.id}", {"program": program.id}
        )
        r = result.registration
        text = ctx.t("care.checkin.ok", name=r.full_name, seats=r.seats, title=program.title)
        text += await _same_phone_line(ctx, r)
        return Reply(text, buttons=[_undo_button(ctx, r), ctx.back_button()])
    return ctx.reply("care.checkin.unknown", code=code)


async def _same_phone_line(ctx: Ctx, reg: Registration) -> str:
    """For the officer at the door: the other registrations of the program with this
    ticket's phone number (another account's), so the two are not both let in unasked."""
    others = (await ctx.store.same_phone(reg.program_id, [reg.id])).get(reg.id)
    return "\n" + ctx.t("care.review.same_phone", ids=registration_refs(others)) if others else ""


def _undo_button(ctx: Ctx, reg: Registration) -> list[Button]:
    return [Button(ctx.t("care.checkin.undo", code=reg.code), payload(CHECKIN, "u", reg.id))]


async def _undo_checkin(ctx: Ctx) -> Reply:
    """Undo a check-in made by mistake (`ck:u:<registration id>`): the ticket can be checked
    in again, and its worker can cancel it; checked against the organizer's scope again."""
    action, registration_id = (*ctx.args, "", "")[:2]
    if action != "u" or not registration_id.isdigit():
        return ctx.reply("care.expired")
    reg = await ctx.store.get_registration(int(registration_id))
    program = await ctx.store.get_program(reg.program_id) if reg else None
    if reg is None or reg.code is None or program is None or not program_in_scope(await province_scope(ctx), program):
        return ctx.reply("care.tickets.gone")
    undone = await ctx.store.undo_checkin(program.id, reg.code)
    if undone is None:
        return ctx.reply("care.checkin.not_checked_in", code=reg.code)
    await ctx.store.audit(ctx.user.id, "care.checkin.undo", f"registration:{reg.id}", {"program": program.id})
    return ctx.reply("care.checkin.undone", code=reg.code, title=program.title)


# -- review mode -----------------------------------------------------------------------------
async def review(ctx: Ctx) -> Reply:
    """`/review` lists review-mode programs in scope; `/review ID` their pending registrations."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    if not ctx.args or not ctx.args[0].isdigit():
        shown = [p for p in await ctx.store.list_programs() if program_in_scope(scope, p) and p.mode.value == "review"]
        rows = [[Button(p.title[:60], payload(REVIEW, "l", p.id))] for p in shown[:20]]
        rows.append(ctx.back_button())
        return Reply(ctx.t("care.review.pick" if shown else "care.review.no_programs"), buttons=rows)
    return await _pending(ctx, int(ctx.args[0]), scope)


async def _pending(ctx: Ctx, program_id: int, scope: frozenset[str] | None) -> Reply:
    program = await ctx.store.get_program(program_id)
    if program is None or not program_in_scope(scope, program):
        return ctx.reply("care.review.unknown")
    pending = await ctx.store.registrations(program.id, status=RegStatus.PENDING, limit=REVIEW_PAGE)
    counts = await ctx.store.program_counts(program.id)
    lines = [
        ctx.t(
            "care.review.title",
            title=program.title,
            confirmed=counts.confirmed_seats,
            places=program.places,
            pending=counts.pending,
        )
    ]
    rows = []
    # Numbers registered by more than one account: accepted (refusing them told anyone who
    # typed a worker's number that the worker had applied) and pointed out here instead.
    twins = await ctx.store.same_phone(program.id, [r.id for r in pending])
    for reg in pending:
        answers = "; ".join(f"{q}: {a}" for q, a in zip(program.questions_in(ctx.lang), reg.answers, strict=False))
        # The worker's language, so that a refusal's reason is written in it (it reaches
        # the worker as typed; English speakers got Vietnamese ones).
        worker = await ctx.store.get_user(reg.user_id)
        lang = ctx.t(f"lang.{worker.language}_label") if worker and worker.language in LANGUAGES else "?"
        line = f"#{reg.id} {reg.full_name} · {reg.phone_e164} · {reg.seats} · {lang}\n  {answers}"
        if reg.id in twins:
            line += "\n  " + ctx.t("care.review.same_phone", ids=registration_refs(twins[reg.id]))
        lines.append(line)
        rows.append(
            [
                Button(ctx.t("care.review.approve", id=reg.id), payload(REVIEW, "a", reg.id)),
                Button(ctx.t("care.review.reject", id=reg.id), payload(REVIEW, "r", reg.id)),
            ]
        )
    if not pending:
        lines.append(ctx.t("care.review.nothing"))
    await ctx.store.audit(
        ctx.user.id, "care.review.view", f"program:{program.id}", {"registrations": [r.id for r in pending]}
    )
    rows.append(ctx.back_button())
    return Reply("\n\n".join(lines), buttons=rows)


async def _review_button(ctx: Ctx) -> Reply:
    """The organizer reviews a program's registrations: approve or refuse each."""
    if len(ctx.args) < 2 or not ctx.args[1].isdigit():
        return ctx.reply("care.expired")
    handler = REVIEW_ACTIONS.get(ctx.args[0])
    if handler is None:
        return ctx.reply("care.expired")
    return await handler(ctx, int(ctx.args[1]), await province_scope(ctx))


# The buttons of /review (`cr:<action>:<id>`), given the id and the organizer's scope,
# checked again on every press: the payload is never trusted.
ReviewAction = Callable[[Ctx, int, frozenset[str] | None], Awaitable[Reply]]
REVIEW_ACTIONS: Actions[ReviewAction] = Actions(REVIEW)


@REVIEW_ACTIONS.on("l")
async def _review_list(ctx: Ctx, program_id: int, scope: frozenset[str] | None) -> Reply:
    """A program's registrations waiting for a decision (`l:<program id>`), with their answers."""
    return await _pending(ctx, program_id, scope)


async def _not_decidable(ctx: Ctx, registration_id: int, scope: frozenset[str] | None) -> Reply | None:
    """Why this registration cannot be decided by this organizer now, or None if it can."""
    reg = await ctx.store.get_registration(registration_id)
    program = await ctx.store.get_program(reg.program_id) if reg else None
    if reg is None or program is None or not program_in_scope(scope, program):
        return ctx.reply("care.review.unknown")
    if reg.status is not RegStatus.PENDING:
        return ctx.reply("care.review.decided", id=reg.id)
    return None


@REVIEW_ACTIONS.on("a")
async def _approve(ctx: Ctx, registration_id: int, scope: frozenset[str] | None) -> Reply:
    """Approve (`a:<registration id>`): confirmed if it fits, else waiting; the worker is told."""
    refused = await _not_decidable(ctx, registration_id, scope)
    if refused is not None:
        return refused
    return await decide(ctx, registration_id, approve=True, reason=None)


@REVIEW_ACTIONS.on("r")
async def _reject(ctx: Ctx, registration_id: int, scope: frozenset[str] | None) -> Reply:
    """Refuse (`r:<registration id>`): asks for the reason the worker will be told."""
    refused = await _not_decidable(ctx, registration_id, scope)
    if refused is not None:
        return refused
    return await _ask_note(ctx, {"what": "reject", "id": registration_id}, required=True)


async def decide(ctx: Ctx, registration_id: int, *, approve: bool, reason: str | None) -> Reply:
    reg = await ctx.store.decide_registration(registration_id, approve=approve, reason=reason)
    if reg is None:
        return ctx.reply("care.review.decided", id=registration_id)
    await ctx.store.audit(
        ctx.user.id,
        "care.review.decide",
        f"registration:{reg.id}",
        {"program": reg.program_id, "status": reg.status.value},
    )
    return Reply(
        ctx.t("care.review.done", id=reg.id, status=ctx.t(f"care.reg.status.{reg.status.value}")),
        buttons=[[Button(ctx.t("care.review.back"), payload(REVIEW, "l", reg.program_id))], ctx.back_button()],
    )


# -- cases --------------------------------------------------------------------------------------
async def cases(ctx: Ctx) -> Reply:
    """`/cases` or `/cases <status>`."""
    status = None
    if ctx.args:
        try:
            status = CaseStatus(ctx.args[0].lower())
        except ValueError:
            return ctx.reply("care.cases.usage")
    return await _case_list(ctx, status, None)


async def _case_list(ctx: Ctx, status: CaseStatus | None, before: int | None) -> Reply:
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    found = await ctx.store.list_cases(provinces=scope, status=status, before_id=before, limit=CASE_PAGE + 1)
    page, more = found[:CASE_PAGE], len(found) > CASE_PAGE
    label = ctx.t(f"care.case.status.{status.value}") if status else ctx.t("care.cases.all")
    zone = tz(ctx)
    lines = [ctx.t("care.cases.title", filter=label)]
    rows = []
    for c in page:
        category, state = ctx.t(f"care.case.category.{c.category.value}"), ctx.t(f"care.case.status.{c.status.value}")
        lines.append(
            f"#{c.id} · {local(c.created_at, zone)} · {province_name(c.province_id, ctx.lang)} · {category} · {state}"
        )
        rows.append([Button(ctx.t("care.cases.open", id=c.id), payload(CASES, "v", c.id))])
    if not page:
        lines.append(ctx.t("care.cases.none"))
    key = status.value if status else "-"
    if more:
        rows.append([Button(ctx.t("care.next"), payload(CASES, "l", key, page[-1].id))])
    filters = [Button(ctx.t(f"care.case.status.{s.value}"), payload(CASES, "l", s.value, 0)) for s in CaseStatus]
    rows += [filters[:3], [*filters[3:], Button(ctx.t("care.cases.all"), payload(CASES, "l", "-", 0))]]
    rows.append(ctx.back_button())
    return Reply("\n".join(lines), buttons=rows)


async def _case_detail(ctx: Ctx, case_id: int) -> Reply:
    scope = await province_scope(ctx)
    case = await ctx.store.get_case(case_id)
    if case is None or not in_scope(scope, case.province_id):
        return ctx.reply("care.cases.unknown", id=case_id)
    zone = tz(ctx)
    lines = [
        ctx.t(
            "care.cases.detail",
            id=case.id,
            category=ctx.t(f"care.case.category.{case.category.value}"),
            status=ctx.t(f"care.case.status.{case.status.value}"),
            province=province_name(case.province_id, ctx.lang),
            phone=case.phone_e164,
            at=local(case.created_at, zone),
        ),
        case.description,
    ]
    # The worker's language, for the reason they are told (it reaches them as typed), and
    # their other open cases in scope: the same story sent twice is seen as such.
    worker = await ctx.store.get_user(case.user_id)
    language = ctx.t(f"lang.{worker.language}_label") if worker and worker.language in LANGUAGES else "?"
    lines.append(ctx.t("support.cases.language", language=language))
    others = [
        f"#{c.id} ({ctx.t(f'care.case.status.{c.status.value}')})"
        for c in await ctx.store.cases_of_user(case.user_id)
        if c.id != case.id and c.status in OPEN_STATUSES and in_scope(scope, c.province_id)
    ]
    if others:
        lines.append(ctx.t("support.cases.other_open", cases=", ".join(others)))
    events = await ctx.store.case_events(case.id)
    for e in events:
        note = f": {e.note}" if e.note else ""
        lines.append(f"• {local(e.at, zone)} {ctx.t(f'care.case.status.{e.status.value}')}{note}")
    await ctx.store.audit(ctx.user.id, "care.case.view", f"case:{case.id}")
    rows = [
        [
            Button(
                ctx.t("support.cases.reopen")
                if s is CaseStatus.RECEIVED
                else ctx.t("care.cases.set", status=ctx.t(f"care.case.status.{s.value}")),
                # With the status and the number of changes seen here: a press on a view
                # gone stale changes nothing, even if the case came back to that status.
                payload(CASES, "s", case.id, s.value, case.status.value, len(events)),
            )
        ]
        for s in NEXT_STATUSES[case.status]
    ]
    rows.append([Button(ctx.t("care.cases.back"), payload(CASES, "l", "-", 0))])
    return Reply("\n\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]), buttons=rows)


# The buttons of /cases (`cc:<action>:<args>`). An action returns None for a payload of
# another shape, answered as an expired button.
CaseAction = Callable[[Ctx, Sequence[str]], Awaitable[Reply | None]]
CASE_ACTIONS: Actions[CaseAction] = Actions(CASES)


@CASE_ACTIONS.on("l")
async def _case_page(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """A page of cases, newest first (`l:<status|->:<before id>`), in place of the last one."""
    if len(args) != 2 or not args[1].isdigit():
        return None
    status = None
    if args[0] != "-":
        try:
            status = CaseStatus(args[0])
        except ValueError:
            return None
    reply = await _case_list(ctx, status, int(args[1]) or None)
    reply.edit = True
    return reply


@CASE_ACTIONS.on("v")
async def _case_view(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """One case (`v:<id>`): the worker's story, its history and a button for each next status."""
    if not args or not args[0].isdigit():
        return None
    return await _case_detail(ctx, int(args[0]))


@CASE_ACTIONS.on("s")
async def _case_status(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """Move a case on (`s:<id>:<status>[:<status seen>[:<changes seen>]]`): asks for a note
    (a reason, to decline or reopen). The move is from the status and the number of status
    changes seen, checked again when it is made."""
    if len(args) not in (2, 3, 4) or not args[0].isdigit() or (len(args) == 4 and not args[3].isdigit()):
        return None
    scope = await province_scope(ctx)
    case = await ctx.store.get_case(int(args[0]))
    if case is None or not in_scope(scope, case.province_id):
        return ctx.reply("care.cases.unknown", id=args[0])
    try:
        status = CaseStatus(args[1])
        seen = CaseStatus(args[2]) if len(args) == 3 else case.status  # older buttons: what it is now
    except ValueError:
        return None
    changes = int(args[3]) if len(args) == 4 else None
    if seen is not case.status or (changes is not None and changes != len(await ctx.store.case_events(case.id))):
        return _moved_meanwhile(ctx, case, None)
    if status not in NEXT_STATUSES[case.status]:
        return ctx.reply("care.cases.not_now", id=case.id, status=ctx.t(f"care.case.status.{case.status.value}"))
    data = {"what": "case", "id": case.id, "status": status.value, "from": case.status.value, "changes": changes}
    return await _ask_note(ctx, data, required=status in REASONED)


async def set_case(
    ctx: Ctx,
    case_id: int,
    status: CaseStatus,
    note: str | None,
    *,
    expected: CaseStatus | None,
    changes: int | None = None,
) -> Reply:
    """Move the case from `expected` (the status the officer saw when pressing; None, from a
    note asked before it was kept: its status now) to `status`. Moved meanwhile by someone
    else (found by a reviewer: two officers reopening one case, the worker told twice), or
    no longer allowed to move there, nothing changes and the officer is shown where it is."""
    scope = await province_scope(ctx)
    case = await ctx.store.get_case(case_id)
    if case is None or not in_scope(scope, case.province_id):
        return ctx.reply("care.cases.unknown", id=case_id)
    expected = expected or case.status
    if case.status is not expected or status not in NEXT_STATUSES[expected]:
        return _moved_meanwhile(ctx, case, note)
    # The store checks `expected` again in the write itself: a change in between is caught.
    updated = await ctx.store.set_case_status(
        case_id, status, expected=expected, note=note, author_id=ctx.user.id, changes=changes
    )
    if updated is None:
        return ctx.reply("care.cases.unknown", id=case_id)
    if isinstance(updated, CaseMoved):
        return _moved_meanwhile(ctx, updated.case, note)
    await ctx.store.audit(
        ctx.user.id,
        "care.case.status",
        f"case:{case_id}",
        {"from": expected.value, "to": status.value, "note": note is not None},
    )
    logger.info("case %s: %s -> %s by user %s", case_id, expected, status, ctx.user.id)
    return Reply(
        ctx.t("care.cases.changed", id=case_id, status=ctx.t(f"care.case.status.{status.value}")),
        buttons=[
            [Button(ctx.t("care.cases.open", id=case_id), payload(CASES, "v", case_id))],
            [Button(ctx.t("care.cases.back"), payload(CASES, "l", "-", 0))],
        ],
    )


def _moved_meanwhile(ctx: Ctx, case: SupportCase, note: str | None) -> Reply:
    """The case changed since the officer saw it: nothing done, its status now, the note
    they typed (not lost: it can be sent again), and the case to look at before deciding."""
    text = ctx.t("support.cases.moved", id=case.id, status=ctx.t(f"care.case.status.{case.status.value}"))
    if note:
        text += "\n\n" + ctx.t("support.cases.moved_note", note=note)
    return Reply(
        text,
        buttons=[
            [Button(ctx.t("care.cases.open", id=case.id), payload(CASES, "v", case.id))],
            [Button(ctx.t("care.cases.back"), payload(CASES, "l", "-", 0))],
        ],
    )


# -- typing a reason or a note ---------------------------------------------------------------------
async def _ask_note(ctx: Ctx, data: dict[str, Any], *, required: bool) -> Reply:
    data = {**data, "fid": new_fid(), "required": required}
    await NOTE_FORM.save(ctx, "note", data)
    rows = [] if required else [[Button(ctx.t("care.note.skip"), payload(CASES, "n", data["fid"]))]]
    rows.append([Button(ctx.t("care.btn.cancel"), payload(CASES, "nx", data["fid"]))])
    return Reply(ctx.t("care.note.ask_reason" if required else "care.note.ask", max=NOTE_MAX), buttons=rows)


async def _finish_note(ctx: Ctx, data: dict[str, Any], note: str | None) -> Reply:
    await ctx.store.clear_state(ctx.user.id)
    if data.get("what") == "reject":
        return await decide(ctx, int(data["id"]), approve=False, reason=note)
    seen = CaseStatus(data["from"]) if data.get("from") else None
    changes = data.get("changes")
    return await set_case(
        ctx, int(data["id"]), CaseStatus(data["status"]), note, expected=seen, changes=changes if seen else None
    )


async def on_note(ctx: Ctx) -> Reply:
    """The note an organizer types on a support case."""
    state = await NOTE_FORM.load(ctx)
    if state is None:
        return ctx.reply("care.expired")
    note = clean_note(ctx.inbound.text, max_len=NOTE_MAX)
    if note is None:
        return ctx.reply("care.note.invalid", back=False, max=NOTE_MAX)
    if state.data.get("what") == "case" and state.data.get("required") and not has_words(note):
        # A case's reason is what the worker reads ("😀" was accepted): it needs words.
        return ctx.reply("support.cases.reason_words", back=False, max=NOTE_MAX)
    return await _finish_note(ctx, state.data, note)


async def _open_note(ctx: Ctx, args: Sequence[str]) -> dict[str, Any] | None:
    """The note being asked for, if the pressed button (`<action>:<form id>`) is its own."""
    state = await NOTE_FORM.load(ctx, form_id=args[0] if args else "")
    return state.data if state is not None else None


@CASE_ACTIONS.on("n")
async def _skip_note(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """No note (`n:<form>`): the change is made without one (a refusal still needs its reason)."""
    data = await _open_note(ctx, args)
    if data is None:
        return None
    if data.get("required"):
        return ctx.reply("care.note.ask_reason", back=False, max=NOTE_MAX)
    return await _finish_note(ctx, data, None)


@CASE_ACTIONS.on("nx")
async def _cancel_note(ctx: Ctx, args: Sequence[str]) -> Reply | None:
    """Cancel (`nx:<form>`): nothing is changed."""
    if await _open_note(ctx, args) is None:
        return None
    await ctx.store.clear_state(ctx.user.id)
    return ctx.reply("care.note.cancelled")


async def cases_router(ctx: Ctx) -> Reply:
    """The organizer's support cases: a case's details, its status, a note."""
    action, *args = ctx.args or ("",)
    handler = CASE_ACTIONS.get(action)
    reply = await handler(ctx, args) if handler is not None else None
    return reply if reply is not None else ctx.reply("care.expired")


def register(router: Router) -> None:
    router.command("checkin", min_role=Role.ORGANIZER, describe="care.cmd.checkin")(checkin)
    router.button(CHECKIN, min_role=Role.ORGANIZER)(_undo_checkin)
    router.command("review", min_role=Role.ORGANIZER)(review)
    router.command("cases", min_role=Role.ORGANIZER, describe="care.cmd.cases")(cases)
    router.button(REVIEW, min_role=Role.ORGANIZER, actions=REVIEW_ACTIONS)(_review_button)
    router.button(CASES, min_role=Role.ORGANIZER, actions=CASE_ACTIONS)(cases_router)
    router.flow(FLOW_NOTE, min_role=Role.ORGANIZER, one_message=NOTE_STEP)(on_note)
