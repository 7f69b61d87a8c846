"""`unionbot benefits|program|cases ...`: member care from the shell.

Whoever runs these holds the database file and acts as an admin, unless `--as
CHANNEL:ID` names a chat account: then that account's role and provinces apply
(organizers act on their provinces only; nationwide programs are admin-only).
Changes that concern a worker are queued in the outbox; the running bot delivers them
within seconds. Exit codes: 0 done, 1 refused or not found (one line on stderr),
2 bad usage, 3 a ticket already checked in. Check-in opens at 00:00 of the day before
the event (bot.timezone), as in the chat.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from handlers.care.common import checkin_opens
from handlers.i18n import LANGUAGES, load_catalog
from handlers.join.common import parse_province
from handlers.join.phone import mask_phone
from storage.care import (
    NATIONWIDE,
    CaseMoved,
    CaseStatus,
    CheckinOutcome,
    NewProgram,
    Program,
    ProgramMode,
    RegStatus,
)

REMINDER_HOUR = time(9, 0)
# A date-only --closes is the end of that day: workers expect to register all of it, and
# 00:00 took the day away (found by an outside tester).
END_OF_DAY = time(23, 59, 59)
MAX_QUESTIONS = 2
_NATIONWIDE_WORDS = {"*", "all", "nationwide", "toan quoc", "toàn quốc"}


class CliError(Exception):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    actor = argparse.ArgumentParser(add_help=False)
    actor.add_argument(
        "--as",
        dest="actor",
        metavar="CHANNEL:ID",
        help="act as this chat account (its role and provinces), e.g. telegram:12345",
    )
    parents = [common, actor]

    benefits = sub.add_parser("benefits", help="partner benefits for members")
    b = benefits.add_subparsers(dest="benefits_command", required=True, parser_class=type(benefits))
    imp = b.add_parser("import", parents=parents, help="import benefits from a CSV or XLSX file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--skip-bad", action="store_true", help="import the good rows even if some are bad")
    imp.set_defaults(func=_wrap(_benefits_import))
    lst = b.add_parser("list", parents=parents, help="list benefits (active ones by default)")
    lst.add_argument("--province", metavar="P")
    lst.add_argument("--all", action="store_true", help="include expired and future benefits")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_wrap(_benefits_list))

    program = sub.add_parser("program", help="programs with limited places (Tết trains, buses, gifts)")
    p = program.add_subparsers(dest="program_command", required=True, parser_class=type(program))
    create = p.add_parser("create", parents=parents, help="create a program; prints its id")
    create.add_argument("--title", required=True)
    create.add_argument("--province", required=True, metavar="P", help='a province, or "*" for nationwide (admins)')
    create.add_argument("--places", required=True, type=int)
    create.add_argument("--opens", required=True, metavar="WHEN", help='"YYYY-MM-DD[ HH:MM]", local time')
    create.add_argument(
        "--closes",
        required=True,
        metavar="WHEN",
        help="registration ends; a date alone means the end of that day (23:59); not in the past",
    )
    create.add_argument("--mode", choices=("first-come", "review"), default="first-come")
    create.add_argument("--max-per-person", type=int, default=1, metavar="K")
    create.add_argument(
        "--event-at",
        metavar="WHEN",
        help='when it takes place, with its time ("YYYY-MM-DD HH:MM"), not before --closes (a reminder goes the day '
        "before; check-in opens that day)",
    )
    create.add_argument("--place", metavar="TEXT")
    create.add_argument(
        "--question",
        action="append",
        default=[],
        metavar="TEXT",
        help="a priority question for review mode (at most two)",
    )
    create.add_argument(
        "--question-en",
        action="append",
        default=[],
        metavar="TEXT",
        help="the English version of each --question, in the same order (shown to English-speaking workers)",
    )
    create.set_defaults(func=_wrap(_program_create))
    plist = p.add_parser("list", parents=parents, help="list programs")
    plist.add_argument("--json", action="store_true")
    plist.set_defaults(func=_wrap(_program_list))
    show = p.add_parser("show", parents=parents, help="a program and its counts")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_wrap(_program_show))
    regs = p.add_parser("registrations", parents=parents, help="export the registrations (CSV or XLSX)")
    regs.add_argument("id", type=int)
    regs.add_argument("--format", choices=("csv", "xlsx"), required=True)
    regs.add_argument("--out", type=Path, required=True, metavar="FILE")
    regs.add_argument(
        "--lang", choices=LANGUAGES, default=None, help="column language (default: the --as account's, else the bot's)"
    )
    regs.set_defaults(func=_wrap(_program_registrations))
    close = p.add_parser("close", parents=parents, help="stop taking registrations")
    close.add_argument("id", type=int)
    close.set_defaults(func=_wrap(_program_close))
    review = p.add_parser("review", parents=parents, help="list pending registrations, or approve/reject one")
    review.add_argument("id", type=int)
    review.add_argument("--approve", type=int, metavar="REG_ID")
    review.add_argument("--reject", type=int, metavar="REG_ID")
    review.add_argument("--reason", metavar="TEXT", help="why (required with --reject; the worker is told)")
    review.set_defaults(func=_wrap(_program_review))
    checkin = p.add_parser("checkin", parents=parents, help="check a ticket in at the station or the door")
    checkin.add_argument("id", type=int)
    checkin.add_argument("code")
    checkin.set_defaults(func=_wrap(_program_checkin))
    uncheckin = p.add_parser("uncheckin", parents=parents, help="undo a check-in made by mistake")
    uncheckin.add_argument("id", type=int)
    uncheckin.add_argument("code")
    uncheckin.set_defaults(func=_wrap(_program_uncheckin))

    cases = sub.add_parser("cases", help="hardship support cases")
    c = cases.add_subparsers(dest="cases_command", required=True, parser_class=type(cases))
    clist = c.add_parser("list", parents=parents, help="cases, newest first")
    clist.add_argument("--province", metavar="P")
    clist.add_argument("--status", choices=[s.value for s in CaseStatus])
    clist.add_argument("--limit", type=int, default=50)
    clist.add_argument("--json", action="store_true")
    clist.set_defaults(func=_wrap(_cases_list))
    cset = c.add_parser("set", parents=parents, help="move a case on; the worker is told")
    cset.add_argument("id", type=int)
    cset.add_argument("--status", required=True, choices=[s.value for s in CaseStatus])
    cset.add_argument(
        "--note", metavar="TEXT", help="a note (for declined, or received to reopen: the reason the worker is told)"
    )
    cset.set_defaults(func=_wrap(_cases_set))


def _wrap(func: Any) -> Any:
    async def run(args: argparse.Namespace, config: Config) -> int:
        from storage import open_store

        try:
            async with open_store(config.storage.path) as store:
                return int(await func(args, config, store))
        except CliError as e:
            print(f"unionbot: {e}", file=sys.stderr)
            return e.status

    return run


# -- who is acting ----------------------------------------------------------------------------
async def _scope(args: argparse.Namespace, config: Config, store: Any) -> tuple[int | None, frozenset[str] | None]:
    """(actor id, provinces): (None, None) for the shell user (an admin)."""
    if not getattr(args, "actor", None):
        return None, None
    from bot.app import build_settings
    from handlers.context import effective_role
    from storage import Role

    channel, _, external = args.actor.partition(":")
    user = await store.find_user(channel, external) if external else None
    if user is None:
        raise CliError(f"no chat account {args.actor[:60]!r}", 2)
    role = effective_role(user, build_settings(config))
    if role is Role.ADMIN:
        return user.id, None
    if role is not Role.ORGANIZER:
        raise CliError(f"{args.actor[:60]} is not an organizer")
    return user.id, await store.organizer_provinces(user.id)


def _province(text: str | None) -> str | None:
    if text is None:
        return None
    if text.strip().lower() in _NATIONWIDE_WORDS:
        return NATIONWIDE
    province, suggestions = parse_province(text)
    if province is None:
        hint = f" (did you mean: {', '.join(suggestions)}?)" if suggestions else ""
        raise CliError(f"unknown province {text[:40]!r}{hint}; see `unionbot signups provinces`", 2)
    return province


def _when(text: str, zone: ZoneInfo, option: str, *, day_end: bool = False) -> datetime:
    """ISO date or date and time; local time unless an offset is given. A date alone is
    00:00 of that day, or 23:59 with `day_end`."""
    try:
        if day_end:
            return datetime.combine(date.fromisoformat(text.strip()), END_OF_DAY, tzinfo=zone).astimezone(UTC)
    except ValueError:
        pass  # not a date alone
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(
            f'{option}: not a date or time: {text[:40]!r} (use YYYY-MM-DD or "YYYY-MM-DD HH:MM")', 2
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _is_date_alone(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _program_in(scope: frozenset[str] | None, program: Program) -> bool:
    if scope is None:
        return True
    return program.province_id != NATIONWIDE and program.province_id in scope


async def _program(store: Any, scope: frozenset[str] | None, program_id: int) -> Program:
    program = await store.get_program(program_id)
    if program is None or not _program_in(scope, program):
        # Out of scope looks the same as unknown: an organizer learns nothing of other provinces.
        raise CliError(f"no program {program_id}")
    return program


def _iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="minutes") if moment else None


# -- benefits -----------------------------------------------------------------------------------
async def _benefits_import(args: argparse.Namespace, config: Config, store: Any) -> int:
    from handlers.care.benefit_import import ImportFileError, parse_benefits, read_rows

    actor, scope = await _scope(args, config, store)
    if scope is not None:
        raise CliError("importing benefits is for admins")
    try:
        rows = read_rows(args.file)
    except FileNotFoundError:
        raise CliError(f"no such file: {args.file}", 2) from None
    except ImportFileError as e:
        raise CliError(f"{args.file.name}: {e}") from None
    good, errors = parse_benefits(rows)
    for problem in errors:
        print(f"{args.file.name}: {problem}", file=sys.stderr)
    if errors and not args.skip_bad:
        bad_rows = len({p.row for p in errors})
        print(f"unionbot: {bad_rows} bad row(s); nothing imported (fix them, or use --skip-bad)", file=sys.stderr)
        return 1
    created, updated = await store.upsert_benefits(good)
    await store.audit(
        actor,
        "care.benefits.import",
        "benefits",
        {"created": created, "updated": updated, "skipped": len({e.row for e in errors}), "via": "cli"},
    )
    skipped = len({e.row for e in errors})
    print(
        f"imported {created + updated} benefits ({created} new, {updated} updated)"
        + (f", skipped {skipped} bad row(s)" if skipped else "")
    )
    return 0


async def _benefits_list(args: argparse.Namespace, config: Config, store: Any) -> int:
    zone = ZoneInfo(config.bot.timezone)
    today = datetime.now(UTC).astimezone(zone).date()
    province = _province(args.province)
    shown = [
        b
        for b in await store.list_benefits()
        if (args.all or b.active_on(today)) and (province is None or b.covers(province))
    ]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "key": b.key,
                        "title": b.title,
                        "partner": b.partner,
                        "category": b.category.value,
                        "provinces": list(b.provinces),
                        "gives": b.gives,
                        "how_to_claim": b.how_to_claim,
                        "valid_from": b.valid_from.isoformat() if b.valid_from else None,
                        "valid_until": b.valid_until.isoformat() if b.valid_until else None,
                        "link": b.link,
                        "members_only": b.members_only,
                        "active": b.active_on(today),
                    }
                    for b in shown
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    for b in shown:
        until = b.valid_until.isoformat() if b.valid_until else "-"
        print(f"{b.key:<20} {b.category.value:<10} {','.join(b.provinces)[:30]:<30} {until:<10} {b.title}")
    print(f"{len(shown)} benefit(s)")
    return 0


# -- programs -----------------------------------------------------------------------------------
def _create_window(args: argparse.Namespace, zone: ZoneInfo) -> tuple[datetime, datetime, datetime | None]:
    """--opens, --closes and --event-at, checked: registration must still be possible,
    and the event not before registration ends (both were accepted: an outside tester)."""
    opens, closes = _when(args.opens, zone, "--opens"), _when(args.closes, zone, "--closes", day_end=True)
    if closes <= opens:
        raise CliError("--closes must be after --opens", 2)
    if closes <= datetime.now(UTC):
        raise CliError(f"--closes is in the past ({_iso(closes, zone)}): nobody could register", 2)
    event = None
    if args.event_at:
        if _is_date_alone(args.event_at):
            # Workers are told the time in the reminder and on the ticket: a date alone
            # would be 00:00, the night before the event (found in review).
            raise CliError(f'--event-at needs a time too, e.g. "{args.event_at.strip()} 08:00"', 2)
        event = _when(args.event_at, zone, "--event-at")
    if event is not None and event < closes:
        raise CliError(f"--event-at must not be before --closes ({_iso(closes, zone)})", 2)
    return opens, closes, event


def _create_questions(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    questions = tuple(" ".join(q.split()) for q in args.question if q.strip())
    questions_en = tuple(" ".join(q.split()) for q in args.question_en if q.strip())
    if len(questions) > MAX_QUESTIONS:
        raise CliError(f"at most {MAX_QUESTIONS} --question", 2)
    if questions and args.mode != "review":
        raise CliError("--question is for --mode review", 2)
    if questions_en and len(questions_en) != len(questions):
        raise CliError("give one --question-en for each --question, in the same order", 2)
    return questions, questions_en


async def _program_create(args: argparse.Namespace, config: Config, store: Any) -> int:
    zone = ZoneInfo(config.bot.timezone)
    actor, scope = await _scope(args, config, store)
    title = " ".join(args.title.split())
    if not title or len(title) > 120:
        raise CliError("--title must be 1 to 120 characters", 2)
    if args.places <= 0:
        raise CliError("--places must be 1 or more", 2)
    if args.max_per_person <= 0:
        raise CliError("--max-per-person must be 1 or more", 2)
    if args.max_per_person > args.places:
        # A worker offered 5 seats of a program with 3 could only ever wait (found trying it).
        raise CliError("--max-per-person cannot be more than --places", 2)
    opens, closes, event = _create_window(args, zone)
    questions, questions_en = _create_questions(args)
    province = _province(args.province)
    assert province is not None
    if scope is not None and (province == NATIONWIDE or province not in scope):
        raise CliError("organizers create programs for their own provinces only; nationwide is for admins")
    remind = None
    if event is not None:
        day_before = event.astimezone(zone).date() - timedelta(days=1)
        remind = datetime.combine(day_before, REMINDER_HOUR, tzinfo=zone).astimezone(UTC)
    program_id = await store.create_program(
        NewProgram(
            title=title,
            province_id=province,
            places=args.places,
            opens_at=opens,
            closes_at=closes,
            mode=ProgramMode(args.mode),
            max_per_person=args.max_per_person,
            event_at=event,
            place=" ".join(args.place.split()) if args.place else None,
            questions=questions,
            questions_en=questions_en,
            remind_at=remind,
            created_by=actor,
        )
    )
    await store.audit(actor, "care.program.create", f"program:{program_id}", {"province": province, "via": "cli"})
    print(program_id)
    return 0


async def _program_json(store: Any, p: Program, zone: ZoneInfo) -> dict[str, Any]:
    counts = await store.program_counts(p.id)
    return {
        "id": p.id,
        "title": p.title,
        "province": p.province_id,
        "places": p.places,
        "confirmed_seats": counts.confirmed_seats,
        "confirmed": counts.confirmed,
        "waitlisted": counts.waitlisted,
        "pending": counts.pending,
        "rejected": counts.rejected,
        "checked_in": counts.checked_in,
        "mode": p.mode.value,
        "max_per_person": p.max_per_person,
        "opens_at": _iso(p.opens_at, zone),
        "closes_at": _iso(p.closes_at, zone),
        "event_at": _iso(p.event_at, zone),
        "place": p.place,
        "questions": list(p.questions),
        "questions_en": list(p.questions_en),
        "closed": p.closed,
        "open_now": p.is_open(datetime.now(UTC)),
        "state": _state(p, datetime.now(UTC)),
    }


def _state(p: Program, now: datetime) -> str:
    """A program whose registration had ended showed as "not open", as if not started."""
    if p.closed:
        return "closed by organizer"
    if now < p.opens_at:
        return "not yet open"
    if now >= p.closes_at:
        return "registration closed"
    return "open"


async def _program_list(args: argparse.Namespace, config: Config, store: Any) -> int:
    zone = ZoneInfo(config.bot.timezone)
    _, scope = await _scope(args, config, store)
    shown = [p for p in await store.list_programs() if _program_in(scope, p)]
    items = [await _program_json(store, p, zone) for p in shown]
    if args.json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return 0
    for i in items:
        print(
            f"{i['id']:>5}  {i['province']:<14} {i['confirmed_seats']:>5}/{i['places']:<5} "
            f"waiting {i['waitlisted']:<4} {i['state']:<19} {i['title']}"
        )
    print(f"{len(items)} program(s)")
    return 0


async def _program_show(args: argparse.Namespace, config: Config, store: Any) -> int:
    zone = ZoneInfo(config.bot.timezone)
    _, scope = await _scope(args, config, store)
    item = await _program_json(store, await _program(store, scope, args.id), zone)
    if args.json:
        print(json.dumps(item, ensure_ascii=False, indent=2))
    else:
        for k, v in item.items():
            print(f"{k:<16} {v}")
    return 0


async def _export_language(args: argparse.Namespace, config: Config, store: Any) -> str:
    """--lang, else the language of the organizer named by --as, else the bot's default."""
    if args.lang:
        return str(args.lang)
    if getattr(args, "actor", None):
        channel, _, external = args.actor.partition(":")
        user = await store.find_user(channel, external)  # there: _scope found it
        if user is not None and user.language in LANGUAGES:
            return str(user.language)
    return config.bot.default_language


