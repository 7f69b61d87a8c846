"""`unionbot db copy` (issue 12): a SQLite database with rows in every feature moved to a
fresh PostgreSQL database, then read back through the store interface."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from storage import Role, Store
from storage.broadcasts import Audience, NewBroadcast
from storage.care import NewProgram, RegistrationDraft
from storage.copy import TargetNotEmptyError, copy_database
from storage.listening import NewPoll, NewReport, PollChoice
from storage.postgres import PostgresStore
from storage.signups import SignupDraft, SignupSource
from storage.sqlite import SQLiteStore
from tests.conftest import postgres_database

NOW = datetime.now(UTC).replace(microsecond=123456)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


async def cli(argv: list[str]) -> int:
    """`unionbot ...` (asyncio.run inside) from an async test: on its own thread."""
    return await asyncio.to_thread(main, argv)


async def fill(store: Store, workers: int = 30) -> dict[str, Any]:
    """Rows in every feature; returns the ids to read back."""
    ids: dict[str, Any] = {"users": [], "signups": []}
    admin = await store.touch_user("telegram", "admin", language="vi")
    await store.set_role(admin.id, Role.ADMIN)
    await store.audit(admin.id, "role.set", f"user:{admin.id}", {"to": "admin", "ghi chú": "Đà Nẵng"})
    for i in range(workers):
        u = await store.touch_user("telegram" if i % 2 else "zalo", f"w{i}", language="vi" if i % 3 else "en")
        ids["users"].append(u.id)
        await store.subscribe(u.id, ["workers_month"])
        r = await store.submit_signup(
            SignupDraft(
                full_name=f"Nguyễn Thị {i}",
                phone_e164=f"+849123{i:05d}",
                workplace="Công ty TNHH Sợi Thế Kỷ",
                province_id="ho_chi_minh" if i % 2 else "ha_noi",
                commune=None,
                source=SignupSource.SELF,
                volunteer_id=None,
                consent_version="v1",
                consent_lang="vi",
                consent_channel="telegram",
                owner_id=u.id,
            )
        )
        assert r is not None
        ids["signups"].append(r.signup_id)
        await store.add_signup_note(r.signup_id, admin.id, f"gọi lại lần {i}")
    await store.set_reachable(ids["users"][0], False)
    await store.set_state(ids["users"][1], "join", "phone", {"name": "Ánh", "n": [1, 2]})
    await store.opt_out(ids["users"][2])
    await store.mark_processed("telegram", "update-1")
    q = await store.add_question(ids["users"][3], "Lương tháng 13?", "vi")
    await store.answer_question(q, admin.id, "Theo thỏa thuận.")
    await store.record_feedback(ids["users"][3], "wages", True)
    ids["question"] = q
    b = await store.create_broadcast(
        NewBroadcast("Chào mừng", Audience(topics=("workers_month",)), run_at=NOW, photo=PNG, photo_name="p.png")
    )
    await store.materialize_audience(b.id)
    ids["broadcast"] = b.id
    poll, _ = await store.create_poll(
        NewPoll(
            question_vi="Công ty đã trả lương chưa?",
            question_en="Paid?",
            choices=(PollChoice("Có", "Yes"), PollChoice("Chưa", "No")),
            closes_at=NOW + timedelta(days=3),
            multi=True,
        ),
        NewBroadcast(text_vi="Bình chọn", audience=Audience(everyone=True), run_at=NOW),
    )
    await store.answer_poll(
        poll.id, ids["users"][4], mask=3, mode="set", now=NOW, province="ha_noi", channel="zalo", language="vi"
    )
    ids["poll"] = poll.id
    assert await store.count_report("k" * 16, date(2026, 5, 1), limit=3)
    ids["report"] = await store.add_report(
        NewReport(
            date(2026, 5, 1), "ha_noi", "wages", "Cty A", "cty a", 5, description="nợ lương", contact_question_id=q
        )
    )
    pid = await store.create_program(
        NewProgram("Tàu Tết", "ho_chi_minh", 5, NOW - timedelta(days=1), NOW + timedelta(days=9), max_per_person=2)
    )
    await store.register(RegistrationDraft(pid, ids["users"][5], "+84912399999", "Trần Văn B", 2))
    ids["program"] = pid
    await store.set_care_province(ids["users"][5], "ho_chi_minh")
    await store.add_console_session("h" * 64, admin.id, "csrf")
    await store.add_console_link("t" * 64, admin.id, expires_at=NOW + timedelta(minutes=10))
    ids["admin"] = admin.id
    return ids


async def snapshot(store: Store, ids: dict[str, Any]) -> list[Any]:
    """What the store interface says about the filled rows."""
    out: list[Any] = [await store.count_users(), await store.list_audit()]
    for uid in ids["users"]:
        out += [await store.get_user(uid), await store.get_state(uid), await store.subscriptions(uid)]
        out += [await store.is_opted_out(uid), await store.questions_of(uid)]
    for sid in ids["signups"]:
        out += [await store.get_signup(sid), await store.signup_notes(sid)]
    b = await store.get_broadcast(ids["broadcast"])
    assert b is not None and b.photo_id is not None
    out += [b, await store.get_photo(b.photo_id), await store.delivery_stats(b.id), await store.delivery_statuses(b.id)]
    out += [
        await store.get_poll(ids["poll"]),
        await store.poll_tally(ids["poll"]),
        await store.get_report(ids["report"]),
    ]
    out += [await store.get_question(ids["question"]), await store.feedback_counts()]
    out += [await store.get_program(ids["program"]), await store.program_counts(ids["program"])]
    out += [await store.registrations_of_user(ids["users"][5]), await store.care_province(ids["users"][5])]
    session = await store.console_session("h" * 64, idle_since=NOW - timedelta(hours=1))
    out += [session]
    return out


@pytest.fixture
async def filled(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    path = tmp_path / "source.sqlite3"
    async with SQLiteStore(path) as store:
        ids = await fill(store)
    return f"sqlite:///{path}", ids


async def test_sqlite_to_postgres_copies_every_row(filled: tuple[str, dict[str, Any]], capsys) -> None:  # type: ignore[no-untyped-def]
    source_url, ids = filled
    async with postgres_database() as pg_url:
        assert await cli(["db", "copy", "--from", source_url, "--to", pg_url, "--batch", "7"]) == 0
        out, err = capsys.readouterr()
        assert "row counts verified" in out and "signups" in err and "30/30" in err
        assert "Nguyễn" not in out + err and "+849" not in out + err
        async with SQLiteStore(source_url.removeprefix("sqlite:///")) as src, PostgresStore(pg_url) as dst:
            assert await snapshot(dst, ids) == await snapshot(src, ids)
            # identity sequences moved past the copied ids
            fresh = await dst.touch_user("telegram", "new", language="vi")
            assert fresh.id > max(ids["users"])
            q = await dst.add_question(fresh.id, "x", "vi")
            assert q > ids["question"]


async def test_non_empty_target_is_refused(filled: tuple[str, dict[str, Any]], capsys) -> None:  # type: ignore[no-untyped-def]
    source_url, _ = filled
    async with postgres_database() as pg_url:
        async with PostgresStore(pg_url) as dst:
            await dst.touch_user("telegram", "already-here", language="vi")
        assert await cli(["db", "copy", "--from", source_url, "--to", pg_url]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "not empty" in err
        async with PostgresStore(pg_url) as dst:
            assert await dst.count_users() == 1


async def test_interrupted_copy_then_rerun_with_force(filled: tuple[str, dict[str, Any]], capsys) -> None:  # type: ignore[no-untyped-def]
    source_url, ids = filled
    async with postgres_database() as pg_url:
        async with SQLiteStore(source_url.removeprefix("sqlite:///")) as src, PostgresStore(pg_url) as dst:
            seen: list[str] = []

            def die_in_signup_notes(table: str, done: int, total: int) -> None:
                seen.append(table)
                if table == "signup_notes" and done >= 10:
                    raise KeyboardInterrupt

            with pytest.raises(KeyboardInterrupt):
                await copy_database(src, dst, batch=5, progress=die_in_signup_notes)
            assert "users" in seen and await dst.count_users() > 0
            with pytest.raises(TargetNotEmptyError):
                await copy_database(src, dst)
        assert await cli(["db", "copy", "--from", source_url, "--to", pg_url, "--force", "--batch", "4"]) == 0
        async with SQLiteStore(source_url.removeprefix("sqlite:///")) as src, PostgresStore(pg_url) as dst:
            assert await snapshot(dst, ids) == await snapshot(src, ids)


async def test_postgres_to_sqlite(filled: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    source_url, ids = filled
    back = tmp_path / "back.sqlite3"
    async with postgres_database() as pg_url:
        assert await cli(["db", "copy", "--from", source_url, "--to", pg_url]) == 0
        assert await cli(["db", "copy", "--from", pg_url, "--to", f"sqlite:///{back}"]) == 0
    async with SQLiteStore(source_url.removeprefix("sqlite:///")) as src, SQLiteStore(back) as dst:
        assert await snapshot(dst, ids) == await snapshot(src, ids)
        fresh = await dst.touch_user("telegram", "new", language="vi")
        assert fresh.id > max(ids["users"])


async def test_numbers_given_before_are_not_given_again_after_a_copy(tmp_path: Path) -> None:
    """A question (or erasure request) erased before the copy had a number an officer may
    still type ("/reply 3"): the copy's counters go past it, not just past the rows left."""
    path = tmp_path / "gone.sqlite3"
    async with SQLiteStore(path) as store:
        keep = await store.touch_user("telegram", "keep", language="vi")
        gone = await store.touch_user("telegram", "gone", language="vi")
        await store.add_question(keep.id, "còn", "vi")
        told = [await store.add_question(gone.id, f"hỏi {i}", "vi") for i in range(3)]
        await store.forget_user(gone.id)  # the highest numbers go with the worker
    back = tmp_path / "back.sqlite3"
    async with postgres_database() as pg_url:
        assert await cli(["db", "copy", "--from", f"sqlite:///{path}", "--to", pg_url]) == 0
        async with PostgresStore(pg_url) as dst:
            fresh = await dst.touch_user("telegram", "new", language="vi")
            assert await dst.add_question(fresh.id, "mới", "vi") > max(told)
        # ...and back again: the PostgreSQL sequence's high mark reaches SQLite's counter.
        assert await cli(["db", "copy", "--from", pg_url, "--to", f"sqlite:///{back}"]) == 0
    async with SQLiteStore(back) as dst:
        fresh = await dst.touch_user("telegram", "newer", language="vi")
        assert await dst.add_question(fresh.id, "mới hơn", "vi") > max(told) + 1


@pytest.mark.parametrize(
    "urls",
    [
        ["--from", "mysql://u:secret@h/db", "--to", "sqlite:///x"],
        ["--from", "sqlite:///{tmp}/missing.sqlite3", "--to", "postgresql://u:secret@127.0.0.1:1/db"],
        ["--from", "sqlite:///{tmp}/a.sqlite3", "--to", "postgresql://u:secret@127.0.0.1:1/db"],
    ],
)
def test_bad_urls_are_one_line_exit_2(urls: list[str], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.sqlite3").touch()
    args = ["db", "copy", *[u.replace("{tmp}", str(tmp_path)) for u in urls]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "secret" not in err
    assert not (tmp_path / "missing.sqlite3").exists()
