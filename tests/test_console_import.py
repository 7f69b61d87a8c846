"""Importing paper sign-ups: every problem named before anything is stored, duplicates
merged, known numbers untouched, exports importing back unchanged; console and CLI."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.console import app as console_module
from bot.console.security import RateLimit
from handlers.context import Services
from handlers.join.importer import plan_import, read_table
from storage import Role, Store
from storage.console import SignupQuery
from storage.signups import SignupStatus
from storage.sqlite import SQLiteStore
from tests.console_support import add_signup, client_for, console_app, person, sign_in
from tests.harness import local_today
from tests.test_cli import run

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SHEET = (
    "Họ tên,Số điện thoại,Nơi làm việc,Tỉnh/thành phố,Xã/phường/KCN,Ngày đăng ký\n"
    "Nguyễn Văn An,0912 345 678,Công ty May 10,Hà Nội,KCN Thăng Long,15/11/2026\n"
    "Trần Thị Bình,0123,Công ty May 10,Hà Nội,,2026-11-16\n"
    "Lê Văn Cường,0987.654.321,Samsung,Thủ đô Hà Nội,,\n"
    "Phạm Thị Dung,0911 111 111,Samsung,Atlantis,,\n"
    "Nguyễn Văn An,+84912345678,Công ty May 10,Hà Nội,,\n"
)


@pytest.fixture(autouse=True)
def fresh_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_module, "SIGNIN_LIMIT", RateLimit(limit=10, window=60.0))


def test_every_problem_is_named_and_duplicates_merge() -> None:
    plan = plan_import(
        read_table(SHEET.encode("utf-8-sig"), "gate.csv"), scope=None, tz=TZ, lang="vi", today=date(2026, 12, 3)
    )
    assert [(p.row, p.column, p.code) for p in plan.problems] == [(3, "phone", "phone"), (5, "province", "province")]
    assert [r.draft.phone_e164 for r in plan.rows] == ["+84912345678", "+84987654321"]
    assert plan.merged == 1
    first = plan.rows[0]
    assert first.draft.commune == "KCN Thăng Long" and first.signed_at.date() == date(2026, 11, 15)
    assert first.draft.consent_channel == "paper" and first.draft.consent_version == "paper:2026-11-15"
    assert first.draft.province_id == "ha_noi"


def test_english_xlsx_and_scope_and_missing_columns() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["name", "phone", "workplace", "province"])
    sheet.append(["Nguyen Van An", "0912345678", "May 10", "Huế"])
    sheet.append(["Tran Thi Binh", 987654321, "May 10", "Hà Nội"])  # a number cell, leading 0 lost
    buf = io.BytesIO()
    book.save(buf)
    plan = plan_import(
        read_table(buf.getvalue(), "sheet.xlsx"), scope=frozenset({"ha_noi"}), tz=TZ, lang="en", today=date(2026, 12, 3)
    )
    assert [(p.row, p.code) for p in plan.problems] == [(2, "out_of_scope")]
    assert [r.draft.phone_e164 for r in plan.rows] == ["+84987654321"]
    missing = plan_import(iter([["Họ tên", "Số điện thoại"]]), scope=None, tz=TZ, lang="vi", today=date(2026, 12, 3))
    assert {(p.column, p.code) for p in missing.problems} == {
        ("workplace", "missing_column"),
        ("province", "missing_column"),
    }


async def test_console_import_previews_then_stores_and_keeps_known_numbers(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    known = await add_signup(store, "Lê Văn Cường (đã có)", "+84987654321")
    await store.set_signup_status(known, SignupStatus.CONTACTED)
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        preview = await client.post(
            "/console/import/preview",
            data={"csrf": csrf},
            files={"file": ("gate.csv", SHEET.encode("utf-8"), "text/csv")},
        )
        assert preview.status_code == 200
        assert "Dòng 3 · Số điện thoại: không phải số di động" in preview.text
        assert "Dòng 5 · Tỉnh/thành phố: không nhận ra" in preview.text
        assert "2 dòng hợp lệ (1 số đã có, giữ nguyên) · 1 dòng trùng số trong tệp đã gộp · 2 lỗi" in preview.text
        assert await store.count_signups(__import__("storage.console", fromlist=["x"]).SignupQuery(None)) == 1
        key = re.search(r'name="key" value="([^"]+)"', preview.text)
        assert key
        done = await client.post(
            "/console/import/confirm", data={"csrf": csrf, "key": key.group(1)}, follow_redirects=True
        )
        assert "Đã nhập 1 đăng ký mới; 1 số đã có được giữ nguyên." in done.text
        again = await client.post("/console/import/confirm", data={"csrf": csrf, "key": key.group(1)})
        assert "hết hạn" in again.text
    kept = await store.get_signup(known)
    assert kept is not None and kept.full_name == "Lê Văn Cường (đã có)" and kept.status is SignupStatus.CONTACTED
    [entry] = await store.list_audit(action="signups.import")
    assert entry.details == {
        "created": 1,
        "known": 1,
        "merged": 1,
        "problems": 2,
        "via": "console",
        "provinces": ["ha_noi"],
    }
    [seen] = await store.list_audit(action="signups.import_preview")
    assert seen.actor_id == org.id and seen.details == {"rows": 2, "known": 1, "via": "console"}


async def test_an_export_imports_back_unchanged(services: Services, store: Store, tmp_path: Path) -> None:
    admin = await person(store, "1", Role.ADMIN)
    await add_signup(store, "Nguyễn Văn An", "+84912345678", "ha_noi", workplace="Công ty A & B (KCN Nội Bài)")
    await add_signup(store, "Trần Thị Bình", "+84987654321", "hue")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, admin)
        exported = {
            fmt: (await client.post("/console/signups/export", data={"csrf": csrf, "fmt": fmt})).content
            for fmt in ("csv", "xlsx")
        }
    for fmt, data in exported.items():
        plan = plan_import(read_table(data, f"export.{fmt}"), scope=None, tz=TZ, lang="vi", today=local_today())
        assert plan.ok, (fmt, plan.problems)
        async with SQLiteStore(tmp_path / f"fresh-{fmt}.sqlite3") as fresh:
            outcome = await fresh.import_signups([(r.draft, r.signed_at) for r in plan.rows])
            assert outcome.created == 2
            rows = {
                (e.full_name, e.phone_e164, e.workplace, e.province_id)
                for e in await fresh.export_signups(provinces=None)
            }
        assert rows == {
            ("Nguyễn Văn An", "+84912345678", "Công ty A & B (KCN Nội Bài)", "ha_noi"),
            ("Trần Thị Bình", "+84987654321", "Công ty TNHH Sợi Thế Kỷ", "hue"),
        }
        assert (await store.import_signups([(r.draft, r.signed_at) for r in plan.rows])).created == 0


def test_cli_import_dry_run_stores_nothing_then_imports(tmp_path: Path) -> None:
    sheet = tmp_path / "gate.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    dry = run(["signups", "import", str(sheet), "--dry-run"], tmp_path)
    assert dry.returncode == 1  # problems found
    assert "row 3 Số điện thoại: không phải số di động Việt Nam hợp lệ" in dry.stdout
    assert "2 new, 0 already signed up, 1 merged duplicates, 2 problems (dry run: nothing stored)" in dry.stdout
    assert "0123" not in dry.stdout and "Atlantis" not in dry.stdout  # no typed values in the output
    real = run(["signups", "import", str(sheet)], tmp_path)
    assert "2 new sign-ups imported, 0 already signed up kept" in real.stdout
    again = run(["signups", "import", str(sheet)], tmp_path)
    assert "0 new sign-ups imported, 2 already signed up kept" in again.stdout
    assert run(["signups", "import", str(tmp_path / "missing.csv")], tmp_path).returncode == 1


@pytest.mark.parametrize(("fmt", "lang"), [("csv", "vi"), ("xlsx", "vi"), ("csv", "en"), ("xlsx", "en")])
async def test_a_shell_export_imports_back_through_the_console_unchanged(
    services: Services, store: Store, tmp_path: Path, fmt: str, lang: str
) -> None:
    """`unionbot signups export` (not only the console's own export) writes a file the
    console import takes back as it was: every field the import reads, equal."""
    from datetime import timedelta

    from storage.signups import SignupDraft, SignupSource
    from tests.harness import local_now

    def draft(name: str, phone: str, workplace: str, province: str, commune: str | None) -> SignupDraft:
        return SignupDraft(
            name, phone, workplace, province, commune, SignupSource.SELF, None, "v1", "vi", "telegram", None
        )

    # The shell's database: what `unionbot signups export` reads (tests/test_cli.run's UNIONBOT_DB).
    signed = (local_now() - timedelta(days=40)).replace(hour=9, minute=15, second=42)
    async with SQLiteStore(tmp_path / "cli.sqlite3") as source:
        await source.import_signups(
            [
                (
                    draft("Nguyễn Văn An", "+84912345678", "Công ty A & B (KCN Nội Bài)", "ha_noi", "KCN Thăng Long"),
                    signed,
                ),
                (draft("H'Hen Niê", "+84987654321", "+84 Group & Co", "dak_lak", None), signed + timedelta(days=3)),
                (draft("Trần Thị Bình", "+84911111111", "-Xưởng 5", "hue", "Phường Phú Hội"), signed),
            ]
        )
        await source.submit_signup(draft("Lê Văn Cường", "+84922222222", "Samsung Điện tử", "ho_chi_minh", None))
        original = await source.export_signups(provinces=None)
    out = tmp_path / f"export.{fmt}"
    exported = run(["signups", "export", "--format", fmt, "--out", str(out), "--lang", lang], tmp_path)
    assert exported.returncode == 0, exported.stderr
    admin = await person(store, "1", Role.ADMIN)
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, admin)
        preview = await client.post(
            "/console/import/preview", data={"csrf": csrf}, files={"file": (out.name, out.read_bytes(), "text/plain")}
        )
        assert 'id="problems"' not in preview.text, preview.text
        key = re.search(r'name="key" value="([^"]+)"', preview.text)
        assert key
        done = await client.post(
            "/console/import/confirm", data={"csrf": csrf, "key": key.group(1)}, follow_redirects=True
        )
        assert "Đã nhập 4 đăng ký mới" in done.text

    def fields(rows: list) -> set[tuple]:  # type: ignore[type-arg]
        # Every field an import reads: the file keeps times to the minute, in Vietnam time.
        return {
            (
                e.full_name,
                e.phone_e164,
                e.workplace,
                e.province_id,
                e.commune,
                e.created_at.astimezone(TZ).replace(second=0, microsecond=0),
            )
            for e in rows
        }

    imported = await store.export_signups(provinces=None)
    assert fields(imported) == fields(original)
    # Recorded as collected on paper, on the date the file gives.
    assert {(e.source, e.status) for e in imported} == {("collected", "new")}
    on_paper = await store.search_signups(SignupQuery(None, paper=True))
    assert {(s.phone_e164, s.consent_version) for s in on_paper} == {
        (e.phone_e164, f"paper:{e.created_at.astimezone(TZ).date().isoformat()}") for e in original
    }


async def test_the_console_import_is_parsed_in_the_export_worker_process(
    services: Services, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """openpyxl holds the GIL for seconds on a large sheet; the bot's worker process parses
    it. Parsing in this process is made impossible, so the preview can only come from the
    worker, and the worker is another process (its pid)."""
    import os

    from bot.console import imports as imports_module
    from bot.export_worker import ProcessExporter

    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    book = openpyxl.Workbook()
    for line in SHEET.splitlines():
        book.active.append(line.split(","))
    buf = io.BytesIO()
    book.save(buf)

    def not_here(*args: object, **kwargs: object) -> object:
        raise AssertionError("the sheet was parsed in the bot's own process")

    # The spawned worker imports its own copy of the module; only this process is patched.
    monkeypatch.setattr(imports_module, "read_table", not_here)
    worker = ProcessExporter(store.path)  # type: ignore[attr-defined]
    services.exporter = worker
    try:
        assert await worker.call(os.getpid) != os.getpid()
        async with client_for(console_app(services)) as client:
            csrf = await sign_in(client, store, org)
            preview = await client.post(
                "/console/import/preview",
                data={"csrf": csrf},
                files={"file": ("gate.xlsx", buf.getvalue(), "application/octet-stream")},
            )
            assert preview.status_code == 200
            assert "Dòng 3 · Số điện thoại: không phải số di động" in preview.text
            key = re.search(r'name="key" value="([^"]+)"', preview.text)
            assert key
            done = await client.post(
                "/console/import/confirm", data={"csrf": csrf, "key": key.group(1)}, follow_redirects=True
            )
            assert "Đã nhập 2 đăng ký mới" in done.text
    finally:
        worker.close()
