"""SQLite implementation of `storage.inbound.InboundJournalStore` (a mixin of SQLiteStore)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.inbound import JournalEntry
from storage.sqlite.purge import delete_in_batches

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from storage.sqlite.store import GuardedConnection

# Prune old dedupe keys now and then, as mark_processed does.
_PRUNE_EVERY = 1000


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _journal(
    conn: sqlite3.Connection, channel: str, entries: list[tuple[str, str, str]], now: str, owner: str
) -> list[bool]:
    # A whole batch in one hop to aiosqlite's thread and one transaction (a poll brings up
    # to 100 updates), and a key is never marked without its row.
    conn.execute("BEGIN IMMEDIATE")
    try:
        verdicts = []
        for key, user_ref, payload in entries:
            fresh = (
                conn.execute(
                    "INSERT OR IGNORE INTO processed_updates (channel, key, at) VALUES (?, ?, ?)", (channel, key, now)
                ).rowcount
                == 1
            )
            if fresh:
                conn.execute(
                    "INSERT INTO inbound_journal (channel, key, user_ref, payload, received_at, owner)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (channel, key, user_ref, payload, now, owner),
                )
            verdicts.append(fresh)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return verdicts


class SQLiteInboundMixin:
    """Uses SQLiteStore's `db`; the dedupe keys are the same `processed_updates` rows."""

    _marks: int
    instance: str

    if TYPE_CHECKING:

        @property
        def db(self) -> GuardedConnection: ...

        def transaction(self) -> AbstractAsyncContextManager[GuardedConnection]: ...

        async def purge_processed_updates(self, *, before: datetime) -> int: ...

    async def journal_inbound(self, channel: str, key: str, user_ref: str, payload: str) -> bool:
        return (await self.journal_inbound_many(channel, [(key, user_ref, payload)]))[0]

    async def journal_inbound_many(self, channel: str, entries: list[tuple[str, str, str]]) -> list[bool]:
        from storage.sqlite.store import PROCESSED_UPDATES_TTL

        if not entries:
            return []
        db = self.db
        now = datetime.now(UTC)
        async with db.lock:
            verdicts = await db.conn._execute(_journal, db.conn._conn, channel, entries, _ts(now), self.instance)
        before, self._marks = self._marks, self._marks + len(entries)
        if before // _PRUNE_EVERY != self._marks // _PRUNE_EVERY:
            await self.purge_processed_updates(before=now - PROCESSED_UPDATES_TTL)
        return list(verdicts)

    async def mark_inbound_done(self, channel: str, key: str) -> None:
        await self.db.execute("UPDATE inbound_journal SET done = 1 WHERE channel = ? AND key = ?", (channel, key))

    async def finish_inbound(self, channel: str, key: str) -> None:
        await self.db.execute("DELETE FROM inbound_journal WHERE channel = ? AND key = ?", (channel, key))

    async def journal_entries(self, channel: str) -> list[JournalEntry]:
        return await self._entries("WHERE channel = ?", (channel,))

    async def adopt_inbound(self, channel: str) -> list[JournalEntry]:
        # One process per file (bot.lock): every other instance's row is a previous run's.
        async with self.transaction():
            rows = await self._entries("WHERE channel = ? AND owner <> ?", (channel, self.instance))
            await self.db.execute(
                "UPDATE inbound_journal SET owner = ? WHERE channel = ? AND owner <> ?",
                (self.instance, channel, self.instance),
            )
        return rows

    async def take_inbound_turn(self, channel: str, key: str) -> bool:
        # The lone process's per-user queues (bot/channels/ordering.py) already order one
        # user's updates; nobody else handles them.
        return True

    async def _entries(self, where: str, params: tuple[str, ...]) -> list[JournalEntry]:
        rows = await self.db.execute_fetchall(
            f"SELECT key, user_ref, payload, received_at, done FROM inbound_journal {where} ORDER BY id",
            params,
        )
        return [
            JournalEntry(
                r["key"],
                r["user_ref"],
                r["payload"],
                datetime.fromisoformat(r["received_at"]),
                bool(r["done"]),
            )
            for r in rows
        ]

    async def purge_inbound(self, *, received_before: datetime) -> int:
        return await delete_in_batches(self.db, "inbound_journal", "id", "received_at < ?", (_ts(received_before),))
