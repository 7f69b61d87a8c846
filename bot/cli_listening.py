"""`unionbot poll ...` and `unionbot reports ...`: quick polls and workplace reports.

    unionbot poll create --question "…" [--question-en "…"] --choice "vi | en" --choice "…" [--multi]
                         [--topic T ... | --all] [--province P ...] [--closes "YYYY-MM-DD HH:MM"]
    unionbot poll results ID [--json] [--by province|channel|language] [--chart FILE]
    unionbot poll list | close ID | purge
    unionbot reports list [--province P] [--since DATE] [--json]
    unionbot reports clusters [--province P] [--since DATE] [--json]

Results are k-anonymous like in the chat ([listening] min_group); reports never carry
the reporter's identity. Whoever runs this holds the database file, so it acts as an
admin; creating and closing polls is audited with no actor.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli_broadcast import CliError, _broadcast_id, _options, _with_store
from bot.config import Config
from handlers.broadcasts.schedule import format_local, parse_local_datetime, too_far
from handlers.i18n import load_catalog
from handlers.join.provinces import resolve_province
from handlers.listening.polls import MAX_CHOICE, MAX_QUESTION, create_poll, parse_choices
from handlers.listening.results import chart_png, results_dict, results_text
from storage import Store
from storage.broadcasts import Audience
from storage.listening import MAX_CHOICES, NewPoll, Poll

LANG = "en"
DEFAULT_DAYS = 3


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    poll = sub.add_parser("poll", help="quick polls: create, results, list, close")
    poll_sub = poll.add_subparsers(dest="poll_command", required=True, parser_class=type(poll))

    create = poll_sub.add_parser("create", parents=[common], help="create a poll and send it now")
    create.add_argument("--question", required=True, help="the question in Vietnamese")
    create.add_argument("--question-en", help="the question in English")
    create.add_argument(
        "--choice",
        action="append",
        default=[],
        metavar="TEXT",
        help='a choice, "Vietnamese | English" (2 to 6, repeat the option)',
    )
    create.add_argument("--multi", action="store_true", help="workers may choose several answers")
    create.add_argument("--topic", action="append", default=[], metavar="T", help="subscribers of topic T")
    create.add_argument("--all", action="store_true", help="every reachable user")
    create.add_argument("--province", action="append", default=[], metavar="P", help="only workers in province P")
    create.add_argument(
        "--closes", metavar="WHEN", help=f'"YYYY-MM-DD HH:MM" local time (default: in {DEFAULT_DAYS} days)'
    )
    create.set_defaults(func=_create)

    results = poll_sub.add_parser("results", parents=[common], help="counts, percentages, response rate")
    results.add_argument("id", type=_broadcast_id)
    results.add_argument("--json", action="store_true")
    results.add_argument("--by", action="append", default=[], choices=("province", "channel", "language"))
    results.add_argument("--chart", type=Path, metavar="FILE", help="write a bar chart PNG")
    results.set_defaults(func=_results)

    listing = poll_sub.add_parser("list", parents=[common], help="recent polls")
    listing.set_defaults(func=_list)
    close = poll_sub.add_parser("close", parents=[common], help="close a poll now")
    close.add_argument("id", type=_broadcast_id)
    close.set_defaults(func=_close)
    purge = poll_sub.add_parser("purge", parents=[common], help="fold answers of polls past retention into counts")
    purge.set_defaults(func=_purge)

    rep = sub.add_parser("reports", help="anonymous workplace reports")
    rep_sub = rep.add_subparsers(dest="reports_command", required=True, parser_class=type(rep))
    for name, func, text in (
        ("list", _reports_list, "reports, newest first"),
        ("clusters", _reports_clusters, "reports grouped by company and category"),
    ):
        p = rep_sub.add_parser(name, parents=[common], help=text)
        p.add_argument("--province", action="append", default=[], metavar="P")
        p.add_argument("--since", metavar="DATE", help="YYYY-MM-DD")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)


def _fail(e: CliError) -> int:
    print(f"unionbot: {e}", file=sys.stderr)
    return e.status


def _provinces(names: list[str]) -> tuple[str, ...]:
    found = []
    for name in names:
        match = resolve_province(name)
        if match.province is None:
            raise CliError(f"unknown province {name!r}")
        found.append(match.province.id)
    return tuple(dict.fromkeys(found))


def _new_poll(args: argparse.Namespace, config: Config, now: datetime) -> tuple[NewPoll, Audience]:
    question = " ".join(args.question.split())
    if not question or len(question) > MAX_QUESTION:
        raise CliError(f"--question must be 1 to {MAX_QUESTION} characters")
    question_en = " ".join((args.question_en or "").split()) or None
    if question_en and len(question_en) > MAX_QUESTION:
        raise CliError(f"--question-en must be at most {MAX_QUESTION} characters")
    choices = parse_choices("\n".join(c.replace("\n", " ") for c in args.choice))
    if isinstance(choices, str):
        raise CliError(f"--choice: give 2 to {MAX_CHOICES} different choices of at most {MAX_CHOICE} characters")
    opts = _options(config)
    unknown = [t for t in args.topic if opts.topic(t) is None]
    if unknown:
        raise CliError(f"unknown topic {unknown[0]!r} (known: {', '.join(t.id for t in opts.topics) or 'none'})")
    if not args.topic and not args.all:
        raise CliError("choose the audience: --topic T (repeatable) or --all")
    tz = ZoneInfo(config.bot.timezone)
    closes = now + timedelta(days=DEFAULT_DAYS)
    if args.closes:
        parsed = parse_local_datetime(args.closes, tz, now)
        if parsed is None:
            raise CliError(f'--closes: expected "YYYY-MM-DD HH:MM", got {args.closes!r}')
        if parsed <= now:
            raise CliError("--closes must be in the future")
        if too_far(parsed, now):
            raise CliError("--closes is more than a year ahead")
        closes = parsed.astimezone(UTC)
    audience = Audience(
        topics=tuple(dict.fromkeys(args.topic)), everyone=bool(args.all), provinces=_provinces(args.province)
    )
    return NewPoll(
        question_vi=question, question_en=question_en, choices=tuple(choices), multi=args.multi, closes_at=closes
    ), audience


async def _create(args: argparse.Namespace, config: Config) -> int:
    now = datetime.now(UTC)
    try:
        new, audience = _new_poll(args, config, now)
    except CliError as e:
        return _fail(e)

    async def body(store: Store) -> int:
        size = await store.count_audience(audience)
        poll, broadcast = await create_poll(store, new, audience)
        tz = ZoneInfo(config.bot.timezone)
        print(
            f"created poll #{poll.id} (broadcast #{broadcast.id}) for {size} people, "
            f"closing {format_local(poll.closes_at, tz)}"
        )
        print("The running bot sends it within 30 s; without it, run `unionbot broadcast send-due`.")
        return 0

    return await _with_store(config, body)


def _status(poll: Poll, tz: ZoneInfo) -> str:
    if poll.is_open(datetime.now(UTC)):
        return f"open until {format_local(poll.closes_at, tz)}"
    return f"closed at {format_local(poll.ended_at(), tz)}"


async def _results(args: argparse.Namespace, config: Config) -> int:
    async def body(store: Store) -> int:
        poll = await store.get_poll(args.id)
        if poll is None:
            raise CliError(f"no poll {args.id}", 1)
        tally = await store.poll_tally(poll.id)
        k = config.listening.min_group
        catalog = load_catalog()
        tz = ZoneInfo(config.bot.timezone)
        by = list(dict.fromkeys(args.by))
        if args.json:
            data = results_dict(
                poll,
                tally,
                k,
                by=by or ["province", "channel", "language"],
                lang=LANG,
                catalog=catalog,
                status="open" if poll.is_open(datetime.now(UTC)) else "closed",
            )
            print(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            print(results_text(catalog, LANG, poll, tally, k, status=_status(poll, tz), by=by))
        if args.chart is not None:
            png = chart_png(poll, tally, LANG, k)
            if png is None:
                print("no chart: too few answers to show", file=sys.stderr)
            else:
                args.chart.write_bytes(png)
        return 0

    return await _with_store(config, body)


async def _list(args: argparse.Namespace, config: Config) -> int:
    async def body(store: Store) -> int:
        tz = ZoneInfo(config.bot.timezone)
        polls = await store.list_polls(limit=50)
        if not polls:
            print("no polls")
        for p in polls:
            tally = await store.poll_tally(p.id)
            print(
                f"#{p.id}  {_status(p, tz)}  answers {tally.overall.respondents}/{tally.delivered}  "
                f"{p.question_vi[:60]}"
            )
        return 0

    return await _with_store(config, body)


async def _close(args: argparse.Namespace, config: Config) -> int:
    async def body(store: Store) -> int:
        poll = await store.get_poll(args.id)
        if poll is None:
            raise CliError(f"no poll {args.id}", 1)
        if not await store.close_poll(poll.id, datetime.now(UTC)):
            raise CliError(f"poll {args.id} is already closed", 1)
        await store.audit(None, "poll.close", f"poll:{poll.id}", {"via": "cli"})
        print(f"closed poll #{poll.id}")
        return 0

    return await _with_store(config, body)


async def _purge(args: argparse.Namespace, config: Config) -> int:
    from bot.listening import purge_listening

    async def body(store: Store) -> int:
        polls, limits = await purge_listening(
            store, config.listening.answer_retention_days, limit_days=config.listening.report_hash_days
        )
        print(f"{polls} polls folded into counts, {limits} old rate-limit entries dropped")
        return 0

    return await _with_store(config, body)


def _report_filters(args: argparse.Namespace) -> tuple[tuple[str, ...] | None, date | None]:
    provinces = _provinces(args.province) if args.province else None
    since = None
    if args.since:
        try:
            since = date.fromisoformat(args.since)
        except ValueError:
            raise CliError(f"--since: expected YYYY-MM-DD, got {args.since!r}") from None
    return provinces, since


async def _reports_list(args: argparse.Namespace, config: Config) -> int:
    try:
        provinces, since = _report_filters(args)
    except CliError as e:
        return _fail(e)

    async def body(store: Store) -> int:
        reports = await store.list_reports(provinces=provinces, since=since, limit=10_000)
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "id": r.id,
                            "date": r.created_on.isoformat(),
                            "province": r.province,
                            "category": r.category,
                            "company": r.company,
                            "cluster": r.company_key,
                            "workers": r.workers,
                            "description": r.description,
                            "contact_question": r.contact_question_id,
                        }
                        for r in reports
                    ],
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return 0
        if not reports:
            print("no reports")
        for r in reports:
            print(
                f"#{r.id}  {r.created_on}  {r.province}  {r.category}  {r.company!r} (~{r.workers})"
                + (f"  {r.description}" if r.description else "")
            )
        return 0

    return await _with_store(config, body)


async def _reports_clusters(args: argparse.Namespace, config: Config) -> int:
    try:
        provinces, since = _report_filters(args)
    except CliError as e:
        return _fail(e)

    async def body(store: Store) -> int:
        clusters = await store.report_clusters(provinces=provinces, since=since)
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "province": c.province,
                            "cluster": c.company_key,
                            "company": c.company,
                            "category": c.category,
                            "reports": c.reports,
                            "workers": c.workers,
                            "first": c.first_on.isoformat(),
                            "last": c.last_on.isoformat(),
                            "alerted": c.alerted_on.isoformat() if c.alerted_on else None,
                        }
                        for c in clusters
                    ],
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return 0
        if not clusters:
            print("no reports")
        for c in clusters:
            print(
                f"{c.reports:>4}  {c.province}  {c.category:<10}  {c.company} [{c.company_key}]  "
                f"up to ~{c.workers} workers  {c.first_on}..{c.last_on}"
                + (f"  early warning level reached {c.alerted_on}" if c.alerted_on else "")
            )
        return 0

    return await _with_store(config, body)