async def _program_registrations(args: argparse.Namespace, config: Config, store: Any) -> int:
    from handlers.care.export import write_registrations

    actor, scope = await _scope(args, config, store)
    program = await _program(store, scope, args.id)
    rows = await write_registrations(
        store,
        program,
        args.out,
        fmt=args.format,
        tz=ZoneInfo(config.bot.timezone),
        catalog=load_catalog(),
        lang=await _export_language(args, config, store),
    )
    await store.audit(
        actor, "care.program.export", f"program:{program.id}", {"rows": rows, "format": args.format, "via": "cli"}
    )
    print(f"wrote {rows} registrations to {args.out}")
    return 0


async def _program_close(args: argparse.Namespace, config: Config, store: Any) -> int:
    actor, scope = await _scope(args, config, store)
    program = await _program(store, scope, args.id)
    if not await store.close_program(program.id):
        raise CliError(f"program {program.id} is closed already")
    await store.audit(actor, "care.program.close", f"program:{program.id}", {"via": "cli"})
    print(f"closed program {program.id}")
    return 0


def _refs(ids: tuple[int, ...]) -> str:
    return ", ".join(f"#{i}" for i in ids)


async def _program_review(args: argparse.Namespace, config: Config, store: Any) -> int:
    actor, scope = await _scope(args, config, store)
    program = await _program(store, scope, args.id)
    if args.approve is not None and args.reject is not None:
        raise CliError("--approve or --reject, not both", 2)
    target = args.approve if args.approve is not None else args.reject
    if target is None:
        pending = await store.registrations(program.id, status=RegStatus.PENDING)
        # Numbers registered by more than one account are accepted and pointed out here.
        twins = await store.same_phone(program.id, [r.id for r in pending])
        for reg in pending:
            answers = " | ".join(reg.answers)
            # The worker's language: a --reason reaches them as typed.
            worker = await store.get_user(reg.user_id)
            lang = worker.language if worker else "?"
            print(
                f"{reg.id:>6}  {reg.full_name:<28} {mask_phone(reg.phone_e164):<18} seats {reg.seats}  "
                f"lang {lang:<3} {answers}"
            )
            if reg.id in twins:
                print(f"        ⚠️ same phone as registration {_refs(twins[reg.id])}")
        print(f"{len(pending)} pending")
        return 0
    if args.reject is not None and not (args.reason or "").strip():
        raise CliError("--reject needs --reason (the worker is told why)", 2)
    reg = await store.get_registration(target)
    if reg is None or reg.program_id != program.id:
        raise CliError(f"no registration {target} in program {program.id}")
    decided = await store.decide_registration(
        target, approve=args.approve is not None, reason=(args.reason or "").strip()[:500] or None
    )
    if decided is None:
        raise CliError(f"registration {target} is not pending (already {reg.status.value})")
    await store.audit(
        actor,
        "care.review.decide",
        f"registration:{target}",
        {"program": program.id, "status": decided.status.value, "via": "cli"},
    )
    print(f"registration {target}: {decided.status.value}" + (f", code {decided.code}" if decided.code else ""))
    return 0


