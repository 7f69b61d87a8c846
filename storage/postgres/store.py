"""PostgreSQL store through asyncpg: a connection pool, versioned migrations applied
under an advisory lock (two processes starting at once apply each migration once).

Each feature's tables live in their own module (a mixin over this class, as in
storage/sqlite/); they use `self.pool` for single statements and `self.transaction()`
for several that must commit together.

Erasure: /forget deletes every row about the person in one transaction. PostgreSQL
keeps the old row versions on disk until VACUUM reclaims them (autovacuum does, within
minutes on a busy table) and in the write-ahead log until its segments are recycled
(after the next checkpoints); an operator who must shorten that runs `VACUUM` on the
tables and `CHECKPOINT` (see the README's "Running on PostgreSQL").
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

import asyncpg

from storage.interface import Store, StoreError, StoreOpenError
from storage.records import AuditEntry, ConversationState, Role, User

logger = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
PROCESSED_UPDATES_TTL = timedelta(days=2)
PURGE_BATCH = 5000
# pg_advisory_lock key for migrations: any constant shared by every unionbot process.
MIGRATION_LOCK = 0x756E696F6E626F74  # "unionbot"
# Leadership locks are keyed by hashtextextended(prefix || role): distinct per role and
# from the migration lock, the same in every process.
LEADER_LOCK_PREFIX = "unionbot-leader:"
# The leader's session is its lock: the server must notice a leader host that vanished
# (no FIN, no RST) well inside the 30 s takeover budget, so probe the idle connection
# after 5 s and drop it after 3 unanswered probes 3 s apart (~14 s). A killed process
# needs none of this: its kernel closes the socket and the server frees the lock at once.
LEADER_SESSION_SETTINGS = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "3",
    "tcp_keepalives_count": "3",
    "application_name": "unionbot-leader",
}
LEADER_QUERY_TIMEOUT = 5.0
# A process's liveness, held like a leadership role that nobody else ever asks for.
INSTANCE_ROLE_PREFIX = "instance:"


def now_utc() -> datetime:
    return datetime.now(UTC)


def load_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every packaged PostgreSQL migration, in order."""
    found = []
    for entry in resources.files("storage.postgres.migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"two migrations share a number: {versions}")
    return found


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON columns in and out as Python objects, like the SQLite store's json.dumps/loads.
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=lambda v: json.dumps(v, ensure_ascii=False), decoder=json.loads, schema="pg_catalog"
        )


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from storage import safe_location

    return safe_location(url)


class PostgresFeature:
    """Base of the feature mixins: what they use of PostgresCore, declared once for mypy
    (empty at run time; PostgresStore's MRO puts PostgresCore's real members behind it)."""

    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

        @property
        def db(self) -> asyncpg.Connection | asyncpg.Pool: ...

        def transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]: ...


