"""`unionbot roles`, `unionbot console link` and `unionbot serve`, as an operator runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from handlers.console import token_hash
from storage.sqlite import SQLiteStore
from tests.test_cli import ROOT, run


async def test_grant_creates_the_user_and_a_link_signs_them_in_once(tmp_path: Path) -> None:
    r = run(["roles", "grant", "telegram:555", "organizer", "--province", "Hà Nội", "--province", "hue"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "telegram:555 is organizer of ha_noi, hue"
    link = run(["console", "link", "telegram:555"], tmp_path)
    assert link.returncode == 0, link.stderr
    m = re.fullmatch(r"http://127\.0\.0\.1:8080/console/login/([A-Za-z0-9_-]{40,})\n", link.stdout)
    assert m, link.stdout
    async with SQLiteStore(tmp_path / "cli.sqlite3") as store:
        user = await store.find_user("telegram", "555")
        assert user is not None and user.role.value == "organizer"
        assert await store.use_console_link(token_hash(m.group(1)), now=datetime.now(UTC)) == user.id
        assert await store.use_console_link(token_hash(m.group(1)), now=datetime.now(UTC)) is None
        grants = await store.list_audit(action="role.grant")
        assert grants[0].actor_id is None and grants[0].details["via"] == "cli"
        assert grants[0].details["provinces"] == ["ha_noi", "hue"]


def test_workers_get_no_link_and_revoke_takes_provinces_then_the_role(tmp_path: Path) -> None:
    assert run(["roles", "grant", "zalo_bot:9", "volunteer"], tmp_path).returncode == 0
    refused = run(["console", "link", "zalo_bot:9"], tmp_path)
    assert refused.returncode == 1 and "/console/login/" not in refused.stdout
    assert run(["console", "link", "nobody"], tmp_path).returncode == 2  # not CHANNEL:USER_ID
    assert run(["roles", "grant", "console:900", "admin"], tmp_path).stdout.strip() == "console:900 is admin"
    assert (
        run(
            ["roles", "grant", "telegram:1", "organizer", "--province", "Hà Nội", "--province", "Huế"], tmp_path
        ).returncode
        == 0
    )
    part = run(["roles", "revoke", "telegram:1", "organizer", "--province", "Huế"], tmp_path)
    assert part.stdout.strip() == "telegram:1 is organizer of ha_noi"
    whole = run(["roles", "revoke", "telegram:1", "organizer"], tmp_path)
    assert whole.stdout.strip() == "telegram:1 is worker"
    bad = run(["roles", "grant", "telegram:1", "organizer", "--province", "Atlantis"], tmp_path)
    assert bad.returncode == 2 and "unknown province" in bad.stderr
    # Found by an outside tester: users nobody could ever be were created.
    for who, why in (("foo:5", "unknown channel 'foo'"), ("telegram:abc", "a Telegram user id is a number")):
        refused = run(["roles", "grant", who, "organizer"], tmp_path)
        assert refused.returncode == 2 and why in refused.stderr, refused.stderr


def test_serve_runs_the_web_server_with_the_console_and_never_the_terminal_chat(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))}
    env.update({"UNIONBOT_DB": str(tmp_path / "serve.sqlite3"), "UNIONBOT_HTTP_PORT": "0"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = None
        assert proc.stderr is not None
        for line in proc.stderr:
            if m := re.search(r"web server listening on [\d.]+:(\d+)", line):
                port = int(m.group(1))
                break
        assert port, "serve did not start its web server"
        page = httpx.get(f"http://127.0.0.1:{port}/console/", timeout=10)
        assert page.status_code == 401 and "/console" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()["ok"] is True
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "/quit" not in out and "local chat" not in out  # no terminal chat
