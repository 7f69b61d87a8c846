"""Organizers: follow up sign-ups (/signups), export them (/export), targets and
progress (/targets), and which provinces each organizer sees (/scope).

Scope is checked on every command and every button press, from the stored sign-up's
province, never from anything in the payload: an organizer sees the provinces given to
them with /scope, an admin all of them, anyone else none. A sign-up outside the scope
is answered exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.context import Ctx, effective_role
from handlers.forms import FormFlow
from handlers.join.common import (
    FLOW_NOTE,
    clean_note,
    in_scope,
    load_progress,
    local_time,
    parse_province,
    parse_year,
    percent,
    province_name,
    province_scope,
    source_label,
    status_label,
)
from handlers.join.export import Exporter, ExportJob, InProcessExporter, document_limit
from handlers.join.provinces import fold, get_province
from handlers.router import Actions, OneMessageStep, Router, payload
from handlers.scope import person_in_scope
from handlers.types import Button, Document, Photo, Reply
from storage import Role
from storage.console import SignupQuery
from storage.signups import Signup, SignupStatus

logger = logging.getLogger(__name__)

PREFIX = "jo"
PAGE_SIZE = 10
TOP_VOLUNTEERS = 10  # /targets lists these by name; the export has everyone
NOTE_WAIT = timedelta(minutes=15)  # from "add a note" to the note itself
# Long after the button, a message is more likely meant for something else.
NOTE_FORM = FormFlow(FLOW_NOTE, ttl=NOTE_WAIT)
MAX_TARGET = 10_000_000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Typed status filters: the stored values and their Vietnamese names without diacritics.
_STATUS_WORDS: dict[str, SignupStatus] = {
    **{s.value: s for s in SignupStatus},
    "moi": SignupStatus.NEW,
    "lienhe": SignupStatus.CONTACTED,
    "dalienhe": SignupStatus.CONTACTED,
    "gianhap": SignupStatus.JOINED,
    "dagianhap": SignupStatus.JOINED,
    "tuchoi": SignupStatus.DECLINED,
    "khonglienlacduoc": SignupStatus.UNREACHABLE,
}


def _no_scope(ctx: Ctx) -> Reply:
    return ctx.reply("join.org.no_scope", user=ctx.user.external_id)


def _not_found(ctx: Ctx) -> Reply:
    return ctx.reply("join.org.not_found")


def _now_local(ctx: Ctx) -> datetime:
    return datetime.now(UTC).astimezone(ZoneInfo(ctx.settings.timezone))


def _scope_names(scope: frozenset[str], lang: str) -> str:
    return ", ".join(sorted(province_name(p, lang) for p in scope))


async def _province_arg(ctx: Ctx, text: str, scope: frozenset[str] | None) -> tuple[str | None, Reply | None]:
    """A typed province, checked against the scope: (id, None) or (None, the reply)."""
    province, suggestions = parse_province(text)
    if province is None:
        names = ", ".join(province_name(p, ctx.lang) for p in suggestions)
        key = "join.org.province_suggest" if names else "join.org.province_unknown"
        return None, ctx.reply(key, text=text[:40], names=names)
    if not in_scope(scope, province):
        assert scope is not None
        return None, ctx.reply(
            "join.org.province_out_of_scope",
            province=province_name(province, ctx.lang),
            names=_scope_names(scope, ctx.lang),
        )
    return province, None


# -- /signups -------------------------------------------------------------------------
async def _listing(
    ctx: Ctx,
    scope: frozenset[str] | None,
    province: str | None,
    status: SignupStatus | None,
    before: int | None,
) -> Reply:
    provinces = scope if province is None else frozenset({province})
    items = await ctx.store.list_signups(provinces=provinces, status=status, before_id=before, limit=PAGE_SIZE)
    tz = ZoneInfo(ctx.settings.timezone)
    where = _where(ctx, scope, province)
    which = status_label(ctx.services.catalog, ctx.lang, status) if status else ctx.t("join.org.all_statuses")
    lines = [ctx.t("join.org.list_title", where=where, status=which)]
    if not items:
        lines.append(ctx.t("join.org.list_empty"))
    for s in items:
        lines.append(
            f"#{s.id} · {local_time(s.created_at, tz)} · {s.full_name} · "
            f"{province_name(s.province_id, ctx.lang)} · {status_label(ctx.services.catalog, ctx.lang, s.status)}"
        )
    p, st = province or "*", status.value if status else "*"
    view = [Button(f"#{s.id} {s.full_name}"[:40], payload(PREFIX, "v", s.id)) for s in items]
    rows = [view[i : i + 2] for i in range(0, len(view), 2)]
    filters = [Button(ctx.t("join.org.all_statuses"), payload(PREFIX, "l", p, "*", 0))]
    filters += [
        Button(status_label(ctx.services.catalog, ctx.lang, x), payload(PREFIX, "l", p, x.value, 0))
        for x in SignupStatus
    ]
    rows += [filters[i : i + 3] for i in range(0, len(filters), 3)]
    if len(items) == PAGE_SIZE:
        rows.append([Button(ctx.t("join.org.older"), payload(PREFIX, "l", p, st, items[-1].id))])
    rows.append(ctx.back_button())
    return Reply("\n".join(lines), buttons=rows)


async def _load_in_scope(ctx: Ctx, signup_id: int) -> Signup | None:
    scope = await province_scope(ctx)
    signup = await ctx.store.get_signup(signup_id)
    if signup is None or not in_scope(scope, signup.province_id):
        if signup is not None:
            logger.info("user %s asked for sign-up %s outside their provinces", ctx.user.id, signup_id)
        return None
    return signup


async def _details(ctx: Ctx, signup_id: int, *, note: str | None = None) -> Reply:
    s = await _load_in_scope(ctx, signup_id)
    if s is None:
        return _not_found(ctx)
    tz = ZoneInfo(ctx.settings.timezone)
    catalog, lang = ctx.services.catalog, ctx.lang
    lines = [
        ctx.t("join.org.detail_title", id=s.id),
        f"{ctx.t('join.form.field.name')}: {s.full_name}",
        f"{ctx.t('join.form.field.phone')}: {s.phone_e164}",
        f"{ctx.t('join.form.field.workplace')}: {s.workplace}",
        f"{ctx.t('join.form.field.province')}: {province_name(s.province_id, lang)}",
        f"{ctx.t('join.form.field.commune')}: {s.commune or ctx.t('join.form.review.empty')}",
        ctx.t("join.org.detail_source", source=source_label(catalog, lang, s.source, s.volunteer_code)),
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
    if note:
        lines.insert(0, note + "\n")
    status_buttons = [
        Button(status_label(catalog, lang, x), payload(PREFIX, "s", s.id, x.value))
        for x in SignupStatus
        if x is not s.status
    ]
    rows = [status_buttons[i : i + 2] for i in range(0, len(status_buttons), 2)]
    rows.append([Button(ctx.t("join.org.add_note"), payload(PREFIX, "n", s.id))])
    rows.append([Button(ctx.t("join.org.back_to_list"), payload(PREFIX, "l", "*", "*", 0))])
    return Reply("\n".join(lines), buttons=rows)


def _parse_filter(args: tuple[str, ...]) -> tuple[SignupStatus | None, str]:
    """The status named anywhere in the words, in one word or several ("đã gia nhập",
    "không liên lạc được": typed apart, they were taken for part of the province's name
    and the filter silently dropped; found by an outside tester), and the rest."""
    words = list(args)
    for size in range(min(4, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            run = "".join(fold(w).replace(" ", "") for w in words[start : start + size])
            if run in _STATUS_WORDS:
                return _STATUS_WORDS[run], " ".join(words[:start] + words[start + size :])
    return None, " ".join(words)


async def signups(ctx: Ctx) -> Reply:
    """`/signups` latest first; `/signups [province] [status]` filtered; `/signups 12` one."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return _no_scope(ctx)
    if len(ctx.args) == 1 and ctx.args[0].lstrip("#").isdigit():
        return await _details(ctx, int(ctx.args[0].lstrip("#")))
    status, province_text = _parse_filter(ctx.args)
    province = None
    if province_text:
        province, error = await _province_arg(ctx, province_text, scope)
        if error is not None:
            return error
    return await _listing(ctx, scope, province, status, None)


