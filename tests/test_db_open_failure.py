"""A database that cannot be opened ends every command at once with exit 2 and one line.

Before the fix, a failed PRAGMA after a successful connect left aiosqlite's worker thread
running, so `unionbot run`, `db migrate` and `broadcast send-due` (from cron) never exited.
Each case runs the real CLI in a subprocess with a timeout: a hang fails the test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "run": ["run"],
    "db migrate": ["db", "migrate"],
    "send-due": ["broadcast", "send-due", "--quiet"],
}
# Root ignores file modes; the read-only cases then run the CLI as this user instead.
NOBODY = 65534


def _random_bytes(base: Path) -> Path:
    path = base / "bot.sqlite3"
    path.write_bytes(os.urandom(64 * 1024))
    return path


def _corrupt(base: Path) -> Path:
    path = base / "bot.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    # Keep the 100-byte header (it still looks like SQLite), scramble the schema page.
    data[100:4096] = os.urandom(4096 - 100)
    path.write_bytes(bytes(data))
    return path


def _directory(base: Path) -> Path:
    path = base / "bot.sqlite3"
    path.mkdir()  # "unable to open database file"
    return path


def _read_only_dir(base: Path) -> Path:
    ro = base / "ro"
    ro.mkdir()
    ro.chmod(0o555)  # a new database cannot be created here
    return ro / "bot.sqlite3"


def _read_only_existing(base: Path) -> Path:
    ro = base / "ro"
    ro.mkdir()
    path = ro / "bot.sqlite3"
    sqlite3.connect(path).close()
    path.chmod(0o444)
    ro.chmod(0o555)  # as on a read-only mount: no -wal or -shm file can be made
    return path


CASES: dict[str, tuple[Callable[[Path], Path], bool]] = {
    "random-bytes": (_random_bytes, False),
    "corrupt": (_corrupt, False),
    "directory": (_directory, False),
    "read-only-dir": (_read_only_dir, True),
    "read-only-file": (_read_only_existing, True),
}


@pytest.fixture
def world_dir():  # type: ignore[no-untyped-def]
    """A directory another user can use (pytest's tmp_path is private to its owner)."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="unionbot-dbfail-"))
    base.chmod(0o777)
    yield base
    for p in [base, *base.rglob("*")]:
        with contextlib.suppress(OSError):
            p.chmod(0o777)
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_a_database_that_cannot_be_opened_exits_2_with_one_line(
    world_dir: Path,
    case: str,
    command: str,
) -> None:
    make, needs_modes = CASES[case]
    db = make(world_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))}
    env["UNIONBOT_DB"] = str(db)
    env["UNIONBOT_CONFIG"] = str(ROOT / "config.toml")
    # Never contacted: the store is opened before any network call.
    env["TELEGRAM_BOT_TOKEN"] = "123456:not-a-real-token"
    env["TELEGRAM_API_BASE_URL"] = "http://127.0.0.1:9/bot"
    kw: dict = {}
    if needs_modes and os.geteuid() == 0:
        kw["user"] = NOBODY
        env["HOME"] = str(world_dir)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", *COMMANDS[command]],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=20,
            stdin=subprocess.DEVNULL,
            **kw,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command} hung on a {case} database")
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert str(db) in lines[0]
    assert "Traceback" not in result.stderr
