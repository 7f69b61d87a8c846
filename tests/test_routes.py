"""`unionbot routes` lists every route from the router itself, and every route has a
role rule and a help text (a newcomer greps the listing, not the code)."""

from __future__ import annotations

import json
import subprocess
import sys

from handlers.i18n import load_catalog
from handlers.routes import build_router, describe_routes
from storage import Role


def test_every_route_has_a_role_and_a_help_text() -> None:
    router = build_router()
    rows = describe_routes(router, load_catalog())
    missing = [f"{r.trigger} ({r.handler})" for r in rows if not r.help.strip()]
    assert missing == [], "routes without help text (a docstring or a command-menu text): " + ", ".join(missing)
    assert all(isinstance(r.min_role, Role) for r in rows), [r.trigger for r in rows if r.min_role is None]


def test_the_listing_holds_every_registered_route() -> None:
    router = build_router()
    triggers = {r.trigger for r in describe_routes(router, load_catalog())}
    assert {f"/{c}" for c in router.commands} <= triggers
    assert {f"{p}:" for p in router.buttons} <= triggers
    assert {f"flow {f}" for f in router.flows} <= triggers
    assert {f"menu:{m}" for m in router.menu_actions} <= triggers
    for prefix, route in router.buttons.items():
        assert {f"{prefix}:{a}" for a in route.actions} <= triggers
    # Second-level actions are listed with the prefix's role (checked by the dispatcher).
    actions = {r.trigger: r for r in describe_routes(router, load_catalog()) if r.kind == "action"}
    assert actions["bcm:pause"].min_role is Role.ORGANIZER
    assert actions["bcm:pause"].handler == "handlers.broadcasts.manage._pause"
    # Member care's buttons too, one action per line, with the prefix's role.
    care = {"cb:c", "cb:p", "cp:v", "cp:r", "cp:ok", "cp:cy", "cs:k", "cs:a", "cr:a", "cr:r", "cc:s", "cc:nx"}
    assert care <= set(actions)
    assert actions["cc:s"].min_role is Role.ORGANIZER and actions["cp:r"].min_role is Role.WORKER
    assert actions["cp:ok"].handler == "handlers.care.programs._confirm"
    # Polls and workplace reports: each button a line in a table, listed with its role.
    assert {f"pc:{a}" for a in ("new", "show", "by", "end", "cancel", "kind", "t", "all", "aud_ok", "confirm")} <= set(
        actions
    )
    assert actions["pc:confirm"].handler == "handlers.listening.polls._confirmed"
    assert actions["pc:kind"].min_role is Role.ORGANIZER
    assert {f"rp:{a}" for a in ("start", "cancel", "cat", "prov", "w", "skip", "send")} <= set(actions)
    assert actions["rp:send"].min_role is Role.WORKER
    assert actions["rp:send"].handler == "handlers.listening.reports._send_button"
    assert actions["rpo:cl"].min_role is Role.ORGANIZER
    assert actions["inbox:r"].handler == "handlers.rights.inbox._reply"
    assert actions["inbox:p"].min_role is Role.ORGANIZER


def test_cli_prints_the_table_and_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"UNIONBOT_DB": str(tmp_path / "x.sqlite3"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "bot", "routes", "--json"], capture_output=True, text=True, env=env, check=True
    ).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    by_trigger = {r["trigger"]: r for r in rows}
    assert by_trigger["/broadcast"]["role"] == "organizer"
    assert by_trigger["/join"]["role"] == "worker"
    assert by_trigger["bcc:confirm"]["handler"] == "handlers.broadcasts.compose._confirmed"
    assert len(rows) == len(describe_routes(build_router(), load_catalog()))
