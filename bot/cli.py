"""The `unionbot` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from bot.config import Config, ConfigError, load_config
from bot.logsetup import secrets_of, setup_logging
from handlers.i18n import LANGUAGES
from storage import Role, StoreError, StoreOpenError, safe_location

if TYPE_CHECKING:
    from bot.app import Runtime  # imported when a command runs: start-up stays fast

logger = logging.getLogger(__name__)

CONSOLE_ROLES = ("worker", "volunteer", "organizer", "admin")


class UsageError(Exception):
    """Bad usage: exit 2 with one line, never a traceback."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _version() -> str:
    try:
        return version("unionbot")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument(
        "--config", type=Path, metavar="PATH", help="configuration file (default: $UNIONBOT_CONFIG or ./config.toml)"
    )

    parser = Parser(prog="unionbot", description="Chatbot for Vietnam's labour unions.")
    parser.add_argument("--version", action="version", version=f"unionbot {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    sub.add_parser("run", parents=[common], help="run the bot with the configured channels")

    chat = sub.add_parser("chat", parents=[common], help="chat with the bot in this terminal")
    chat.add_argument(
        "--as",
        dest="role",
        choices=CONSOLE_ROLES,
        default=None,
        help="play this role (default: keep the user's role; a new user is a worker)",
    )
    chat.add_argument("--user-id", default="1", help="console user id (default 1)")
    chat.add_argument("--lang", choices=LANGUAGES, default=None)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=Parser)
    db_sub.add_parser("migrate", parents=[common], help="apply pending migrations")
    importlib.import_module("bot.cli_db").register(db_sub, common)

    # Feature commands live beside their feature: each module adds its sub-commands and
    # sets `func`, an async callable (args, config) -> exit code.
    for module in FEATURE_CLIS:
        importlib.import_module(module).register(sub, common)
    return parser


FEATURE_CLIS: tuple[str, ...] = (
    "bot.cli_rights",
    "bot.cli_broadcast",
    "bot.cli_signups",
    "bot.cli_zalo",
    "bot.cli_listening",
    "bot.cli_care",
    "bot.cli_console",
    "bot.cli_routes",
)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        config = load_config(getattr(args, "config", None))
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"unionbot: configuration error: {e}", file=sys.stderr)
        return 2
    setup_logging(config.bot.log_level, secrets=secrets_of(config))
    try:
        if hasattr(args, "func"):
            return int(asyncio.run(args.func(args, config)))
        if args.command == "run":
            return asyncio.run(_run(config))
        if args.command == "chat":
            return asyncio.run(_chat(config, args.role, args.user_id, args.lang))
        if args.command == "db":
            return asyncio.run(_migrate(config))
    except KeyboardInterrupt:
        return 130
    except StoreOpenError as e:
        # Like a bad configuration: nothing ran, and the operator must fix a file first.
        print(f"unionbot: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `unionbot signups provinces | head -3`: the reader left, which is not an error.
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (StoreError, OSError) as e:
        # The database file is unreadable, on a full disk, not a database...: say which.
        print(f"unionbot: storage error ({safe_location(config.storage.path)}): {e}", file=sys.stderr)
        return 1
    return 2


async def _migrate(config: Config) -> int:
    from bot.app import Runtime

    async with Runtime(config) as runtime:
        print(f"database {safe_location(config.storage.path)}: schema version {await runtime.store.schema_version()}")
    return 0


async def _run(config: Config) -> int:
    from bot.app import Runtime, install_stop_signals, serve

    async with Runtime(config) as runtime:
        channels = runtime.build_channels()
        if not channels:
            print(
                "No TELEGRAM_BOT_TOKEN set: opening the local chat instead.\n"
                "To connect Telegram, create a bot with @BotFather and run:\n"
                "  TELEGRAM_BOT_TOKEN=123456:ABC... python3 dev.py run\n"
                "Type /start to begin, /quit to leave.\n",
                file=sys.stderr,
            )
            return await _console(runtime, None, "1", None)
        stop = asyncio.Event()
        install_stop_signals(stop)
        await serve(runtime, channels, stop)
    return 0


async def _chat(config: Config, role: str | None, user_id: str, lang: str | None) -> int:
    from bot.app import Runtime

    async with Runtime(config) as runtime:
        return await _console(runtime, role, user_id, lang)


async def _console(runtime: Runtime, role: str | None, user_id: str, lang: str | None) -> int:
    """The terminal chat as console user `user_id`. `role` None keeps the user's role:
    a chat started without --as (or `run` without channels) demoted the first admin,
    console:1 or console:900, to worker (found by an outside tester)."""
    from bot.channels.console import NAME, ConsoleChannel

    store = runtime.store
    user = await store.touch_user(NAME, user_id, language=lang or runtime.config.bot.default_language)
    if lang and user.language != lang:
        await store.set_language(user.id, lang)
    if role is not None and user.role.value != role:
        # Whoever runs the terminal chat already holds the database file; the role is
        # theirs to pick, but the change is audited like any other.
        await store.set_role(user.id, Role(role))
        await store.audit(user.id, "role.console", f"user:{user.id}", {"from": user.role.value, "to": role})
    console = ConsoleChannel(runtime.dispatcher, user_id, language=lang)
    runtime.registry.add(console)
    console.registry = runtime.registry
    await console.run(prompt=sys.stdin.isatty())
    return 0
