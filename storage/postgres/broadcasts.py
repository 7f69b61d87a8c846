"""PostgreSQL implementation of `storage.broadcasts.BroadcastStore` (a mixin of PostgresStore).

Unlike the SQLite store (one shared connection, so no transactions on the hot path),
each call here has a connection of its own, so writes that belong together share a
transaction. Several processes may serve one database: a delivery row is claimed with
`FOR UPDATE SKIP LOCKED` inside the claiming transaction, so two senders working on the
same broadcast never both take a row, and neither waits for the other's batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
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
from storage.postgres.store import PostgresFeature, affected, now_utc
from storage.records import Channel

if TYPE_CHECKING:
    import asyncpg


class _Params:
    """Numbered placeholders for a statement built from optional parts."""

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _audience_doc(audience: Audience) -> Any:
    # The JSONB codec encodes Python objects; the same document the SQLite store keeps.
    return json.loads(audience.to_json())


class PostgresBroadcastMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py)."""

    # -- subscriptions -----------------------------------------------------
    async def subscriptions(self, user_id: int) -> set[str]:
        rows = await self.db.fetch("SELECT topic FROM subscriptions WHERE user_id = $1", user_id)
        return {r[0] for r in rows}

    async def subscribe(self, user_id: int, topics: Iterable[str]) -> None:
        topics = list(topics)
        if not topics:
            return
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO subscriptions (user_id, topic, created_at)"
                " SELECT $1, t, $3 FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING",
                user_id,
                topics,
                now_utc(),
            )
            await conn.execute("DELETE FROM broadcast_optouts WHERE user_id = $1", user_id)

    async def unsubscribe(self, user_id: int, topics: Iterable[str]) -> None:
        await self.db.execute(
            "DELETE FROM subscriptions WHERE user_id = $1 AND topic = ANY($2::text[])", user_id, list(topics)
        )

    async def opt_out(self, user_id: int) -> list[str]:
        async with self.transaction() as conn:
            rows = await conn.fetch("DELETE FROM subscriptions WHERE user_id = $1 RETURNING topic", user_id)
            had = sorted(r[0] for r in rows)
            if not had:
                # A second /stop must not forget what the first one saved.
                saved = await conn.fetchval("SELECT topics FROM broadcast_optouts WHERE user_id = $1", user_id)
                if saved is not None:
                    had = list(saved)
            await conn.execute(
                "INSERT INTO broadcast_optouts (user_id, topics, at) VALUES ($1, $2, $3)"
                " ON CONFLICT (user_id) DO UPDATE SET topics = excluded.topics, at = excluded.at",
                user_id,
                had,
                now_utc(),
            )
        return had

    async def opt_back_in(self, user_id: int) -> list[str]:
        async with self.transaction() as conn:
            saved = await conn.fetchval("DELETE FROM broadcast_optouts WHERE user_id = $1 RETURNING topics", user_id)
            topics = list(saved) if saved is not None else []
            if topics:
                await conn.execute(
                    "INSERT INTO subscriptions (user_id, topic, created_at)"
                    " SELECT $1, t, $3 FROM unnest($2::text[]) AS t ON CONFLICT DO NOTHING",
                    user_id,
                    topics,
                    now_utc(),
                )
        return topics

    async def is_opted_out(self, user_id: int) -> bool:
        return await self.db.fetchval("SELECT 1 FROM broadcast_optouts WHERE user_id = $1", user_id) is not None

    # -- broadcasts --------------------------------------------------------
    async def create_broadcast(self, new: NewBroadcast) -> Broadcast:
        kind = BroadcastKind.SERIES if new.cron else BroadcastKind.ONCE
        if new.photo is None and new.photo_ref and new.photo_ref_channel != Channel.TELEGRAM:
            raise StoreError(f"no file id column for channel {new.photo_ref_channel!r}")
        async with self.transaction() as conn:
            photo_id = None
            if new.photo is not None:
                photo_id = await conn.fetchval(
                    "INSERT INTO broadcast_photos (filename, data) VALUES ($1, $2) RETURNING id",
                    new.photo_name,
                    new.photo,
                )
            elif new.photo_ref:
                photo_id = await conn.fetchval(
                    "INSERT INTO broadcast_photos (filename, data, telegram_file_id) VALUES ($1, $2, $3) RETURNING id",
                    new.photo_name,
                    b"",
                    new.photo_ref,
                )
            row = await conn.fetchrow(
                "INSERT INTO broadcasts (kind, created_by, created_at, text_vi, text_en, photo_id, audience,"
                " cron, starts_at, until, run_at, status)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *",
                kind.value,
                new.created_by,
                now_utc(),
                new.text_vi,
                new.text_en or None,
                photo_id,
                _audience_doc(new.audience),
                new.cron,
                new.starts_at,
                new.until,
                new.run_at,
                BroadcastStatus.SCHEDULED.value,
            )
        assert row is not None
        return _broadcast(row)

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        row = await self.db.fetchrow("SELECT * FROM broadcasts WHERE id = $1", broadcast_id)
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
        p = _Params()
        if within_provinces is not None:
            allowed = sorted(set(within_provinces))
            if not allowed:
                return []
            # Aimed at some provinces (a non-empty list), all of them among `allowed`:
            # JSONB array containment says exactly that.
            where.append(
                f"audience->'provinces' <> '[]'::jsonb AND audience->'provinces' <@ to_jsonb({p.add(allowed)}::text[])"
            )
        if statuses is not None:
            where.append(f"status = ANY({p.add([BroadcastStatus(s).value for s in statuses])}::text[])")
        if kind is not None:
            where.append(f"kind = {p.add(kind.value)}")
        sql = "SELECT * FROM broadcasts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY id DESC LIMIT {p.add(limit)}"
        return [_broadcast(r) for r in await self.db.fetch(sql, *p.values)]

    async def get_photo(self, photo_id: int) -> BroadcastPhoto | None:
        r = await self.db.fetchrow("SELECT * FROM broadcast_photos WHERE id = $1", photo_id)
        if r is None:
            return None
        return BroadcastPhoto(r["id"], r["filename"], bytes(r["data"]), r["telegram_file_id"])

    async def set_photo_file_id(self, photo_id: int, channel: str, file_id: str) -> None:
        if channel != Channel.TELEGRAM:
            raise StoreError(f"no file id cache for channel {channel!r}")
        await self.db.execute("UPDATE broadcast_photos SET telegram_file_id = $1 WHERE id = $2", file_id, photo_id)

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
        p = _Params()
        sets = [f"status = {p.add(status.value)}", f"reason = {p.add(reason)}"]
        if status in FINAL_STATUSES:
            sets += [f"finished_at = {p.add(now_utc())}", "lease_owner = NULL", "lease_until = NULL"]
        elif status is BroadcastStatus.RUNNING:
            # Running again (resume, resend-failed): a fresh summary when it finishes.
            sets += ["finished_at = NULL", "summary_sent = FALSE"]
        if run_at is not None:
            sets.append(f"run_at = {p.add(run_at)}")
        elif clear_run_at:
            sets.append("run_at = NULL")
        sql = f"UPDATE broadcasts SET {', '.join(sets)} WHERE id = {p.add(broadcast_id)}"
        if expect is not None:
            sql += f" AND status = ANY({p.add([BroadcastStatus(s).value for s in expect])}::text[])"
        return affected(await self.db.execute(sql, *p.values)) == 1

    async def edit_broadcast_text(
        self, broadcast_id: int, text_vi: str, text_en: str | None, *, old_vi: str, old_en: str | None
    ) -> Broadcast | None:
        # One conditional UPDATE, like the claim: of the two racing for the row, the second
        # waits for the first to commit and re-checks its WHERE on the row as left, so an
        # edit after a claim finds started_at set, a claim after an edit returns the new
        # text, and an edit after another edit finds the texts it started from gone.
        # COALESCE: a row written with "" for no English must match an edit that says None.
        row = await self.db.fetchrow(
            "UPDATE broadcasts SET text_vi = $1, text_en = $2"
            " WHERE id = $3 AND started_at IS NULL AND status = ANY($4::text[])"
            "  AND text_vi = $5 AND COALESCE(text_en, '') = $6 RETURNING *",
            text_vi,
            text_en or None,
            broadcast_id,
            sorted(s.value for s in TEXT_EDITABLE_STATUSES),
            old_vi,
            old_en or "",
        )
        return _broadcast(row) if row else None

    async def set_next_run(self, series_id: int, run_at: datetime | None) -> None:
        if run_at is None:
            await self.db.execute(
                "UPDATE broadcasts SET run_at = NULL, status = 'done', finished_at = $1"
                " WHERE id = $2 AND kind = 'series' AND status IN ('scheduled', 'running')",
                now_utc(),
                series_id,
            )
        else:
            await self.db.execute(
                "UPDATE broadcasts SET run_at = $1 WHERE id = $2 AND kind = 'series'", run_at, series_id
            )

    async def create_occurrence(
        self,
        series: Broadcast,
        run_at: datetime,
        *,
        status: BroadcastStatus = BroadcastStatus.SCHEDULED,
        reason: str | None = None,
    ) -> Broadcast | None:
        now = now_utc()
        final = status in FINAL_STATUSES
        # The UNIQUE (series_id, run_at) constraint makes a second creation a no-op, also
        # when two processes re-arm the same series at once.
        row = await self.db.fetchrow(
            "INSERT INTO broadcasts (kind, series_id, created_by, created_at, text_vi, text_en,"
            " photo_id, audience, run_at, status, reason, finished_at)"
            " SELECT 'once', id, created_by, $1, text_vi, text_en, photo_id, audience, $2, $3, $4, $5"
            " FROM broadcasts WHERE id = $6 AND kind = 'series'"
            " ON CONFLICT DO NOTHING RETURNING *",
            now,
            run_at,
            BroadcastStatus(status).value,
            reason,
            now if final else None,
            series.id,
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
        # One conditional UPDATE: PostgreSQL re-checks the WHERE against the row as a
        # concurrent claimer left it (after that claim commits), so of two processes
        # claiming at once only one gets the lease.
        row = await self.db.fetchrow(
            "UPDATE broadcasts SET status = 'running', reason = NULL, lease_owner = $1, lease_until = $2,"
            "  started_at = COALESCE(started_at, $3)"
            " WHERE id = $4 AND kind = 'once' AND status IN ('scheduled', 'running')"
            "  AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $3 OR lease_owner = $5)"
            " RETURNING *",
            owner,
            lease_until,
            now,
            broadcast_id,
            steal_from or owner,
        )
        return _broadcast(row) if row else None

    async def renew_lease(self, broadcast_id: int, owner: str, lease_until: datetime) -> bool:
        status = await self.db.execute(
            "UPDATE broadcasts SET lease_until = $1 WHERE id = $2 AND lease_owner = $3",
            lease_until,
            broadcast_id,
            owner,
        )
        return affected(status) == 1

    async def release_broadcast(self, broadcast_id: int, owner: str) -> None:
        await self.db.execute(
            "UPDATE broadcasts SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
            broadcast_id,
            owner,
        )

    async def mark_summary_sent(self, broadcast_id: int) -> bool:
        status = await self.db.execute(
            "UPDATE broadcasts SET summary_sent = TRUE WHERE id = $1 AND NOT summary_sent", broadcast_id
        )
        return affected(status) == 1

    # -- audience and deliveries ------------------------------------------
    @staticmethod
    def _audience_where(audience: Audience, p: _Params) -> str:
        """The WHERE clause over `users u` selecting `audience`; its values go to `p`."""
        clauses = ["u.reachable"]
        if audience.program is not None:
            clauses.append(
                "EXISTS (SELECT 1 FROM care_registrations r WHERE r.user_id = u.id"
                f" AND r.program_id = {p.add(audience.program)} AND r.status = 'confirmed')"
            )
        elif audience.everyone:
            clauses.append("NOT EXISTS (SELECT 1 FROM broadcast_optouts o WHERE o.user_id = u.id)")
        else:
            if not audience.topics:
                raise StoreError("an audience needs topics or everyone")
            clauses.append(
                "EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = u.id"
                f" AND s.topic = ANY({p.add(list(audience.topics))}::text[]))"
            )
        if audience.language:
            clauses.append(f"u.language = {p.add(audience.language)}")
        if audience.roles:
            clauses.append(f"u.role = ANY({p.add(list(audience.roles))}::text[])")
        if audience.provinces:
            clauses.append(
                "EXISTS (SELECT 1 FROM signups g WHERE g.user_id = u.id"
                f" AND g.province_id = ANY({p.add(list(audience.provinces))}::text[]))"
            )
        return " AND ".join(clauses)

    async def count_audience(self, audience: Audience) -> int:
        p = _Params()
        where = self._audience_where(audience, p)
        return int(await self.db.fetchval(f"SELECT COUNT(*) FROM users u WHERE {where}", *p.values))

    async def audience_by_channel(self, audience: Audience, *, seen_since: datetime | None = None) -> AudienceReach:
        p = _Params(seen_since)
        where = self._audience_where(audience, p)
        rows = await self.db.fetch(
            "SELECT u.channel, COUNT(*), COUNT(*) FILTER (WHERE u.last_seen_at >= $1::timestamptz)"
            f" FROM users u WHERE {where} GROUP BY u.channel ORDER BY u.channel",
            *p.values,
        )
        return AudienceReach(
            by_channel={r[0]: int(r[1]) for r in rows},
            recent={r[0]: int(r[2]) for r in rows} if seen_since is not None else {},
        )

    async def materialize_audience(self, broadcast_id: int) -> int:
        async with self.transaction() as conn:
            # The broadcast row locked first: a second process materializing the same
            # broadcast waits, then finds the size recorded and selects nobody new.
            row = await conn.fetchrow("SELECT * FROM broadcasts WHERE id = $1 FOR UPDATE", broadcast_id)
            if row is None:
                raise StoreError(f"no broadcast {broadcast_id}")
            b = _broadcast(row)
            if b.audience_size is not None:
                return b.audience_size
            p = _Params(broadcast_id)
            where = self._audience_where(b.audience, p)
            # Rows in user order, so delivery ids (and the sending order) follow user ids.
            await conn.execute(
                "INSERT INTO deliveries (broadcast_id, user_id, status)"
                f" SELECT $1, u.id, 'queued' FROM users u WHERE {where} ORDER BY u.id"
                " ON CONFLICT DO NOTHING",
                *p.values,
            )
            size = await conn.fetchval(
                "UPDATE broadcasts SET audience_size = (SELECT COUNT(*) FROM deliveries WHERE broadcast_id = $1)"
                " WHERE id = $1 RETURNING audience_size",
                broadcast_id,
            )
        return int(size)

    async def recover_deliveries(self, broadcast_id: int, *, resend: bool) -> int:
        if resend:
            status = await self.db.execute(
                "UPDATE deliveries SET status = 'queued', updated_at = $1"
                " WHERE broadcast_id = $2 AND status = 'sending'",
                now_utc(),
                broadcast_id,
            )
        else:
            status = await self.db.execute(
                "UPDATE deliveries SET status = 'in_doubt', reason = $1, updated_at = $2"
                " WHERE broadcast_id = $3 AND status = 'sending'",
                REASON_CRASH,
                now_utc(),
                broadcast_id,
            )
        return affected(status)

    async def queued_deliveries(
        self, broadcast_id: int, *, after_id: int = 0, limit: int, before_id: int | None = None
    ) -> list[DeliveryTarget]:
        where, order = ("d.id < $2", "d.id DESC") if before_id is not None else ("d.id > $2", "d.id")
        rows = await self.db.fetch(
            "SELECT d.id, d.user_id, u.channel, u.external_id, u.language, u.reachable,"
            "  EXISTS (SELECT 1 FROM broadcast_optouts o WHERE o.user_id = d.user_id) AS opted_out,"
            "  u.last_seen_at"
            " FROM deliveries d JOIN users u ON u.id = d.user_id"
            f" WHERE d.broadcast_id = $1 AND d.status = 'queued' AND {where}"
            f" ORDER BY {order} LIMIT $3",
            broadcast_id,
            before_id if before_id is not None else after_id,
            limit,
        )
        return [DeliveryTarget(r[0], r[1], r[2], r[3], r[4], bool(r[5]), bool(r[6]), r[7]) for r in rows]

    async def journal_deliveries(
        self,
        broadcast_id: int,
        claim: Sequence[int],
        results: Sequence[DeliveryResult],
    ) -> set[int]:
        # Outcomes and claims of a batch commit together, in one round trip each. An
        # outcome only lands on a row still in flight (not one a cancel skipped meanwhile).
        # A claim takes only rows still queued and not locked by another sender's claiming
        # transaction (SKIP LOCKED): such a row is the other sender's, so it is left out
        # rather than waited for; if that transaction rolls back, the row stays queued and
        # a later page picks it up. Rows are locked in id order, as every claimer does.
        #
        # Both statements find their rows by primary key alone, in a MATERIALIZED CTE, and
        # test broadcast and status on the locked rows. Given `broadcast_id = $1 AND status
        # = 'queued'` beside the ids, the planner may read the batch through
        # deliveries_by_status instead, with the ids as a filter: every queued row of the
        # broadcast per batch of 8, quadratic in the audience (measured: 2.6 ms a claim at
        # 10,000 queued rows, 38 ms a batch at 20,000 recipients, hours at a million). It
        # does so whenever its estimate for that pair is small, as for a broadcast whose
        # rows are newer than the table's statistics, i.e. every freshly materialized one.
        # A claimed id no longer queued (another sender's, or skipped) is locked too for
        # the rest of this transaction, and left as it is.
        now = now_utc()
        claimed: set[int] = set()
        async with self.transaction() as conn:
            if results:
                await conn.execute(
                    "WITH t AS MATERIALIZED (SELECT id, broadcast_id, status FROM deliveries"
                    "  WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE)"
                    " UPDATE deliveries d SET status = v.status, reason = v.reason, updated_at = $4"
                    " FROM t, unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, status, reason)"
                    " WHERE d.id = t.id AND v.id = t.id"
                    "  AND t.broadcast_id = $5 AND t.status IN ('sending', 'queued')",
                    [r.delivery_id for r in results],
                    [r.status.value for r in results],
                    [r.reason for r in results],
                    now,
                    broadcast_id,
                )
            if claim:
                rows = await conn.fetch(
                    "WITH c AS MATERIALIZED (SELECT id, broadcast_id, status FROM deliveries"
                    "  WHERE id = ANY($2::bigint[]) ORDER BY id FOR UPDATE SKIP LOCKED)"
                    " UPDATE deliveries d SET status = 'sending', reason = NULL, updated_at = $3,"
                    "  attempts = d.attempts + 1"
                    " FROM c WHERE d.id = c.id AND c.broadcast_id = $1 AND c.status = 'queued'"
                    " RETURNING d.id",
                    broadcast_id,
                    list(claim),
                    now,
                )
                claimed = {r[0] for r in rows}
        return claimed

    async def requeue_failed(self, broadcast_id: int) -> int:
        status = await self.db.execute(
            "UPDATE deliveries SET status = 'queued', reason = NULL, updated_at = $1"
            " WHERE broadcast_id = $2 AND status = 'failed'"
            "  AND (reason IS DISTINCT FROM $3 OR user_id IN (SELECT id FROM users WHERE reachable))",
            now_utc(),
            broadcast_id,
            REASON_BLOCKED,
        )
        return affected(status)

    async def skip_queued(self, broadcast_id: int, reason: str) -> int:
        status = await self.db.execute(
            "UPDATE deliveries SET status = 'skipped', reason = $1, updated_at = $2"
            " WHERE broadcast_id = $3 AND status = 'queued'",
            reason,
            now_utc(),
            broadcast_id,
        )
        return affected(status)

    async def any_sending(self, broadcast_id: int) -> bool:
        row = await self.db.fetchval(
            "SELECT 1 FROM deliveries WHERE broadcast_id = $1 AND status = $2 LIMIT 1",
            broadcast_id,
            DeliveryStatus.SENDING.value,
        )
        return row is not None

    async def delivery_stats(self, broadcast_id: int) -> BroadcastStats:
        rows = await self.db.fetch(
            "SELECT status, COALESCE(reason, ''), COUNT(*) FROM deliveries WHERE broadcast_id = $1"
            " GROUP BY status, reason",
            broadcast_id,
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
        rows = await self.db.fetch(
            "SELECT user_id, status, reason FROM deliveries WHERE broadcast_id = $1", broadcast_id
        )
        return {r[0]: (r[1], r[2]) for r in rows}


def _broadcast(r: asyncpg.Record) -> Broadcast:
    return Broadcast(
        id=r["id"],
        kind=BroadcastKind(r["kind"]),
        series_id=r["series_id"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        text_vi=r["text_vi"],
        text_en=r["text_en"],
        photo_id=r["photo_id"],
        audience=Audience.from_dict(r["audience"]),
        cron=r["cron"],
        starts_at=r["starts_at"],
        until=r["until"],
        run_at=r["run_at"],
        status=BroadcastStatus(r["status"]),
        reason=r["reason"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        audience_size=r["audience_size"],
        lease_owner=r["lease_owner"],
        lease_until=r["lease_until"],
        summary_sent=bool(r["summary_sent"]),
    )


__all__ = ["PostgresBroadcastMixin"]
