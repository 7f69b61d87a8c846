"""SQLite store through aiosqlite: one file, WAL mode, versioned migrations."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Generator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from storage.interface import Store, StoreError, StoreOpenError
from storage.records import AuditEntry, ConversationState, Role, User
from storage.sqlite.broadcasts import SQLiteBroadcastMixin
from storage.sqlite.care import SQLiteCareMixin
from storage.sqlite.console import SQLiteConsoleMixin
from storage.sqlite.inbound import SQLiteInboundMixin
from storage.sqlite.listening import SQLiteListeningMixin
from storage.sqlite.purge import delete_in_batches
from storage.sqlite.questions import SQLiteQuestionMixin
from storage.sqlite.signups import SQLiteSignupMixin
from storage.sqlite.zalo_tokens import SQLiteZaloTokenMixin

logger = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Platform redeliveries arrive within hours (Zalo retries for about 1 h); a day is ample.
PROCESSED_UPDATES_TTL = timedelta(days=2)
OPEN_ATTEMPTS = 5
PURGE_BATCH = 5000  # rows per housekeeping DELETE: other tasks get the database in between


def now_utc() -> datetime:
    return datetime.now(UTC)


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


# A migration holding this line runs with foreign keys off (see SQLiteStore._migrate).
REBUILD_MARK = "-- unionbot: rebuilds a table"


def load_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every packaged migration, in order."""
    found = []
    for entry in resources.files("storage.sqlite.migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"two migrations share a number: {versions}")
    return found


@dataclass(slots=True)
class StatementResult:
    """A finished statement: its rows, fetched in the same step, and its counts.

    Mimics the part of a cursor the store uses (`fetchone`, `fetchall`, `rowcount`),
    also as `async with db.execute(...) as cur`.
    """

    rows: list[sqlite3.Row]
    rowcount: int
    lastrowid: int | None
    _next: int = 0

    async def fetchone(self) -> sqlite3.Row | None:
        if self._next >= len(self.rows):
            return None
        self._next += 1
        return self.rows[self._next - 1]

    async def fetchall(self) -> list[sqlite3.Row]:
        rest, self._next = self.rows[self._next :], len(self.rows)
        return rest

    async def __aenter__(self) -> StatementResult:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Statement:
    """`await db.execute(...)` or `async with db.execute(...) as cur`."""

    def __init__(self, guard: GuardedConnection, sql: str, params: Any) -> None:
        self.guard, self.sql, self.params = guard, sql, params
        self._result: StatementResult | None = None

    def __await__(self) -> Generator[Any, None, StatementResult]:
        return self.guard.run(self.sql, self.params).__await__()

    async def __aenter__(self) -> StatementResult:
        self._result = await self.guard.run(self.sql, self.params)
        return self._result

    async def __aexit__(self, *exc: object) -> None:
        return None


def _run_statement(conn: sqlite3.Connection, sql: str, params: Any, many: bool) -> StatementResult:
    cursor = conn.executemany(sql, params) if many else conn.execute(sql, params)
    try:
        rows = cursor.fetchall()
        return StatementResult(rows, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class GuardedConnection:
    """The store's one connection, made safe to share between coroutines.

    Each statement runs to completion in one step on aiosqlite's thread, so no cursor
    stays open across an await (an open cursor makes a COMMIT elsewhere fail with
    "SQL statements in progress"). While one task holds a transaction, statements from
    other tasks wait for it, so they neither join it nor are rolled back with it.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[Any] | None = None

    async def run(self, sql: str, params: Any = (), *, many: bool = False) -> StatementResult:
        if self.owner is not None and self.owner is asyncio.current_task():
            return await self._call(sql, params, many)
        async with self.lock:
            return await self._call(sql, params, many)

    def _call(self, sql: str, params: Any, many: bool) -> Awaitable[StatementResult]:
        # aiosqlite's own queue (pinned version) runs the whole statement in one hop.
        # Built only when about to be awaited: a task cancelled while waiting for the
        # lock must not leave a never-awaited coroutine behind.
        return self.conn._execute(_run_statement, self.conn._conn, sql, params, many)

    def execute(self, sql: str, params: Any = ()) -> _Statement:
        return _Statement(self, sql, params)

    async def executemany(self, sql: str, params: Any) -> StatementResult:
        return await self.run(sql, list(params), many=True)

    async def execute_fetchall(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return (await self.run(sql, params)).rows


class SQLiteStore(
    SQLiteQuestionMixin,
    SQLiteSignupMixin,
    SQLiteBroadcastMixin,
    SQLiteZaloTokenMixin,
    SQLiteInboundMixin,
    SQLiteListeningMixin,
    SQLiteCareMixin,
    SQLiteConsoleMixin,
    Store,
):
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db: GuardedConnection | None = None
        self._marks = 0
        # Names this store's rows in the inbound journal (storage/inbound.py).
        self.instance = uuid.uuid4().hex

    # -- lifecycle ---------------------------------------------------------
    async def open(self) -> None:
        """Open (creating if needed) and migrate, or raise StoreError naming the file.

        Two processes creating the same new file at once (the bot and a CLI call) can meet
        SQLite's deadlock guard, which answers "database is locked" at once instead of
        waiting: the whole open is tried again a few times before giving up.
        """
        for attempt in range(1, OPEN_ATTEMPTS + 1):
            try:
                await self._open_once()
                return
            except StoreOpenError as exc:
                if attempt == OPEN_ATTEMPTS or not isinstance(exc.__cause__, sqlite3.OperationalError):
                    raise
                if "locked" not in str(exc.__cause__) and "busy" not in str(exc.__cause__):
                    raise
                await asyncio.sleep(0.05 * attempt)

    async def _open_once(self) -> None:
        """One attempt of `open`.

        Whatever fails after the connection exists (a file that is not a database, a
        corrupt one, a read-only directory that cannot take the WAL files) closes the
        connection before raising: aiosqlite's worker thread is not a daemon, and a
        leftover one keeps the process alive for ever (cron runs that never end).
        """
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            pending = aiosqlite.connect(self.path, isolation_level=None)
        except OSError as exc:
            raise StoreOpenError(f"cannot open the database {self.path}: {_describe(exc)}") from exc
        try:
            db = await pending
        except (sqlite3.Error, OSError) as exc:
            # aiosqlite stops its thread after a failed connect but does not wait for it;
            # the thread then reports to this loop, which must still be running.
            await asyncio.to_thread(pending._thread.join, 5.0)
            raise StoreOpenError(f"cannot open the database {self.path}: {_describe(exc)}") from exc
        try:
            db.row_factory = aiosqlite.Row
            # busy_timeout covers the CLI writing while the bot runs (two processes).
            for pragma in (
                # First: switching a new file to WAL takes a lock that another process
                # starting at the same moment may hold; wait for it rather than fail.
                "PRAGMA busy_timeout=10000",
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
                # /forget must leave no readable trace: overwrite deleted rows with zeros.
                "PRAGMA secure_delete=ON",
            ):
                await db.execute(pragma)
            self._db = GuardedConnection(db)
            await self._migrate()
        except BaseException as exc:
            self._db = None
            await _close_quietly(db)
            if isinstance(exc, sqlite3.Error | OSError):
                raise StoreOpenError(f"cannot open the database {self.path}: {_describe(exc)}") from exc
            raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.conn.close()
            self._db = None

    # -- leadership --------------------------------------------------------
    # One SQLite file serves one bot process (the command line only visits), so that
    # process always runs the schedules; delivery leases still guard a `send-due` run.
    async def hold_leadership(self, role: str) -> bool:
        return True

    async def release_leadership(self, role: str) -> None:
        return None

    # -- send rate shared by processes --------------------------------------
    # The lone process's ChannelLimiter sees every send for a token: nothing to share,
    # so no table and no wait (and `shared_by_processes` stays False, so nobody asks).
    async def reserve_send_slots(self, key: str, per_second: float, count: int = 1) -> float:
        return 0.0

    async def pause_send_slots(self, key: str, seconds: float) -> None:
        return None

    @property
    def db(self) -> GuardedConnection:
        if self._db is None:
            raise StoreError("store is not open")
        return self._db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[GuardedConnection]:
        db = self.db
        if db.owner is not None and db.owner is asyncio.current_task():
            yield db  # already inside this task's transaction: join it
            return
        async with db.lock:
            db.owner = asyncio.current_task()
            # BEGIN, COMMIT and ROLLBACK run as their own futures (we hold the lock, so they
            # skip it) and are shielded: once queued on aiosqlite's thread they run even if
            # this task is cancelled, and an orphaned open transaction would swallow every
            # later write.
            begin = asyncio.ensure_future(db._call("BEGIN IMMEDIATE", (), False))
            try:
                await asyncio.shield(begin)
                yield db
            except BaseException:
                await asyncio.wait([begin])
                if db.conn.in_transaction:
                    await asyncio.shield(asyncio.ensure_future(db._call("ROLLBACK", (), False)))
                raise
            else:
                await asyncio.shield(asyncio.ensure_future(db._call("COMMIT", (), False)))
            finally:
                db.owner = None

    async def _migrate(self) -> None:
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        current = await self.schema_version()
        for version, name, sql in load_migrations():
            if version <= current:
                continue
            # A migration that rebuilds a table (SQLite cannot change a CHECK in place) must
            # run with foreign keys off: with them on, dropping the old table would fire
            # other tables' ON DELETE actions and null or erase their links to it. The pragma
            # is a no-op inside a transaction, so it goes around it, and the links are
            # checked before the commit instead.
            rebuild = REBUILD_MARK in sql
            if rebuild:
                await self.db.execute("PRAGMA foreign_keys=OFF")
            try:
                async with self.transaction() as db:
                    # Another process (the bot and a CLI call started together) may have
                    # applied it meanwhile: BEGIN IMMEDIATE holds the write lock, so the
                    # version read here is the one this transaction builds on.
                    async with db.execute("SELECT MAX(version) FROM schema_migrations") as cur:
                        row = await cur.fetchone()
                    if row is not None and row[0] is not None and int(row[0]) >= version:
                        continue
                    # executescript would COMMIT our transaction; run statements one by one.
                    for statement in _split_sql(sql):
                        await db.execute(statement)
                    if rebuild:
                        async with db.execute("PRAGMA foreign_key_check") as cur:
                            if await cur.fetchone() is not None:
                                raise StoreError(f"migration {name} broke a foreign key")
                    await db.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (version, name, _ts(now_utc())),
                    )
            finally:
                if rebuild:
                    await self.db.execute("PRAGMA foreign_keys=ON")
            logger.info("applied migration %s", name)

    async def schema_version(self) -> int:
        """The newest migration applied (migration numbers may have gaps)."""
        async with self.db.execute("SELECT MAX(version) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        return int(row[0] or 0) if row else 0

    # -- users -------------------------------------------------------------
    async def touch_user(self, channel: str, external_id: str, *, language: str) -> User:
        now = _ts(now_utc())
        async with self.db.execute(
            "INSERT INTO users (channel, external_id, language, created_at, last_seen_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (channel, external_id) DO UPDATE SET"
            "  last_seen_at = excluded.last_seen_at, reachable = 1"
            " RETURNING *",
            (channel, external_id, language, now, now),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return _user(row)

    async def get_user(self, user_id: int) -> User | None:
        async with self.db.execute("SELECT * FROM users WHERE id = ?", (user_id,)) as cur:
            row = await cur.fetchone()
        return _user(row) if row else None

    async def find_user(self, channel: str, external_id: str) -> User | None:
        async with self.db.execute(
            "SELECT * FROM users WHERE channel = ? AND external_id = ?", (channel, external_id)
        ) as cur:
            row = await cur.fetchone()
        return _user(row) if row else None

    async def _update_user(self, user_id: int, column: str, value: Any) -> None:
        # column names come from this module only, never from input
        await self.db.execute(f"UPDATE users SET {column} = ? WHERE id = ?", (value, user_id))

    async def set_language(self, user_id: int, language: str) -> None:
        await self._update_user(user_id, "language", language)

    async def set_role(self, user_id: int, role: Role) -> None:
        await self._update_user(user_id, "role", Role(role).value)

    async def set_referral_code(self, user_id: int, code: str | None) -> None:
        await self._update_user(user_id, "referral_code", code)

    async def forget_user(self, user_id: int) -> None:
        # Every table holding a user's data references users(id) ON DELETE CASCADE.
        async with self.transaction() as db:
            await db.execute("UPDATE audit_log SET actor_id = NULL WHERE actor_id = ?", (user_id,))
            # Journaled updates name the sender by platform id, not users(id): no cascade.
            await db.execute(
                "DELETE FROM inbound_journal WHERE (channel, user_ref) IN"
                " (SELECT channel, external_id FROM users WHERE id = ?)",
                (user_id,),
            )
            await db.execute("DELETE FROM users WHERE id = ?", (user_id,))
        # Old page images stay in the WAL file until a checkpoint copies and truncates it.
        await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def set_reachable(self, user_id: int, reachable: bool) -> None:
        await self._update_user(user_id, "reachable", int(reachable))

    async def count_users(self) -> int:
        async with self.db.execute("SELECT COUNT(*) FROM users") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # -- audit log ---------------------------------------------------------
    async def audit(
        self, actor_id: int | None, action: str, target: str, details: dict[str, Any] | None = None
    ) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (at, actor_id, action, target, details) VALUES (?, ?, ?, ?, ?)",
            (_ts(now_utc()), actor_id, action, target, json.dumps(details or {}, ensure_ascii=False)),
        )

    async def list_audit(self, *, action: str | None = None, limit: int = 100) -> list[AuditEntry]:
        sql = "SELECT * FROM audit_log"
        params: tuple[Any, ...] = ()
        if action is not None:
            sql += " WHERE action = ?"
            params = (action,)
        sql += " ORDER BY id DESC LIMIT ?"
        async with self.db.execute(sql, (*params, limit)) as cur:
            rows = await cur.fetchall()
        return [
            AuditEntry(
                id=r["id"],
                at=_dt(r["at"]),
                actor_id=r["actor_id"],
                action=r["action"],
                target=r["target"],
                details=json.loads(r["details"]),
            )
            for r in rows
        ]

    # -- conversation state ------------------------------------------------
    async def get_state(self, user_id: int) -> ConversationState | None:
        async with self.db.execute("SELECT * FROM conversation_state WHERE user_id = ?", (user_id,)) as cur:
            r = await cur.fetchone()
        if r is None:
            return None
        return ConversationState(
            user_id=r["user_id"],
            flow=r["flow"],
            step=r["step"],
            data=json.loads(r["data"]),
            updated_at=_dt(r["updated_at"]),
        )

    async def set_state(self, user_id: int, flow: str, step: str, data: dict[str, Any]) -> None:
        await self.db.execute(
            "INSERT INTO conversation_state (user_id, flow, step, data, updated_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET flow = excluded.flow, step = excluded.step,"
            "  data = excluded.data, updated_at = excluded.updated_at",
            (user_id, flow, step, json.dumps(data, ensure_ascii=False), _ts(now_utc())),
        )

    async def clear_state(self, user_id: int) -> None:
        await self.db.execute("DELETE FROM conversation_state WHERE user_id = ?", (user_id,))

    async def purge_states(self, *, updated_before: datetime) -> int:
        count = await delete_in_batches(
            self.db, "conversation_state", "user_id", "updated_at < ?", (_ts(updated_before),)
        )
        # A held form's time is the ISO text it was written as (UTC): compared as text. No
        # index reads inside the JSON: one scan of a row per user, once a day.
        stripped = await self.db.run(
            "UPDATE conversation_state SET data = json_remove(data, '$.resume')"
            " WHERE json_extract(data, '$.resume.at') < ?",
            (updated_before.astimezone(UTC).isoformat(),),
        )
        count += max(stripped.rowcount, 0)
        if count > 0:  # erased text must not linger in the WAL file either
            await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    # -- processed updates -------------------------------------------------
    async def mark_processed(self, channel: str, key: str) -> bool:
        now = now_utc()
        async with self.db.execute(
            "INSERT OR IGNORE INTO processed_updates (channel, key, at) VALUES (?, ?, ?)",
            (channel, key, _ts(now)),
        ) as cur:
            fresh = cur.rowcount == 1
        self._marks += 1
        if self._marks % 1000 == 0:
            # Prune now and then rather than on a timer: cheap, and needs no scheduler.
            await self.purge_processed_updates(before=now - PROCESSED_UPDATES_TTL)
        return fresh

    async def purge_processed_updates(self, *, before: datetime) -> int:
        """Delete dedupe keys older than `before`, in bounded batches (indexed on `at`), so
        a backlog of a million keys never holds the database for one long statement."""
        return await delete_in_batches(self.db, "processed_updates", "(channel, key)", "at < ?", (_ts(before),))


async def _close_quietly(db: aiosqlite.Connection) -> None:
    try:
        await db.close()
    except Exception:  # the open already failed; that error is the one to report
        logger.debug("closing a connection that failed to open also failed", exc_info=True)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return text


def _user(r: aiosqlite.Row) -> User:
    return User(
        id=r["id"],
        channel=r["channel"],
        external_id=r["external_id"],
        language=r["language"],
        role=Role(r["role"]),
        referral_code=r["referral_code"],
        created_at=_dt(r["created_at"]),
        last_seen_at=_dt(r["last_seen_at"]),
        reachable=bool(r["reachable"]),
    )


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements; migrations hold no semicolons inside literals."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
