"""The command line as a user meets it: real subprocesses, stdin pipes, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], tmp_path: Path, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))}
    full_env.update({"UNIONBOT_DB": str(tmp_path / "cli.sqlite3"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=60,
    )


def test_version(tmp_path: Path) -> None:
    r = run(["--version"], tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("unionbot ")


def test_bad_usage_is_one_line_exit_2(tmp_path: Path) -> None:
    for args in (["frobnicate"], ["chat", "--as", "king"], []):
        r = run(args, tmp_path)
        assert r.returncode == 2, args
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr


def test_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nport = 'abc'\n")
    r = run(["run", "--config", str(cfg)], tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "server.port" in r.stderr
    r = run(["db", "migrate"], tmp_path, env={"UNIONBOT_CONFIG": str(tmp_path / "nope.toml")})
    assert r.returncode == 2 and "not found" in r.stderr


def test_db_migrate(tmp_path: Path) -> None:
    r = run(["db", "migrate"], tmp_path)
    assert r.returncode == 0 and "schema version" in r.stdout
    assert (tmp_path / "cli.sqlite3").exists()


def test_chat_start_menu_language_and_back_over_stdin(tmp_path: Path) -> None:
    # /start -> 6 (language) -> 2 (English) -> /help -> 1 (back to menu) -> Vietnamese again.
    r = run(["chat"], tmp_path, stdin="/start\n6\n2\n/help\n1\n/lang vi\n")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Xin chào" in out
    assert "  6) 🌐 Ngôn ngữ / Language" in out
    assert "Switched to English." in out
    assert "I can help you" in out
    assert "Main menu: choose an option." in out.split("I can help you", 1)[1]
    assert out.rfind("Đã chuyển sang tiếng Việt") > out.rfind("Main menu: choose an option.")


def test_chat_as_organizer_sees_organizer_help(tmp_path: Path) -> None:
    r = run(["chat", "--as", "organizer", "--user-id", "77", "--lang", "en"], tmp_path, stdin="/help\n/whoami\n")
    assert r.returncode == 0, r.stderr
    assert "For organizers" in r.stdout and "Role: union organizer." in r.stdout


def test_chat_without_as_keeps_the_users_role(tmp_path: Path) -> None:
    # Found by an outside tester: `chat --user-id 900` (or `run` without a token) made the
    # console's first admin a worker again.
    r = run(["chat", "--as", "admin", "--user-id", "900", "--lang", "en"], tmp_path, stdin="/whoami\n")
    assert "Role: administrator." in r.stdout, r.stdout
    r = run(["chat", "--user-id", "900", "--lang", "en"], tmp_path, stdin="/whoami\n")
    assert r.returncode == 0, r.stderr
    assert "Role: administrator." in r.stdout, r.stdout
    r = run(["chat", "--user-id", "901", "--lang", "en"], tmp_path, stdin="/whoami\n")
    assert "Role: worker." in r.stdout, r.stdout  # a new user is a worker


def test_run_without_token_opens_local_chat(tmp_path: Path) -> None:
    r = run(["run"], tmp_path, stdin="/start\n")
    assert r.returncode == 0, r.stderr
    assert "TELEGRAM_BOT_TOKEN" in r.stderr and "Xin chào" in r.stdout


def test_huge_or_bad_numbers_are_one_line_usage_errors(tmp_path: Path) -> None:
    for args in (
        ["broadcast", "show", "99999999999999999999999"],
        ["broadcast", "cancel", "-1"],
        ["broadcast", "list", "--limit", "0"],
        ["signups", "stats", "--year", "99999"],
    ):
        r = run(args, tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
