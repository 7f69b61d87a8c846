"""SQLite implementation of `storage.broadcasts.BroadcastStore` (a mixin of SQLiteStore).

The store shares one connection among all coroutines, so this module (a) reads and runs
RETURNING statements with `execute_fetchall`, which completes a statement in one step,
leaving nothing open across an await, and (b) keeps the hot delivery path free of
explicit transactions: a transaction held across awaits on the shared connection would
absorb other coroutines' statements, and its COMMIT fails while another coroutine has a
statement in progress. Every write below is atomic as a single statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage.broadcasts import (
    FINAL_STATUSES,
    REASON_BLOCKED,
    REASON_CRASH,
    TEXT_EDITABLE_STATUSES,
    Audience,
    AudienceReach,
    Broadcast,
    BroadcastKind,
    BroadcastPhoto,
    BroadcastStats,
    BroadcastStatus,
    DeliveryResult,
    DeliveryStatus,
    DeliveryTarget,
    NewBroadcast,
)
from storage.interface import StoreError
from storage.records import Channel

if TYPE_CHECKING:
    from storage.sqlite.store import GuardedConnection

# SQLite's default limit on bound variables is 32766; stay far below it.
_CHUNK = 500
_JOURNAL_CHUNK = 200  # four variables per entry


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _opt_ts(dt: datetime | None) -> str | None:
    return _ts(dt) if dt is not None else None


def _opt_dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _now() -> str:
    return _ts(datetime.now(UTC))


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SQLiteBroadcastMixin:
    """Uses SQLiteStore's `db` and `transaction()`."""

    if TYPE_CHECKING:

        @property
        def db(self) -> GuardedConnection: ...

        def transaction(self) -> AbstractAsyncContextManager[GuardedConnection]: ...

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self.db.execute_fetchall(sql, params))

    async def _first(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._rows(sql, params)
        return rows[0] if rows else None

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (no RETURNING); the number of rows it changed."""
        async with self.db.execute(sql, params) as cur:
            return cur.rowcount

    # -- subscriptions -----------------------------------------------------
    async def subscriptions(self, user_id: int) -> set[str]:
        return {r[0] for r in await self._rows("SELECT topic FROM subscriptions WHERE user_id = ?", (user_id,))}

    async def subscribe(self, user_id: int, topics: Iterable[str]) -> None:
        now = _now()
        rows = [(user_id, t, now) for t in topics]
        if rows:
            await self.db.executemany(
                "INSERT OR IGNORE INTO subscriptions (user_id, topic, created_at) VALUES (?, ?, ?)", rows
            )
            await self._write("DELETE FROM broadcast_optouts WHERE user_id = ?", (user_id,))

    async def unsubscribe(self, user_id: int, topics: Iterable[str]) -> None:
        await self.db.executemany(
            "DELETE FROM subscriptions WHERE user_id = ? AND topic = ?", [(user_id, t) for t in topics]
        )

    async def opt_out(self, user_id: int) -> list[str]:
        had = [
            r[0]
            for r in await self._rows("SELECT topic FROM subscriptions WHERE user_id = ? ORDER BY topic", (user_id,))
        ]
        if not had:
            # A second /stop must not forget what the first one saved.
            row = await self._first("SELECT topics FROM broadcast_optouts WHERE user_id = ?", (user_id,))
            if row is not None:
                had = json.loads(row[0])
        # Opt-out recorded first: a crash before the delete still keeps the worker out of
        # "everyone" broadcasts, and the next /stop finishes the job.
        await self._write(
            "INSERT INTO broadcast_optouts (user_id, topics, at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET topics = excluded.topics, at = excluded.at",
            (user_id, json.dumps(had), _now()),
        )
        await self._write("DELETE FROM subscriptions WHERE user_id = ?", (user_id,))
        return had

    async def opt_back_in(self, user_id: int) -> list[str]:
        row = await self._first("SELECT topics FROM broadcast_optouts WHERE user_id = ?", (user_id,))
        topics = json.loads(row[0]) if row is not None else []
        now = _now()
        await self.db.executemany(
            "INSERT OR IGNORE INTO subscriptions (user_id, topic, created_at) VALUES (?, ?, ?)",
            [(user_id, t, now) for t in topics],
        )
        await self._write("DELETE FROM broadcast_optouts WHERE user_id = ?", (user_id,))
        return topics

    async def is_opted_out(self, user_id: int) -> bool:
        return await self._first("SELECT 1 FROM broadcast_optouts WHERE user_id = ?", (user_id,)) is not None

    # -- broadcasts --------------------------------------------------------
    async def create_broadcast(self, new: NewBroadcast) -> Broadcast:
        kind = BroadcastKind.SERIES if new.cron else BroadcastKind.ONCE
        photo_id = None
        if new.photo is not None:
            # A crash between the two inserts leaves an unused photo row: harmless.
            row = await self._first(
                "INSERT INTO broadcast_photos (filename, data) VALUES (?, ?) RETURNING id",
                (new.photo_name, new.photo),
            )
            photo_id = row[0]
        elif new.photo_ref:
            if new.photo_ref_channel != Channel.TELEGRAM:
                raise StoreError(f"no file id column for channel {new.photo_ref_channel!r}")
            row = await self._first(
                "INSERT INTO broadcast_photos (filename, data, telegram_file_id) VALUES (?, ?, ?) RETURNING id",
                (new.photo_name, b"", new.photo_ref),
            )
            photo_id = row[0]
        row = await self._first(
            "INSERT INTO broadcasts (kind, created_by, created_at, text_vi, text_en, photo_id, audience,"
            " cron, starts_at, until, run_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                kind.value,
                new.created_by,
                _now(),
                new.text_vi,
                new.text_en or None,
                photo_id,
                new.audience.to_json(),
                new.cron,
                _opt_ts(new.starts_at),
                _opt_ts(new.until),
                _opt_ts(new.run_at),
                BroadcastStatus.SCHEDULED.value,
            ),
        )
        return _broadcast(row)

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        row = await self._first("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        return _broadcast(row) if row else None

    async def list_broadcasts(
        self,
        statuses: Iterable[BroadcastStatus] | None = None,
        *,
        limit: int = 50,
        kind: BroadcastKind | None = None,
        within_provinces: Iterable[str] | None = None,
    ) -> list[Broadcast]:
        where: list[str] = []
        params: list[Any] = []
        if within_provinces is not None:
            allowed = sorted(set(within_provinces))
            if not allowed:
                return []
            where.append(
                "json_array_length(audience, '$.provinces') > 0 AND NOT EXISTS (SELECT 1 FROM"
                f" json_each(audience, '$.provinces') WHERE value NOT IN ({_marks(len(allowed))}))"
            )
            params.extend(allowed)
        if statuses is not None:
            values = [BroadcastStatus(s).value for s in statuses]
            where.append(f"status IN ({_marks(len(values))})")
            params.extend(values)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind.value)
        sql = "SELECT * FROM broadcasts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        return [_broadcast(r) for r in await self._rows(sql, (*params, limit))]

    async def get_photo(self, photo_id: int) -> BroadcastPhoto | None:
        r = await self._first("SELECT * FROM broadcast_photos WHERE id = ?", (photo_id,))
        if r is None:
            return None
        return BroadcastPhoto(r["id"], r["filename"], bytes(r["data"]), r["telegram_file_id"])

    async def set_photo_file_id(self, photo_id: int, channel: str, file_id: str) -> None:
        if channel != Channel.TELEGRAM:
            raise StoreError(f"no file id cache for channel {channel!r}")
        await self._write("UPDATE broadcast_photos SET telegram_file_id = ? WHERE id = ?", (file_id, photo_id))

    async def set_broadcast_status(
        self,
        broadcast_id: int,
        status: BroadcastStatus,
        *,
        reason: str | None = None,
        expect: Iterable[BroadcastStatus] | None = None,
        run_at: datetime | None = None,
        clear_run_at: bool = False,
    ) -> bool:
        status = BroadcastStatus(status)
        sets = ["status = ?", "reason = ?"]
        params: list[Any] = [status.value, reason]
        if status in FINAL_STATUSES:
            sets += ["finished_at = ?", "lease_owner = NULL", "lease_until = NULL"]
            params.append(_now())
        elif status is BroadcastStatus.RUNNING:
            # Running again (resume, resend-failed): a fresh summary when it finishes.
            sets += ["finished_at = NULL", "summary_sent = 0"]
        if run_at is not None:
            sets.append("run_at = ?")
            params.append(_ts(run_at))
        elif clear_run_at:
            sets.append("run_at = NULL")
        sql = f"UPDATE broadcasts SET {', '.join(sets)} WHERE id = ?"
        params.append(broadcast_id)
        if expect is not None:
            values = [BroadcastStatus(s).value for s in expect]
            sql += f" AND status IN ({_marks(len(values))})"
            params.extend(values)
        return await self._write(sql, params) == 1

    async def edit_broadcast_text(
        self, broadcast_id: int, text_vi: str, text_en: str | None, *, old_vi: str, old_en: str | None
    ) -> Broadcast | None:
        # The claim sets started_at in one statement too, and statements on the shared
        # connection never interleave: whichever runs first, the other sees its result.
        # COALESCE: a row written with "" for no English must match an edit that says None.
        statuses = sorted(s.value for s in TEXT_EDITABLE_STATUSES)
        row = await self._first(
            "UPDATE broadcasts SET text_vi = ?, text_en = ?"
            f" WHERE id = ? AND started_at IS NULL AND status IN ({_marks(len(statuses))})"
            "  AND text_vi = ? AND COALESCE(text_en, '') = ? RETURNING *",
            (text_vi, text_en or None, broadcast_id, *statuses, old_vi, old_en or ""),
        )
        return _broadcast(row) if row else None

    async def set_next_run(self, series_id: int, run_at: datetime | None) -> None:
        if run_at is None:
            await self._write(
                "UPDATE broadcasts SET run_at = NULL, status = 'done', finished_at = ?"
                " WHERE id = ? AND kind = 'series' AND status IN ('scheduled', 'running')",
                (_now(), series_id),
            )
        else:
            await self._write(
                "UPDATE broadcasts SET run_at = ? WHERE id = ? AND kind = 'series'", (_ts(run_at), series_id)
            )

    async def create_occurrence(
        self,
        series: Broadcast,
        run_at: datetime,
        *,
        status: BroadcastStatus = BroadcastStatus.SCHEDULED,
        reason: str | None = None,
    ) -> Broadcast | None:
        final = status in FINAL_STATUSES
        row = await self._first(
            "INSERT OR IGNORE INTO broadcasts (kind, series_id, created_by, created_at, text_vi, text_en,"
            " photo_id, audience, run_at, status, reason, finished_at)"
            " SELECT 'once', id, created_by, ?, text_vi, text_en, photo_id, audience, ?, ?, ?, ?"
            " FROM broadcasts WHERE id = ? AND kind = 'series' RETURNING *",
            (_now(), _ts(run_at), BroadcastStatus(status).value, reason, _now() if final else None, series.id),
        )
        return _broadcast(row) if row else None

    async def claim_broadcast(
        self,
        broadcast_id: int,
        owner: str,
        *,
        now: datetime,
        lease_until: datetime,
        steal_from: str | None = None,
    ) -> Broadcast | None:
        row = await self._first(
            "UPDATE broadcasts SET status = 'running', reason = NULL, lease_owner = ?, lease_until = ?,"
            "  started_at = COALESCE(started_at, ?)"
            " WHERE id = ? AND kind = 'once' AND status IN ('scheduled', 'running')"
            "  AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ? OR lease_owner = ?)"
            " RETURNING *",
            (owner, _ts(lease_until), _ts(now), broadcast_id, owner, _ts(now), steal_from or owner),
        )
        return _broadcast(row) if row else None

    async def renew_lease(self, broadcast_id: int, owner: str, lease_until: datetime) -> bool:
        return (
            await self._write(
                "UPDATE broadcasts SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                (_ts(lease_until), broadcast_id, owner),
            )
            == 1
        )

    async def release_broadcast(self, broadcast_id: int, owner: str) -> None:
        await self._write(
            "UPDATE broadcasts SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
            (broadcast_id, owner),
        )

    async def mark_summary_sent(self, broadcast_id: int) -> bool:
        return (
            await self._write(
                "UPDATE broadcasts SET summary_sent = 1 WHERE id = ? AND summary_sent = 0", (broadcast_id,)
            )
            == 1
        )

    # -- audience and deliveries ------------------------------------------
    async def _audience_where(self, audience: Audience) -> tuple[str, list[Any]]:
        clauses = ["u.reachable = 1"]
        params: list[Any] = []
        if audience.program is not None:
            clauses.append(
                "EXISTS (SELECT 1 FROM care_registrations r WHERE r.user_id = u.id"
                " AND r.program_id = ? AND r.status = 'confirmed')"
            )
            params.append(audience.program)
        elif audience.everyone:
            clauses.append("NOT EXISTS (SELECT 1 FROM broadcast_optouts o WHERE o.user_id = u.id)")
        else:
            if not audience.topics:
                raise StoreError("an audience needs topics or everyone")
            clauses.append(
                "EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = u.id"
                f" AND s.topic IN ({_marks(len(audience.topics))}))"
            )
            params.extend(audience.topics)
        if audience.language:
            clauses.append("u.language = ?")
            params.append(audience.language)
        if audience.roles:
            clauses.append(f"u.role IN ({_marks(len(audience.roles))})")
            params.extend(audience.roles)
        if audience.provinces:
            clauses.append(
                "EXISTS (SELECT 1 FROM signups g WHERE g.user_id = u.id"
                f" AND g.province_id IN ({_marks(len(audience.provinces))}))"
            )
            params.extend(audience.provinces)
        return " AND ".join(clauses), params

    async def count_audience(self, audience: Audience) -> int:
        where, params = await self._audience_where(audience)
        row = await self._first(f"SELECT COUNT(*) FROM users u WHERE {where}", params)
        return int(row[0]) if row else 0

    async def audience_by_channel(self, audience: Audience, *, seen_since: datetime | None = None) -> AudienceReach:
        where, params = await self._audience_where(audience)
        since = _ts(seen_since) if seen_since is not None else None
        rows = await self._rows(
            "SELECT u.channel, COUNT(*), SUM(CASE WHEN ? IS NOT NULL AND u.last_seen_at >= ? THEN 1 ELSE 0 END)"
            f" FROM users u WHERE {where} GROUP BY u.channel ORDER BY u.channel",
            (since, since, *params),
        )
        return AudienceReach(
            by_channel={r[0]: int(r[1]) for r in rows},
            recent={r[0]: int(r[2] or 0) for r in rows} if since is not None else {},
        )

    async def materialize_audience(self, broadcast_id: int) -> int:
        b = await self.get_broadcast(broadcast_id)
        if b is None:
            raise StoreError(f"no broadcast {broadcast_id}")
        if b.audience_size is not None:
            return b.audience_size
        where, params = await self._audience_where(b.audience)
        # One statement creates every row (all or none); the size is recorded after it,
        # so a crash in between only means the same INSERT OR IGNORE runs again.
        await self._write(
            "INSERT OR IGNORE INTO deliveries (broadcast_id, user_id, status)"
            f" SELECT ?, u.id, 'queued' FROM users u WHERE {where} ORDER BY u.id",
            (broadcast_id, *params),
        )
        row = await self._first(
            "UPDATE broadcasts SET audience_size = (SELECT COUNT(*) FROM deliveries WHERE broadcast_id = ?)"
            " WHERE id = ? RETURNING audience_size",
            (broadcast_id, broadcast_id),
        )
        return int(row[0])

    async def recover_deliveries(self, broadcast_id: int, *, resend: bool) -> int:
        if resend:
            return await self._write(
                "UPDATE deliveries SET status = 'queued', updated_at = ? WHERE broadcast_id = ? AND status = 'sending'",
                (_now(), broadcast_id),
            )
        return await self._write(
            "UPDATE deliveries SET status = 'in_doubt', reason = ?, updated_at = ?"
            " WHERE broadcast_id = ? AND status = 'sending'",
            (REASON_CRASH, _now(), broadcast_id),
        )

    async def queued_deliveries(
        self, broadcast_id: int, *, after_id: int = 0, limit: int, before_id: int | None = None
    ) -> list[DeliveryTarget]:
        where, order = ("d.id < ?", "d.id DESC") if before_id is not None else ("d.id > ?", "d.id")
        rows = await self._rows(
            "SELECT d.id, d.user_id, u.channel, u.external_id, u.language, u.reachable,"
            "  EXISTS (SELECT 1 FROM broadcast_optouts o WHERE o.user_id = d.user_id) AS opted_out,"
            "  u.last_seen_at"
            " FROM deliveries d JOIN users u ON u.id = d.user_id"
            f" WHERE d.broadcast_id = ? AND d.status = 'queued' AND {where}"
            f" ORDER BY {order} LIMIT ?",
            (broadcast_id, before_id if before_id is not None else after_id, limit),
        )
        return [DeliveryTarget(r[0], r[1], r[2], r[3], r[4], bool(r[5]), bool(r[6]), _opt_dt(r[7])) for r in rows]

    async def journal_deliveries(
        self,
        broadcast_id: int,
        claim: Sequence[int],
        results: Sequence[DeliveryResult],
    ) -> set[int]:
        # One statement per chunk records outcomes and takes claims together: one trip to
        # the database thread per batch, which is what lets a broadcast run at 1,000/s.
        # A claim only takes a row still queued (compare-and-set): a row another sender
        # took, or a cancel skipped, is not returned and so not sent. An outcome only
        # lands on a row still in flight.
        now = _now()
        entries: list[tuple[int, str, str | None, int]] = [(i, "sending", None, 1) for i in claim]
        entries += [(r.delivery_id, r.status.value, r.reason, 0) for r in results]
        claimed: set[int] = set()
        for i in range(0, len(entries), _JOURNAL_CHUNK):
            chunk = entries[i : i + _JOURNAL_CHUNK]
            values = ",".join(["(?, ?, ?, ?)"] * len(chunk))
            rows = await self._rows(
                f"WITH v(id, status, reason, claim) AS (VALUES {values})"
                " UPDATE deliveries SET status = v.status, reason = v.reason, updated_at = ?,"
                "  attempts = attempts + v.claim"
                " FROM v WHERE deliveries.id = v.id AND deliveries.broadcast_id = ?"
                "  AND ((v.claim = 1 AND deliveries.status = 'queued')"
                "   OR (v.claim = 0 AND deliveries.status IN ('sending', 'queued')))"
                " RETURNING deliveries.id, deliveries.status",
                (*[x for e in chunk for x in e], now, broadcast_id),
            )
            claimed.update(r[0] for r in rows if r[1] == "sending")
        return claimed

    async def requeue_failed(self, broadcast_id: int) -> int:
        return await self._write(
            "UPDATE deliveries SET status = 'queued', reason = NULL, updated_at = ?"
            " WHERE broadcast_id = ? AND status = 'failed'"
            "  AND (reason IS NOT ? OR user_id IN (SELECT id FROM users WHERE reachable = 1))",
            (_now(), broadcast_id, REASON_BLOCKED),
        )

    async def skip_queued(self, broadcast_id: int, reason: str) -> int:
        return await self._write(
            "UPDATE deliveries SET status = 'skipped', reason = ?, updated_at = ?"
            " WHERE broadcast_id = ? AND status = 'queued'",
            (reason, _now(), broadcast_id),
        )

    async def any_sending(self, broadcast_id: int) -> bool:
        row = await self._first(
            "SELECT 1 FROM deliveries WHERE broadcast_id = ? AND status = ? LIMIT 1",
            (broadcast_id, DeliveryStatus.SENDING.value),
        )
        return row is not None

    async def delivery_stats(self, broadcast_id: int) -> BroadcastStats:
        rows = await self._rows(
            "SELECT status, COALESCE(reason, ''), COUNT(*) FROM deliveries WHERE broadcast_id = ?"
            " GROUP BY status, reason",
            (broadcast_id,),
        )
        by_status: dict[str, int] = {}
        failed: dict[str, int] = {}
        skipped: dict[str, int] = {}
        for status, reason, n in rows:
            by_status[status] = by_status.get(status, 0) + n
            if status == DeliveryStatus.FAILED.value:
                failed[reason or "unknown"] = failed.get(reason or "unknown", 0) + n
            elif status == DeliveryStatus.SKIPPED.value:
                skipped[reason or "unknown"] = skipped.get(reason or "unknown", 0) + n
        return BroadcastStats(sum(by_status.values()), by_status, failed, skipped)

    async def delivery_statuses(self, broadcast_id: int) -> dict[int, tuple[str, str | None]]:
        rows = await self._rows(
            "SELECT user_id, status, reason FROM deliveries WHERE broadcast_id = ?", (broadcast_id,)
        )
        return {r[0]: (r[1], r[2]) for r in rows}


def _broadcast(r: Any) -> Broadcast:
    return Broadcast(
        id=r["id"],
        kind=BroadcastKind(r["kind"]),
        series_id=r["series_id"],
        created_by=r["created_by"],
        created_at=datetime.fromisoformat(r["created_at"]),
        text_vi=r["text_vi"],
        text_en=r["text_en"],
        photo_id=r["photo_id"],
        audience=Audience.from_json(r["audience"]),
        cron=r["cron"],
        starts_at=_opt_dt(r["starts_at"]),
        until=_opt_dt(r["until"]),
        run_at=_opt_dt(r["run_at"]),
        status=BroadcastStatus(r["status"]),
        reason=r["reason"],
        started_at=_opt_dt(r["started_at"]),
        finished_at=_opt_dt(r["finished_at"]),
        audience_size=r["audience_size"],
        lease_owner=r["lease_owner"],
        lease_until=_opt_dt(r["lease_until"]),
        summary_sent=bool(r["summary_sent"]),
    )


__all__ = ["SQLiteBroadcastMixin"]