class PostgresCore(Store):
    """Connection, transactions, migrations and the core tables; features add mixins."""

    shared_by_processes = True

    def __init__(self, url: str, *, min_size: int = 0, max_size: int = 10) -> None:
        self.url = url
        # No floor of idle connections: asyncpg would warn at every failed attempt to
        # restore it while the database is away; a first query opens one in milliseconds.
        self.min_size, self.max_size = min_size, max_size
        self._pool: asyncpg.Pool | None = None
        self._marks = 0
        # Leadership: one dedicated connection per role tried, outside the pool so that a
        # held lock never costs the handlers a pooled connection, and closing it (or the
        # process dying) is what releases the lock.
        self._leader_conns: dict[str, asyncpg.Connection] = {}
        self._held: set[str] = set()
        self._leader_locks: dict[str, asyncio.Lock] = {}
        # Names this process's rows in the inbound journal; its liveness is the session
        # advisory lock of INSTANCE_ROLE_PREFIX + instance (storage/postgres/inbound.py).
        self.instance = uuid.uuid4().hex
        # The connection of the transaction the current task is in, if any.
        self._tx: contextvars.ContextVar[asyncpg.Connection | None] = contextvars.ContextVar(
            f"pg_tx_{id(self)}", default=None
        )

    # -- lifecycle ---------------------------------------------------------
    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.min_size, max_size=self.max_size, init=_init_connection, timeout=10
            )
            # With no floor of idle connections the pool connects lazily: reach the
            # server now, so a wrong URL or a server that is down fails here, in one line.
            async with self._pool.acquire(timeout=10):
                pass
        except (TimeoutError, OSError, asyncpg.PostgresError, ValueError) as exc:
            if self._pool is not None:
                self._pool.terminate()
                self._pool = None
            raise StoreOpenError(f"cannot open the database {safe_url(self.url)}: {exc}") from exc
        try:
            await self._migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for role in list(self._leader_conns):
            await self.release_leadership(role)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("store is not open")
        return self._pool

    @property
    def db(self) -> asyncpg.Connection | asyncpg.Pool:
        """Where a single statement runs: the current task's open transaction if there is
        one (so it sees and joins that transaction's writes), else any pooled connection.
        Both take the same execute/fetch/fetchrow/fetchval calls."""
        return self._tx.get() or self.pool

    def transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection inside a transaction; a nested call in the same task joins it."""
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        current = self._tx.get()
        if current is not None:
            yield current
            return
        async with self.pool.acquire() as conn, conn.transaction():
            token = self._tx.set(conn)
            try:
                yield conn
            finally:
                self._tx.reset(token)

    async def _migrate(self) -> None:
        async with self.pool.acquire() as conn:
            # Session-level lock: a second process waits here until the first is done,
            # then finds nothing left to apply.
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
                )
                current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                for version, name, sql in load_migrations():
                    if version <= current:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                            version,
                            name,
                            now_utc(),
                        )
                    logger.info("applied migration %s", name)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    # -- leadership --------------------------------------------------------
    async def hold_leadership(self, role: str) -> bool:
        if self._pool is None:  # a closed store (a process shutting down) leads nothing
            raise StoreError("store is not open")
        # One call per role at a time: two at once would open two sessions and leak one,
        # possibly the one holding the lock.
        async with self._leader_locks.setdefault(role, asyncio.Lock()):
            held = await self._hold(role)
        if held and self._pool is None:
            # The store was closed while this call was connecting: a lock taken now
            # would outlive the process's store and keep the others from taking over.
            await self.release_leadership(role)
            return False
        return held

    async def _hold(self, role: str) -> bool:
        conn = self._leader_conns.get(role)
        try:
            if conn is None or conn.is_closed():
                self._held.discard(role)
                if conn is not None:
                    self._leader_conns.pop(role, None)
                conn = await asyncpg.connect(self.url, timeout=10, server_settings=LEADER_SESSION_SETTINGS)
                self._leader_conns[role] = conn
            if role in self._held:
                # Session-level advisory locks last as long as the session: a connection
                # that still answers still holds it. (Asking again would stack the lock.)
                await conn.fetchval("SELECT 1", timeout=LEADER_QUERY_TIMEOUT)
                return True
            got = await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                LEADER_LOCK_PREFIX + role,
                timeout=LEADER_QUERY_TIMEOUT,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Whether or not the server still sees the session, this process cannot tell
            # it holds the lock: give it up and let the next call start afresh. Losing a
            # held lock is news; failing again to reach the database every few seconds is
            # not (the caller says so once a minute).
            held = role in self._held
            logger.log(logging.WARNING if held else logging.DEBUG, "leadership %s: connection lost (%s)", role, exc)
            await self.release_leadership(role)
            return False
        if got:
            self._held.add(role)
        return bool(got)

    async def release_leadership(self, role: str) -> None:
        self._held.discard(role)
        conn = self._leader_conns.pop(role, None)
        if conn is None or conn.is_closed():
            return
        # Ending the session releases its advisory locks; no unlock round trip needed.
        try:
            await conn.close(timeout=2)
        except Exception:  # an unreachable server: drop the socket, the server times it out
            conn.terminate()

    # -- send rate shared by processes --------------------------------------
    async def reserve_send_slots(self, key: str, per_second: float, count: int = 1) -> float:
        if per_second <= 0 or count < 1:
            raise ValueError("per_second must be positive and count at least 1")
        # One statement, atomic under the row lock: concurrent reservers (any process)
        # queue on the key's row and each moves `next_at` past its own slots. The SET
        # reads clock_timestamp() after the lock is granted, so a reserver that waited
        # for the lock never gets a slot in the past of the one before it. The server's
        # clock alone decides, so the processes' clocks need not agree.
        wait = await self.pool.fetchval(
            """
            INSERT INTO send_slots AS s (key, next_at)
            VALUES ($1, clock_timestamp() + $2 * make_interval(secs => $3))
            ON CONFLICT (key) DO UPDATE
                SET next_at = GREATEST(s.next_at, clock_timestamp()) + $2 * make_interval(secs => $3)
            RETURNING EXTRACT(EPOCH FROM (next_at - clock_timestamp()))::float8
            """,
            key,
            count,
            1.0 / per_second,
        )
        # `next_at` is the end of this reservation; its first slot is `count` slots earlier.
        return float(wait) - count / per_second

    async def pause_send_slots(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        # Slots already handed out stay out (their processes drop what they hold when
        # told); the next reservation anywhere starts after the pause.
        await self.pool.execute(
            """
            INSERT INTO send_slots AS s (key, next_at) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
            ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(s.next_at, clock_timestamp() + make_interval(secs => $2))
            """,
            key,
            seconds,
        )

    async def schema_version(self) -> int:
        return int(await self.pool.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    # -- users -------------------------------------------------------------
    async def touch_user(self, channel: str, external_id: str, *, language: str) -> User:
        now = now_utc()
        row = await self.db.fetchrow(
            "INSERT INTO users (channel, external_id, language, created_at, last_seen_at)"
            " VALUES ($1, $2, $3, $4, $4)"
            " ON CONFLICT (channel, external_id) DO UPDATE SET"
            "  last_seen_at = excluded.last_seen_at, reachable = TRUE"
            " RETURNING *",
            channel,
            external_id,
            language,
            now,
        )
        assert row is not None
        return _user(row)

    async def get_user(self, user_id: int) -> User | None:
        row = await self.db.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
        return _user(row) if row else None

    async def find_user(self, channel: str, external_id: str) -> User | None:
        row = await self.db.fetchrow(
            "SELECT * FROM users WHERE channel = $1 AND external_id = $2", channel, external_id
        )
        return _user(row) if row else None

    async def _update_user(self, user_id: int, column: str, value: Any) -> None:
        # column names come from this module only, never from input
        await self.db.execute(f"UPDATE users SET {column} = $1 WHERE id = $2", value, user_id)

    async def set_language(self, user_id: int, language: str) -> None:
        await self._update_user(user_id, "language", language)

    async def set_role(self, user_id: int, role: Role) -> None:
        await self._update_user(user_id, "role", Role(role).value)

    async def set_referral_code(self, user_id: int, code: str | None) -> None:
        await self._update_user(user_id, "referral_code", code)

    async def set_reachable(self, user_id: int, reachable: bool) -> None:
        await self._update_user(user_id, "reachable", bool(reachable))

    async def forget_user(self, user_id: int) -> None:
        # Every table holding a user's data references users(id) ON DELETE CASCADE.
        async with self.transaction() as conn:
            await conn.execute("UPDATE audit_log SET actor_id = NULL WHERE actor_id = $1", user_id)
            await self._forget_unlinked(conn, user_id)
            await conn.execute("DELETE FROM users WHERE id = $1", user_id)

    async def _forget_unlinked(self, conn: asyncpg.Connection, user_id: int) -> None:
        """Rows about the person that reference no users(id) (features override and call
        super()): deleted in the same transaction as the user."""

    async def count_users(self) -> int:
        return int(await self.db.fetchval("SELECT COUNT(*) FROM users"))

    # -- audit log ---------------------------------------------------------
    async def audit(
        self, actor_id: int | None, action: str, target: str, details: dict[str, Any] | None = None
    ) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (at, actor_id, action, target, details) VALUES ($1, $2, $3, $4, $5)",
            now_utc(),
            actor_id,
            action,
            target,
            details or {},
        )

    async def list_audit(self, *, action: str | None = None, limit: int = 100) -> list[AuditEntry]:
        if action is None:
            rows = await self.db.fetch("SELECT * FROM audit_log ORDER BY id DESC LIMIT $1", limit)
        else:
            rows = await self.db.fetch(
                "SELECT * FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT $2", action, limit
            )
        return [
            AuditEntry(
                id=r["id"],
                at=r["at"],
                actor_id=r["actor_id"],
                action=r["action"],
                target=r["target"],
                details=r["details"],
            )
            for r in rows
        ]

    # -- conversation state ------------------------------------------------
    async def get_state(self, user_id: int) -> ConversationState | None:
        r = await self.db.fetchrow("SELECT * FROM conversation_state WHERE user_id = $1", user_id)
        if r is None:
            return None
        return ConversationState(
            user_id=r["user_id"], flow=r["flow"], step=r["step"], data=r["data"], updated_at=r["updated_at"]
        )

    async def set_state(self, user_id: int, flow: str, step: str, data: dict[str, Any]) -> None:
        await self.db.execute(
            "INSERT INTO conversation_state (user_id, flow, step, data, updated_at)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (user_id) DO UPDATE SET flow = excluded.flow, step = excluded.step,"
            "  data = excluded.data, updated_at = excluded.updated_at",
            user_id,
            flow,
            step,
            data,
            now_utc(),
        )

    async def clear_state(self, user_id: int) -> None:
        await self.db.execute("DELETE FROM conversation_state WHERE user_id = $1", user_id)

    async def purge_states(self, *, updated_before: datetime) -> int:
        count = await delete_in_batches(self.db, "conversation_state", "user_id", "updated_at < $1", updated_before)
        # A held form's time is the ISO text it was written as (UTC): compared as text. No
        # index reads inside the JSON: one scan of a row per user, once a day.
        status = await self.db.execute(
            "UPDATE conversation_state SET data = data - 'resume' WHERE data->'resume'->>'at' < $1",
            updated_before.astimezone(UTC).isoformat(),
        )
        return count + affected(status)

    # -- processed updates -------------------------------------------------
    async def mark_processed(self, channel: str, key: str) -> bool:
        now = now_utc()
        status = await self.db.execute(
            "INSERT INTO processed_updates (channel, key, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            channel,
            key,
            now,
        )
        self._marks += 1
        if self._marks % 1000 == 0:
            await self.purge_processed_updates(before=now - PROCESSED_UPDATES_TTL)
        return affected(status) == 1

    async def purge_processed_updates(self, *, before: datetime) -> int:
        """Delete dedupe keys older than `before` in bounded batches."""
        return await delete_in_batches(self.db, "processed_updates", "(channel, key)", "at < $1", before)


async def delete_in_batches(db: asyncpg.Connection | asyncpg.Pool, table: str, key: str, where: str, *args: Any) -> int:
    """Delete the rows of `table` matching `where`, PURGE_BATCH at a time; how many went.

    Each batch is its own statement (and transaction), so a first purge after months
    never holds locks on a large share of a table; `where` should be served by an index.
    """
    total = 0
    while True:
        batch = PURGE_BATCH  # read each time: tests lower it
        status = await db.execute(
            f"DELETE FROM {table} WHERE {key} IN (SELECT {key.strip('()')} FROM {table} WHERE {where} LIMIT {batch})",
            *args,
        )
        deleted = affected(status)
        total += deleted
        if deleted < batch:
            return total


def affected(status: str) -> int:
    """Rows a statement touched, from asyncpg's command tag ("DELETE 3", "INSERT 0 1")."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, IndexError):
        return 0


def _user(r: asyncpg.Record) -> User:
    return User(
        id=r["id"],
        channel=r["channel"],
        external_id=r["external_id"],
        language=r["language"],
        role=Role(r["role"]),
        referral_code=r["referral_code"],
        created_at=r["created_at"],
        last_seen_at=r["last_seen_at"],
        reachable=bool(r["reachable"]),
    )
