"""`unionbot signups ...` as a user meets it: real subprocesses, files, exit codes."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl

from storage.signups import SignupStatus
from storage.sqlite import SQLiteStore
from tests.test_cli import run
from tests.test_join_organizer import add_signup

YEAR = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).year


async def seed(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "cli.sqlite3") as store:
        a = await add_signup(store, "+84912000001", "ho_chi_minh", "Nguyễn Thị Ánh", commune="Phường Thới Hòa")
        await add_signup(store, "+84912000002", "ha_noi", "Lê Văn Đức")
        await store.set_signup_status(a, SignupStatus.JOINED)
        await store.add_signup_note(a, None, '=HYPERLINK("x")')
        await store.set_signup_target("ho_chi_minh", YEAR, 4, None)


async def audit_actions(tmp_path: Path) -> list:  # type: ignore[type-arg]
    async with SQLiteStore(tmp_path / "cli.sqlite3") as store:
        return await store.list_audit()


async def test_export_csv_with_bom_and_vietnamese(tmp_path: Path) -> None:
    await seed(tmp_path)
    out = tmp_path / "out" / "signups.csv"
    r = run(["signups", "export", "--format", "csv", "--out", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 sign-ups" in r.stdout and "912" not in r.stdout
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Mã đăng ký", "Thời gian đăng ký", "Họ và tên"]
    assert {r[2] for r in rows[1:]} == {"Nguyễn Thị Ánh", "Lê Văn Đức"}
    assert '\'=HYPERLINK("x")' in {r[10] for r in rows[1:]}, "formulas stay inert"
    entry = (await audit_actions(tmp_path))[0]
    assert (entry.action, entry.actor_id) == ("signups.export", None)
    assert entry.details == {"rows": 2, "provinces": "all", "formats": ["csv"], "via": "cli"}


async def test_export_xlsx_for_one_province(tmp_path: Path) -> None:
    await seed(tmp_path)
    out = tmp_path / "hcm.xlsx"
    r = run(["signups", "export", "--format", "xlsx", "--out", str(out), "--province", "Bình Dương"], tmp_path)
    assert r.returncode == 0, r.stderr
    sheet = openpyxl.load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][2] == "Nguyễn Thị Ánh" and rows[1][6] == "Phường Thới Hòa"
    assert (await audit_actions(tmp_path))[0].details["provinces"] == ["ho_chi_minh"]


async def test_stats(tmp_path: Path) -> None:
    await seed(tmp_path)
    r = run(["signups", "stats"], tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line[:24].strip(): line[24:].split() for line in r.stdout.splitlines()[2:] if line[:24].strip()}
    assert rows["Hồ Chí Minh"] == ["1", "4", "25.0%"]
    assert rows["Hà Nội"] == ["1", "-", "-"]
    # The share leaves out Hà Nội, which has no target (it was 50%: 2 against HCM's 4).
    assert rows["total"] == ["2", "4", "25.0%"]
    assert "(1 of the sign-ups are in provinces with no target" in r.stdout
    assert "joined: 1" in r.stdout and "Nguyễn" not in r.stdout
    r = run(["signups", "stats", "--province", "hcm"], tmp_path)
    assert r.returncode == 0 and "Hà Nội" not in r.stdout and "Hồ Chí Minh" in r.stdout
    r = run(["signups", "stats", "--year", str(YEAR - 1)], tmp_path)
    assert "total                            0" in r.stdout


def test_bad_usage_is_one_line_exit_2(tmp_path: Path) -> None:
    for args in (
        ["signups", "export", "--format", "pdf", "--out", "x"],
        ["signups", "export", "--format", "csv"],
        ["signups", "export", "--format", "csv", "--out", str(tmp_path / "x.csv"), "--province", "Paris"],
        ["signups", "stats", "--province", "Atlantis"],
        ["signups", "forget", "--phone", "12345"],
        ["signups"],
    ):
        r = run(args, tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr


async def test_forget_by_phone_and_provinces(tmp_path: Path) -> None:
    await seed(tmp_path)
    r = run(["signups", "forget", "--phone", "0912 000 001"], tmp_path)
    assert r.returncode == 0 and "erased sign-up #1" in r.stdout and "000001" not in r.stdout
    r = run(["signups", "forget", "--phone", "0912 000 001"], tmp_path)
    assert "nothing to erase" in r.stdout
    r = run(["signups", "provinces"], tmp_path)
    assert "ho_chi_minh" in r.stdout and "Bình Dương" in r.stdout and len(r.stdout.splitlines()) == 34
    r = run(["signups", "purge"], tmp_path)
    assert r.returncode == 0 and "erased 0 sign-ups" in r.stdout


async def test_worker_signs_up_in_the_terminal_chat(tmp_path: Path) -> None:
    # Numbers press the buttons shown last: 1 = Skip (referral), 1 = I agree, 7 = Send.
    script = "\n".join(
        [
            "/join",
            "Nguyễn Thị Lan",
            "0912 345 678",
            "Công ty TNHH May Sông Hồng",
            "Bình Dương",
            "KCN Mỹ Phước",
            "1",
            "1",
            "7",
            "/mydata",
            "",
        ]
    )
    r = run(["chat"], tmp_path, stdin=script)
    assert r.returncode == 0, r.stderr
    assert "Bình Dương thuộc Hồ Chí Minh" in r.stdout
    assert "🎉 Cảm ơn bạn! Đăng ký #1 đã được gửi." in r.stdout
    assert "Đăng ký gia nhập công đoàn #1:" in r.stdout and "+84912345678" in r.stdout
    async with SQLiteStore(tmp_path / "cli.sqlite3") as store:
        [signup] = await store.list_signups(provinces=None)
    assert (signup.full_name, signup.phone_e164, signup.consent_channel) == (
        "Nguyễn Thị Lan",
        "+84912345678",
        "console",
    )


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.test_cli import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))}
    env["UNIONBOT_DB"] = str(tmp_path / "cli.sqlite3")
    # `unionbot signups provinces | head -0`: the reader is gone before the first line.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = subprocess.run(
            [sys.executable, "-m", "bot", "signups", "provinces"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert r.returncode == 0
    assert r.stderr == ""


async def test_an_interrupted_export_leaves_no_file_under_the_asked_name(tmp_path: Path) -> None:
    from handlers.i18n import load_catalog
    from handlers.join.export import write_export_file

    await seed(tmp_path)
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"yesterday's export")

    class Interrupted(Exception):
        pass

    async with SQLiteStore(tmp_path / "cli.sqlite3") as store:
        real_pages = store.export_pages

        async def failing_pages(**kwargs: object):  # type: ignore[no-untyped-def]
            async for page in real_pages(**kwargs):  # type: ignore[arg-type]
                yield page
                raise Interrupted

        store.export_pages = failing_pages  # type: ignore[method-assign]
        for fmt in ("xlsx", "csv"):
            try:
                await write_export_file(
                    store, out, fmt=fmt, provinces=None, catalog=load_catalog(), lang="vi", page_size=1
                )
            except Interrupted:
                pass
            else:
                raise AssertionError("the export should have been interrupted")
    assert out.read_bytes() == b"yesterday's export"
    assert not list(tmp_path.glob("*.part")), "the temporary file is removed"