async def _program_checkin(args: argparse.Namespace, config: Config, store: Any) -> int:
    actor, scope = await _scope(args, config, store)
    program = await _program(store, scope, args.id)
    code = args.code.strip().upper()[:16]
    zone = ZoneInfo(config.bot.timezone)
    opens = checkin_opens(program, zone)
    if opens is not None and datetime.now(UTC) < opens:
        raise CliError(
            f"too early: program {program.id} takes place {_iso(program.event_at, zone)};"
            f" check-in opens {_iso(opens, zone)}"
        )
    result = await store.checkin(program.id, code)
    if result.outcome is CheckinOutcome.UNKNOWN or result.registration is None:
        raise CliError(f"{code} is not a ticket of program {program.id}")
    reg = result.registration
    if result.outcome is CheckinOutcome.ALREADY:
        at = reg.checked_in_at.astimezone(zone).strftime("%H:%M") if reg.checked_in_at else "?"
        raise CliError(f"already checked in at {at}", 3)
    await store.audit(actor, "care.checkin", f"registration:{reg.id}", {"program": program.id, "via": "cli"})
    print(f"checked in: {reg.full_name}, {reg.seats} seat(s)")
    others = (await store.same_phone(program.id, [reg.id])).get(reg.id)
    if others:
        print(f"⚠️ same phone as registration {_refs(others)}")
    return 0


