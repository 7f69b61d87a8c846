"""`unionbot routes`: every command, menu entry, button and form step the bot answers,
with the least role allowed and the handler, read from the router itself."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.config import Config
from handlers.i18n import load_catalog
from handlers.routes import build_router, describe_routes


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    routes = sub.add_parser("routes", parents=[common], help="list every command, button and form step")
    routes.add_argument("--json", action="store_true", help="one JSON object per route")
    routes.set_defaults(func=_routes)


async def _routes(args: argparse.Namespace, config: Config) -> int:
    rows = describe_routes(build_router(), load_catalog(), lang="en")
    if args.json:
        for r in rows:
            role = r.min_role.value if r.min_role else None
            row = {"kind": r.kind, "trigger": r.trigger, "role": role, "handler": r.handler, "help": r.help}
            print(json.dumps(row, ensure_ascii=False))
        return 0
    width = max(len(r.trigger) for r in rows)
    for r in rows:
        role = r.min_role.value if r.min_role else "-"
        print(f"{r.trigger:<{width}}  {role:<9}  {r.help}  [{r.handler}]")
    return 0
