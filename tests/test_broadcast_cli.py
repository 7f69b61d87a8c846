"""`unionbot broadcast ...` as an organizer meets it: real subprocesses, exit codes, and
`send-due` delivering through the fake Bot API."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from storage.broadcasts import BroadcastStatus
from storage.sqlite import SQLiteStore
from tests.fakes.broadcast_support import add_workers
from tests.fakes.telegram_api import FakeTelegramServer

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
[broadcast]
quiet_start = "00:00"
quiet_end = "00:00"

[[broadcast.topics]]
id = "workers_month"
name_vi = "Tháng Công nhân"
name_en = "Workers' Month"
"""


def env_for(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))}
    env.update({"UNIONBOT_DB": str(tmp_path / "cli.sqlite3"), "UNIONBOT_CONFIG": str(cfg), **(extra or {})})
    return env


async def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    # Asynchronous, so that a fake server in this event loop keeps answering meanwhile.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "broadcast",
        *args,
        cwd=ROOT,
        env=env or env_for(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    # A fresh database logs its migrations; the rest of stderr is the command's own.
    lines = [ln for ln in err.decode().splitlines(keepends=True) if " INFO storage.sqlite: applied" not in ln]
    return proc.returncode, out.decode(), "".join(lines)


async def test_create_list_show_cancel(tmp_path: Path) -> None:
    code, out, err = await cli(
        tmp_path,
        "create",
        "--text",
        "Chào mừng Tháng Công nhân",
        "--text-en",
        "Welcome",
        "--topic",
        "workers_month",
        "--at",
        "2099-05-01 08:00",
        "--dry-run",
    )
    assert code == 0, err
    assert "--- preview (vi) ---\nChào mừng Tháng Công nhân\n\n— Công đoàn" in out and "dry run" in out
    code, out, err = await cli(
        tmp_path,
        "create",
        "--text",
        "Chào mừng Tháng Công nhân",
        "--topic",
        "workers_month",
        "--at",
        "2099-05-01 08:00",
    )
    assert code == 0, err
    assert "created broadcast #1 (once), first send 01/05/2099 08:00" in out
    code, out, err = await cli(
        tmp_path,
        "create",
        "--text",
        "Họp tối thứ Hai",
        "--all",
        "--every",
        "0 19 * * 1",
        "--at",
        "2099-05-01 00:00",
        "--until",
        "2099-05-31",
    )
    assert code == 0, err
    assert "created broadcast #2 (recurring), first send 04/05/2099 19:00" in out, "cron 1 is Monday"
    code, out, _ = await cli(tmp_path, "list")
    assert code == 0 and "every Monday at 19:00 until 31/05/2099" in out and "at 01/05/2099 08:00" in out
    code, out, _ = await cli(tmp_path, "show", "1")
    assert code == 0 and "broadcast #1 (once): scheduled" in out and "subscribers of: Workers' Month" in out
    code, out, _ = await cli(tmp_path, "cancel", "1")
    assert code == 0 and "cancel done" in out
    code, _, err = await cli(tmp_path, "cancel", "1")
    assert code == 1 and "cannot cancel" in err
    code, _, err = await cli(tmp_path, "resend-failed", "2")
    assert code == 1 and "nothing to resend" in err
    code, _, err = await cli(tmp_path, "show", "99")
    assert code == 1 and "no broadcast 99" in err
    async with SQLiteStore(tmp_path / "cli.sqlite3") as store:
        assert (await store.get_broadcast(1)).status is BroadcastStatus.CANCELLED
        actions = [e.action for e in await store.list_audit()]
        assert actions == ["broadcast.cancel", "broadcast.create", "broadcast.create"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--text", "x"], "--topic T"),
        (["create", "--text", "x", "--topic", "nope"], "unknown topic 'nope'"),
        (["create", "--text", "x", "--all", "--at", "tomorrow"], "--at: expected"),
        (["create", "--text", "x", "--all", "--at", "2001-01-01 08:00"], "--at is in the past"),
        (["create", "--text", "x", "--all", "--every", "0 19 * *"], "--every: a schedule needs 5 fields"),
        (["create", "--text", "x", "--all", "--until", "2099-01-01"], "--until only makes sense with --every"),
        (["create", "--text", "x", "--all", "--photo", "/nonexistent.png"], "--photo: cannot read"),
        (["create", "--text", "x", "--all", "--province", "Atlantis"], "unknown province"),
        (["create", "--all"], "required: --text"),
        (["show", "abc"], "not a broadcast number"),
    ],
)
async def test_bad_usage_is_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = await cli(tmp_path, *args)
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


async def test_send_due_delivers_through_telegram_with_a_progress_bar(tmp_path: Path) -> None:
    async with FakeTelegramServer() as fake:
        fake.register_chats(range(1, 46))
        fake.block(7)
        async with SQLiteStore(tmp_path / "cli.sqlite3") as store:
            await add_workers(store, range(1, 46))  # 1.5 s at the default 30/s
        env = env_for(tmp_path, {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url})
        code, out, err = await cli(
            tmp_path, "create", "--text", "Tết Sum vầy 2026", "--topic", "workers_month", "--at", "now", env=env
        )
        assert code == 0, err
        code, out, err = await cli(tmp_path, "send-due", env=env)
        assert code == 0, err
        assert "broadcast #1: done sent 44, failed 1 (blocked 1)" in out
        assert "broadcast #1 [" in err and "45/45 100%" in err
        assert len([r for r in fake.requests("sendMessage") if r.ok]) == 44
        code, out, _ = await cli(tmp_path, "send-due", env=env)
        assert code == 0 and "nothing due" in out
        assert fake.duplicate_send_count == 0
        code, out, _ = await cli(tmp_path, "show", "1", env=env)
        assert "sent 44" in out and "Failed by reason: blocked the bot: 1" in out


async def test_send_due_without_a_token_says_so(tmp_path: Path) -> None:
    code, _, err = await cli(tmp_path, "send-due")
    assert code == 1 and "TELEGRAM_BOT_TOKEN" in err