async def _program_uncheckin(args: argparse.Namespace, config: Config, store: Any) -> int:
    actor, scope = await _scope(args, config, store)
    program = await _program(store, scope, args.id)
    code = args.code.strip().upper()[:16]
    reg = await store.undo_checkin(program.id, code)
    if reg is None:
        raise CliError(f"{code} is not a checked-in ticket of program {program.id}")
    await store.audit(actor, "care.checkin.undo", f"registration:{reg.id}", {"program": program.id, "via": "cli"})
    print(f"check-in undone: {code}")
    return 0


# -- cases ----------------------------------------------------------------------------------------
async def _cases_list(args: argparse.Namespace, config: Config, store: Any) -> int:
    zone = ZoneInfo(config.bot.timezone)
    actor, scope = await _scope(args, config, store)
    province = _province(args.province)
    if province == NATIONWIDE:
        province = None
    if province is not None and scope is not None and province not in scope:
        raise CliError("that province is not one of yours")
    provinces = frozenset({province}) if province else scope
    found = await store.list_cases(
        provinces=provinces,
        status=CaseStatus(args.status) if args.status else None,
        limit=max(1, min(args.limit, 1000)),
    )
    await store.audit(actor, "care.case.list", "cases", {"count": len(found), "via": "cli"})
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": c.id,
                        "status": c.status.value,
                        "category": c.category.value,
                        "province": c.province_id,
                        "created_at": _iso(c.created_at, zone),
                        "updated_at": _iso(c.updated_at, zone),
                        "phone": c.phone_e164,
                        "description": c.description,
                    }
                    for c in found
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    for c in found:
        print(f"{c.id:>6}  {_iso(c.created_at, zone)}  {c.province_id:<14} {c.category.value:<14} {c.status.value}")
    print(f"{len(found)} case(s)")
    return 0


