"""PostgreSQL implementation of `storage.listening.ListeningStore` (a mixin of PostgresStore).

Every answer is one atomic upsert on (poll, person), so concurrent and redelivered taps
are counted once, from any number of processes; results are a single GROUP BY over the
poll's answers. Group and aggregate rows are read in an explicit byte order (COLLATE "C")
so breakdowns list their groups as the SQLite store does.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
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
from storage.postgres.store import PostgresFeature, affected, delete_in_batches, now_utc
from storage.sqlite.listening import _bits

if TYPE_CHECKING:
    pass

# A delivery in these states may have reached the worker: their answer is accepted.
_RECEIVED = ["sending", "sent", "in_doubt"]


def _poll(r: Any) -> Poll:
    return Poll(
        id=r["id"],
        broadcast_id=r["broadcast_id"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        question_vi=r["question_vi"],
        question_en=r["question_en"],
        choices=tuple(PollChoice(c["vi"], c.get("en") or None) for c in r["choices"]),
        multi=r["multi"],
        provinces=tuple(r["provinces"]),
        closes_at=r["closes_at"],
        closed_at=r["closed_at"],
        aggregated_at=r["aggregated_at"],
    )


def _report(r: Any) -> WorkplaceReport:
    return WorkplaceReport(
        id=r["id"],
        created_on=r["created_on"],
        province=r["province"],
        category=r["category"],
        company=r["company"],
        company_key=r["company_key"],
        workers=r["workers"],
        description=r["description"],
        contact_question_id=r["contact_question_id"],
    )


class PostgresListeningMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `transaction()` and
    `create_broadcast` (storage/postgres/store.py, storage/postgres/broadcasts.py)."""

    if TYPE_CHECKING:

        async def create_broadcast(self, new: NewBroadcast) -> Broadcast: ...

    # -- polls -------------------------------------------------------------
    async def create_poll(self, new: NewPoll, broadcast: NewBroadcast) -> tuple[Poll, Broadcast]:
        async with self.transaction() as conn:
            b = await self.create_broadcast(broadcast)  # joins this transaction through `db`
            row = await conn.fetchrow(
                "INSERT INTO polls (broadcast_id, created_by, created_at, question_vi, question_en, choices, multi,"
                " provinces, closes_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
                b.id,
                new.created_by,
                now_utc(),
                new.question_vi,
                new.question_en or None,
                [{"vi": c.vi, "en": c.en} for c in new.choices],
                new.multi,
                sorted(broadcast.audience.provinces),
                new.closes_at,
            )
        return _poll(row), b

    async def get_poll(self, poll_id: int) -> Poll | None:
        row = await self.db.fetchrow("SELECT * FROM polls WHERE id = $1", poll_id)
        return _poll(row) if row else None

    async def poll_of_broadcast(self, broadcast_id: int) -> Poll | None:
        row = await self.db.fetchrow("SELECT * FROM polls WHERE broadcast_id = $1", broadcast_id)
        return _poll(row) if row else None

    async def list_polls(self, *, limit: int = 20, within_provinces: Collection[str] | None = None) -> list[Poll]:
        if within_provinces is None:
            rows = await self.db.fetch("SELECT * FROM polls ORDER BY id DESC LIMIT $1", limit)
            return [_poll(r) for r in rows]
        allowed = sorted(set(within_provinces))
        if not allowed:
            return []
        # A national poll (no provinces) is for admins only; otherwise every province of
        # the poll must be one of the allowed (JSONB array containment).
        rows = await self.db.fetch(
            "SELECT * FROM polls WHERE jsonb_array_length(provinces) > 0 AND provinces <@ $1::jsonb"
            " ORDER BY id DESC LIMIT $2",
            allowed,
            limit,
        )
        return [_poll(r) for r in rows]

    async def close_poll(self, poll_id: int, at: datetime) -> bool:
        status = await self.db.execute(
            "UPDATE polls SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL AND closes_at > $1",
            at,
            poll_id,
        )
        return affected(status) == 1

    async def poll_received(self, poll_id: int, user_id: int) -> bool:
        row = await self.db.fetchrow(
            "SELECT 1 FROM polls p JOIN deliveries d ON d.broadcast_id = p.broadcast_id"
            " WHERE p.id = $1 AND d.user_id = $2 AND d.status = ANY($3::text[])",
            poll_id,
            user_id,
            _RECEIVED,
        )
        return row is not None

    async def open_polls_received(self, user_id: int, *, now: datetime, limit: int = 3) -> list[Poll]:
        rows = await self.db.fetch(
            "SELECT p.* FROM deliveries d JOIN polls p ON p.broadcast_id = d.broadcast_id"
            " WHERE d.user_id = $1 AND d.status = ANY($2::text[]) AND p.closed_at IS NULL AND p.closes_at > $3"
            " ORDER BY p.id DESC LIMIT $4",
            user_id,
            _RECEIVED,
            now,
            limit,
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
        value = int(mask) & 0xFFFF
        if mode == "set":
            update = "excluded.mask"
        elif mode == "add":
            update = "poll_answers.mask | $8::integer"
        elif mode == "remove":
            update = "poll_answers.mask & ~$8::integer"
        else:
            raise ValueError(f"unknown answer mode {mode!r}")
        # The EXISTS makes "only while open" part of the same statement: a tap racing
        # close_poll either lands before the close or changes nothing.
        row = await self.db.fetchrow(
            "INSERT INTO poll_answers (poll_id, user_id, mask, province, channel, language, answered_at, updated_at)"
            " SELECT $1::bigint, $2::bigint, $3::integer, $4::text, $5::text, $6::text, $7::timestamptz,"
            "  $7::timestamptz"
            " WHERE EXISTS (SELECT 1 FROM polls WHERE id = $1 AND closed_at IS NULL AND closes_at > $7)"
            f" ON CONFLICT (poll_id, user_id) DO UPDATE SET mask = {update}, updated_at = excluded.updated_at,"
            "  province = excluded.province, channel = excluded.channel, language = excluded.language"
            " RETURNING mask",
            poll_id,
            user_id,
            0 if mode == "remove" else value,
            province,
            channel,
            language,
            now,
            *([] if mode == "set" else [value]),
        )
        if row is not None:
            return AnswerOutcome(True, int(row["mask"]))
        return AnswerOutcome(False, await self.poll_answer_mask(poll_id, user_id))

    async def poll_answer_mask(self, poll_id: int, user_id: int) -> int:
        mask = await self.db.fetchval(
            "SELECT mask FROM poll_answers WHERE poll_id = $1 AND user_id = $2", poll_id, user_id
        )
        return int(mask) if mask is not None else 0

    async def _delivered(self, poll: Poll) -> int:
        if poll.broadcast_id is None:
            return 0
        return int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM deliveries WHERE broadcast_id = $1 AND status = 'sent'", poll.broadcast_id
            )
        )

    async def _live_tally(self, poll: Poll) -> tuple[Tally, dict[str, dict[str, Tally]]]:
        n = len(poll.choices)
        overall = Tally(0, [0] * n)
        breakdowns: dict[str, dict[str, Tally]] = {d: {} for d in DIMENSIONS}
        rows = await self.db.fetch(
            "SELECT coalesce(province, ''), channel, language, mask, COUNT(*) FROM poll_answers"
            " WHERE poll_id = $1 AND mask <> 0 GROUP BY 1, 2, 3, 4"
            """ ORDER BY coalesce(province, '') COLLATE "C", channel COLLATE "C", language COLLATE "C", mask""",
            poll.id,
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
        for dimension, value, choice, count in await self.db.fetch(
            "SELECT dimension, value, choice, count FROM poll_aggregates WHERE poll_id = $1"
            ' ORDER BY dimension COLLATE "C", value COLLATE "C", choice',
            poll_id,
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
        ids = await self.db.fetch(
            "SELECT id FROM polls WHERE aggregated_at IS NULL"
            " AND LEAST(closes_at, coalesce(closed_at, closes_at)) < $1 ORDER BY id",
            ended_before,
        )
        done = 0
        for (poll_id,) in ids:
            async with self.transaction() as conn:
                # Lock the poll and check again: another process folding the same poll
                # at once would otherwise count the answers it already deleted, as zeros.
                row = await conn.fetchrow(
                    "SELECT * FROM polls WHERE id = $1 AND aggregated_at IS NULL FOR UPDATE", poll_id
                )
                if row is None:
                    continue
                poll = _poll(row)
                overall, breakdowns = await self._live_tally(poll)
                values: list[tuple[Any, ...]] = []
                groups = [("", "", overall)] + [
                    (d, v, t) for d, by_value in breakdowns.items() for v, t in by_value.items()
                ]
                for dimension, value, tally in groups:
                    values.append((poll.id, dimension, value, -1, tally.respondents))
                    values += [(poll.id, dimension, value, i, c) for i, c in enumerate(tally.counts)]
                await conn.executemany(
                    "INSERT INTO poll_aggregates (poll_id, dimension, value, choice, count)"
                    " VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (poll_id, dimension, value, choice) DO UPDATE SET count = excluded.count",
                    values,
                )
                await conn.execute("DELETE FROM poll_answers WHERE poll_id = $1", poll.id)
                await conn.execute("UPDATE polls SET aggregated_at = $1 WHERE id = $2", now_utc(), poll.id)
            done += 1
        return done

    async def poll_answers_of(self, user_id: int) -> list[PollAnswerOfUser]:
        rows = await self.db.fetch(
            "SELECT p.*, a.mask AS a_mask, a.answered_at AS a_at FROM poll_answers a JOIN polls p ON p.id = a.poll_id"
            " WHERE a.user_id = $1 AND a.mask <> 0 ORDER BY p.id",
            user_id,
        )
        out = []
        for r in rows:
            poll = _poll(r)
            labels = tuple(poll.choices[i].vi for i in _bits(r["a_mask"], len(poll.choices)))
            out.append(PollAnswerOfUser(poll.id, poll.question_vi, poll.question_en, labels, r["a_at"]))
        return out

    # -- workplace reports ---------------------------------------------------
    async def count_report(self, key_hash: str, day: date, *, limit: int) -> bool:
        row = await self.db.fetchrow(
            "INSERT INTO report_limits (hash, day, count) VALUES ($1, $2, 1)"
            " ON CONFLICT (hash, day) DO UPDATE SET count = report_limits.count + 1"
            " WHERE report_limits.count < $3 RETURNING count",
            key_hash,
            day,
            limit,
        )
        return row is not None

    async def reports_today(self, key_hash: str, day: date) -> int:
        count = await self.db.fetchval("SELECT count FROM report_limits WHERE hash = $1 AND day = $2", key_hash, day)
        return int(count) if count is not None else 0

    async def add_report(self, new: NewReport) -> int:
        return int(
            await self.db.fetchval(
                "INSERT INTO workplace_reports (created_on, province, category, company, company_key, workers,"
                " description, contact_question_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                new.created_on,
                new.province,
                new.category,
                new.company,
                new.company_key,
                new.workers,
                new.description,
                new.contact_question_id,
            )
        )

    async def drop_report_draft(self, user_id: int) -> None:
        # No write-ahead-log checkpoint to force here: the deleted row's old version goes
        # at the next (auto)vacuum and WAL recycling (see storage/postgres/store.py).
        await self.db.execute("DELETE FROM conversation_state WHERE user_id = $1", user_id)

    async def company_keys(self, province: str) -> dict[str, str]:
        rows = await self.db.fetch(
            "SELECT company_key, company FROM workplace_reports WHERE province = $1 ORDER BY id", province
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
            n = len(params)
            where.append(f"province = ${n + 1} AND company_key = ${n + 2} AND category = ${n + 3}")
            params.extend(cluster)
        sql = "SELECT * FROM workplace_reports" + (" WHERE " + " AND ".join(where) if where else "")
        rows = await self.db.fetch(sql + f" ORDER BY id DESC LIMIT ${len(params) + 1}", *params, limit)
        return [_report(r) for r in rows]

    @staticmethod
    def _report_filter(provinces: Collection[str] | None, since: date | None) -> tuple[list[str], list[Any]]:
        """WHERE terms numbered $1, $2... and their values."""
        where: list[str] = []
        params: list[Any] = []
        if provinces is not None:
            params.append(sorted(set(provinces)))
            where.append(f"province = ANY(${len(params)}::text[])")
        if since is not None:
            params.append(since)
            where.append(f"created_on >= ${len(params)}")
        return where, params

    async def get_report(self, report_id: int) -> WorkplaceReport | None:
        row = await self.db.fetchrow("SELECT * FROM workplace_reports WHERE id = $1", report_id)
        return _report(row) if row else None

    async def report_clusters(
        self,
        *,
        provinces: Collection[str] | None = None,
        since: date | None = None,
    ) -> list[ReportCluster]:
        where, params = self._report_filter(provinces, since)
        rows = await self.db.fetch(
            "SELECT r.province, r.company_key, r.category, COUNT(*) AS reports, MAX(r.workers) AS workers,"
            " MIN(r.created_on) AS first_on, MAX(r.created_on) AS last_on, MAX(r.id) AS latest_id,"
            " (SELECT MAX(sent_on) FROM report_alerts a WHERE a.province = r.province"
            "  AND a.company_key = r.company_key AND a.category = r.category) AS alerted_on,"
            # The cluster's name as written in its latest report.
            " (SELECT company FROM workplace_reports l WHERE l.id = MAX(r.id)) AS company"
            " FROM workplace_reports r"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " GROUP BY r.province, r.company_key, r.category ORDER BY COUNT(*) DESC, MAX(r.id) DESC",
            *params,
        )
        return [
            ReportCluster(
                r["province"],
                r["company_key"],
                r["category"],
                r["company"] if r["company"] is not None else r["company_key"],
                r["reports"],
                r["workers"],
                r["first_on"],
                r["last_on"],
                r["latest_id"],
                r["alerted_on"],
            )
            for r in rows
        ]

    async def cluster_window(
        self, province: str, company_key: str, category: str, *, today: date, days: int
    ) -> ClusterWindow:
        start = today - timedelta(days=days - 1)
        before = start - timedelta(days=days)
        row = await self.db.fetchrow(
            "SELECT COUNT(*) FILTER (WHERE created_on >= $1), MAX(workers) FILTER (WHERE created_on >= $1),"
            " COUNT(*) FILTER (WHERE created_on < $1)"
            " FROM workplace_reports WHERE province = $2 AND company_key = $3 AND category = $4 AND created_on >= $5",
            start,
            province,
            company_key,
            category,
            before,
        )
        assert row is not None
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
        # Two processes claiming at once on the same day meet on the primary key: one
        # inserts, the other's ON CONFLICT DO NOTHING reports 0 rows.
        status = await self.db.execute(
            "INSERT INTO report_alerts (province, company_key, category, sent_on, reports, workers)"
            " SELECT $1::text, $2::text, $3::text, $4::date, $5::integer, $6::integer"
            " WHERE NOT EXISTS (SELECT 1 FROM report_alerts WHERE province = $1"
            "  AND company_key = $2 AND category = $3 AND sent_on > $7)"
            " ON CONFLICT DO NOTHING",
            province,
            company_key,
            category,
            today,
            reports,
            workers,
            today - timedelta(days=days),
        )
        return affected(status) == 1

    async def purge_report_limits(self, *, before: date) -> int:
        return await delete_in_batches(self.db, "report_limits", "(hash, day)", "day < $1", before)
