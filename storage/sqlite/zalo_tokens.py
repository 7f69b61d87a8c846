"""SQLite implementation of `storage.zalo_tokens.ZaloTokenStore` (a mixin of SQLiteStore)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storage.zalo_tokens import ZaloTokens

if TYPE_CHECKING:
    from storage.sqlite.store import GuardedConnection

_UPSERT = (
    "INSERT INTO zalo_oa_tokens (app_id, access_token, refresh_token, expires_at, seed, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (app_id) DO UPDATE SET access_token = excluded.access_token,"
    "  refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,"
    "  seed = COALESCE(excluded.seed, zalo_oa_tokens.seed), updated_at = excluded.updated_at"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class SQLiteZaloTokenMixin:
    """Uses SQLiteStore's `db` and `transaction()`."""

    if TYPE_CHECKING:

        @property
        def db(self) -> GuardedConnection: ...

        def transaction(self) -> AbstractAsyncContextManager[GuardedConnection]: ...

    async def load_zalo_tokens(self, app_id: str) -> ZaloTokens | None:
        async with self.db.execute(
            "SELECT access_token, refresh_token, expires_at FROM zalo_oa_tokens WHERE app_id = ?", (app_id,)
        ) as cur:
            row = await cur.fetchone()
        return ZaloTokens(row[0], row[1], float(row[2])) if row else None

    async def save_zalo_tokens(self, app_id: str, tokens: ZaloTokens) -> None:
        # The store runs synchronous=NORMAL, which in WAL mode may lose the last commits
        # on power loss. Losing a rotated refresh token costs a re-authorisation by an
        # admin, so this once-a-day write waits for the disk.
        await self.db.execute("PRAGMA synchronous=FULL")
        try:
            async with self.transaction() as db:
                await db.execute(
                    _UPSERT, (app_id, tokens.access_token, tokens.refresh_token, tokens.expires_at, None, _now())
                )
        finally:
            await self.db.execute("PRAGMA synchronous=NORMAL")

    async def seed_zalo_tokens(self, app_id: str, tokens: ZaloTokens, *, seed: str) -> ZaloTokens:
        async with self.transaction() as db:
            async with db.execute(
                "SELECT access_token, refresh_token, expires_at, seed FROM zalo_oa_tokens WHERE app_id = ?",
                (app_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is not None and row[3] == seed:
                return ZaloTokens(row[0], row[1], float(row[2]))
            await db.execute(
                _UPSERT, (app_id, tokens.access_token, tokens.refresh_token, tokens.expires_at, seed, _now())
            )
            return tokens
