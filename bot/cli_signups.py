"""`unionbot signups ...`: exports, statistics and erasure requests from the shell.

For the federation office: the same files and figures organizers get in the chat,
without a chat account. Every export and erasure is written to the audit log with no
actor (the shell user is whoever holds the database file).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from handlers.i18n import LANGUAGES, load_catalog
from handlers.join.common import FORM_FLOWS, load_progress, parse_province, percent
from handlers.join.form import FORM_TTL
from handlers.join.phone import mask_phone, parse_vn_mobile
from handlers.join.provinces import all_provinces, get_province


def _year(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 2000 <= int(text) <= 2100:
        raise argparse.ArgumentTypeError(f"not a year: {text[:30]!r}")
    return int(text)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    signups = sub.add_parser("signups", help="union sign-ups: export, statistics, erasure")
    cmds = signups.add_subparsers(dest="signups_command", required=True, parser_class=type(signups))

    export = cmds.add_parser("export", parents=[common], help="write the sign-ups to an XLSX or CSV file")
    export.add_argument("--format", choices=("xlsx", "csv"), required=True)
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.add_argument("--province", metavar="P", help="one province (name, old name or id)")
    export.add_argument("--lang", choices=LANGUAGES, default=None, help="column language")
    export.set_defaults(func=_usage_errors(_export))

    stats = cmds.add_parser("stats", parents=[common], help="sign-ups against targets, by province")
    stats.add_argument("--province", metavar="P")
    stats.add_argument("--year", type=_year, default=None)
    stats.set_defaults(func=_usage_errors(_stats))

    provinces = cmds.add_parser("provinces", parents=[common], help="the 34 province ids (for alert_chats)")
    provinces.set_defaults(func=_provinces)

    forget = cmds.add_parser(
        "forget", parents=[common], help="erase the sign-up with this phone number (a worker's request)"
    )
    forget.add_argument("--phone", required=True)
    forget.set_defaults(func=_forget)

    purge = cmds.add_parser(
        "purge", parents=[common], help="erase sign-ups past join.retention_months and abandoned forms"
    )
    purge.set_defaults(func=_purge)

    from bot.cli_console import add_import_command  # the paper import lives with the console

    add_import_command(cmds, common)


class _BadProvince(Exception):
    pass


def _province(text: str | None) -> str | None:
    """The province id for --province."""
    if text is None:
        return None
    province, suggestions = parse_province(text)
    if province is None:
        hint = f" (did you mean: {', '.join(suggestions)}?)" if suggestions else ""
        raise _BadProvince(f"unionbot: unknown province {text!r}{hint}; see `unionbot signups provinces`")
    return province


def _usage_errors(func: Any) -> Any:
    """Bad input: one line on stderr and exit code 2, like the rest of the CLI."""

    async def wrapper(args: argparse.Namespace, config: Config) -> int:
        try:
            return int(await func(args, config))
        except _BadProvince as e:
            print(str(e), file=sys.stderr)
            return 2

    return wrapper


async def _export(args: argparse.Namespace, config: Config) -> int:
    from handlers.join.export import write_export_file
    from storage import open_store

    province = _province(args.province)
    lang = args.lang or config.bot.default_language
    provinces = None if province is None else frozenset({province})
    # The store alone, not the whole Runtime: an export needs no knowledge base or channels.
    async with open_store(config.storage.path) as store:
        # Streamed page by page into a temporary file renamed at the end: flat memory at
        # any size, and never half a file under the asked name.
        rows = await write_export_file(
            store,
            args.out,
            fmt=args.format,
            provinces=provinces,
            catalog=load_catalog(),
            lang=lang,
            tz=ZoneInfo(config.bot.timezone),
        )
        await store.audit(
            None,
            "signups.export",
            "signups",
            {
                "rows": rows,
                "provinces": [province] if province else "all",
                "formats": [args.format],
                "via": "cli",
            },
        )
    print(f"wrote {rows} sign-ups to {args.out}")
    return 0


async def _stats(args: argparse.Namespace, config: Config) -> int:
    from bot.app import Runtime

    province = _province(args.province)
    tz = ZoneInfo(config.bot.timezone)
    year = args.year or datetime.now(UTC).astimezone(tz).year
    provinces = None if province is None else frozenset({province})
    async with Runtime(config) as runtime:
        prog = await load_progress(runtime.store, provinces=provinces, year=year, tz=tz)
        goals = await runtime.store.signup_targets(year, provinces=provinces)
    shown = sorted(set(prog.by_province) | set(goals) | ({province} if province else set()))
    print(f"sign-ups {year}" + (f", {_name(province)}" if province else ""))
    print(f"{'province':<24} {'sign-ups':>9} {'target':>8} {'%':>7}")
    for p in shown:
        count, goal = prog.by_province.get(p, 0), goals.get(p)
        print(f"{_name(p):<24} {count:>9} {goal or '-':>8} {percent(count, goal, 'en') if goal else '-':>7}")
    total_goal = sum(goals.values())
    # The share counts only provinces with a target: sign-ups elsewhere are not progress
    # against anyone's plan (found by an outside tester: "total 6 / 600 1.0%").
    counted = sum(prog.by_province.get(p, 0) for p in goals)
    print(
        f"{'total':<24} {prog.total:>9} {total_goal or '-':>8} "
        f"{percent(counted, total_goal, 'en') if total_goal else '-':>7}"
    )
    if total_goal and prog.total > counted:
        print(f"({prog.total - counted} of the sign-ups are in provinces with no target; the % leaves them out)")
    print(f"joined: {prog.joined}")
    if prog.by_month:
        print("by month: " + ", ".join(f"{m:02d}: {n}" for m, n in sorted(prog.by_month.items())))
    print(
        f"by source: self {prog.self_count}, paper import {prog.paper_count}"
        + "".join(
            f", volunteer {code or '(left)'} {link}+{collected}"
            for code, (link, collected) in sorted(prog.by_volunteer.items())
        )
    )
    return 0


def _name(province_id: str) -> str:
    p = get_province(province_id)
    return p.name_vi if p else province_id


async def _provinces(args: argparse.Namespace, config: Config) -> int:
    for p in all_provinces():
        print(f"{p.id:<14} {p.name_vi}" + (f" (merged: {', '.join(p.merged_from)})" if len(p.merged_from) > 1 else ""))
    return 0


async def _forget(args: argparse.Namespace, config: Config) -> int:
    from bot.app import Runtime

    phone = parse_vn_mobile(args.phone)
    if not phone.ok or phone.e164 is None:
        print(f"unionbot: not a Vietnamese mobile number ({phone.error})", file=sys.stderr)
        return 2
    async with Runtime(config) as runtime:
        gone = await runtime.store.forget_signup_by_phone(phone.e164, include_owned=True, form_flows=FORM_FLOWS)
        await runtime.store.audit(None, "signup.forget", f"signup:{gone[0]}" if gone else "signup:none", {"via": "cli"})
    # The number is shown masked: the terminal's scrollback is a log too.
    if gone is None:
        print(f"no sign-up with {mask_phone(phone.e164)}; nothing to erase")
    else:
        print(f"erased sign-up #{gone[0]} ({mask_phone(phone.e164)})")
    return 0


async def _purge(args: argparse.Namespace, config: Config) -> int:
    from bot.app import Runtime
    from bot.signup_retention import purge_expired

    async with Runtime(config) as runtime:
        signups, forms = await purge_expired(runtime.store, config.join.retention_months)
    print(
        f"erased {signups} sign-ups not contacted for {config.join.retention_months} months "
        f"and {forms} forms abandoned for {FORM_TTL.days} days"
    )
    return 0