async def on_button(ctx: Ctx) -> Reply:
    """`jo:<action>:<args>`: one of ACTIONS, with the scope checked again on every press."""
    action, *args = ctx.args or ("",)
    handler = ACTIONS.get(action)
    if handler is not None:
        try:
            return await handler(ctx, args)
        except ValueError:
            pass  # a payload of another shape: a wrong number of parts, a bad id or status
    return _expired_button(ctx)


def _expired_button(ctx: Ctx) -> Reply:
    logger.info("malformed organizer button from user %s", ctx.user.id)
    return ctx.reply("join.org.button_expired")


async def _pressed_province(ctx: Ctx, text: str) -> tuple[frozenset[str] | None, str | None, Reply | None]:
    """(scope, province or None for all, None) for a province in a payload, or the reply
    when the organizer may not see it: the payload is never trusted."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return scope, None, _no_scope(ctx)
    province = None if text == "*" else text
    if province is not None and (get_province(province) is None or not in_scope(scope, province)):
        return scope, None, _not_found(ctx)
    return scope, province, None


# The buttons of /signups and /export. Each action unpacks exactly the parts it takes:
# a payload of another shape raises ValueError and is answered as an expired button.
OrganizerAction = Callable[[Ctx, Sequence[str]], Awaitable[Reply]]
ACTIONS: Actions[OrganizerAction] = Actions(PREFIX)


@ACTIONS.on("l")
async def list_page(ctx: Ctx, args: Sequence[str]) -> Reply:
    """A page of sign-ups (`l:<province|*>:<status|*>:<before id>`), in place of the last one."""
    province_arg, status_arg, before_arg = args
    scope, province, refused = await _pressed_province(ctx, province_arg)
    if refused is not None:
        return refused
    status = None if status_arg == "*" else SignupStatus(status_arg)
    before = int(before_arg) or None
    reply = await _listing(ctx, scope, province, status, before)
    reply.edit = True
    return reply


@ACTIONS.on("v")
async def view_signup(ctx: Ctx, args: Sequence[str]) -> Reply:
    """One sign-up (`v:<id>`): the details, notes and a button for each next status."""
    (signup_id,) = args
    return await _details(ctx, int(signup_id))


@ACTIONS.on("s")
async def set_status(ctx: Ctx, args: Sequence[str]) -> Reply:
    """A sign-up's follow-up status changed (`s:<id>:<status>`), audited; the details again."""
    signup_id, status = args
    return await _set_status(ctx, int(signup_id), SignupStatus(status))


