"""Housekeeping purges at a federation's size: each reads an index and deletes in bounded
batches, and a purge over more rows than one batch still deletes them all (issue 17, item 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import Store
from storage.sqlite import SQLiteStore

ROWS = 7  # more than two batches of BATCH
BATCH = 3


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from storage.postgres import store as pg_store
    from storage.sqlite import store as sqlite_store

    monkeypatch.setattr(sqlite_store, "PURGE_BATCH", BATCH)
    monkeypatch.setattr(pg_store, "PURGE_BATCH", BATCH)


def later() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


def earlier() -> datetime:
    return datetime.now(UTC) - timedelta(days=1)


async def test_every_purge_deletes_more_rows_than_one_batch(backend: Store) -> None:
    store = backend
    users = [await store.touch_user("telegram", f"u{i}", language="vi") for i in range(ROWS)]
    for user in users:
        await store.set_state(user.id, "join", "name", {})
        await store.add_question(user.id, "Lương làm thêm giờ tính thế nào?", "vi")
    for i in range(ROWS):
        assert await store.mark_processed("telegram", f"k{i}")
        assert await store.journal_inbound("telegram", f"j{i}", f"u{i}", "{}")
        assert await store.count_report(f"h{i}", datetime.now(UTC).date(), limit=3)

    # A cutoff before the rows deletes nothing; one after deletes them all, batch by batch.
    assert await store.purge_states(updated_before=earlier()) == 0
    assert await store.purge_states(updated_before=later()) == ROWS
    assert all([await store.get_state(u.id) is None for u in users])
    assert await store.purge_questions(before=earlier()) == 0
    assert await store.purge_questions(before=later()) == ROWS
    # The inbound journal keeps its own dedupe keys there too: one per journaled update.
    assert await store.purge_processed_updates(before=later()) == 2 * ROWS
    assert await store.mark_processed("telegram", "k0"), "a purged key is new again"
    assert await store.purge_inbound(received_before=later()) == ROWS
    assert await store.journal_entries("telegram") == []
    assert await store.purge_report_limits(before=datetime.now(UTC).date()) == 0
    assert await store.purge_report_limits(before=(later() + timedelta(days=1)).date()) == ROWS
    assert await store.purge_care(programs_before=later(), cases_before=later(), outbox_before=later()) == {
        "registrations": 0,
        "cases": 0,
        "outbox": 0,
    }


# Each purge's row selection, as the batched DELETE runs it; the index it must use.
PURGES = {
    "processed_updates": ("SELECT channel, key FROM processed_updates WHERE at < ?", "processed_updates_at"),
    "states": ("SELECT user_id FROM conversation_state WHERE updated_at < ?", "conversation_state_updated"),
    "questions": (
        "SELECT id FROM questions WHERE COALESCE(answered_at, closed_at, created_at) < ?",
        "questions_purge",
    ),
    "inbound": ("SELECT id FROM inbound_journal WHERE received_at < ?", "inbound_journal_received"),
    "care programs": (
        "SELECT id FROM care_registrations WHERE program_id IN"
        " (SELECT id FROM care_programs WHERE COALESCE(event_at, closes_at) < ?)",
        "care_programs_purge",
    ),
    "care cases": ("SELECT id FROM care_cases WHERE updated_at < ?", "care_cases_updated"),
    "care outbox": ("SELECT id FROM care_outbox WHERE created_at < ?", "care_outbox_created"),
    "report limits": ("SELECT hash, day FROM report_limits WHERE day < ?", "report_limits_day"),
    "signups": ("SELECT id FROM signups WHERE last_contact_at < ?", "signups_last_contact"),
}


@pytest.mark.parametrize("name", PURGES)
async def test_each_sqlite_purge_reads_an_index(tmp_path: Path, name: str) -> None:
    query, index = PURGES[name]
    async with SQLiteStore(tmp_path / "plan.sqlite3") as store:
        plan = [
            " ".join(map(str, tuple(row)))
            for row in await store.db.execute_fetchall(f"EXPLAIN QUERY PLAN {query}", ("x",))
        ]
    assert any(f"USING INDEX {index}" in step or f"USING COVERING INDEX {index}" in step for step in plan), plan
    assert not any(step.endswith(("SCAN conversation_state", "SCAN questions", "SCAN care_cases")) for step in plan)


async def test_a_form_held_by_a_state_goes_when_it_is_old_however_fresh_the_state(backend: Store) -> None:
    """The Q&A rewrites its state with every question: a sign-up form held there (handlers/
    forms.py) lived on past its 7 days (found in review)."""
    store = backend
    old, new = earlier() - timedelta(days=7), datetime.now(UTC) - timedelta(minutes=5)
    stale, fresh, plain = [await store.touch_user("telegram", f"h{i}", language="vi") for i in range(3)]
    for user, at in ((stale, old), (fresh, new)):
        form = {"flow": "join", "step": "phone", "data": {"name": "Lan", "phone": "+84912345678"}, "at": at.isoformat()}
        await store.set_state(user.id, "qa", "asked", {"q": "lương", "resume": form})
    await store.set_state(plain.id, "qa", "asked", {"q": "lương"})
    assert await store.purge_states(updated_before=earlier()) == 1
    # The form is taken out; the step holding it (here the Q&A's memory) stays.
    kept = await store.get_state(stale.id)
    assert kept is not None and kept.data == {"q": "lương"} and kept.flow == "qa"
    assert "resume" in (await store.get_state(fresh.id)).data
    assert (await store.get_state(plain.id)).data == {"q": "lương"}
    assert await store.purge_states(updated_before=earlier()) == 0
