"""`unionbot broadcast ...`: compose, list, steer and send broadcasts from the command line.

    unionbot broadcast create --text "…" [--text-en "…"] [--photo FILE] [--topic T ...]
                              [--province P ...] [--lang vi|en] [--role R ...] [--all]
                              [--at "YYYY-MM-DD HH:MM" | --at now] [--every "CRON"] [--until DATE]
                              [--dry-run]
    unionbot broadcast list | show ID | cancel ID | pause ID | resume ID | resend-failed ID
    unionbot broadcast send-due      # sends what is due, for cron without the long-running bot

Whoever runs this holds the database file, so it acts as an organizer; every change is
audited with no actor. A running bot picks changes up at its next sync (30 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.config import Config
from handlers.broadcasts import manage
from handlers.broadcasts.options import BroadcastOptions
from handlers.broadcasts.render import (
    MAX_TEXT,
    describe_audience,
    describe_when,
    reach_note,
    render_message,
    stats_text,
    status_label,
)
from handlers.broadcasts.schedule import end_of_day, format_local, parse_local_date, parse_local_datetime
from handlers.i18n import LANGUAGES, Catalog, load_catalog
from handlers.join.provinces import resolve_province
from handlers.text import shorten
from storage import Channel, Store, open_store
from storage.broadcasts import Audience, Broadcast, NewBroadcast

# Telegram accepts photos up to 10 MB.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
ROLES = ("worker", "volunteer", "organizer", "admin")
LANG = "en"  # the command line speaks English, like the rest of `unionbot`


class CliError(Exception):
    """A user error: printed as one line, exit status 2 (usage) or 1 (state)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def _broadcast_id(text: str) -> int:
    """A broadcast number as argparse reads it: a one-line error, never an overflow deep down."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"not a broadcast number: {text[:30]!r}")
    return int(text)


def _positive(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= limit:
            raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {limit}: {text[:30]!r}")
        return int(text)

    return parse


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    bc = sub.add_parser("broadcast", help="campaign broadcasts: create, list, show, cancel, send-due")
    bc_sub = bc.add_subparsers(dest="broadcast_command", required=True, parser_class=type(bc))

    create = bc_sub.add_parser("create", parents=[common], help="schedule a broadcast")
    create.add_argument("--text", required=True, help="Vietnamese text (required)")
    create.add_argument("--text-en", help="English text, for workers who chose English")
    create.add_argument("--photo", type=Path, metavar="FILE", help="a photo sent with the text")
    create.add_argument("--topic", action="append", default=[], metavar="T", help="subscribers of topic T")
    create.add_argument("--province", action="append", default=[], metavar="P", help="only workers in province P")
    create.add_argument("--lang", choices=LANGUAGES, help="only workers using this language")
    create.add_argument("--role", action="append", default=[], choices=ROLES, help="only users with this role")
    create.add_argument("--all", action="store_true", help="every reachable user, whatever their topics")
    create.add_argument("--at", metavar="WHEN", help='"YYYY-MM-DD HH:MM" (local time) or "now" (default)')
    create.add_argument("--every", metavar="CRON", help='repeat on a crontab schedule, e.g. "0 19 * * mon"')
    create.add_argument("--until", metavar="DATE", help="last day of a repeating broadcast (YYYY-MM-DD)")
    create.add_argument("--dry-run", action="store_true", help="show the preview and audience, save nothing")
    create.set_defaults(func=_create)

    listing = bc_sub.add_parser("list", parents=[common], help="scheduled, running and finished broadcasts")
    listing.add_argument("--limit", type=_positive(10_000), default=30)
    listing.set_defaults(func=_list)

    for name, func, text in (
        ("show", _show, "details and delivery figures"),
        ("cancel", _cancel, "cancel; those not reached yet are skipped"),
        ("pause", _pause, "pause sending"),
        ("resume", _resume, "resume a paused broadcast"),
        ("resend-failed", _resend_failed, "queue the failed deliveries again"),
    ):
        p = bc_sub.add_parser(name, parents=[common], help=text)
        p.add_argument("id", type=_broadcast_id)
        p.set_defaults(func=func)

    due = bc_sub.add_parser("send-due", parents=[common], help="send what is due now (for cron)")
    due.add_argument("--quiet", action="store_true", help="no progress bar")
    due.set_defaults(func=_send_due)


# -- helpers -------------------------------------------------------------------
def _options(config: Config) -> BroadcastOptions:
    from bot.broadcast.options import broadcast_options

    return broadcast_options(config)


async def _open(config: Config) -> Store:
    store = open_store(config.storage.path)
    await store.open()
    return store


def _fail(e: CliError) -> int:
    print(f"unionbot broadcast: {e}", file=sys.stderr)
    return e.status


async def _with_store(config: Config, body: Any) -> int:
    store = await _open(config)
    try:
        return await body(store)
    except CliError as e:
        return _fail(e)
    finally:
        await store.close()


async def _get(store: Store, broadcast_id: int) -> Broadcast:
    b = await store.get_broadcast(broadcast_id)
    if b is None:
        raise CliError(f"no broadcast {broadcast_id}", 1)
    return b


# -- create --------------------------------------------------------------------
async def _create(args: argparse.Namespace, config: Config) -> int:
    opts = _options(config)
    catalog = load_catalog()
    tz = ZoneInfo(config.bot.timezone)
    now = datetime.now(UTC)

    try:
        new = _new_broadcast(args, opts, tz, now)  # argument errors before touching the database
    except CliError as e:
        return _fail(e)

    async def body(store: Store) -> int:
        size = await store.count_audience(new.audience)
        _print_preview(sys.stdout, catalog, new, opts, tz, size)
        if reach := await reach_note(store, catalog, LANG, new.audience, opts, now):
            print(reach)
        if args.dry_run:
            print("dry run: nothing saved")
            return 0
        b = await store.create_broadcast(new)
        await store.audit(
            None,
            "broadcast.create",
            f"broadcast:{b.id}",
            {
                "kind": b.kind.value,
                "audience": new.audience.to_json(),
                "via": "cli",
            },
        )
        print(
            f"created broadcast #{b.id} ({'recurring' if b.is_series else 'once'}), "
            f"first send {format_local(new.run_at or now, tz)}"
        )
        print("The running bot sends it on time; without it, run `unionbot broadcast send-due` from cron.")
        return 0

    return await _with_store(config, body)


def _new_broadcast(args: argparse.Namespace, opts: BroadcastOptions, tz: ZoneInfo, now: datetime) -> NewBroadcast:
    text = args.text.strip()
    if not text or len(text) > MAX_TEXT:
        raise CliError(f"--text must be 1 to {MAX_TEXT} characters")
    text_en = (args.text_en or "").strip() or None
    if text_en and len(text_en) > MAX_TEXT:
        raise CliError(f"--text-en must be at most {MAX_TEXT} characters")
    unknown = [t for t in args.topic if opts.topic(t) is None]
    if unknown:
        known = ", ".join(t.id for t in opts.topics)
        raise CliError(f"unknown topic {unknown[0]!r} (known: {known})")
    if not args.topic and not args.all:
        raise CliError("choose the audience: --topic T (repeatable) or --all")
    provinces = []
    for name in args.province:
        match = resolve_province(name)
        if match.province is None:
            raise CliError(f"unknown province {name!r}")
        provinces.append(match.province.id)
    audience = Audience(
        topics=tuple(dict.fromkeys(args.topic)),
        everyone=bool(args.all),
        provinces=tuple(dict.fromkeys(provinces)),
        language=args.lang,
        roles=tuple(dict.fromkeys(args.role)),
    )

    photo, photo_name = None, "photo.jpg"
    if args.photo is not None:
        try:
            photo = args.photo.read_bytes()
        except OSError as e:
            raise CliError(f"--photo: cannot read {args.photo} ({e.strerror})") from None
        if not photo or len(photo) > MAX_PHOTO_BYTES:
            raise CliError("--photo must be a non-empty image of at most 10 MB")
        photo_name = args.photo.name

    at = now
    if args.at and args.at.strip().lower() != "now":
        parsed = parse_local_datetime(args.at, tz, now)
        if parsed is None:
            raise CliError(f'--at: expected "YYYY-MM-DD HH:MM" or "now", got {args.at!r}')
        at = parsed.astimezone(UTC)
        if at <= now and not args.every:
            raise CliError("--at is in the past")

    cron, until, starts = None, None, None
    if args.until and not args.every:
        raise CliError("--until only makes sense with --every")
    if args.every:
        from bot.broadcast.cron import CronError, cron_trigger, next_fire

        try:
            trigger = cron_trigger(args.every, tz)
        except CronError as e:
            raise CliError(f"--every: {e}") from None
        if args.until:
            day = parse_local_date(args.until, tz, now)
            if day is None:
                raise CliError(f"--until: expected a date like 2025-05-31, got {args.until!r}")
            until = end_of_day(day, tz).astimezone(UTC)
        starts = at if args.at and args.at.strip().lower() != "now" else None
        first = next_fire(trigger, max(now, starts or now) - timedelta(microseconds=1))
        if first is None or (until is not None and first > until):
            raise CliError("--every/--until: the schedule never fires in that period")
        cron, at = args.every, first.astimezone(UTC)

    return NewBroadcast(
        text_vi=text,
        text_en=text_en,
        audience=audience,
        run_at=at,
        photo=photo,
        photo_name=photo_name,
        cron=cron,
        starts_at=starts,
        until=until,
    )


def _print_preview(
    out: TextIO,
    catalog: Catalog,
    new: NewBroadcast,
    opts: BroadcastOptions,
    tz: ZoneInfo,
    size: int,
) -> None:
    langs = list(LANGUAGES) if new.text_en else list(LANGUAGES[:1])  # Vietnamese first, always written
    for lang in langs:
        rendered = render_message(catalog, lang, new.text_vi, new.text_en)
        out.write(f"--- preview ({lang}){' with photo ' + new.photo_name if new.photo else ''} ---\n")
        out.write(rendered.text + "\n")
    out.write("---\n")
    out.write(f"audience: {describe_audience(catalog, LANG, new.audience, opts)}: {size} people now\n")
    first = new.run_at or datetime.now(UTC)
    when = f"every: {new.cron}" + (f" until {format_local(new.until, tz)}" if new.until else "") if new.cron else ""
    out.write(f"first send: {format_local(first, tz)} {when}\n".rstrip() + "\n")
    quiet = opts.quiet
    if quiet.is_quiet(first):
        out.write(f"note: that is within quiet hours; sending starts at {format_local(quiet.ends_after(first), tz)}\n")


# -- list / show / steer -------------------------------------------------------
async def _list(args: argparse.Namespace, config: Config) -> int:
    catalog, tz = load_catalog(), ZoneInfo(config.bot.timezone)

    async def body(store: Store) -> int:
        items = await store.list_broadcasts(limit=max(1, args.limit))
        if not items:
            print("no broadcasts")
            return 0
        print(f"{'id':>5}  {'kind':6}  {'status':28}  {'when':32}  {'sent/audience':>13}  text")
        for b in items:
            stats = await store.delivery_stats(b.id) if not b.is_series else None
            figures = f"{stats.sent}/{b.audience_size}" if stats and b.audience_size is not None else "-"
            print(
                f"{b.id:>5}  {b.kind.value:6}  {status_label(catalog, LANG, b):28}  "
                f"{describe_when(catalog, LANG, b, tz):32}  {figures:>13}  {shorten(b.text_vi, 40)}"
            )
        return 0

    return await _with_store(config, body)


async def _show(args: argparse.Namespace, config: Config) -> int:
    catalog, opts, tz = load_catalog(), _options(config), ZoneInfo(config.bot.timezone)

    async def body(store: Store) -> int:
        b = await _get(store, args.id)
        print(f"broadcast #{b.id} ({b.kind.value}): {status_label(catalog, LANG, b)}")
        if b.reason:
            print(f"reason: {b.reason}")
        if b.series_id:
            print(f"occurrence of series #{b.series_id}")
        print(f"when: {describe_when(catalog, LANG, b, tz)}")
        print(f"audience: {describe_audience(catalog, LANG, b.audience, opts)}")
        print(f"text (vi): {b.text_vi}")
        if b.text_en:
            print(f"text (en): {b.text_en}")
        if not b.is_series and b.audience_size is not None:
            print(stats_text(catalog, LANG, b, await store.delivery_stats(b.id)))
        return 0

    return await _with_store(config, body)


async def _steer(args: argparse.Namespace, config: Config, action: str) -> int:
    async def body(store: Store) -> int:
        b = await _get(store, args.id)
        if action == "resend_failed":
            count = await manage.resend_failed(store, b)
            if not count:
                raise CliError(f"broadcast #{b.id}: nothing to resend (it must be finished, with failures)", 1)
            print(f"broadcast #{b.id}: {count} failed deliveries queued again")
            details: dict[str, object] = {"count": count, "via": "cli"}
        else:
            ok = await {"cancel": manage.cancel, "pause": manage.pause, "resume": manage.resume}[action](store, b)
            if not ok:
                raise CliError(f"broadcast #{b.id} is {b.status.value}: cannot {action}", 1)
            print(f"broadcast #{b.id}: {action} done")
            details = {"via": "cli"}
        await store.audit(None, f"broadcast.{action}", f"broadcast:{b.id}", details)
        return 0

    return await _with_store(config, body)


async def _cancel(args: argparse.Namespace, config: Config) -> int:
    return await _steer(args, config, "cancel")


async def _pause(args: argparse.Namespace, config: Config) -> int:
    return await _steer(args, config, "pause")


async def _resume(args: argparse.Namespace, config: Config) -> int:
    return await _steer(args, config, "resume")


async def _resend_failed(args: argparse.Namespace, config: Config) -> int:
    return await _steer(args, config, "resend_failed")


# -- send-due ------------------------------------------------------------------
class ProgressBar:
    """One line on stderr, redrawn in place on a terminal, a line per 10 % otherwise."""

    def __init__(self, out: TextIO, *, width: int = 30) -> None:
        self.out = out
        self.width = width
        self.tty = out.isatty()
        self.started: dict[int, float] = {}
        self._last_decile: dict[int, int] = {}

    def __call__(self, broadcast_id: int, done: int, total: int) -> None:
        start = self.started.setdefault(broadcast_id, time.monotonic())
        total = max(total, done, 1)
        fraction = done / total
        rate = done / max(time.monotonic() - start, 1e-6)
        filled = int(self.width * fraction)
        line = (
            f"broadcast #{broadcast_id} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{done}/{total} {fraction:4.0%} {rate:6.1f}/s"
        )
        if self.tty:
            self.out.write("\r" + line + ("\n" if done >= total else ""))
        else:
            decile = int(fraction * 10)
            if decile == self._last_decile.get(broadcast_id):
                return
            self._last_decile[broadcast_id] = decile
            self.out.write(line + "\n")
        self.out.flush()


async def _send_due(args: argparse.Namespace, config: Config) -> int:
    if not config.telegram.enabled:
        return _fail(CliError("no channel to send through: set TELEGRAM_BOT_TOKEN", 1))
    from telegram import Bot

    from bot.broadcast.engine import RunOutcome
    from bot.broadcast.wiring import bot_notify, build_service, engine_settings, telegram_sender
    from bot.channels.zalo.rules import REASON_NIGHT

    catalog = load_catalog()
    store = await _open(config)
    bot = Bot(
        config.telegram.token or "", base_url=config.telegram.api_base_url, base_file_url=config.telegram.file_base_url
    )
    try:
        async with bot:
            sender = telegram_sender(config, bot, store)
            # From cron, a run stops at quiet hours instead of waiting all night:
            # the next `send-due` after they end carries on from the queued rows.
            settings = dataclasses.replace(engine_settings(config.broadcast), wait_quiet=False)
            service = build_service(
                config,
                store,
                catalog,
                {Channel.TELEGRAM: sender},
                notify=bot_notify(bot, catalog),
                use_timers=False,
                settings=settings,
            )
            if not args.quiet:
                service.engine.progress = ProgressBar(sys.stderr)
            reports = await service.send_due()
    finally:
        await store.close()
    if not reports:
        print("nothing due")
    for report in reports:
        s = report.stats
        figures = (
            (
                f"sent {s.sent}, failed {s.failed} (blocked {s.blocked}), skipped {s.skipped}, "
                f"in doubt {s.in_doubt}, waiting {s.queued}"
            )
            if s
            else ""
        )
        print(f"broadcast #{report.broadcast_id}: {report.outcome} {figures}".rstrip())
    # Ended as asked, or waiting for the night to pass (ours, or Zalo's own).
    ok = {
        RunOutcome.DONE,
        RunOutcome.BUSY,
        RunOutcome.PAUSED,
        RunOutcome.CANCELLED,
        RunOutcome.QUIET_HOURS,
        REASON_NIGHT,
    }
    return 0 if all(r.outcome in ok for r in reports) else 1