@ACTIONS.on("n")
async def add_note(ctx: Ctx, args: Sequence[str]) -> Reply:
    """Add a note to a sign-up (`n:<id>`): the organizer is asked to type it."""
    (signup_id,) = args
    return await _ask_note(ctx, int(signup_id))


@ACTIONS.on("export")
async def export_file(ctx: Ctx, args: Sequence[str]) -> Reply:
    """The export file chosen (`export:<xlsx|csv>:<province|*>`), sent in the chat."""
    fmt, province_arg = args
    if fmt not in _MIME:
        return _expired_button(ctx)
    scope, province, refused = await _pressed_province(ctx, province_arg)
    if refused is not None:
        return refused
    return await _send_export(ctx, scope, province, fmt)


async def _set_status(ctx: Ctx, signup_id: int, status: SignupStatus) -> Reply:
    if await _load_in_scope(ctx, signup_id) is None:
        return _not_found(ctx)
    before = await ctx.store.set_signup_status(signup_id, status)
    if before is None:
        return _not_found(ctx)
    await ctx.store.audit(
        ctx.user.id, "signup.status", f"signup:{signup_id}", {"from": before.value, "to": status.value}
    )
    logger.info("user %s set sign-up %s to %s", ctx.user.id, signup_id, status)
    reply = await _details(
        ctx, signup_id, note=ctx.t("join.org.status_set", status=status_label(ctx.services.catalog, ctx.lang, status))
    )
    reply.edit = True
    return reply


async def _ask_note(ctx: Ctx, signup_id: int) -> Reply:
    if await _load_in_scope(ctx, signup_id) is None:
        return _not_found(ctx)
    await NOTE_FORM.save(ctx, "text", {"sid": signup_id})
    return ctx.reply("join.org.note_prompt", id=signup_id, back=False)


