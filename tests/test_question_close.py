"""Closing a handed-off question without answering it: the table rebuild that allows the
state keeps every question and every link to one, and the chat's /inbox leaves closed
questions out as the console does."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import storage.sqlite.store as sqlite_module
from storage import Store
from storage.listening import NewReport
from storage.sqlite import SQLiteStore, load_migrations
from tests.conftest import ChatDriver


async def _old_question(store: SQLiteStore, user_id: int, text: str) -> int:
    async with store.db.execute(
        "INSERT INTO questions (user_id, lang, text, created_at) VALUES (?, 'vi', ?, '2026-01-05T08:00:00+00:00')"
        " RETURNING id",
        (user_id, text),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_the_rebuild_keeps_questions_and_the_reports_that_point_at_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite3"
    every = load_migrations()
    monkeypatch.setattr(sqlite_module, "load_migrations", lambda: [m for m in every if m[0] <= 12])
    async with SQLiteStore(path) as old:
        worker = await old.touch_user("telegram", "500", language="vi")
        org = await old.touch_user("telegram", "501", language="vi")
        # By hand: this code's writes and reads expect the new columns, which the old table lacks.
        waiting = await _old_question(old, worker.id, "Công ty bắt tăng ca không trả lương")
        answered = await _old_question(old, worker.id, "Nghỉ ốm được mấy ngày?")
        await old.db.execute(
            "UPDATE questions SET status = 'answered', answered_at = created_at, answered_by = ?, answer = ?"
            " WHERE id = ?",
            (org.id, "30 ngày một năm.", answered),
        )
        report = await old.add_report(
            NewReport(date(2025, 5, 1), "ha_noi", "overtime", "Cty A", "cty a", 12, contact_question_id=waiting)
        )
        assert await old.schema_version() == 12
    monkeypatch.setattr(sqlite_module, "load_migrations", lambda: every)
    async with SQLiteStore(path) as new:
        assert await new.schema_version() == every[-1][0]
        assert [(q.id, q.status, q.answer) for q in await new.questions_of(worker.id)] == [
            (waiting, "open", None),
            (answered, "answered", "30 ngày một năm."),
        ]
        linked = await new.get_report(report)
        assert linked is not None and linked.contact_question_id == waiting, "dropping the old table kept the link"
        [[on]] = await new.db.execute_fetchall("PRAGMA foreign_keys")
        assert on == 1, "foreign keys are back on after the rebuild"
        assert (await new.close_question(waiting, org.id, "resolved")) is not None
        # The links still act: erasing the worker erases their questions and unlinks the report.
        await new.forget_user(worker.id)
        assert (await new.get_report(report)).contact_question_id is None  # type: ignore[union-attr]


@pytest.fixture
def store(backend: Store) -> Store:
    """The chat's inbox on every backend (the rebuild test above is SQLite's own)."""
    return backend


async def test_the_chat_inbox_leaves_closed_questions_out(store: Store, make_chat) -> None:  # type: ignore[no-untyped-def]
    worker = await store.touch_user("test", "w1", language="vi")
    officer = await store.touch_user("test", "org", language="vi")
    spam = await store.add_question(worker.id, "Quảng cáo vay tiền nhanh lãi thấp", "vi")
    real = await store.add_question(worker.id, "Công ty nợ lương hai tháng", "vi")
    await store.close_question(spam, officer.id, "spam")
    admin: ChatDriver = make_chat("admin")
    text = "\n".join(r.text for r in await admin.say("/inbox"))
    assert "nợ lương" in text and "vay tiền" not in text
    assert f"inbox:r:{spam}" not in admin.payloads() and f"inbox:r:{real}" in admin.payloads()
    # An old Answer button, or /reply, for the closed question: no longer open.
    assert "không còn chờ trả lời" in (await admin.press(f"inbox:r:{spam}"))[0].text
    assert "không còn chờ trả lời" in (await admin.say(f"/reply {spam} Đã xem"))[0].text
    assert (await store.get_question(spam)).status == "closed"  # type: ignore[union-attr]
