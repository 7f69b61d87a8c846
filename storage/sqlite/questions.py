"""SQLite implementation of `storage.questions.QuestionStore` (a mixin of SQLiteStore)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.questions import WITHDRAWN, Question
from storage.sqlite.purge import delete_in_batches

if TYPE_CHECKING:
    import aiosqlite

    from storage.sqlite.store import GuardedConnection

# At most one sign-up per account (signups_one_per_user): the join adds no rows.
_SELECT = (
    "SELECT q.*, u.channel, u.external_id, COALESCE(s.province_id, q.named_province_id) AS province_id FROM questions q"
    " JOIN users u ON u.id = q.user_id LEFT JOIN signups s ON s.user_id = q.user_id"
)


def _province_filter(provinces: Collection[str] | None) -> tuple[str, tuple[str, ...]]:
    """An SQL condition (on aliases s and q) and its parameters; None: every question."""
    if provinces is None:
        return "", ()
    values = tuple(sorted(provinces))
    if not values:
        return " AND 0", ()
    return f" AND COALESCE(s.province_id, q.named_province_id) IN ({', '.join('?' * len(values))})", values


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _question(r: aiosqlite.Row) -> Question:
    return Question(
        id=r["id"],
        user_id=r["user_id"],
        channel=r["channel"],
        external_id=r["external_id"],
        lang=r["lang"],
        text=r["text"],
        status=r["status"],
        created_at=datetime.fromisoformat(r["created_at"]),
        answered_at=datetime.fromisoformat(r["answered_at"]) if r["answered_at"] else None,
        answer=r["answer"],
        province_id=r["province_id"],
        closed_at=datetime.fromisoformat(r["closed_at"]) if r["closed_at"] else None,
        close_reason=r["close_reason"],
    )


class SQLiteQuestionMixin:
    """Uses SQLiteStore's `db` and `transaction()`."""

    if TYPE_CHECKING:

        @property
        def db(self) -> GuardedConnection: ...

    async def add_question(self, user_id: int, text: str, lang: str, province_id: str | None = None) -> int:
        async with self.db.execute(
            "INSERT INTO questions (user_id, lang, text, created_at, named_province_id)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            (user_id, lang, text, _now(), province_id),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def withdraw_question(self, question_id: int, user_id: int) -> bool:
        async with self.db.execute(
            "UPDATE questions SET status = 'closed', closed_at = ?, close_reason = ?, text = ''"
            " WHERE id = ? AND user_id = ? AND status = 'open' AND named_province_id IS NULL",
            (_now(), WITHDRAWN, question_id, user_id),
        ) as cur:
            done = cur.rowcount == 1
        if done:  # the erased words must not linger in the WAL file either
            await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return done

    async def set_question_province(self, question_id: int, user_id: int, province_id: str) -> bool:
        async with self.db.execute(
            "UPDATE questions SET named_province_id = ? WHERE id = ? AND user_id = ? AND status = 'open'",
            (province_id, question_id, user_id),
        ) as cur:
            return cur.rowcount == 1

    async def add_to_question(self, question_id: int, user_id: int, text: str, *, limit: int) -> str | None:
        # substr counts characters, as the handlers' limits do.
        async with self.db.execute(
            "UPDATE questions SET text = substr(text || ?, 1, ?)"
            " WHERE id = ? AND user_id = ? AND status = 'open' RETURNING text",
            (text, limit, question_id, user_id),
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def get_question(self, question_id: int) -> Question | None:
        async with self.db.execute(f"{_SELECT} WHERE q.id = ?", (question_id,)) as cur:
            row = await cur.fetchone()
        return _question(row) if row else None

    async def list_open_questions(
        self, *, limit: int = 10, provinces: Collection[str] | None = None, after_id: int | None = None
    ) -> list[Question]:
        where, params = _province_filter(provinces)
        async with self.db.execute(
            f"{_SELECT} WHERE q.status = 'open' AND q.id > ?{where} ORDER BY q.id LIMIT ?",
            (after_id or 0, *params, limit),
        ) as cur:
            return [_question(r) for r in await cur.fetchall()]

    async def count_open_questions(self, *, provinces: Collection[str] | None = None) -> int:
        where, params = _province_filter(provinces)
        async with self.db.execute(
            "SELECT COUNT(*) FROM questions q LEFT JOIN signups s ON s.user_id = q.user_id"
            f" WHERE q.status = 'open'{where}",
            params,
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def answer_question(self, question_id: int, answered_by: int, answer: str) -> Question | None:
        # The status check in the WHERE clause makes the transition atomic.
        async with self.db.execute(
            "UPDATE questions SET status = 'answered', answered_at = ?, answered_by = ?, answer = ?"
            " WHERE id = ? AND status = 'open'",
            (_now(), answered_by, answer, question_id),
        ) as cur:
            changed = cur.rowcount
        return await self.get_question(question_id) if changed == 1 else None

    async def close_question(self, question_id: int, closed_by: int, reason: str) -> Question | None:
        # As for answers: the status check in the WHERE clause makes the transition atomic.
        async with self.db.execute(
            "UPDATE questions SET status = 'closed', closed_at = ?, closed_by = ?, close_reason = ?"
            " WHERE id = ? AND status = 'open'",
            (_now(), closed_by, reason, question_id),
        ) as cur:
            changed = cur.rowcount
        return await self.get_question(question_id) if changed == 1 else None

    async def purge_questions(self, *, before: datetime) -> int:
        # The same expression as the questions_purge index (migration 0015).
        count = await delete_in_batches(
            self.db,
            "questions",
            "id",
            "COALESCE(answered_at, closed_at, created_at) < ?",
            (before.astimezone(UTC).isoformat(timespec="microseconds"),),
        )
        if count > 0:  # erased text must not linger in the WAL file either
            await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    async def questions_of(self, user_id: int) -> list[Question]:
        async with self.db.execute(f"{_SELECT} WHERE q.user_id = ? ORDER BY q.id", (user_id,)) as cur:
            return [_question(r) for r in await cur.fetchall()]

    async def record_feedback(self, user_id: int, topic_id: str, helpful: bool) -> None:
        await self.db.execute(
            "INSERT INTO answer_feedback (user_id, topic_id, helpful, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id, topic_id) DO UPDATE SET helpful = excluded.helpful, at = excluded.at",
            (user_id, topic_id, int(helpful), _now()),
        )

    async def feedback_counts(self) -> dict[str, tuple[int, int]]:
        async with self.db.execute(
            "SELECT topic_id, SUM(helpful), SUM(1 - helpful) FROM answer_feedback GROUP BY topic_id"
        ) as cur:
            return {r[0]: (int(r[1]), int(r[2])) for r in await cur.fetchall()}