async def on_note(ctx: Ctx) -> Reply:
    """The note typed after "add a note"."""
    state = await NOTE_FORM.load(ctx)
    if state is None or await NOTE_FORM.expire(ctx, state):
        return ctx.reply("join.org.note_expired")
    signup_id = int(state.data.get("sid", 0))
    text = clean_note(ctx.inbound.text) if ctx.inbound.text else None
    if text is None:
        return ctx.reply("join.org.note_invalid", back=False)
    # Checked again: the province or the organizer's scope may have changed meanwhile.
    await ctx.store.clear_state(ctx.user.id)
    if await _load_in_scope(ctx, signup_id) is None:
        return _not_found(ctx)
    if await ctx.store.add_signup_note(signup_id, ctx.user.id, text) is None:
        return _not_found(ctx)
    await ctx.store.audit(ctx.user.id, "signup.note", f"signup:{signup_id}", {"length": len(text)})
    return await _details(ctx, signup_id, note=ctx.t("join.org.note_saved"))


# -- /export --------------------------------------------------------------------------
_FORMAT_WORDS = {"xlsx": "xlsx", "excel": "xlsx", "xls": "xlsx", "csv": "csv"}
_MIME = {"xlsx": XLSX_MIME, "csv": "text/csv"}
PROGRESS_AFTER = 3.0  # seconds of work before the organizer is told the file is coming
PROGRESS_EVERY = 2.0  # at most one edit of the progress message this often (Telegram's flood limits)


async def export(ctx: Ctx) -> Reply | list[Reply]:
    """`/export` asks XLSX or CSV; `/export csv`, `/export xlsx Huế` send that one file."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return _no_scope(ctx)
    args = list(ctx.args)
    fmt = _FORMAT_WORDS.get(fold(args[0]).strip(".")) if args else None
    if fmt is not None:
        args = args[1:]
    province = None
    if args:
        province, error = await _province_arg(ctx, " ".join(args), scope)
        if error is not None:
            return error
    if document_limit(ctx.inbound.channel) is None:
        # Said at once, before asking a format this channel could not deliver anyway.
        return _no_files(ctx, fmt, province)
    if fmt is None:
        p = province or "*"
        return Reply(
            ctx.t("join.org.export_choose", where=_where(ctx, scope, province)),
            buttons=[
                [
                    Button(ctx.t("join.org.export_button_xlsx"), payload(PREFIX, "export", "xlsx", p)),
                    Button(ctx.t("join.org.export_button_csv"), payload(PREFIX, "export", "csv", p)),
                ],
                ctx.back_button(),
            ],
        )
    return await _send_export(ctx, scope, province, fmt)


def _where(ctx: Ctx, scope: frozenset[str] | None, province: str | None) -> str:
    """What a title covers: the province asked for, else the organizer's own provinces."""
    if province is not None:
        return province_name(province, ctx.lang)
    return ctx.t("join.org.all_provinces") if scope is None else _scope_names(scope, ctx.lang)


def _cli_hint(fmt: str | None, province: str | None) -> str:
    return f"unionbot signups export --format {fmt or 'xlsx'} --out FILE" + (
        f" --province {province}" if province else ""
    )


def _elsewhere(ctx: Ctx, key: str, **fields: object) -> Reply:
    """A reply pointing at the CLI, and at the web console's export when it runs."""
    text = ctx.t(key, **fields)
    if ctx.services.console_url:
        text += "\n" + ctx.t("join.org.export_console", url=f"{ctx.services.console_url.rstrip('/')}/console/signups")
    return Reply(text)


def _no_files(ctx: Ctx, fmt: str | None, province: str | None) -> Reply:
    return _elsewhere(ctx, "join.org.export_no_files", command=_cli_hint(fmt, province))


class _Progress:
    """Rows the export has written so far, as the exporter reports them."""

    def __init__(self) -> None:
        self.rows = 0

    def __call__(self, rows: int) -> None:
        self.rows = rows


