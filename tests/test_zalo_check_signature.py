"""`unionbot zalo check-signature FILE` on captured requests, as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.zalo_servers import oa_follow_event, oa_probe_request, oa_text_event, signed_oa_webhook

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "2553928453557884079"
OA_KEY = "the-oa-secret-key"
APP_SECRET = "the-app-secret"


def run(tmp_path: Path, capture: bytes, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    path = tmp_path / "capture.txt"
    path.write_bytes(capture)
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))}
    full |= {
        "UNIONBOT_DB": str(tmp_path / "x.sqlite3"),
        "UNIONBOT_CONFIG": str(ROOT / "config.toml"),
        "ZALO_OA_APP_ID": APP_ID,
        "ZALO_OA_APP_SECRET": APP_SECRET,
        "ZALO_OA_SECRET_KEY": OA_KEY,
    }
    full |= env or {}
    return subprocess.run(
        [sys.executable, "-m", "bot", "zalo", "check-signature", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full,
        timeout=60,
    )


def as_http(body: bytes, headers: dict[str, str]) -> bytes:
    head = "POST /zalo/oa/webhook HTTP/1.1\r\nHost: bot.example.org\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


@pytest.mark.parametrize(
    ("formula", "key", "expected"),
    [
        ("app_id", OA_KEY, 'formula "app_id" with ZALO_OA_SECRET_KEY'),
        ("oa_id", OA_KEY, 'formula "oa_id" with ZALO_OA_SECRET_KEY'),
        ("app_id", APP_SECRET, 'formula "app_id" with ZALO_OA_APP_SECRET'),
        ("oa_id", APP_SECRET, 'formula "oa_id" with ZALO_OA_APP_SECRET'),
    ],
)
def test_names_the_formula_and_key_that_match(tmp_path: Path, formula: str, key: str, expected: str) -> None:
    body, headers = signed_oa_webhook(oa_text_event("u1", "Xin chào", app_id=APP_ID), key, formula=formula)
    r = run(tmp_path, as_http(body, headers))
    assert r.returncode == 0, r.stdout + r.stderr
    assert expected in r.stdout
    assert f'oa_signature = "{formula}"' in r.stdout
    assert OA_KEY not in r.stdout and APP_SECRET not in r.stdout


def test_json_capture_and_a_trailing_newline_added_by_an_editor(tmp_path: Path) -> None:
    body, headers = signed_oa_webhook(oa_follow_event("u2", app_id=APP_ID), OA_KEY, prefix="")
    capture = json.dumps({"headers": headers, "body": body.decode()}).encode()
    r = run(tmp_path, capture)
    assert r.returncode == 0 and 'formula "app_id" with ZALO_OA_SECRET_KEY' in r.stdout
    r = run(tmp_path, as_http(body, headers).replace(b"\r\n", b"\n") + b"\n")
    assert r.returncode == 0 and "without the final newline" in r.stdout


def test_nothing_matches_exit_1(tmp_path: Path) -> None:
    body, headers = signed_oa_webhook(oa_text_event("u1", "x", app_id=APP_ID), "some-other-key")
    r = run(tmp_path, as_http(body, headers))
    assert r.returncode == 1 and "no known formula matches" in r.stdout


def test_the_probe_and_unreadable_files(tmp_path: Path) -> None:
    body, headers = oa_probe_request()
    r = run(tmp_path, as_http(body, headers))
    assert r.returncode == 0 and "check of the webhook URL" in r.stdout
    r = run(tmp_path, b"just some text without headers")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
