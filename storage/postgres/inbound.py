"""PostgreSQL implementation of `storage.inbound.InboundJournalStore` (a mixin of PostgresStore)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.inbound import INBOUND_TURN_LEASE, JournalEntry
from storage.postgres.store import (
    INSTANCE_ROLE_PREFIX,
    LEADER_LOCK_PREFIX,
    PROCESSED_UPDATES_TTL,
    PostgresFeature,
    delete_in_batches,
    now_utc,
)
from storage.sqlite.inbound import _PRUNE_EVERY

if TYPE_CHECKING:
    from datetime import datetime

    import asyncpg

# A whole batch (a poll brings up to 100 updates) in one statement, so one round trip and
# one transaction, and a key is never marked without its row. A key repeated within the
# batch counts once, at its first position, as the SQLite loop does. Rows are inserted in
# batch order, so the journal's ids keep arrival order. A key another process is marking
# at the same moment waits for that transaction, then is not fresh here.
_JOURNAL = """
WITH input AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(key, user_ref, payload, n)
), first AS (
    SELECT DISTINCT ON (key) key, user_ref, payload, n FROM input ORDER BY key, n
), marked AS (
    INSERT INTO processed_updates (channel, key, at)
    SELECT $1, key, $5 FROM first ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING key
), journaled AS (
    INSERT INTO inbound_journal (channel, key, user_ref, payload, received_at, owner)
    SELECT $1, f.key, f.user_ref, f.payload, $5, $6 FROM first f JOIN marked m ON m.key = f.key ORDER BY f.n
    RETURNING key
)
SELECT f.n FROM first f JOIN journaled j ON j.key = f.key
"""

# Take the user's turn for update $2 if nothing of theirs is ahead of it: no earlier row
# of the same user in the journal (received first, not finished), and no live turn of
# another update. The unique (channel, user_ref) makes two processes' attempts
# exclusive: one inserts, the other meets the conflict and its WHERE keeps the holder.
_TURN = """
WITH me AS (
    SELECT id, user_ref FROM inbound_journal WHERE channel = $1 AND key = $2
), taken AS (
    INSERT INTO inbound_turns (channel, user_ref, key, owner, until)
    SELECT $1, me.user_ref, $2, $3, $4 FROM me
    WHERE NOT EXISTS (
        SELECT 1 FROM inbound_journal j WHERE j.channel = $1 AND j.user_ref = me.user_ref AND j.id < me.id
    )
    ON CONFLICT (channel, user_ref) DO UPDATE
        SET key = EXCLUDED.key, owner = EXCLUDED.owner, until = EXCLUDED.until
        WHERE inbound_turns.key = EXCLUDED.key OR inbound_turns.until < $5
    RETURNING 1
)
SELECT (SELECT user_ref FROM me) AS user_ref, EXISTS (SELECT 1 FROM taken) AS got
"""


class PostgresInboundMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py);
    the dedupe keys are the same `processed_updates` rows as mark_processed's."""

    _marks: int
    _held: set[str]
    instance: str

    if TYPE_CHECKING:

        async def purge_processed_updates(self, *, before: datetime) -> int: ...

        async def hold_leadership(self, role: str) -> bool: ...

    async def _keep_alive(self, *, check: bool = False) -> bool:
        """Hold this process's liveness lock (taken on first use, so that command-line
        runs, which journal nothing, open no extra connection); `check` asks the server."""
        role = INSTANCE_ROLE_PREFIX + self.instance
        if role in self._held and not check:
            return True
        return await self.hold_leadership(role)

    async def journal_inbound(self, channel: str, key: str, user_ref: str, payload: str) -> bool:
        return (await self.journal_inbound_many(channel, [(key, user_ref, payload)]))[0]

    async def journal_inbound_many(self, channel: str, entries: list[tuple[str, str, str]]) -> list[bool]:
        if not entries:
            return []
        now = now_utc()
        keys, user_refs, payloads = (list(column) for column in zip(*entries, strict=True))
        await self._keep_alive()
        rows = await self.db.fetch(_JOURNAL, channel, keys, user_refs, payloads, now, self.instance)
        fresh = {int(r["n"]) for r in rows}  # 1-based positions in `entries`
        before, self._marks = self._marks, self._marks + len(entries)
        # Prune old dedupe keys now and then, as mark_processed does.
        if before // _PRUNE_EVERY != self._marks // _PRUNE_EVERY:
            await self.purge_processed_updates(before=now - PROCESSED_UPDATES_TTL)
        return [i in fresh for i in range(1, len(entries) + 1)]

    async def mark_inbound_done(self, channel: str, key: str) -> None:
        await self.db.execute("UPDATE inbound_journal SET done = TRUE WHERE channel = $1 AND key = $2", channel, key)

    async def finish_inbound(self, channel: str, key: str) -> None:
        # The row and the user's turn go together: the next update of theirs may start.
        await self.db.execute(
            "WITH gone AS (DELETE FROM inbound_journal WHERE channel = $1 AND key = $2)"
            " DELETE FROM inbound_turns WHERE channel = $1 AND key = $2",
            channel,
            key,
        )

    async def journal_entries(self, channel: str) -> list[JournalEntry]:
        rows = await self.db.fetch(
            "SELECT key, user_ref, payload, received_at, done FROM inbound_journal WHERE channel = $1 ORDER BY id",
            channel,
        )
        return [JournalEntry(r["key"], r["user_ref"], r["payload"], r["received_at"], r["done"]) for r in rows]

    async def adopt_inbound(self, channel: str) -> list[JournalEntry]:
        # Confirm our own lock first: a process whose liveness connection broke must not
        # look dead to the others while it is still handling its rows.
        await self._keep_alive(check=True)
        async with self.transaction() as conn:
            owners = await conn.fetch(
                "SELECT DISTINCT owner FROM inbound_journal WHERE channel = $1 AND owner <> $2", channel, self.instance
            )
            gone = []
            for row in owners:
                # A live process holds its lock for its whole session, so getting it means
                # the owner is gone; held until this transaction ends, it also keeps a
                # second adopter off the same rows.
                if await conn.fetchval(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                    LEADER_LOCK_PREFIX + INSTANCE_ROLE_PREFIX + row["owner"],
                ):
                    gone.append(row["owner"])
            if not gone:
                return []
            rows = await conn.fetch(
                "UPDATE inbound_journal SET owner = $2 WHERE channel = $1 AND owner = ANY($3::text[])"
                " RETURNING id, key, user_ref, payload, received_at, done",
                channel,
                self.instance,
                gone,
            )
            # Their turns end with them: the users' next updates need not wait for the lease.
            await conn.execute(
                "DELETE FROM inbound_turns WHERE channel = $1 AND owner = ANY($2::text[])", channel, gone
            )
        rows = sorted(rows, key=lambda r: r["id"])
        return [JournalEntry(r["key"], r["user_ref"], r["payload"], r["received_at"], r["done"]) for r in rows]

    async def take_inbound_turn(self, channel: str, key: str) -> bool:
        now = now_utc()
        row = await self.db.fetchrow(_TURN, channel, key, self.instance, now + INBOUND_TURN_LEASE, now)
        if row is None or row["user_ref"] is None or row["user_ref"] == "":
            return True  # unknown to the journal, or no user to keep in order
        return bool(row["got"])

    async def purge_inbound(self, *, received_before: datetime) -> int:
        return await delete_in_batches(self.db, "inbound_journal", "id", "received_at < $1", received_before)

    async def _forget_unlinked(self, conn: asyncpg.Connection, user_id: int) -> None:
        # Journaled updates name the sender by platform id, not users(id): no cascade.
        await conn.execute(
            "DELETE FROM inbound_journal WHERE (channel, user_ref) IN"
            " (SELECT channel, external_id FROM users WHERE id = $1)",
            user_id,
        )
        await conn.execute(
            "DELETE FROM inbound_turns WHERE (channel, user_ref) IN"
            " (SELECT channel, external_id FROM users WHERE id = $1)",
            user_id,
        )
        # The next class in PostgresStore's MRO (at the end, PostgresCore) has it; mypy
        # sees only this mixin's own base, object.
        await super()._forget_unlinked(conn, user_id)  # type: ignore[misc]
