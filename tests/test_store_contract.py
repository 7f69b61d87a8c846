"""The store contract: every backend must pass these unchanged.

To add a backend, add a factory to BACKENDS in tests/conftest.py (e.g. PostgreSQL behind an env var).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage import Role, Store
from storage.sqlite import SQLiteStore, load_migrations


async def test_migrations_applied_to_latest(backend: Store) -> None:
    from storage.postgres import PostgresStore
    from storage.postgres import load_migrations as pg_migrations

    latest = (pg_migrations() if isinstance(backend, PostgresStore) else load_migrations())[-1][0]
    assert await backend.schema_version() == latest


async def test_touch_user_creates_once_and_updates_last_seen(backend: Store) -> None:
    a = await backend.touch_user("telegram", "42", language="vi")
    b = await backend.touch_user("telegram", "42", language="en")
    assert a.id == b.id
    assert b.language == "vi", "language is only the default for a new user"
    assert b.role is Role.WORKER
    assert b.last_seen_at >= a.last_seen_at
    other = await backend.touch_user("zalo_oa", "42", language="vi")
    assert other.id != a.id, "the same id on another channel is another user"
    assert await backend.count_users() == 2


async def test_user_setters_and_lookups(backend: Store) -> None:
    u = await backend.touch_user("telegram", "7", language="vi")
    await backend.set_language(u.id, "en")
    await backend.set_role(u.id, Role.ORGANIZER)
    await backend.set_referral_code(u.id, "v_abc")
    await backend.set_reachable(u.id, False)
    got = await backend.find_user("telegram", "7")
    assert got is not None
    assert (got.language, got.role, got.referral_code, got.reachable) == ("en", Role.ORGANIZER, "v_abc", False)
    assert await backend.get_user(u.id) == got
    assert await backend.find_user("telegram", "nope") is None
    assert await backend.get_user(99999) is None


async def test_writing_again_makes_a_blocked_user_reachable(backend: Store) -> None:
    u = await backend.touch_user("telegram", "8", language="vi")
    await backend.set_reachable(u.id, False)
    again = await backend.touch_user("telegram", "8", language="vi")
    assert again.reachable is True


async def test_audit_log_newest_first_and_filtered(backend: Store) -> None:
    u = await backend.touch_user("telegram", "1", language="vi")
    await backend.audit(u.id, "role.grant", "user:2", {"to": "volunteer"})
    await backend.audit(None, "export", "signups", {"rows": 3, "tên": "Nguyễn"})
    entries = await backend.list_audit()
    assert [e.action for e in entries] == ["export", "role.grant"]
    assert entries[0].details == {"rows": 3, "tên": "Nguyễn"}
    grants = await backend.list_audit(action="role.grant")
    assert len(grants) == 1 and grants[0].actor_id == u.id and grants[0].target == "user:2"


async def test_conversation_state_roundtrip(backend: Store) -> None:
    u = await backend.touch_user("telegram", "5", language="vi")
    assert await backend.get_state(u.id) is None
    await backend.set_state(u.id, "join", "phone", {"name": "Trần Thị Bích"})
    await backend.set_state(u.id, "join", "workplace", {"name": "Trần Thị Bích", "phone": "+84912345678"})
    st = await backend.get_state(u.id)
    assert st is not None
    assert (st.flow, st.step) == ("join", "workplace")
    assert st.data["name"] == "Trần Thị Bích"
    await backend.clear_state(u.id)
    assert await backend.get_state(u.id) is None


async def test_mark_processed_detects_redelivery(backend: Store) -> None:
    assert await backend.mark_processed("telegram", "100") is True
    assert await backend.mark_processed("telegram", "100") is False
    assert await backend.mark_processed("zalo_oa", "100") is True


async def test_concurrent_writes_do_not_fail(backend: Store) -> None:
    users = await asyncio.gather(*(backend.touch_user("telegram", str(i), language="vi") for i in range(200)))
    assert len({u.id for u in users}) == 200
    await asyncio.gather(*(backend.set_state(u.id, "f", "s", {"i": u.id}) for u in users))
    assert await backend.count_users() == 200


async def test_state_survives_reopen(tmp_path: Path) -> None:
    """A multi-step form survives a restart of the bot."""
    path = tmp_path / "restart.sqlite3"
    async with SQLiteStore(path) as s1:
        u = await s1.touch_user("telegram", "9", language="vi")
        await s1.set_state(u.id, "join", "phone", {"name": "Lê Văn C"})
    async with SQLiteStore(path) as s2:
        st = await s2.get_state(u.id)
        assert st is not None and st.step == "phone" and st.data == {"name": "Lê Văn C"}
        assert await s2.schema_version() == load_migrations()[-1][0]


async def test_sqlite_uses_wal(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "wal.sqlite3") as s:
        async with s.db.execute("PRAGMA journal_mode") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == "wal"


async def test_forget_user_removes_the_user_and_their_state(backend: Store) -> None:
    u = await backend.touch_user("telegram", "55", language="vi")
    await backend.set_state(u.id, "join", "phone", {"name": "Phạm Thị Dung"})
    await backend.audit(u.id, "role.grant", "user:1")
    await backend.forget_user(u.id)
    assert await backend.get_user(u.id) is None
    assert await backend.get_state(u.id) is None
    assert (await backend.list_audit())[0].actor_id is None


async def test_forget_leaves_no_trace_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "forget.sqlite3"
    async with SQLiteStore(path) as s:
        u = await s.touch_user("telegram", "66", language="vi")
        await s.set_state(u.id, "join", "phone", {"name": "Hoàng Văn Zzyzx"})
        await s.forget_user(u.id)
    for f in tmp_path.iterdir():
        assert b"Zzyzx" not in f.read_bytes(), f.name


async def test_questions_inbox_lifecycle(backend: Store) -> None:
    w = await backend.touch_user("telegram", "300", language="vi")
    org = await backend.touch_user("telegram", "301", language="vi")
    q1 = await backend.add_question(w.id, "công ty nợ lương 2 tháng", "vi")
    q2 = await backend.add_question(w.id, "second", "vi")
    assert await backend.count_open_questions() == 2
    assert [q.id for q in await backend.list_open_questions()] == [q1, q2]
    answered = await backend.answer_question(q1, org.id, "Bạn hãy liên hệ công đoàn cơ sở.")
    assert answered is not None and answered.status == "answered"
    assert (answered.channel, answered.external_id) == ("telegram", "300")
    assert await backend.answer_question(q1, org.id, "again") is None, "answered only once"
    assert await backend.answer_question(99999, org.id, "x") is None
    assert [q.id for q in await backend.list_open_questions()] == [q2]
    assert [q.text for q in await backend.questions_of(w.id)] == ["công ty nợ lương 2 tháng", "second"]
    await backend.forget_user(w.id)
    assert await backend.count_open_questions() == 0
    assert await backend.get_question(q1) is None


async def test_a_question_is_placed_by_the_sign_up_else_by_the_province_named(backend: Store) -> None:
    from tests.console_support import add_signup

    stranger = await backend.touch_user("telegram", "320", language="vi")
    member = await backend.touch_user("telegram", "321", language="vi")
    named = await backend.add_question(stranger.id, "cty o bac ninh no luong", "vi", "bac_ninh")
    unplaced = await backend.add_question(stranger.id, "giữ bằng gốc", "vi")
    await add_signup(backend, "Trần Thị B", "+84912000321", "ho_chi_minh", "KCN Tân Uyên", owner_id=member.id)
    signed = await backend.add_question(member.id, "làm ở hà nội thì sao", "vi", "ha_noi")
    assert [q.id for q in await backend.list_open_questions(provinces={"bac_ninh"})] == [named]
    # The sign-up's province wins over the one named: the worker keeps it up to date.
    assert [q.id for q in await backend.list_open_questions(provinces={"ho_chi_minh"})] == [signed]
    assert await backend.list_open_questions(provinces={"ha_noi"}) == []
    assert await backend.count_open_questions(provinces={"bac_ninh", "ho_chi_minh"}) == 2
    assert [q.id for q in await backend.search_questions(provinces={"bac_ninh"}, status="open")] == [named]
    # Only the asker may place their own question, and only while it is open.
    assert not await backend.set_question_province(unplaced, member.id, "ha_noi")
    assert await backend.set_question_province(unplaced, stranger.id, "ha_noi")
    assert (await backend.get_question(unplaced)).province_id == "ha_noi"
    await backend.close_question(named, member.id, "spam")
    assert not await backend.set_question_province(named, stranger.id, "ha_noi")
    # Taken back only by the asker, while open and not yet placed.
    fresh = await backend.add_question(stranger.id, "rút lại", "vi")
    assert not await backend.withdraw_question(fresh, member.id)
    assert not await backend.withdraw_question(unplaced, stranger.id), "placed in Hà Nội already"
    assert await backend.withdraw_question(fresh, stranger.id)
    taken = await backend.get_question(fresh)
    assert (taken.status, taken.text, taken.close_reason) == ("closed", "", "withdrawn")
    assert not await backend.withdraw_question(fresh, stranger.id), "once"


async def test_words_added_to_an_open_question_are_appended_within_its_limit(backend: Store) -> None:
    asker = await backend.touch_user("telegram", "330", language="vi")
    other = await backend.touch_user("telegram", "331", language="vi")
    qid = await backend.add_question(asker.id, "cty nợ lương", "vi")
    assert await backend.add_to_question(qid, asker.id, "\n\nở Bắc Ninh, 3 tháng rồi", limit=100) == (
        "cty nợ lương\n\nở Bắc Ninh, 3 tháng rồi"
    )
    assert (await backend.get_question(qid)).text == "cty nợ lương\n\nở Bắc Ninh, 3 tháng rồi"
    # Cut by characters, not bytes: "ợ" and "ở" count one each.
    assert await backend.add_to_question(qid, asker.id, " thêm", limit=20) == "cty nợ lương\n\nở Bắc "
    assert await backend.add_to_question(qid, other.id, "x", limit=100) is None, "only the asker's own"
    assert await backend.add_to_question(99999, asker.id, "x", limit=100) is None
    assert await backend.withdraw_question(qid, asker.id)
    assert await backend.add_to_question(qid, asker.id, "again", limit=100) is None, "taken back: nothing added"
    assert (await backend.get_question(qid)).text == ""


async def test_a_question_closed_without_an_answer_leaves_the_open_inbox(backend: Store) -> None:
    from datetime import UTC, datetime, timedelta

    w = await backend.touch_user("telegram", "310", language="vi")
    org = await backend.touch_user("telegram", "311", language="vi")
    spam = await backend.add_question(w.id, "mua hàng giá rẻ tại đây", "vi")
    kept = await backend.add_question(w.id, "công ty không đóng bảo hiểm", "vi")
    answered = await backend.add_question(w.id, "nghỉ phép năm mấy ngày", "vi")
    await backend.answer_question(answered, org.id, "12 ngày một năm.")
    closed = await backend.close_question(spam, org.id, "spam")
    assert closed is not None and closed.status == "closed" and closed.close_reason == "spam"
    assert closed.closed_at is not None and closed.answer is None and closed.answered_at is None
    assert await backend.close_question(spam, org.id, "other") is None, "closed only once"
    assert await backend.answer_question(spam, org.id, "late") is None, "a closed question takes no answer"
    assert await backend.close_question(answered, org.id, "duplicate") is None, "an answered one stays answered"
    assert await backend.close_question(99999, org.id, "spam") is None
    assert [q.id for q in await backend.list_open_questions()] == [kept]
    assert await backend.count_open_questions() == 1
    assert [q.id for q in await backend.search_questions(provinces=None, status="open")] == [kept]
    assert [q.id for q in await backend.search_questions(provinces=None, status="closed")] == [spam]
    both = await backend.search_questions(provinces=None, status=("answered", "closed"))
    assert [q.id for q in both] == [answered, spam], "handled ones newest first"
    assert [q.id for q in await backend.search_questions(provinces=None, status=(), text="x")] == []
    # Retention runs from when it was closed, as from when an answer was given.
    assert await backend.purge_questions(before=datetime.now(UTC) - timedelta(days=1)) == 0
    assert await backend.purge_questions(before=datetime.now(UTC) + timedelta(seconds=1)) == 3
    assert await backend.get_question(spam) is None


async def test_answer_feedback_latest_vote_counts(backend: Store) -> None:
    a = await backend.touch_user("telegram", "400", language="vi")
    b = await backend.touch_user("telegram", "401", language="vi")
    await backend.record_feedback(a.id, "minimum_wage", True)
    await backend.record_feedback(a.id, "minimum_wage", False)
    await backend.record_feedback(b.id, "minimum_wage", True)
    assert (await backend.feedback_counts())["minimum_wage"] == (1, 1)


async def test_other_tasks_wait_for_an_open_transaction_and_survive_its_rollback(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "tx.sqlite3") as s:
        with pytest.raises(RuntimeError, match="roll back"):  # noqa: PT012 - the block is the transaction under test
            async with s.transaction():
                other = asyncio.create_task(s.touch_user("t", "outside", language="vi"))
                await asyncio.sleep(0.02)
                assert not other.done(), "a statement from another task must wait for the transaction"
                raise RuntimeError("roll back")
        await other
        assert await s.find_user("t", "outside") is not None, "the other task's write was not rolled back"

        async with s.transaction():
            waiting = asyncio.create_task(s.touch_user("t", "cancelled", language="vi"))
            await asyncio.sleep(0.02)
            waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await s.find_user("t", "cancelled") is None


async def test_a_transaction_cancelled_at_begin_leaves_no_open_transaction(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "cancel.sqlite3") as s:
        for delay in (0, 0.0005, 0.002):

            async def open_transaction() -> None:
                async with s.transaction():
                    await asyncio.sleep(1)

            task = asyncio.create_task(open_transaction())
            await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not s.db.conn.in_transaction
        await s.touch_user("t", "after", language="vi")
        async with s.transaction():
            pass
    async with SQLiteStore(tmp_path / "cancel.sqlite3") as s2:
        assert await s2.find_user("t", "after") is not None


async def test_processed_update_keys_are_purged_by_age_in_batches(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from storage.sqlite import store as sqlite_store

    store = SQLiteStore(tmp_path / "purge.sqlite3")
    await store.open()
    try:
        for i in range(12):
            assert await store.mark_processed("telegram", f"k{i}")
        old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
        await store.db.execute("UPDATE processed_updates SET at = ? WHERE key IN ('k0','k1','k2','k3','k4')", (old,))
        sqlite_store.PURGE_BATCH, saved = 2, sqlite_store.PURGE_BATCH
        try:
            assert await store.purge_processed_updates(before=datetime.now(UTC) - timedelta(days=2)) == 5
        finally:
            sqlite_store.PURGE_BATCH = saved
        assert await store.mark_processed("telegram", "k0"), "a purged key is new again"
        assert not await store.mark_processed("telegram", "k7"), "a recent key still dedupes"
        plan = await (
            await store.db.execute("EXPLAIN QUERY PLAN SELECT channel, key FROM processed_updates WHERE at < ?", ("x",))
        ).fetchall()
        assert any("processed_updates_at" in str(tuple(row)) for row in plan), "the age purge uses the index"
    finally:
        await store.close()


async def test_two_processes_opening_a_fresh_database_at_once_both_migrate_it(tmp_path: Path) -> None:
    """The bot and a CLI call (or two bots) started together on a new file: each applies
    only what the other has not, and both end at the newest schema."""
    import asyncio

    path = tmp_path / "fresh.sqlite3"
    stores = [SQLiteStore(path) for _ in range(3)]  # one connection each, as separate processes have
    try:
        await asyncio.gather(*(s.open() for s in stores))
        latest = load_migrations()[-1][0]
        assert [await s.schema_version() for s in stores] == [latest] * 3
        async with stores[0].db.execute("SELECT COUNT(*) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == len(load_migrations())
    finally:
        for s in stores:
            await s.close()


async def test_postgres_url_is_opened_and_printed_without_its_password(tmp_path: Path) -> None:
    """`UNIONBOT_DB=postgresql://...` runs the bot's commands on PostgreSQL, and a bad
    URL is one line naming the database without the password, exit 2."""
    import os
    import subprocess
    import sys

    from storage import open_store, safe_location
    from storage.postgres import PostgresStore
    from tests.conftest import postgres_database

    assert safe_location("postgresql://bot:s3cret@db:5432/ub") == "postgresql://bot:***@db:5432/ub"
    async with postgres_database() as url:
        store = open_store(url)
        assert isinstance(store, PostgresStore)
        env = {**os.environ, "UNIONBOT_DB": url}
        out = subprocess.run(
            [sys.executable, "-m", "bot", "db", "migrate"], capture_output=True, text=True, env=env, check=True
        )
        assert "schema version" in out.stdout
    bad = "postgresql://bot:s3cret@127.0.0.1:1/nowhere"
    run = subprocess.run(
        [sys.executable, "-m", "bot", "db", "migrate"],
        capture_output=True,
        text=True,
        env={**os.environ, "UNIONBOT_DB": bad},
    )
    assert run.returncode == 2, run.stderr
    assert "s3cret" not in run.stderr + run.stdout
    assert len(run.stderr.strip().splitlines()) == 1


async def test_organizers_of_a_province_are_those_who_hold_it_and_can_be_written_to(backend: Store) -> None:
    holder = await backend.touch_user("telegram", "330", language="vi")
    elsewhere = await backend.touch_user("telegram", "331", language="vi")
    demoted = await backend.touch_user("telegram", "332", language="vi")
    blocked = await backend.touch_user("telegram", "333", language="en")
    for u, province in ((holder, "bac_ninh"), (elsewhere, "ha_noi"), (demoted, "bac_ninh"), (blocked, "bac_ninh")):
        await backend.set_role(u.id, Role.ORGANIZER)
        await backend.add_organizer_provinces(u.id, [province], None)
    await backend.set_role(demoted.id, Role.WORKER)  # the role went, the province rows may stay
    await backend.set_reachable(blocked.id, False)
    assert [u.id for u in await backend.organizers_of("bac_ninh")] == [holder.id]
    assert await backend.organizers_of("hue") == []


async def test_admins_are_those_with_the_role_who_can_be_written_to(backend: Store) -> None:
    a = await backend.touch_user("telegram", "340", language="vi")
    b = await backend.touch_user("telegram", "341", language="vi")
    await backend.touch_user("telegram", "342", language="vi")
    for u in (a, b):
        await backend.set_role(u.id, Role.ADMIN)
    await backend.set_reachable(b.id, False)
    assert [u.id for u in await backend.admins()] == [a.id]


async def test_a_question_number_is_never_given_twice(backend: Store) -> None:
    # SQLite reused the largest id once its row was gone: an organizer's "/reply <number>"
    # written for a worker who erased their data reached the next asker.
    first = await backend.touch_user("telegram", "350", language="vi")
    gone = await backend.touch_user("telegram", "351", language="vi")
    await backend.add_question(first.id, "một", "vi")
    newest = await backend.add_question(gone.id, "hai", "vi")
    await backend.forget_user(gone.id)
    later = await backend.touch_user("telegram", "352", language="vi")
    assert await backend.add_question(later.id, "ba", "vi") > newest


async def test_a_question_taken_back_leaves_no_trace_of_its_words(tmp_path: Path) -> None:
    path = tmp_path / "withdraw.sqlite3"
    async with SQLiteStore(path) as s:
        u = await s.touch_user("telegram", "67", language="vi")
        qid = await s.add_question(u.id, "quản đốc Zzyzx ép làm thêm", "vi")
        assert await s.withdraw_question(qid, u.id)
        for f in tmp_path.iterdir():  # the WAL file too, while the store is open
            assert b"Zzyzx" not in f.read_bytes(), f.name
