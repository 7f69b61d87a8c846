"""SQLite implementation of `storage.listening.ListeningStore` (a mixin of SQLiteStore).

Every answer is one atomic upsert on (poll, person), so concurrent and redelivered taps
are counted once; results are a single GROUP BY over the poll's answers.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage.broadcasts import Broadcast, NewBroadcast
from storage.listening import (
    DIMENSIONS,
    AnswerOutcome,
    ClusterWindow,
    NewPoll,
    NewReport,
    Poll,
    PollAnswerOfUser,
    PollChoice,
    PollTally,
    ReportCluster,
    Tally,
    WorkplaceReport,
)
from storage.sqlite.purge import delete_in_batches

if TYPE_CHECKING:
    from storage.sqlite.store import GuardedConnection

# A delivery in these states may have reached the worker: their answer is accepted.
_RECEIVED = "('sending', 'sent', 'in_doubt')"


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _poll(r: Any) -> Poll:
    choices = tuple(PollChoice(c["vi"], c.get("en") or None) for c in json.loads(r["choices"]))
    return Poll(
        id=r["id"],
        broadcast_id=r["broadcast_id"],
        created_by=r["created_by"],
        created_at=datetime.fromisoformat(r["created_at"]),
        question_vi=r["question_vi"],
        question_en=r["question_en"],
        choices=choices,
        multi=bool(r["multi"]),
        provinces=tuple(json.loads(r["provinces"])),
        closes_at=datetime.fromisoformat(r["closes_at"]),
        closed_at=_dt(r["closed_at"]),
        aggregated_at=_dt(r["aggregated_at"]),
    )


def _report(r: Any) -> WorkplaceReport:
    return WorkplaceReport(
        id=r["id"],
        created_on=date.fromisoformat(r["created_on"]),
        province=r["province"],
        category=r["category"],
        company=r["company"],
        company_key=r["company_key"],
        workers=r["workers"],
        description=r["description"],
        contact_question_id=r["contact_question_id"],
    )


def _bits(mask: int, n: int) -> list[int]:
    return [i for i in range(n) if mask >> i & 1]


class SQLiteListeningMixin:
    """Uses SQLiteStore's `db`, `transaction()` and `create_broadcast`."""

    if TYPE_CHECKING:

        @property
        def db(self) -> GuardedConnection: ...

        def transaction(self) -> AbstractAsyncContextManager[GuardedConnection]: ...

        async def create_broadcast(self, new: NewBroadcast) -> Broadcast: ...

    async def _l_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self.db.execute_fetchall(sql, params))

    async def _l_first(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._l_rows(sql, params)
        return rows[0] if rows else None

    # -- polls -------------------------------------------------------------
    async def create_poll(self, new: NewPoll, broadcast: NewBroadcast) -> tuple[Poll, Broadcast]:
        choices = json.dumps([{"vi": c.vi, "en": c.en} for c in new.choices], ensure_ascii=False)
        async with self.transaction():
            b = await self.create_broadcast(broadcast)
            row = await self._l_first(
                "INSERT INTO polls (broadcast_id, created_by, created_at, question_vi, question_en, choices, multi,"
                " provinces, closes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    b.id,
                    new.created_by,
                    _ts(datetime.now(UTC)),
                    new.question_vi,
                    new.question_en or None,
                    choices,
                    int(new.multi),
                    json.dumps(sorted(broadcast.audience.provinces)),
                    _ts(new.closes_at),
                ),
            )
        return _poll(row), b

    async def get_poll(self, poll_id: int) -> Poll | None:
        row = await self._l_first("SELECT * FROM polls WHERE id = ?", (poll_id,))
        return _poll(row) if row else None

    async def poll_of_broadcast(self, broadcast_id: int) -> Poll | None:
        row = await self._l_first("SELECT * FROM polls WHERE broadcast_id = ?", (broadcast_id,))
        return _poll(row) if row else None

    async def list_polls(self, *, limit: int = 20, within_provinces: Collection[str] | None = None) -> list[Poll]:
        if within_provinces is None:
            rows = await self._l_rows("SELECT * FROM polls ORDER BY id DESC LIMIT ?", (limit,))
            return [_poll(r) for r in rows]
        allowed = sorted(set(within_provinces))
        if not allowed:
            return []
        rows = await self._l_rows(
            "SELECT * FROM polls WHERE json_array_length(provinces) > 0 AND NOT EXISTS"
            f" (SELECT 1 FROM json_each(provinces) WHERE value NOT IN ({_marks(len(allowed))}))"
            " ORDER BY id DESC LIMIT ?",
            (*allowed, limit),
        )
        return [_poll(r) for r in rows]

    async def close_poll(self, poll_id: int, at: datetime) -> bool:
        async with self.db.execute(
            "UPDATE polls SET closed_at = ? WHERE id = ? AND closed_at IS NULL AND closes_at > ?",
            (_ts(at), poll_id, _ts(at)),
        ) as cur:
            return cur.rowcount == 1

    async def poll_received(self, poll_id: int, user_id: int) -> bool:
        row = await self._l_first(
            "SELECT 1 FROM polls p JOIN deliveries d ON d.broadcast_id = p.broadcast_id"
            f" WHERE p.id = ? AND d.user_id = ? AND d.status IN {_RECEIVED}",
            (poll_id, user_id),
        )
        return row is not None

    async def open_polls_received(self, user_id: int, *, now: datetime, limit: int = 3) -> list[Poll]:
        rows = await self._l_rows(
            "SELECT p.* FROM deliveries d JOIN polls p ON p.broadcast_id = d.broadcast_id"
            f" WHERE d.user_id = ? AND d.status IN {_RECEIVED} AND p.closed_at IS NULL AND p.closes_at > ?"
            " ORDER BY p.id DESC LIMIT ?",
            (user_id, _ts(now), limit),
        )
        return [_poll(r) for r in rows]

    async def answer_poll(
        self,
        poll_id: int,
        user_id: int,
        *,
        mask: int,
        mode: str,
        now: datetime,
        province: str | None,
        channel: str,
        language: str,
    ) -> AnswerOutcome:
        value = int(mask) & 0xFFFF  # an int from our own code, never text: safe to inline
        if mode == "set":
            update = "excluded.mask"
        elif mode == "add":
            update = f"poll_answers.mask | {value}"
        elif mode == "remove":
            update = f"poll_answers.mask & ~{value}"
        else:
            raise ValueError(f"unknown answer mode {mode!r}")
        stamp = _ts(now)
        rows = await self._l_rows(
            "INSERT INTO poll_answers (poll_id, user_id, mask, province, channel, language, answered_at, updated_at)"
            " SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS"
            "  (SELECT 1 FROM polls WHERE id = ? AND closed_at IS NULL AND closes_at > ?)"
            f" ON CONFLICT (poll_id, user_id) DO UPDATE SET mask = {update}, updated_at = excluded.updated_at,"
            "  province = excluded.province, channel = excluded.channel, language = excluded.language"
            " RETURNING mask",
            (
                poll_id,
                user_id,
                0 if mode == "remove" else value,
                province,
                channel,
                language,
                stamp,
                stamp,
                poll_id,
                stamp,
            ),
        )
        if rows:
            return AnswerOutcome(True, int(rows[0][0]))
        return AnswerOutcome(False, await self.poll_answer_mask(poll_id, user_id))

    async def poll_answer_mask(self, poll_id: int, user_id: int) -> int:
        row = await self._l_first(
            "SELECT mask FROM poll_answers WHERE poll_id = ? AND user_id = ?",
            (poll_id, user_id),
        )
        return int(row[0]) if row else 0

    async def _delivered(self, poll: Poll) -> int:
        if poll.broadcast_id is None:
            return 0
        row = await self._l_first(
            "SELECT COUNT(*) FROM deliveries WHERE broadcast_id = ? AND status = 'sent'",
            (poll.broadcast_id,),
        )
        return int(row[0]) if row else 0

    async def _live_tally(self, poll: Poll) -> tuple[Tally, dict[str, dict[str, Tally]]]:
        n = len(poll.choices)
        overall = Tally(0, [0] * n)
        breakdowns: dict[str, dict[str, Tally]] = {d: {} for d in DIMENSIONS}
        rows = await self._l_rows(
            "SELECT coalesce(province, ''), channel, language, mask, COUNT(*) FROM poll_answers"
            " WHERE poll_id = ? AND mask != 0 GROUP BY 1, 2, 3, 4",
            (poll.id,),
        )
        for province, channel, language, mask, count in rows:
            chosen = _bits(mask, n)
            groups = [overall] + [
                breakdowns[d].setdefault(v, Tally(0, [0] * n))
                for d, v in zip(DIMENSIONS, (province, channel, language), strict=True)
            ]
            for tally in groups:
                tally.respondents += count
                for i in chosen:
                    tally.counts[i] += count
        return overall, breakdowns

    async def poll_tally(self, poll_id: int) -> PollTally:
        poll = await self.get_poll(poll_id)
        if poll is None:
            return PollTally(Tally(), {}, 0)
        delivered = await self._delivered(poll)
        if poll.aggregated_at is None:
            live, live_breakdowns = await self._live_tally(poll)
            return PollTally(live, live_breakdowns, delivered)
        n = len(poll.choices)
        overall = Tally(0, [0] * n)
        breakdowns: dict[str, dict[str, Tally]] = {d: {} for d in DIMENSIONS}
        for dimension, value, choice, count in await self._l_rows(
            "SELECT dimension, value, choice, count FROM poll_aggregates WHERE poll_id = ?",
            (poll_id,),
        ):
            tally = (
                overall
                if dimension == ""
                else breakdowns.setdefault(dimension, {}).setdefault(value, Tally(0, [0] * n))
            )
            if choice < 0:
                tally.respondents = count
            elif choice < n:
                tally.counts[choice] = count
        return PollTally(overall, breakdowns, delivered)

    async def aggregate_polls(self, *, ended_before: datetime) -> int:
        cutoff = _ts(ended_before)
        rows = await self._l_rows(
            "SELECT * FROM polls WHERE aggregated_at IS NULL AND min(closes_at, coalesce(closed_at, closes_at)) < ?",
            (cutoff,),
        )
        done = 0
        for row in rows:
            async with self.transaction() as db:
                # Check again under the write lock: a second folder at once (the bot's
                # retention job and `unionbot` in another process) would otherwise read
                # the answers the first one deleted and overwrite its counts with zeros.
                fresh = await self._l_first("SELECT * FROM polls WHERE id = ? AND aggregated_at IS NULL", (row["id"],))
                if fresh is None:
                    continue
                poll = _poll(fresh)
                overall, breakdowns = await self._live_tally(poll)
                values: list[tuple[Any, ...]] = []
                groups = [("", "", overall)] + [
                    (d, v, t) for d, by_value in breakdowns.items() for v, t in by_value.items()
                ]
                for dimension, value, tally in groups:
                    values.append((poll.id, dimension, value, -1, tally.respondents))
                    values += [(poll.id, dimension, value, i, c) for i, c in enumerate(tally.counts)]
                await db.executemany(
                    "INSERT OR REPLACE INTO poll_aggregates (poll_id, dimension, value, choice, count)"
                    " VALUES (?, ?, ?, ?, ?)",
                    values,
                )
                await db.execute("DELETE FROM poll_answers WHERE poll_id = ?", (poll.id,))
                await db.execute(
                    "UPDATE polls SET aggregated_at = ? WHERE id = ?",
                    (_ts(datetime.now(UTC)), poll.id),
                )
            done += 1
        if done:  # the per-person rows must not linger in the WAL file either
            await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return done

    async def poll_answers_of(self, user_id: int) -> list[PollAnswerOfUser]:
        rows = await self._l_rows(
            "SELECT p.*, a.mask AS a_mask, a.answered_at AS a_at FROM poll_answers a JOIN polls p ON p.id = a.poll_id"
            " WHERE a.user_id = ? AND a.mask != 0 ORDER BY p.id",
            (user_id,),
        )
        out = []
        for r in rows:
            poll = _poll(r)
            labels = tuple(poll.choices[i].vi for i in _bits(r["a_mask"], len(poll.choices)))
            out.append(
                PollAnswerOfUser(poll.id, poll.question_vi, poll.question_en, labels, datetime.fromisoformat(r["a_at"]))
            )
        return out

    # -- workplace reports ---------------------------------------------------
    async def count_report(self, key_hash: str, day: date, *, limit: int) -> bool:
        rows = await self._l_rows(
            "INSERT INTO report_limits (hash, day, count) VALUES (?, ?, 1)"
            " ON CONFLICT (hash, day) DO UPDATE SET count = count + 1 WHERE count < ? RETURNING count",
            (key_hash, day.isoformat(), limit),
        )
        return bool(rows)

    async def reports_today(self, key_hash: str, day: date) -> int:
        row = await self._l_first(
            "SELECT count FROM report_limits WHERE hash = ? AND day = ?",
            (key_hash, day.isoformat()),
        )
        return int(row[0]) if row else 0

    async def add_report(self, new: NewReport) -> int:
        row = await self._l_first(
            "INSERT INTO workplace_reports (created_on, province, category, company, company_key, workers,"
            " description, contact_question_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                new.created_on.isoformat(),
                new.province,
                new.category,
                new.company,
                new.company_key,
                new.workers,
                new.description,
                new.contact_question_id,
            ),
        )
        return int(row[0])

    async def drop_report_draft(self, user_id: int) -> None:
        await self.db.execute("DELETE FROM conversation_state WHERE user_id = ?", (user_id,))
        await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def company_keys(self, province: str) -> dict[str, str]:
        rows = await self._l_rows(
            "SELECT company_key, company FROM workplace_reports WHERE province = ? ORDER BY id",
            (province,),
        )
        return {key: company for key, company in rows}

    async def list_reports(
        self,
        *,
        provinces: Collection[str] | None = None,
        since: date | None = None,
        limit: int = 500,
        cluster: tuple[str, str, str] | None = None,
    ) -> list[WorkplaceReport]:
        where, params = self._report_filter(provinces, since)
        if cluster is not None:
            where.append("province = ? AND company_key = ? AND category = ?")
            params.extend(cluster)
        sql = "SELECT * FROM workplace_reports" + (" WHERE " + " AND ".join(where) if where else "")
        rows = await self._l_rows(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [_report(r) for r in rows]

    @staticmethod
    def _report_filter(provinces: Collection[str] | None, since: date | None) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if provinces is not None:
            allowed = sorted(set(provinces))
            where.append(f"province IN ({_marks(len(allowed))})" if allowed else "0")
            params.extend(allowed)
        if since is not None:
            where.append("created_on >= ?")
            params.append(since.isoformat())
        return where, params

    async def get_report(self, report_id: int) -> WorkplaceReport | None:
        row = await self._l_first("SELECT * FROM workplace_reports WHERE id = ?", (report_id,))
        return _report(row) if row else None

    async def report_clusters(
        self,
        *,
        provinces: Collection[str] | None = None,
        since: date | None = None,
    ) -> list[ReportCluster]:
        where, params = self._report_filter(provinces, since)
        sql = (
            "SELECT province, company_key, category, COUNT(*), MAX(workers), MIN(created_on), MAX(created_on),"
            " MAX(id), (SELECT MAX(sent_on) FROM report_alerts a WHERE a.province = r.province"
            "  AND a.company_key = r.company_key AND a.category = r.category)"
            " FROM workplace_reports r"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " GROUP BY province, company_key, category ORDER BY COUNT(*) DESC, MAX(id) DESC"
        )
        rows = await self._l_rows(sql, params)
        names: dict[int, str] = {}
        ids = [r[7] for r in rows]
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for rid, company in await self._l_rows(
                f"SELECT id, company FROM workplace_reports WHERE id IN ({_marks(len(chunk))})",
                chunk,
            ):
                names[rid] = company
        return [
            ReportCluster(
                r[0],
                r[1],
                r[2],
                names.get(r[7], r[1]),
                r[3],
                r[4],
                date.fromisoformat(r[5]),
                date.fromisoformat(r[6]),
                r[7],
                date.fromisoformat(r[8]) if r[8] else None,
            )
            for r in rows
        ]

    async def cluster_window(
        self, province: str, company_key: str, category: str, *, today: date, days: int
    ) -> ClusterWindow:
        start = today - timedelta(days=days - 1)
        before = start - timedelta(days=days)
        row = await self._l_first(
            "SELECT SUM(created_on >= ?), MAX(CASE WHEN created_on >= ? THEN workers END), SUM(created_on < ?)"
            " FROM workplace_reports WHERE province = ? AND company_key = ? AND category = ? AND created_on >= ?",
            (
                start.isoformat(),
                start.isoformat(),
                start.isoformat(),
                province,
                company_key,
                category,
                before.isoformat(),
            ),
        )
        return ClusterWindow(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))

    async def claim_report_alert(
        self,
        province: str,
        company_key: str,
        category: str,
        *,
        today: date,
        days: int,
        reports: int,
        workers: int,
    ) -> bool:
        cutoff = (today - timedelta(days=days)).isoformat()
        async with self.db.execute(
            "INSERT OR IGNORE INTO report_alerts (province, company_key, category, sent_on, reports, workers)"
            " SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM report_alerts WHERE province = ?"
            "  AND company_key = ? AND category = ? AND sent_on > ?)",
            (
                province,
                company_key,
                category,
                today.isoformat(),
                reports,
                workers,
                province,
                company_key,
                category,
                cutoff,
            ),
        ) as cur:
            return cur.rowcount == 1

    async def purge_report_limits(self, *, before: date) -> int:
        return await delete_in_batches(self.db, "report_limits", "(hash, day)", "day < ?", (before.isoformat(),))
