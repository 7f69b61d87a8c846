"""Copy a whole unionbot database between backends (`unionbot db copy`, issue 12).

Both stores are opened (so each is migrated to its latest schema), then every table is
copied in foreign-key order, in batches read by keyset on the primary key, with ids
preserved. The PostgreSQL schema is the authority on column types: values travel
between the two stores as Python objects (datetime, date, bool, JSON objects, bytes)
and the SQLite side converts them from and to its text/integer storage the way the
SQLite store itself writes them. PostgreSQL identity sequences are then moved past the
largest copied id, so rows inserted afterwards get fresh ids.

Each batch commits on its own: an interrupted copy leaves a partly filled target, which
`force=True` empties first, so running the copy again finishes it correctly. Nothing
here prints or logs row contents; only table names and counts leave this module.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from storage.interface import Store, StoreError
from storage.postgres import PostgresStore
from storage.sqlite import SQLiteStore

DEFAULT_BATCH = 1000
# Each store keeps its own migration history; send slots and inbound turns are a few
# seconds of coordination among PostgreSQL processes, with no SQLite twin and nothing
# worth carrying over; signup_terms is PostgreSQL's search index of names and
# workplaces, filled by triggers as the sign-ups are copied in.
SKIP_TABLES = frozenset({"schema_migrations", "send_slots", "inbound_turns", "signup_terms"})


class TargetNotEmptyError(StoreError):
    """The target already holds data and the copy was not forced."""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    types: tuple[str, ...]  # PostgreSQL data types, as information_schema names them
    key: tuple[str, ...]  # primary key columns
    identity: str | None  # the identity column, if any


@dataclass(frozen=True, slots=True)
class TableResult:
    name: str
    source_rows: int
    target_rows: int


Progress = Callable[[str, int, int], None]


# -- schema ------------------------------------------------------------------


async def postgres_schema(store: PostgresStore) -> list[Table]:
    """Every table of an open PostgreSQL store, parents before children."""
    pool = store.pool
    cols = await pool.fetch(
        "SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    keys = await pool.fetch(
        "SELECT c.relname AS table_name, a.attname AS column_name, k.ord"
        " FROM pg_constraint con"
        " JOIN pg_class c ON c.oid = con.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()"
        " CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
        " WHERE con.contype = 'p' ORDER BY c.relname, k.ord"
    )
    refs = await pool.fetch(
        "SELECT c.relname AS child, p.relname AS parent FROM pg_constraint con"
        " JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class p ON p.oid = con.confrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()"
        " WHERE con.contype = 'f'"
    )
    by_table: dict[str, list[Any]] = {}
    for r in cols:
        by_table.setdefault(r["table_name"], []).append(r)
    pk: dict[str, list[str]] = {}
    for r in keys:
        pk.setdefault(r["table_name"], []).append(r["column_name"])
    parents: dict[str, set[str]] = {t: set() for t in by_table}
    for r in refs:
        if r["child"] != r["parent"]:  # a self-reference is served by copying in id order
            parents[r["child"]].add(r["parent"])
    tables = {}
    for name, rows in by_table.items():
        if name in SKIP_TABLES:
            continue
        if name not in pk:
            raise StoreError(f"table {name} has no primary key: cannot copy it in batches")
        identity = next((r["column_name"] for r in rows if r["is_identity"] == "YES"), None)
        tables[name] = Table(
            name,
            tuple(r["column_name"] for r in rows),
            tuple(r["data_type"] for r in rows),
            tuple(pk[name]),
            identity,
        )
    return _parents_first(tables, parents)


def _parents_first(tables: dict[str, Table], parents: dict[str, set[str]]) -> list[Table]:
    ordered: list[Table] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name not in tables:
            return
        if name in path:
            raise StoreError(f"foreign keys form a cycle through {name}")
        for parent in sorted(parents.get(name, ())):
            visit(parent, (*path, name))
        done.add(name)
        ordered.append(tables[name])

    for name in sorted(tables):
        visit(name, ())
    return ordered


async def sqlite_columns(store: SQLiteStore) -> dict[str, tuple[str, ...]]:
    rows = await store.db.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    found = {}
    for (name,) in rows:
        info = await store.db.execute_fetchall(f'PRAGMA table_info("{name}")')
        found[name] = tuple(r[1] for r in info)
    return found


# -- value conversion for the SQLite side ---------------------------------------


def _from_sqlite(pg_type: str, value: Any) -> Any:
    if value is None:
        return None
    if pg_type == "timestamp with time zone":
        dt = datetime.fromisoformat(value)
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    if pg_type == "date":
        return date.fromisoformat(value)
    if pg_type == "boolean":
        return bool(value)
    if pg_type in ("json", "jsonb"):
        return json.loads(value)
    if pg_type == "bytea":
        return bytes(value)
    if pg_type == "double precision":
        return float(value)
    return value


def _to_sqlite(pg_type: str, value: Any) -> Any:
    if value is None:
        return None
    if pg_type == "timestamp with time zone":
        # as the SQLite store writes them: text comparisons in its queries rely on it
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if pg_type == "date":
        return value.isoformat()
    if pg_type == "boolean":
        return 1 if value else 0
    if pg_type in ("json", "jsonb"):
        return json.dumps(value, ensure_ascii=False)
    return value


# -- the two ends ------------------------------------------------------------------


def _placeholders(kind: str, n: int, start: int = 1) -> str:
    if kind == "sqlite":
        return ", ".join("?" * n)
    return ", ".join(f"${i}" for i in range(start, start + n))


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


class _End(abc.ABC):
    """One store as a copy source or target. Two backends, so two ends, each typed by its
    store's own connection objects (an asyncpg pool, the SQLite store's guarded
    connection) instead of one class reaching for attributes the Store interface lacks."""

    kind: str

    @abc.abstractmethod
    async def count(self, table: Table) -> int: ...

    @abc.abstractmethod
    async def read(
        self, table: Table, after: tuple[Any, ...] | None, limit: int
    ) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
        """Up to `limit` rows after the key `after`, in key order, as Python values, and
        the keyset cursor of the last one (in this store's own terms, as read)."""

    @abc.abstractmethod
    async def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None: ...

    @abc.abstractmethod
    async def clear(self, tables: Sequence[Table]) -> None:
        """Empty every copied table (children first); ids start again from 1."""

    @abc.abstractmethod
    async def finish(self, tables: Sequence[Table], given: dict[str, int]) -> None:
        """After the copy: whatever makes rows inserted later get fresh ids, past both the
        largest id copied and the largest the source ever gave (`given`)."""

    @abc.abstractmethod
    async def ids_given(self, tables: Sequence[Table]) -> dict[str, int]:
        """The largest id each table ever gave, deleted rows included: numbers people
        were told ("/reply 5", "/erasure 1 xoa") must not be given again after a copy."""

    def _select(self, table: Table, after: tuple[Any, ...] | None, limit: int) -> str:
        keys = _quoted(table.key)
        where = ""
        if after is not None:
            where = f" WHERE ({keys}) > ({_placeholders(self.kind, len(after))})"
        return f'SELECT {_quoted(table.columns)} FROM "{table.name}"{where} ORDER BY {keys} LIMIT {int(limit)}'

    def _insert(self, table: Table) -> str:
        return (
            f'INSERT INTO "{table.name}" ({_quoted(table.columns)})'
            f" VALUES ({_placeholders(self.kind, len(table.columns))})"
        )


def _cursor(table: Table, last: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(last[table.columns.index(k)] for k in table.key)


class _PostgresEnd(_End):
    kind = "postgres"

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    async def count(self, table: Table) -> int:
        return int(await self.store.pool.fetchval(f'SELECT COUNT(*) FROM "{table.name}"'))

    async def read(
        self, table: Table, after: tuple[Any, ...] | None, limit: int
    ) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
        params = tuple(after) if after is not None else ()
        rows = [tuple(r) for r in await self.store.pool.fetch(self._select(table, after, limit), *params)]
        return rows, (_cursor(table, rows[-1]) if rows else None)

    async def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        async with self.store.transaction() as conn:
            await conn.executemany(self._insert(table), rows)

    async def clear(self, tables: Sequence[Table]) -> None:
        if tables:
            names = ", ".join(f'"{t.name}"' for t in tables)
            await self.store.pool.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")

    async def finish(self, tables: Sequence[Table], given: dict[str, int]) -> None:
        """Identity sequences continue past the largest copied id and the largest the
        source ever gave (a purge may have emptied a table whose numbers were told)."""
        for t in tables:
            if t.identity is None:
                continue
            await self.store.pool.execute(
                f'SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(COALESCE(MAX("{t.identity}"), 0), $3) + 1,'
                f' false) FROM "{t.name}"',
                t.name,
                t.identity,
                given.get(t.name, 0),
            )

    async def ids_given(self, tables: Sequence[Table]) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in tables:
            if t.identity is None:
                continue
            seq = await self.store.pool.fetchval("SELECT pg_get_serial_sequence($1, $2)", t.name, t.identity)
            if seq is None:
                continue
            # last_value before the first nextval is the start value, not a given id.
            row = await self.store.pool.fetchrow(f"SELECT last_value, is_called FROM {seq}")
            if row is not None and row["is_called"]:
                out[t.name] = int(row["last_value"])
        return out


class _SQLiteEnd(_End):
    """Values are converted from and to the SQLite store's text/integer storage; its
    AUTOINCREMENT counters already follow explicitly inserted ids, so nothing to finish."""

    kind = "sqlite"

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    async def count(self, table: Table) -> int:
        rows = await self.store.db.execute_fetchall(f'SELECT COUNT(*) FROM "{table.name}"')
        return int(rows[0][0])

    async def read(
        self, table: Table, after: tuple[Any, ...] | None, limit: int
    ) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
        params = tuple(after) if after is not None else ()
        raw = [tuple(r) for r in await self.store.db.execute_fetchall(self._select(table, after, limit), params)]
        rows = [tuple(_from_sqlite(t, v) for t, v in zip(table.types, r, strict=True)) for r in raw]
        return rows, (_cursor(table, raw[-1]) if raw else None)

    async def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        converted = [tuple(_to_sqlite(t, v) for t, v in zip(table.types, r, strict=True)) for r in rows]
        async with self.store.transaction() as db:
            await db.executemany(self._insert(table), converted)

    async def clear(self, tables: Sequence[Table]) -> None:
        if not tables:
            return
        async with self.store.transaction() as db:
            for table in reversed(tables):
                await db.execute(f'DELETE FROM "{table.name}"')
            await db.execute("DELETE FROM sqlite_sequence")

    async def finish(self, tables: Sequence[Table], given: dict[str, int]) -> None:
        # AUTOINCREMENT already follows the ids inserted; a counter the source had moved
        # further (rows deleted since) is carried over, for the tables that keep one.
        async with self.store.transaction() as db:
            for t in tables:
                high = given.get(t.name, 0)
                if not high or not await self._autoincrement(db, t.name):
                    continue
                cur = await (await db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (t.name,))).fetchone()
                if cur is None:
                    await db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (t.name, high))
                elif int(cur[0]) < high:
                    await db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (high, t.name))

    async def ids_given(self, tables: Sequence[Table]) -> dict[str, int]:
        rows = await self.store.db.execute_fetchall("SELECT name, seq FROM sqlite_sequence")
        names = {t.name for t in tables}
        return {str(r[0]): int(r[1]) for r in rows if r[0] in names}

    @staticmethod
    async def _autoincrement(db: Any, table: str) -> bool:
        row = await (
            await db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        ).fetchone()
        return row is not None and "AUTOINCREMENT" in str(row[0]).upper()


