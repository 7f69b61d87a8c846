"""PostgreSQL implementation of `storage.console.ConsoleStore` (a mixin of PostgresStore)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from storage.console import ConsoleSession, ImportOutcome, SignupCursor, SignupQuery
from storage.postgres.signups import _EXPORT_SELECT, _SELECT, IMPORT_LOCK, Params, export_page, filter_provinces, signup
from storage.postgres.store import PostgresFeature, affected, now_utc
from storage.questions import Question
from storage.signups import PAPER_CHANNEL, Signup, SignupDraft, SignupExport
from storage.sqlite.console import _like

if TYPE_CHECKING:
    import asyncpg

# Questions with the asker's channel and province (from their sign-up, read at query time).
_Q_SELECT = (
    "SELECT q.*, u.channel, u.external_id, s.province_id AS province_id FROM questions q"
    " JOIN users u ON u.id = q.user_id LEFT JOIN signups s ON s.user_id = q.user_id"
)
# Rows per INSERT of a paper import: one statement per chunk instead of one per row.
_IMPORT_CHUNK = 1000
# The name order of the console's pages, byte order as in SQLite; the signups_name_id
# index is on this expression (0002_signups.sql).
_NAME = 's.full_name COLLATE "C"'


def _where(query: SignupQuery, params: Params) -> list[str] | None:
    """The query's conditions on alias s; None when the scope is empty (nothing to see)."""
    where: list[str] = []
    if not filter_provinces(query.provinces, where, params):
        return None
    if query.status is not None:
        where.append(f"s.status = {params.add(query.status.value)}")
    if query.source is not None:
        where.append(f"s.source = {params.add(query.source.value)}")
    if query.paper is not None:
        where.append(f"s.consent_channel {'=' if query.paper else '!='} {params.add(PAPER_CHANNEL)}")
    if query.volunteer_code:
        where.append(
            f"s.volunteer_id = (SELECT user_id FROM volunteer_codes WHERE code = {params.add(query.volunteer_code)})"
        )
    if query.since is not None:
        where.append(f"s.created_at >= {params.add(query.since)}")
    if query.until is not None:
        where.append(f"s.created_at < {params.add(query.until)}")
    if query.phone_e164:
        where.append(f"s.phone_e164 = {params.add(query.phone_e164)}")
    if query.text:
        # ILIKE: SQLite's LIKE ignores case (ASCII only); PostgreSQL's LIKE would not.
        # The trigram indexes of 0004_console.sql serve both sides of the OR.
        pattern = params.add(_like(query.text))
        where.append(f"(s.full_name ILIKE {pattern} ESCAPE '\\' OR s.workplace ILIKE {pattern} ESCAPE '\\')")
    return where


def _question(r: asyncpg.Record) -> Question:
    return Question(
        id=r["id"],
        user_id=r["user_id"],
        channel=r["channel"],
        external_id=r["external_id"],
        lang=r["lang"],
        text=r["text"],
        status=r["status"],
        created_at=r["created_at"],
        answered_at=r["answered_at"],
        answer=r["answer"],
        province_id=r["province_id"],
        closed_at=r["closed_at"],
        close_reason=r["close_reason"],
    )


class PostgresConsoleMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py)."""

    # -- paper imports ----------------------------------------------------------------
    async def known_phones(self, phones: Collection[str]) -> set[str]:
        rows = await self.db.fetch(
            "SELECT phone_e164 FROM signups WHERE phone_e164 = ANY($1::text[])", sorted(set(phones))
        )
        return {r[0] for r in rows}

    async def import_signups(self, rows: Sequence[tuple[SignupDraft, datetime]]) -> ImportOutcome:
        now = now_utc()
        created = 0
        async with self.transaction() as db:
            # Submissions in the bot read a number, then insert it: the import waits for
            # those under way and holds new ones back, so neither fails on the unique number.
            await db.execute("SELECT pg_advisory_xact_lock($1, 0)", IMPORT_LOCK)
            for i in range(0, len(rows), _IMPORT_CHUNK):
                chunk = rows[i : i + _IMPORT_CHUNK]
                columns = list(
                    zip(
                        *(
                            (
                                d.full_name,
                                d.phone_e164,
                                d.workplace,
                                d.province_id,
                                d.commune,
                                d.source.value,
                                d.volunteer_id,
                                d.consent_version,
                                d.consent_lang,
                                d.consent_channel,
                                signed,
                            )
                            for d, signed in chunk
                        ),
                        strict=True,
                    )
                )
                # In the sheet's order (ids follow it, as row by row in SQLite); a number
                # known already, or twice in the sheet, is skipped, never overwritten.
                status = await db.execute(
                    "INSERT INTO signups (user_id, full_name, phone_e164, workplace, province_id, commune, source,"
                    " volunteer_id, consent_version, consent_lang, consent_channel, consent_at, created_at,"
                    " updated_at, last_contact_at)"
                    " SELECT NULL, r.n, r.p, r.w, r.pr, r.c, r.src, r.v, r.cv, r.cl, r.ch, r.at, r.at, $12, $12"
                    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
                    "  $7::bigint[], $8::text[], $9::text[], $10::text[], $11::timestamptz[])"
                    "  WITH ORDINALITY AS r(n, p, w, pr, c, src, v, cv, cl, ch, at, i)"
                    " ORDER BY r.i ON CONFLICT (phone_e164) DO NOTHING",
                    *(list(c) for c in columns),
                    now,
                )
                created += affected(status)
        return ImportOutcome(created, len(rows) - created)

    # -- sign-in links and sessions ------------------------------------------------
    async def add_console_link(self, token_hash: str, user_id: int, *, expires_at: datetime) -> None:
        now = now_utc()
        # Expired links are useless; clearing them here keeps the table small without a timer.
        await self.db.execute("DELETE FROM console_links WHERE expires_at < $1", now)
        await self.db.execute(
            "INSERT INTO console_links (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            token_hash,
            user_id,
            now,
            expires_at,
        )

    async def use_console_link(self, token_hash: str, *, now: datetime) -> int | None:
        # One statement: two tabs following the same link cannot both succeed (the second
        # waits on the row, then finds used_at set).
        user_id = await self.db.fetchval(
            "UPDATE console_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1"
            " RETURNING user_id",
            now,
            token_hash,
        )
        return int(user_id) if user_id is not None else None

    async def add_console_session(self, id_hash: str, user_id: int, csrf: str) -> None:
        await self.db.execute(
            "INSERT INTO console_sessions (id_hash, user_id, csrf, created_at, last_seen_at)"
            " VALUES ($1, $2, $3, $4, $4)",
            id_hash,
            user_id,
            csrf,
            now_utc(),
        )

    async def console_session(self, id_hash: str, *, idle_since: datetime) -> ConsoleSession | None:
        row = await self.db.fetchrow(
            "UPDATE console_sessions SET last_seen_at = $1 WHERE id_hash = $2 AND last_seen_at > $3"
            " RETURNING user_id, csrf",
            now_utc(),
            id_hash,
            idle_since,
        )
        if row is None:
            await self.db.execute("DELETE FROM console_sessions WHERE id_hash = $1", id_hash)
            return None
        return ConsoleSession(int(row[0]), str(row[1]))

    async def end_console_session(self, id_hash: str) -> None:
        await self.db.execute("DELETE FROM console_sessions WHERE id_hash = $1", id_hash)

    async def end_console_sessions(self, user_id: int) -> int:
        return affected(await self.db.execute("DELETE FROM console_sessions WHERE user_id = $1", user_id))

    # -- lookups ------------------------------------------------------------------
    async def search_signups(
        self, query: SignupQuery, *, after: SignupCursor | None = None, limit: int = 50
    ) -> list[Signup]:
        params = Params()
        where = _where(query, params)
        if where is None:
            return []
        if query.sort == "name":
            order = f"{_NAME}, s.id"
            if after is not None:
                where.append(f"({_NAME}, s.id) > ({params.add(after.name or '')}, {params.add(after.id)})")
        elif query.sort == "old":
            order = "s.id"
            if after is not None:
                where.append(f"s.id > {params.add(after.id)}")
        else:
            order = "s.id DESC"
            if after is not None:
                where.append(f"s.id < {params.add(after.id)}")
        sql = (
            _SELECT
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY {order} LIMIT {params.add(int(limit))}"
        )
        return [signup(r) for r in await self.db.fetch(sql, *params.values)]

    async def count_signups(self, query: SignupQuery, *, cap: int | None = None) -> int:
        params = Params()
        where = _where(query, params)
        if where is None:
            return 0
        sql = "SELECT 1 FROM signups s" + (" WHERE " + " AND ".join(where) if where else "")
        if cap is not None:
            sql += f" LIMIT {params.add(int(cap) + 1)}"
        return int(await self.db.fetchval(f"SELECT COUNT(*) FROM ({sql}) AS matching", *params.values))

    async def export_query_pages(
        self, query: SignupQuery, *, page_size: int = 1000
    ) -> AsyncIterator[list[SignupExport]]:
        params = Params(0)
        where = _where(query, params)
        if where is None:
            return
        # Keyset on the id: every page is a short query from the last id, so memory stays
        # flat and no connection or snapshot is held between pages.
        sql = f"{_EXPORT_SELECT} WHERE {' AND '.join(['s.id > $1', *where])} ORDER BY s.id LIMIT {int(page_size)}"
        while True:
            rows = await self.db.fetch(sql, *params.values)
            if not rows:
                return
            yield await export_page(self.db, rows)
            params.values[0] = rows[-1][0]

    async def search_questions(
        self,
        *,
        provinces: Collection[str] | None,
        status: str | Collection[str],
        text: str | None = None,
        before_id: int | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> list[Question]:
        statuses = (status,) if isinstance(status, str) else tuple(sorted(set(status)))
        if not statuses:
            return []
        params = Params(list(statuses))
        sql = f"{_Q_SELECT} WHERE q.status = ANY($1::text[])"
        if provinces is not None:
            if not provinces:
                return []
            sql += f" AND s.province_id = ANY({params.add(sorted(set(provinces)))}::text[])"
        if text:
            pattern = params.add(_like(text))
            sql += f" AND (q.text ILIKE {pattern} ESCAPE '\\' OR q.answer ILIKE {pattern} ESCAPE '\\')"
        if statuses == ("open",):
            sql += f" AND q.id > {params.add(after_id or 0)} ORDER BY q.id LIMIT {params.add(int(limit))}"
        else:
            if before_id is not None:
                sql += f" AND q.id < {params.add(before_id)}"
            sql += f" ORDER BY q.id DESC LIMIT {params.add(int(limit))}"
        return [_question(r) for r in await self.db.fetch(sql, *params.values)]
