"""PostgreSQL implementation of `storage.inbound.InboundJournalStore` (a mixin of PostgresStore)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.inbound import JournalEntry
from storage.postgres.store import PROCESSED_UPDATES_TTL, PostgresFeature, affected, now_utc
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
    INSERT INTO inbound_journal (channel, key, user_ref, payload, received_at)
    SELECT $1, f.key, f.user_ref, f.payload, $5 FROM first f JOIN marked m ON m.key = f.key ORDER BY f.n
    RETURNING key
)
SELECT f.n FROM first f JOIN journaled j ON j.key = f.key
"""


class PostgresInboundMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py);
    the dedupe keys are the same `processed_updates` rows as mark_processed's."""

    _marks: int

    if TYPE_CHECKING:

        async def purge_processed_updates(self, *, before: datetime) -> int: ...

    async def journal_inbound(self, channel: str, key: str, user_ref: str, payload: str) -> bool:
        return (await self.journal_inbound_many(channel, [(key, user_ref, payload)]))[0]

    async def journal_inbound_many(self, channel: str, entries: list[tuple[str, str, str]]) -> list[bool]:
        if not entries:
            return []
        now = now_utc()
        keys, user_refs, payloads = (list(column) for column in zip(*entries, strict=True))
        rows = await self.db.fetch(_JOURNAL, channel, keys, user_refs, payloads, now)
        fresh = {int(r["n"]) for r in rows}  # 1-based positions in `entries`
        before, self._marks = self._marks, self._marks + len(entries)
        # Prune old dedupe keys now and then, as mark_processed does.
        if before // _PRUNE_EVERY != self._marks // _PRUNE_EVERY:
            await self.purge_processed_updates(before=now - PROCESSED_UPDATES_TTL)
        return [i in fresh for i in range(1, len(entries) + 1)]

    async def mark_inbound_done(self, channel: str, key: str) -> None:
        await self.db.execute("UPDATE inbound_journal SET done = TRUE WHERE channel = $1 AND key = $2", channel, key)

    async def finish_inbound(self, channel: str, key: str) -> None:
        await self.db.execute("DELETE FROM inbound_journal WHERE channel = $1 AND key = $2", channel, key)

    async def journal_entries(self, channel: str) -> list[JournalEntry]:
        rows = await self.db.fetch(
            "SELECT key, user_ref, payload, received_at, done FROM inbound_journal WHERE channel = $1 ORDER BY id",
            channel,
        )
        return [JournalEntry(r["key"], r["user_ref"], r["payload"], r["received_at"], r["done"]) for r in rows]

    async def purge_inbound(self, *, received_before: datetime) -> int:
        status = await self.db.execute("DELETE FROM inbound_journal WHERE received_at < $1", received_before)
        return affected(status)

    async def _forget_unlinked(self, conn: asyncpg.Connection, user_id: int) -> None:
        # Journaled updates name the sender by platform id, not users(id): no cascade.
        await conn.execute(
            "DELETE FROM inbound_journal WHERE (channel, user_ref) IN"
            " (SELECT channel, external_id FROM users WHERE id = $1)",
            user_id,
        )
        # The next class in PostgresStore's MRO (at the end, PostgresCore) has it; mypy
        # sees only this mixin's own base, object.
        await super()._forget_unlinked(conn, user_id)  # type: ignore[misc]
