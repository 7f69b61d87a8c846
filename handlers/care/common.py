"""What the member-care handlers share: flow names, the worker's province, scope,
time formatting, and the notices the outbox carries to workers."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.context import Ctx
from handlers.forms import FormFlow, new_form_id
from handlers.i18n import Catalog
from handlers.join.common import province_name
from handlers.join.provinces import all_provinces
from handlers.router import payload
from handlers.types import Button, Channel, Photo, Reply
from storage.broadcasts import Audience, NewBroadcast
from storage.care import NATIONWIDE, OutboxMessage, Program

# Conversation-state flow names. Stored in the database: never rename.
FLOW_PROVINCE = "care_prov"  # a worker choosing their province for benefits/programs
FLOW_REGISTER = "care_reg"  # registering for a program
FLOW_SUPPORT = "care_sup"  # asking for hardship support
FLOW_NOTE = "care_note"  # an organizer typing a reason or a note
CARE_FLOWS = (FLOW_PROVINCE, FLOW_REGISTER, FLOW_SUPPORT, FLOW_NOTE)
# Their forms (handlers/forms.py): each loaded only as its own flow's, and a button only
# for its own copy, by the id it carries. No time limit: the retention worker purges
# abandoned ones, as before. A worker's steps may open over an unfinished sign-up form
# (found by an outside tester: /programs' province question dropped it): they hold it,
# and every way they end (`end`) puts it back.
PROVINCE_FORM = FormFlow(FLOW_PROVINCE, interrupts=True)
REGISTER_FORM = FormFlow(FLOW_REGISTER, id_key="fid", interrupts=True)
SUPPORT_FORM = FormFlow(FLOW_SUPPORT, id_key="fid", interrupts=True)
NOTE_FORM = FormFlow(FLOW_NOTE, id_key="fid")

PROVINCE_PREFIX = "cv"  # province buttons: cv:<then>:<province id>
_PROVINCE_COLUMNS = 3


def new_fid() -> str:
    return new_form_id()


def now_utc() -> datetime:
    return datetime.now(UTC)


def tz(ctx: Ctx) -> ZoneInfo:
    return ZoneInfo(ctx.settings.timezone)


def local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M %d/%m/%Y") if moment else ""


# Check-in opens at 00:00 (bot.timezone) of the day before the event: early enough for a
# bus boarding the evening before, and a ticket can no longer be checked in by mistake
# months ahead, which took the worker's cancel button away (found by an outside tester).
CHECKIN_DAYS_BEFORE = 1


def checkin_opens(program: Program, zone: ZoneInfo) -> datetime | None:
    """When tickets of `program` can first be checked in; None: at any time (no event date)."""
    if program.event_at is None:
        return None
    day = program.event_at.astimezone(zone).date() - timedelta(days=CHECKIN_DAYS_BEFORE)
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def area_name(province_id: str, lang: str, catalog: Catalog) -> str:
    return catalog.t(lang, "care.nationwide") if province_id == NATIONWIDE else province_name(province_id, lang)


async def worker_province(ctx: Ctx) -> str | None:
    """The worker's province: their sign-up's, else the one they chose here once."""
    signup = await ctx.store.signup_of_user(ctx.user.id)
    if signup is not None:
        return signup.province_id
    return await ctx.store.care_province(ctx.user.id)


def province_question(ctx: Ctx, then: str, *, note: str | None = None) -> Reply:
    """The usual province prompt: 34 buttons, or type the name (old names work too)."""
    buttons = [Button(p.name(ctx.lang), payload(PROVINCE_PREFIX, then, p.id)) for p in all_provinces()]
    rows = [buttons[i : i + _PROVINCE_COLUMNS] for i in range(0, len(buttons), _PROVINCE_COLUMNS)]
    rows.append(ctx.back_button())
    text = ctx.t("care.province.ask")
    return Reply(f"{note}\n\n{text}" if note else text, buttons=rows)


async def ask_province(ctx: Ctx, then: str) -> Reply:
    await PROVINCE_FORM.save(ctx, "ask", {"then": then})
    return province_question(ctx, then)


# -- notices delivered by the outbox -------------------------------------------------
def render_notice(catalog: Catalog, lang: str, zone: ZoneInfo, msg: OutboxMessage, channel: str) -> Reply:
    """A queued notice as the worker reads it, in their language; with the ticket as a QR
    image on Telegram (Zalo has no photo in these replies)."""
    p: dict[str, Any] = dict(msg.params)
    event = ""
    if p.get("event_at"):
        event = catalog.t(lang, "care.notify.event_at", at=local(datetime.fromisoformat(p["event_at"]), zone))
    if p.get("place"):
        event += catalog.t(lang, "care.notify.place", place=p["place"])
    if msg.kind == "case_status":
        status = catalog.t(lang, f"care.case.status.{p['status']}")
        text = catalog.t(lang, "care.notify.case_status", case=p["case"], status=status)
        if p.get("reopened"):
            # "đã tiếp nhận" alone, after a refusal, reads like a mistake: say it was reopened.
            text = catalog.t(lang, "care.notify.case_reopened", case=p["case"])
        if p.get("reason"):
            text += "\n" + catalog.t(lang, "care.notify.reason", reason=p["reason"])
        return Reply(text)
    if msg.kind == "rejected":
        text = catalog.t(lang, "care.notify.rejected", program=p["program"])
        if p.get("reason"):
            text += "\n" + catalog.t(lang, "care.notify.reason", reason=p["reason"])
        return Reply(text)
    if msg.kind == "approved_waiting":
        return Reply(catalog.t(lang, "care.notify.approved_waiting", program=p["program"], position=p["position"]))
    key = {
        "promoted": "care.notify.promoted",
        "approved": "care.notify.approved",
        "reminder": "care.notify.reminder",
    }.get(msg.kind, "care.notify.generic")
    text = catalog.t(
        lang, key, program=p.get("program", ""), code=p.get("code", ""), seats=p.get("seats", ""), event=event
    )
    return ticket_reply(text, p.get("code"), channel)


def reminder_broadcast(catalog: Catalog, zone: ZoneInfo, program: Program, *, run_at: datetime) -> NewBroadcast:
    """The day-before reminder of `program` as a broadcast to its confirmed participants,
    sent from `run_at` by the delivery engine (quiet hours, pacing, exactly once, its
    report). `run_at` is when it was found due, not `remind_at`: after a restart a due
    reminder is sent (its event still ahead) rather than skipped as a missed broadcast."""

    def text(lang: str) -> str:
        event = catalog.t(lang, "care.notify.event_at", at=local(program.event_at, zone)) if program.event_at else ""
        if program.place:
            event += catalog.t(lang, "care.notify.place", place=program.place)
        return catalog.t(lang, "care.notify.reminder_all", program=program.title, event=event)

    return NewBroadcast(text_vi=text("vi"), text_en=text("en"), audience=Audience(program=program.id), run_at=run_at)


def ticket_reply(text: str, code: str | None, channel: str) -> Reply:
    if code and channel == Channel.TELEGRAM:
        from handlers.join.qr import qr_png

        return Reply(text, photo=Photo(qr_png(code, box_size=8), filename=f"ticket-{code}.png"))
    return Reply(text)
