"""PostgreSQL implementation of `storage.zalo_tokens.ZaloTokenStore` (a mixin of PostgresStore)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.postgres.store import PostgresFeature, now_utc
from storage.zalo_tokens import ZaloTokens

if TYPE_CHECKING:
    pass

# A save passes no seed and keeps the stored one: the seed names the configured pair the
# row descends from, which rotation does not change.
_UPSERT = (
    "INSERT INTO zalo_oa_tokens (app_id, access_token, refresh_token, expires_at, seed, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (app_id) DO UPDATE SET access_token = excluded.access_token,"
    "  refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,"
    "  seed = COALESCE(excluded.seed, zalo_oa_tokens.seed), updated_at = excluded.updated_at"
)


class PostgresZaloTokenMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py)."""

    async def load_zalo_tokens(self, app_id: str) -> ZaloTokens | None:
        row = await self.db.fetchrow(
            "SELECT access_token, refresh_token, expires_at FROM zalo_oa_tokens WHERE app_id = $1", app_id
        )
        return ZaloTokens(row[0], row[1], float(row[2])) if row else None

    async def save_zalo_tokens(self, app_id: str, tokens: ZaloTokens) -> None:
        # One statement replaces the whole pair atomically. Unlike the SQLite store's
        # synchronous=NORMAL, PostgreSQL's default synchronous_commit=on already waits for
        # the WAL flush before the commit returns, so a rotated pair survives power loss.
        await self.db.execute(
            _UPSERT, app_id, tokens.access_token, tokens.refresh_token, tokens.expires_at, None, now_utc()
        )

    async def seed_zalo_tokens(self, app_id: str, tokens: ZaloTokens, *, seed: str) -> ZaloTokens:
        # Adopt-once in one statement: the upsert's WHERE is checked on the row's latest
        # version under its lock, so of two processes seeding at once the second finds the
        # seed already there and leaves the row (and any pair rotated since) alone. A
        # read-then-write would let it overwrite a pair the first process had rotated
        # meanwhile with the spent configured one.
        async with self.transaction() as conn:
            adopted = await conn.fetchval(
                f"{_UPSERT} WHERE zalo_oa_tokens.seed IS DISTINCT FROM excluded.seed RETURNING TRUE",
                app_id,
                tokens.access_token,
                tokens.refresh_token,
                tokens.expires_at,
                seed,
                now_utc(),
            )
            if adopted:
                return tokens
            row = await conn.fetchrow(
                "SELECT access_token, refresh_token, expires_at FROM zalo_oa_tokens WHERE app_id = $1", app_id
            )
        assert row is not None  # the conflict that skipped the update was on this row
        return ZaloTokens(row[0], row[1], float(row[2]))