async def _show_progress(ctx: Ctx, provinces: frozenset[str] | None, progress: _Progress) -> None:
    """One "⏳" message, edited in place with rows written / total, at most every
    PROGRESS_EVERY seconds, until cancelled when the file is ready."""
    total = await ctx.store.count_signups(SignupQuery(provinces=provinces))

    def text() -> str:
        return ctx.t("join.org.export_working", done=min(progress.rows, total), total=total)

    open_status = ctx.services.open_status
    if open_status is None:
        if ctx.services.deliver is not None:
            await ctx.services.deliver(ctx.inbound.channel, ctx.user.external_id, Reply(text()))
        return
    status = await open_status(ctx.inbound.channel, ctx.user.external_id, text())
    if status is None:
        return
    shown = progress.rows
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        if progress.rows != shown:
            shown = progress.rows
            await status.edit(text())


async def _send_export(ctx: Ctx, scope: frozenset[str] | None, province: str | None, fmt: str) -> Reply:
    limit = document_limit(ctx.inbound.channel)
    if limit is None:
        return _no_files(ctx, fmt, province)
    provinces = scope if province is None else frozenset({province})
    job = ExportJob(
        fmt,
        provinces,
        ctx.lang,
        ctx.settings.timezone,
        filename=f"{ctx.t('join.org.export_filename')}-{_now_local(ctx):%Y-%m-%d}",
        max_bytes=limit,
    )
    exporter: Exporter = ctx.services.exporter or InProcessExporter(ctx.store, ctx.services.catalog)
    progress = _Progress()
    task = asyncio.ensure_future(exporter.export(job, progress=progress))
    done, _ = await asyncio.wait({task}, timeout=PROGRESS_AFTER)
    shower = None if done else asyncio.ensure_future(_show_progress(ctx, provinces, progress))
    try:
        result = await task
    finally:
        if shower is not None:
            shower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shower
    await ctx.store.audit(
        ctx.user.id,
        "signups.export",
        "signups",
        {
            "rows": result.rows,
            "provinces": sorted(provinces) if provinces is not None else "all",
            "formats": [fmt],
            "via": ctx.inbound.channel,
        },
    )
    logger.info("user %s exported %s sign-ups as %s", ctx.user.id, result.rows, fmt)
    where = _where(ctx, scope, province)
    if result.data is None:
        return _elsewhere(
            ctx, "join.org.export_too_large", rows=result.rows, where=where, command=_cli_hint(fmt, province)
        )
    text = ctx.t("join.org.export_done", rows=result.rows, where=where, kind=ctx.t(f"join.org.export_kind_{fmt}"))
    if result.zipped:
        text += "\n" + ctx.t("join.org.export_zipped")
    mime = "application/zip" if result.zipped else _MIME[fmt]
    return Reply(text, document=Document(result.data, result.filename, mime))


