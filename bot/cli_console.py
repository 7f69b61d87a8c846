"""`unionbot serve`, `unionbot console link` and `unionbot roles grant|revoke`.

The operator holds the database file, so the shell may do what the chat's /grant and
/scope do without an admin in the chat (the first admin has to come from somewhere);
every change is audited with no actor and `via: cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import Config
from storage import Channel, Role, User

GRANT_ROLES = ("volunteer", "organizer", "admin")


def _who(text: str) -> tuple[str, str]:
    channel, sep, user_id = text.partition(":")
    if not sep or not channel or not user_id or len(user_id) > 64:
        raise argparse.ArgumentTypeError("expected CHANNEL:USER_ID, e.g. telegram:123456 or console:900")
    # "foo:5" or "telegram:abc" made a user nobody could ever be (found by an outside tester).
    if channel not in {c.value for c in Channel}:
        known = ", ".join(c.value for c in Channel)
        raise argparse.ArgumentTypeError(f"unknown channel {channel!r} (one of: {known})")
    if channel == Channel.TELEGRAM and not user_id.lstrip("-").isdigit():
        raise argparse.ArgumentTypeError("a Telegram user id is a number, e.g. telegram:123456")
    return channel, user_id


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser(
        "serve", parents=[common], help="run the web server (console and webhooks) and every configured channel"
    )
    serve.set_defaults(func=_serve)

    console = sub.add_parser("console", help="the organizers' web console")
    console_cmds = console.add_subparsers(dest="console_command", required=True, parser_class=type(console))
    link = console_cmds.add_parser("link", parents=[common], help="print a one-time sign-in link (10 minutes)")
    link.add_argument("who", type=_who, metavar="CHANNEL:USER_ID")
    link.set_defaults(func=_link)

    roles = sub.add_parser("roles", help="grant or revoke roles and provinces")
    role_cmds = roles.add_subparsers(dest="roles_command", required=True, parser_class=type(roles))
    for name, text in (("grant", "give a role (and provinces)"), ("revoke", "take provinces, or the role, away")):
        cmd = role_cmds.add_parser(name, parents=[common], help=text)
        cmd.add_argument("who", type=_who, metavar="CHANNEL:USER_ID")
        cmd.add_argument("role", choices=GRANT_ROLES)
        cmd.add_argument(
            "--province",
            action="append",
            default=[],
            metavar="P",
            help="a province (name, old name or id); repeat for several",
        )
        cmd.set_defaults(func=_grant if name == "grant" else _revoke)


async def _serve(args: argparse.Namespace, config: Config) -> int:
    from bot.app import Runtime, install_stop_signals, serve

    async with Runtime(config) as runtime:
        channels = runtime.build_channels()
        stop = asyncio.Event()
        install_stop_signals(stop)
        # Never the terminal chat: this is the service mode, with or without channels.
        await serve(runtime, channels, stop, web_server=True)
    return 0


async def _link(args: argparse.Namespace, config: Config) -> int:
    from bot.app import Runtime
    from handlers.console import LINK_TTL, issue_link, link_url, may_use_console, viewer_context

    channel, user_id = args.who
    async with Runtime(config) as runtime:
        user = await runtime.store.find_user(channel, user_id)
        if user is None or not may_use_console(viewer_context(runtime.services, user)):
            print(
                f"unionbot: {channel}:{user_id} is not an organizer or admin "
                f"(grant one with: unionbot roles grant {channel}:{user_id} organizer --province P)",
                file=sys.stderr,
            )
            return 1
        token = await issue_link(runtime.store, user)
        await runtime.store.audit(None, "console.link", f"user:{user.id}", {"via": "cli"})
        server = config.server
        base = server.public_url or f"http://{server.host}:{server.port}"
        print(link_url(base, token))
        print(f"valid {int(LINK_TTL.total_seconds() // 60)} minutes, once", file=sys.stderr)
    return 0


def _provinces(names: list[str]) -> list[str] | None:
    from handlers.join.common import parse_province

    found = []
    for name in names:
        pid, suggestions = parse_province(name)
        if pid is None:
            hint = f" (did you mean: {', '.join(suggestions)})" if suggestions else ""
            print(f"unionbot: unknown province {name!r}{hint}; see `unionbot signups provinces`", file=sys.stderr)
            return None
        found.append(pid)
    return found


async def _grant(args: argparse.Namespace, config: Config) -> int:
    from bot.app import Runtime

    provinces = _provinces(args.province)
    if provinces is None:
        return 2
    channel, user_id = args.who
    role = Role(args.role)
    async with Runtime(config) as runtime:
        store = runtime.store
        user = await store.find_user(channel, user_id)
        if user is None:
            user = await store.touch_user(channel, user_id, language=config.bot.default_language)
        before = user.role
        if role.rank > before.rank or role is Role.ADMIN:
            await store.set_role(user.id, role)
        if provinces:
            await store.add_organizer_provinces(user.id, provinces, granted_by=None)
        await store.audit(
            None,
            "role.grant",
            f"user:{user.id}",
            {
                "from": before.value,
                "to": max(role, before, key=lambda r: r.rank).value,
                "provinces": sorted(provinces),
                "via": "cli",
            },
        )
        current = await store.get_user(user.id)
        assert current is not None
        print(await _describe(store, channel, user_id, current))
    return 0


async def _describe(store: Any, channel: str, user_id: str, user: User) -> str:
    """ "telegram:1 is organizer of ha_noi"; provinces only for a role that uses them (a
    revoked organizer's stay on record but give nothing: "worker of ha_noi" read as if they did)."""
    held = sorted(await store.organizer_provinces(user.id)) if user.role.rank >= Role.ORGANIZER.rank else []
    return f"{channel}:{user_id} is {user.role.value}" + (f" of {', '.join(held)}" if held else "")


async def _revoke(args: argparse.Namespace, config: Config) -> int:
    from bot.app import Runtime

    provinces = _provinces(args.province)
    if provinces is None:
        return 2
    channel, user_id = args.who
    async with Runtime(config) as runtime:
        store = runtime.store
        user = await store.find_user(channel, user_id)
        if user is None:
            print(f"unionbot: no user {channel}:{user_id}", file=sys.stderr)
            return 1
        if provinces:
            # Only provinces: the role stays, the scope shrinks.
            await store.remove_organizer_provinces(user.id, provinces)
            await store.audit(None, "scope.revoke", f"user:{user.id}", {"provinces": sorted(provinces), "via": "cli"})
        elif user.role.value == args.role:
            await store.set_role(user.id, Role.WORKER)
            # Without the role the console is closed to them at once, not at session expiry.
            await store.end_console_sessions(user.id)
            await store.audit(None, "role.revoke", f"user:{user.id}", {"from": args.role, "to": "worker", "via": "cli"})
        else:
            print(f"unionbot: {channel}:{user_id} is {user.role.value}, not {args.role}", file=sys.stderr)
            return 1
        current = await store.get_user(user.id)
        assert current is not None
        print(await _describe(store, channel, user_id, current))
    return 0


def add_import_command(cmds: Any, common: argparse.ArgumentParser) -> None:
    """`unionbot signups import FILE [--dry-run]` (registered by bot/cli_signups.py)."""
    imp = cmds.add_parser("import", parents=[common], help="add sign-ups collected on paper from a CSV or XLSX file")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--dry-run", action="store_true", help="check every row, store nothing")
    imp.set_defaults(func=_import)


async def _import(args: argparse.Namespace, config: Config) -> int:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.app import Runtime
    from handlers.join.importer import MAX_BYTES, plan_import, read_table

    try:
        data = args.file.read_bytes()
    except OSError as e:
        print(f"unionbot: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    if len(data) > MAX_BYTES:
        print(f"unionbot: {args.file} is larger than {MAX_BYTES // (1024 * 1024)} MB", file=sys.stderr)
        return 1
    tz = ZoneInfo(config.bot.timezone)
    lang = config.bot.default_language
    try:
        plan = plan_import(
            read_table(data, args.file.name), scope=None, tz=tz, lang=lang, today=datetime.now(tz).date()
        )
    except Exception as e:  # a file that is neither CSV (UTF-8) nor XLSX
        print(f"unionbot: cannot read {args.file} as CSV (UTF-8) or XLSX: {type(e).__name__}", file=sys.stderr)
        return 1
    async with Runtime(config) as runtime:
        catalog = runtime.services.catalog
        # Problems name the row, the column and what is wrong; the value is left out, so
        # a terminal log or CI output holds no worker's name or number.
        for p in plan.problems:
            column = f" {catalog.t(lang, f'console.import.col.{p.column}')}:" if p.column else ":"
            print(f"row {p.row}{column} {catalog.t(lang, f'console.import.err.{p.code}')}")
        known = await runtime.store.known_phones([r.draft.phone_e164 for r in plan.rows])
        if args.dry_run:
            print(
                f"{len(plan.rows) - len(known)} new, {len(known)} already signed up, {plan.merged} merged "
                f"duplicates, {len(plan.problems)} problems (dry run: nothing stored)"
            )
            return 0 if plan.ok else 1
        outcome = await runtime.store.import_signups([(r.draft, r.signed_at) for r in plan.rows])
        await runtime.store.audit(
            None,
            "signups.import",
            "signups",
            {
                "created": outcome.created,
                "known": outcome.known,
                "merged": plan.merged,
                "problems": len(plan.problems),
                "via": "cli",
                "provinces": sorted({r.draft.province_id for r in plan.rows}),
            },
        )
        print(
            f"{outcome.created} new sign-ups imported, {outcome.known} already signed up kept, "
            f"{plan.merged} merged duplicates, {len(plan.problems)} problems (rows not imported)"
        )
    return 0 if plan.ok else 1
