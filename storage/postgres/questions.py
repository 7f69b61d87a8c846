"""PostgreSQL implementation of `storage.questions.QuestionStore` (a mixin of PostgresStore)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from storage.postgres.store import PostgresFeature, affected, delete_in_batches, now_utc
from storage.questions import WITHDRAWN, Question

if TYPE_CHECKING:
    from datetime import datetime

    import asyncpg

# At most one sign-up per account (signups_one_per_user): the join adds no rows.
_SELECT = (
    "SELECT q.*, u.channel, u.external_id, COALESCE(s.province_id, q.named_province_id) AS province_id FROM questions q"
    " JOIN users u ON u.id = q.user_id LEFT JOIN signups s ON s.user_id = q.user_id"
)


def _province_filter(provinces: Collection[str] | None, n: int) -> tuple[str, tuple[Any, ...]]:
    """An SQL condition (on aliases s and q) using placeholder $n, and its parameters; None: every question."""
    if provinces is None:
        return "", ()
    values = sorted(provinces)
    if not values:
        return " AND FALSE", ()
    return f" AND COALESCE(s.province_id, q.named_province_id) = ANY(${n}::text[])", (values,)


def _question(r: asyncpg.Record) -> Question:
    return Question(
        id=r["id"],
        user_id=r["user_id"],
        channel=r["channel"],
        external_id=r["external_id"],
        lang=r["lang"],
        text=r["text"],
        status=r["status"],
        created_at=r["created_at"],
        answered_at=r["answered_at"],
        answer=r["answer"],
        province_id=r["province_id"],
        closed_at=r["closed_at"],
        close_reason=r["close_reason"],
    )


class PostgresQuestionMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py)."""

    async def add_question(self, user_id: int, text: str, lang: str, province_id: str | None = None) -> int:
        return int(
            await self.db.fetchval(
                "INSERT INTO questions (user_id, lang, text, created_at, named_province_id)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                user_id,
                lang,
                text,
                now_utc(),
                province_id,
            )
        )

    async def withdraw_question(self, question_id: int, user_id: int) -> bool:
        status = await self.db.execute(
            "UPDATE questions SET status = 'closed', closed_at = $1, close_reason = $2, text = ''"
            " WHERE id = $3 AND user_id = $4 AND status = 'open' AND named_province_id IS NULL",
            now_utc(),
            WITHDRAWN,
            question_id,
            user_id,
        )
        return affected(status) == 1

    async def set_question_province(self, question_id: int, user_id: int, province_id: str) -> bool:
        status = await self.db.execute(
            "UPDATE questions SET named_province_id = $1 WHERE id = $2 AND user_id = $3 AND status = 'open'",
            province_id,
            question_id,
            user_id,
        )
        return affected(status) == 1

    async def add_to_question(self, question_id: int, user_id: int, text: str, *, limit: int) -> str | None:
        # left() counts characters, as the handlers' limits do.
        value = await self.db.fetchval(
            "UPDATE questions SET text = left(text || $1, $2)"
            " WHERE id = $3 AND user_id = $4 AND status = 'open' RETURNING text",
            text,
            limit,
            question_id,
            user_id,
        )
        return str(value) if value is not None else None

    async def get_question(self, question_id: int) -> Question | None:
        row = await self.db.fetchrow(f"{_SELECT} WHERE q.id = $1", question_id)
        return _question(row) if row else None

    async def list_open_questions(
        self, *, limit: int = 10, provinces: Collection[str] | None = None, after_id: int | None = None
    ) -> list[Question]:
        where, params = _province_filter(provinces, 3)
        rows = await self.db.fetch(
            f"{_SELECT} WHERE q.status = 'open' AND q.id > $1{where} ORDER BY q.id LIMIT $2",
            after_id or 0,
            limit,
            *params,
        )
        return [_question(r) for r in rows]

    async def count_open_questions(self, *, provinces: Collection[str] | None = None) -> int:
        where, params = _province_filter(provinces, 1)
        return int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM questions q LEFT JOIN signups s ON s.user_id = q.user_id"
                f" WHERE q.status = 'open'{where}",
                *params,
            )
        )

    async def answer_question(self, question_id: int, answered_by: int, answer: str) -> Question | None:
        # The status check in the WHERE clause makes the transition atomic: of two
        # organizers answering at once, the second waits on the row lock, then matches nothing.
        status = await self.db.execute(
            "UPDATE questions SET status = 'answered', answered_at = $1, answered_by = $2, answer = $3"
            " WHERE id = $4 AND status = 'open'",
            now_utc(),
            answered_by,
            answer,
            question_id,
        )
        return await self.get_question(question_id) if affected(status) == 1 else None

    async def close_question(self, question_id: int, closed_by: int, reason: str) -> Question | None:
        # As for answers: the status check in the WHERE clause makes the transition atomic.
        status = await self.db.execute(
            "UPDATE questions SET status = 'closed', closed_at = $1, closed_by = $2, close_reason = $3"
            " WHERE id = $4 AND status = 'open'",
            now_utc(),
            closed_by,
            reason,
            question_id,
        )
        return await self.get_question(question_id) if affected(status) == 1 else None

    async def purge_questions(self, *, before: datetime) -> int:
        # No WAL checkpoint as in SQLite: old row versions go with VACUUM (see store.py).
        # The same expression as the questions_purge index (migration 0011).
        return await delete_in_batches(
            self.db, "questions", "id", "COALESCE(answered_at, closed_at, created_at) < $1", before
        )

    async def questions_of(self, user_id: int) -> list[Question]:
        rows = await self.db.fetch(f"{_SELECT} WHERE q.user_id = $1 ORDER BY q.id", user_id)
        return [_question(r) for r in rows]

    async def record_feedback(self, user_id: int, topic_id: str, helpful: bool) -> None:
        await self.db.execute(
            "INSERT INTO answer_feedback (user_id, topic_id, helpful, at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (user_id, topic_id) DO UPDATE SET helpful = excluded.helpful, at = excluded.at",
            user_id,
            topic_id,
            bool(helpful),
            now_utc(),
        )

    async def feedback_counts(self) -> dict[str, tuple[int, int]]:
        rows = await self.db.fetch(
            "SELECT topic_id, COUNT(*) FILTER (WHERE helpful) AS yes, COUNT(*) FILTER (WHERE NOT helpful) AS no"
            " FROM answer_feedback GROUP BY topic_id"
        )
        return {r["topic_id"]: (int(r["yes"]), int(r["no"])) for r in rows}