# -- /targets -------------------------------------------------------------------------
async def targets(ctx: Ctx) -> Reply | list[Reply]:
    """`/targets [province] [year]` progress and chart; `/targets set <province> <n> [year]`."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return _no_scope(ctx)
    args = list(ctx.args)
    if args and args[0].lower() in {"set", "dat"}:
        return await _set_target(ctx, scope, args[1:])
    year = _now_local(ctx).year
    if args and (y := parse_year(args[-1])) is not None:
        year, args = y, args[:-1]
    province = None
    if args:
        province, error = await _province_arg(ctx, " ".join(args), scope)
        if error is not None:
            return error
    return await _progress_reply(ctx, scope, province, year)


async def _progress_reply(ctx: Ctx, scope: frozenset[str] | None, province: str | None, year: int) -> Reply:
    from handlers.join.reports import weekly_chart_png  # matplotlib: slow to import

    lang, catalog = ctx.lang, ctx.services.catalog
    tz = ZoneInfo(ctx.settings.timezone)
    provinces = scope if province is None else frozenset({province})
    prog = await load_progress(ctx.store, provinces=provinces, year=year, tz=tz)
    goals = await ctx.store.signup_targets(year, provinces=provinces)
    target = sum(goals.values()) or None
    counted = sum(prog.by_province.get(p, 0) for p in goals)
    where = _where(ctx, scope, province)
    lines = [ctx.t("join.org.progress_title", year=year, where=where)]
    if target:
        # Against the target, only the provinces that have one: sign-ups elsewhere made
        # "6 / 600 (1.0%)" count Hà Nội against Bắc Ninh's plan (found by an outside tester).
        lines.append(
            ctx.t("join.org.progress_total", count=counted, target=target, percent=percent(counted, target, lang))
        )
        if prog.total > counted:
            lines.append(ctx.t("join.org.progress_untargeted", count=prog.total - counted))
    else:
        lines.append(ctx.t("join.org.progress_total_no_target", count=prog.total))
    lines.append(ctx.t("join.org.progress_joined", count=prog.joined))
    if province is None:
        shown = sorted(set(prog.by_province) | set(goals), key=lambda p: province_name(p, lang))
        if shown:
            lines.append(ctx.t("join.org.by_province"))
        for p in shown:
            count, goal = prog.by_province.get(p, 0), goals.get(p)
            lines.append(
                f"• {province_name(p, lang)}: {count}" + (f" / {goal} ({percent(count, goal, lang)})" if goal else "")
            )
    if prog.by_month:
        months = " · ".join(f"{ctx.t('join.org.month', month=m)}: {n}" for m, n in sorted(prog.by_month.items()))
        lines.append(f"{ctx.t('join.org.by_month')} {months}")
    lines.append(ctx.t("join.org.by_source"))
    lines.append(f"• {source_label(catalog, lang, 'self', None)}: {prog.self_count}")
    if prog.paper_count:
        lines.append(f"• {catalog.t(lang, 'join.source.paper_plain')}: {prog.paper_count}")
    # The ten volunteers who brought most; a federation has thousands, and the full table
    # is in the export (source and volunteer code columns).
    ranked = sorted(prog.by_volunteer.items(), key=lambda item: (-sum(item[1]), item[0]))
    for code, (via_link, collected) in ranked[:TOP_VOLUNTEERS]:
        lines.append(
            "• "
            + ctx.t(
                "join.org.by_volunteer",
                code=code or ctx.t("join.org.volunteer_gone"),
                link=via_link,
                collected=collected,
            )
        )
    if len(ranked) > TOP_VOLUNTEERS:
        rest = ranked[TOP_VOLUNTEERS:]
        lines.append(ctx.t("join.org.more_volunteers", n=len(rest), signups=sum(sum(c) for _, c in rest)))
    if not target:
        lines.append(ctx.t("join.org.target_hint"))
    title = ctx.t("join.org.chart_title", year=year, where=where)
    weeks = prog.by_week
    if target and prog.total > counted:
        # Against the target, the chart too counts only the provinces that have one, as
        # the text above does (found in review: "3 / 600" beside "6 / 600" on the chart).
        weeks = (await load_progress(ctx.store, provinces=frozenset(goals), year=year, tz=tz)).by_week
    # matplotlib holds the GIL for a few hundred ms: drawn in the export worker process.
    exporter: Exporter = ctx.services.exporter or InProcessExporter(ctx.store, catalog)
    png = await exporter.call(
        functools.partial(weekly_chart_png, sorted(weeks.items()), target, year=year, title=title, lang=lang)
    )
    return Reply("\n".join(lines), photo=Photo(png, filename=f"chart-{year}.png"), buttons=[ctx.back_button()])


async def _set_target(ctx: Ctx, scope: frozenset[str] | None, tokens: list[str]) -> Reply | list[Reply]:
    year = _now_local(ctx).year
    if len(tokens) >= 3 and _number(tokens[-2]) is not None:
        # Two numbers: the target and a year. A year out of range ("1900", "2100") is
        # refused, not taken for the target with the first number read into the province.
        if (y := parse_year(tokens[-1])) is None:
            return ctx.reply("join.org.target_bad_year", year=tokens[-1][:8])
        year, tokens = y, tokens[:-1]
    number = _number(tokens[-1]) if tokens else None
    if len(tokens) < 2 or number is None or not 1 <= number <= MAX_TARGET:
        return ctx.reply("join.org.target_usage")
    province, error = await _province_arg(ctx, " ".join(tokens[:-1]), scope)
    if error is not None or province is None:
        return error or ctx.reply("join.org.target_usage")
    await ctx.store.set_signup_target(province, year, number, ctx.user.id)
    await ctx.store.audit(ctx.user.id, "signups.target", f"province:{province}", {"year": year, "target": number})
    done = ctx.t("join.org.target_set", province=province_name(province, ctx.lang), year=year, target=number)
    return [Reply(done), await _progress_reply(ctx, scope, province, year)]


def _number(token: str) -> int | None:
    digits = token.replace(".", "").replace(",", "").replace("_", "")
    return int(digits) if digits.isdigit() and len(digits) <= 9 else None


# -- /scope ---------------------------------------------------------------------------
async def scope_cmd(ctx: Ctx) -> Reply:
    """`/scope <user id> <province>[, ...]` adds, `/scope <user id> remove <province>[, ...]`
    removes, `/scope <user id>` shows, `/scope` shows your own."""
    mine = await province_scope(ctx)
    if not ctx.args:
        if mine is None:
            return ctx.reply("join.scope.yours_all")
        if not mine:
            return _no_scope(ctx)
        return ctx.reply("join.scope.yours", names=_scope_names(mine, ctx.lang))
    target = await ctx.store.find_user(ctx.user.channel, ctx.args[0][:64])
    if target is None:
        return ctx.reply("roles.user_not_found", user=ctx.args[0][:64])
    role = effective_role(target, ctx.settings)
    rest = list(ctx.args[1:])
    if not rest:
        if role is Role.ADMIN:
            return ctx.reply("join.scope.theirs_all", user=target.external_id)
        held = await ctx.store.organizer_provinces(target.id)
        names = _scope_names(held, ctx.lang) if held else ctx.t("join.scope.none")
        return ctx.reply("join.scope.theirs", user=target.external_id, names=names)
    if role is not Role.ORGANIZER:
        return ctx.reply("join.scope.not_organizer", user=target.external_id)
    if mine is not None and not mine:
        return _no_scope(ctx)
    if not await person_in_scope(ctx, mine, target):
        # Another province's organizer is theirs (and an admin's) to change, not ours.
        return ctx.reply("scope.person_out_of_scope", user=target.external_id)
    remove = fold(rest[0]) in {"remove", "xoa", "bo"}
    if remove:
        rest = rest[1:]
    provinces = _parse_provinces(" ".join(rest))
    if isinstance(provinces, str):
        return ctx.reply("join.scope.unknown", text=provinces[:40])
    if not provinces:
        return ctx.reply("join.scope.usage")
    outside = [p for p in provinces if not in_scope(mine, p)]
    if outside:
        # An organizer passes on only what they hold themselves; admins hand out any.
        return ctx.reply("join.scope.not_yours", names=", ".join(province_name(p, ctx.lang) for p in outside))
    if remove:
        await ctx.store.remove_organizer_provinces(target.id, provinces)
    else:
        await ctx.store.add_organizer_provinces(target.id, provinces, ctx.user.id)
    await ctx.store.audit(
        ctx.user.id, "scope.remove" if remove else "scope.add", f"user:{target.id}", {"provinces": sorted(provinces)}
    )
    logger.info("user %s changed the provinces of user %s", ctx.user.id, target.id)
    held = await ctx.store.organizer_provinces(target.id)
    names = _scope_names(held, ctx.lang) if held else ctx.t("join.scope.none")
    return ctx.reply("join.scope.theirs", user=target.external_id, names=names)


def _parse_provinces(text: str) -> list[str] | str:
    """Province ids from "hcm, Đồng Nai" or "ha_noi hai_phong"; the first unknown part as text."""
    text = text.strip()
    if not text:
        return []
    if "," not in text:
        whole, _ = parse_province(text)
        if whole is not None:
            return [whole]
        parts = text.split()
    else:
        parts = [p for p in (x.strip() for x in text.split(",")) if p]
    found: list[str] = []
    for part in parts:
        province, _ = parse_province(part)
        if province is None:
            return part
        if province not in found:
            found.append(province)
    return found


def register(router: Router) -> None:
    router.command("signups", min_role=Role.ORGANIZER)(signups)
    router.command("export", min_role=Role.ORGANIZER)(export)
    router.command("targets", min_role=Role.ORGANIZER)(targets)
    router.command("scope", min_role=Role.ORGANIZER)(scope_cmd)
    router.button(PREFIX, min_role=Role.ORGANIZER, actions=ACTIONS)(on_button)
    router.flow(FLOW_NOTE, min_role=Role.ORGANIZER, one_message=OneMessageStep())(on_note)