async def _cases_set(args: argparse.Namespace, config: Config, store: Any) -> int:
    from handlers.care.organizer import NEXT_STATUSES
    from handlers.care.support import has_words

    actor, scope = await _scope(args, config, store)
    case = await store.get_case(args.id)
    if case is None or (scope is not None and case.province_id not in scope):
        raise CliError(f"no case {args.id}")
    status = CaseStatus(args.status)
    note = " ".join((args.note or "").split())[:500] or None
    # The worker reads the reason of a refusal or a reopening: words, not "😀".
    worded = note is not None and has_words(note)
    if status is CaseStatus.DECLINED and not worded:
        raise CliError("--status declined needs --note with the reason in words (the worker is told)", 2)
    if status not in NEXT_STATUSES[case.status]:
        raise CliError(f"case {case.id} is {case.status.value}; it cannot become {status.value}")
    if status is CaseStatus.RECEIVED and not worded:
        raise CliError("reopening (--status received) needs --note with the reason in words (the worker is told)", 2)
    # From the status read above, checked again in the write: a bot officer's change in
    # between is not overwritten (nor the worker told twice).
    updated = await store.set_case_status(case.id, status, expected=case.status, note=note, author_id=actor)
    if updated is None:
        raise CliError(f"no case {args.id}")
    if isinstance(updated, CaseMoved):
        raise CliError(f"case {case.id} changed meanwhile: it is now {updated.case.status.value}; nothing was changed")
    await store.audit(
        actor,
        "care.case.status",
        f"case:{case.id}",
        {"from": case.status.value, "to": status.value, "note": note is not None, "via": "cli"},
    )
    print(f"case {case.id}: {case.status.value} -> {status.value}; the worker will be told by the running bot")
    return 0