def _end(store: Store) -> _End:
    if isinstance(store, PostgresStore):
        return _PostgresEnd(store)
    if isinstance(store, SQLiteStore):
        return _SQLiteEnd(store)
    raise StoreError(f"cannot copy a {type(store).__name__}: only the SQLite and PostgreSQL stores")


# -- the copy ----------------------------------------------------------------------


async def copy_database(
    source: Store,
    target: Store,
    *,
    force: bool = False,
    batch: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> list[TableResult]:
    """Copy every row of `source` into `target` (both open). Raises TargetNotEmptyError
    if the target holds rows and `force` is false; with `force` the target is emptied
    first. Returns each table's row counts on both sides after the copy."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    src, dst = _end(source), _end(target)
    pg = src if isinstance(src, _PostgresEnd) else dst if isinstance(dst, _PostgresEnd) else None
    if pg is None:
        raise StoreError("one side of a copy must be PostgreSQL (copy a SQLite file with `cp`)")
    tables = await postgres_schema(pg.store)
    await _check_same_tables(src, dst, tables)

    given = await src.ids_given(tables)
    non_empty = [t.name for t in tables if await dst.count(t) > 0]
    if non_empty and not force:
        more = ", ..." if len(non_empty) > 3 else ""
        raise TargetNotEmptyError(
            f"the target database is not empty (rows in {', '.join(non_empty[:3])}{more}); --force empties it first"
        )
    if non_empty:
        await dst.clear(tables)

    for table in tables:
        total = await src.count(table)
        done = 0
        after: tuple[Any, ...] | None = None
        if progress:
            progress(table.name, done, total)
        while True:
            rows, after = await src.read(table, after, batch)
            if not rows:
                break
            await dst.write(table, rows)
            done += len(rows)
            if progress:
                progress(table.name, done, max(total, done))
            if len(rows) < batch:
                break
    await dst.finish(tables, given)
    return [TableResult(t.name, await src.count(t), await dst.count(t)) for t in tables]


async def _check_same_tables(src: _End, dst: _End, tables: Sequence[Table]) -> None:
    """Both stores are migrated to their latest schema; a SQLite side must still have
    exactly the PostgreSQL side's tables and columns, or the copy would lose data."""
    for end in (src, dst):
        if not isinstance(end, _SQLiteEnd):
            continue
        found = await sqlite_columns(end.store)
        for table in tables:
            if found.get(table.name) is None:
                raise StoreError(f"the SQLite database has no table {table.name}")
            if set(found[table.name]) != set(table.columns):
                raise StoreError(f"table {table.name} has different columns in the two databases")
        extra = set(found) - {t.name for t in tables} - SKIP_TABLES
        if extra:
            raise StoreError(f"tables only in the SQLite database: {', '.join(sorted(extra))}")
