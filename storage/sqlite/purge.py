"""Housekeeping deletes in bounded batches.

A first purge after months (or a federation's backlog of a million dedupe keys) must not
hold the one connection, and so every worker's reply, for one long statement: each batch
is its own statement, and other tasks get the database in between.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.sqlite.store import GuardedConnection


async def delete_in_batches(db: GuardedConnection, table: str, key: str, where: str, params: Any = ()) -> int:
    """Delete the rows of `table` matching `where`, PURGE_BATCH at a time; how many went.

    `key` names the rows (rowid, or the primary key's columns as "(a, b)" for a table
    WITHOUT ROWID); `where` should be served by an index, or each batch scans the table.
    """
    from storage.sqlite import store  # the knob lives there; store imports the mixins

    batch = store.PURGE_BATCH
    total = 0
    while True:
        result = await db.run(
            f"DELETE FROM {table} WHERE {key} IN (SELECT {key.strip('()')} FROM {table} WHERE {where} LIMIT {batch})",
            params,
        )
        deleted = max(result.rowcount, 0)
        total += deleted
        if deleted < batch:
            return total
