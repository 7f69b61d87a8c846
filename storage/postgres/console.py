"""PostgreSQL implementation of `storage.console.ConsoleStore` (a mixin of PostgresStore)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from storage.console import ConsoleSession, ImportOutcome, SignupCursor, SignupQuery
from storage.postgres.questions import _SELECT as _Q_SELECT
from storage.postgres.questions import _question
from storage.postgres.signups import _EXPORT_SELECT, _SELECT, IMPORT_LOCK, Params, export_page, filter_provinces, signup
from storage.postgres.store import PostgresFeature, affected, now_utc
from storage.questions import Question
from storage.signups import PAPER_CHANNEL, Signup, SignupDraft, SignupExport
from storage.sqlite.console import _like

if TYPE_CHECKING:
    import asyncpg

# Questions with the asker's channel and province (storage/postgres/questions.py).
# Rows per INSERT of a paper import: one statement per chunk instead of one per row.
_IMPORT_CHUNK = 1000
# The name order of the console's pages, byte order as in SQLite; the signups_name_id
# index is on this expression (0002_signups.sql).
_NAME = 's.full_name COLLATE "C"'
# A search text is matched against the distinct names and workplaces (signup_terms,
# 0010_signup_terms.sql); up to this many matching values go to the sign-up query as an
# array, which the planner sees (custom plans) and estimates value by value. A text
# matching more ("Nguyễn", "an") matches many sign-ups: the query then looks the values
# up itself, in a hash while it reads the newest sign-ups, which soon fill a page.
_TERMS_ARRAY_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class _Terms:
    """The distinct names and workplaces containing a search text."""

    names: list[str]
    workplaces: list[str]


async def _matching_terms(db: asyncpg.Connection | asyncpg.Pool, text: str | None) -> _Terms | None:
    """The names and workplaces containing `text` (ignoring case), or None when there is
    no text or more than _TERMS_ARRAY_LIMIT of them."""
    if not text:
        return None
    rows = await db.fetch(
        "SELECT kind, term FROM signup_terms WHERE term ILIKE $1 ESCAPE '\\' LIMIT $2",
        _like(text),
        _TERMS_ARRAY_LIMIT + 1,
    )
    if len(rows) > _TERMS_ARRAY_LIMIT:
        return None
    return _Terms([r[1] for r in rows if r[0] == "name"], [r[1] for r in rows if r[0] == "workplace"])


def _none_match(terms: _Terms | None) -> bool:
    return terms is not None and not terms.names and not terms.workplaces


def _where(query: SignupQuery, params: Params, terms: _Terms | None = None) -> list[str] | None:
    """The query's conditions on alias s; None when the scope is empty (nothing to see).
    A text's matching `terms` come from _matching_terms."""
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
        where.append(_text_condition(query.text, params, terms))
    return where


def _text_condition(text: str, params: Params, terms: _Terms | None) -> str:
    """Name or workplace contains `text`: one of the values containing it (ILIKE there:
    SQLite's LIKE ignores case too), found by exact lookups (signups_name_province,
    signups_workplace_province) instead of matching the text row by row."""
    if terms is None:
        pattern = params.add(_like(text))
        names = f"SELECT term FROM signup_terms WHERE kind = 'name' AND term ILIKE {pattern} ESCAPE '\\'"
        workplaces = f"SELECT term FROM signup_terms WHERE kind = 'workplace' AND term ILIKE {pattern} ESCAPE '\\'"
        return f"({_NAME} IN ({names}) OR s.workplace IN ({workplaces}))"
    # Only the column a value comes from: the planner estimates each value by its
    # column's statistics, and a name looked up among workplaces would count as an
    # average workplace (hundreds of sign-ups) rather than none.
    either = []
    if terms.names:
        either.append(f"{_NAME} = ANY({params.add(terms.names)}::text[])")
    if terms.workplaces:
        either.append(f"s.workplace = ANY({params.add(terms.workplaces)}::text[])")
    return f"({' OR '.join(either)})"


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
    @asynccontextmanager
    async def _planned_per_call(self, text: str | None) -> AsyncIterator[asyncpg.Connection | asyncpg.Pool]:
        """Where a sign-up lookup runs: for a text search, a transaction whose statements
        are planned for their values at every call. asyncpg prepares each statement once
        per connection, and after five runs PostgreSQL may keep one generic plan made
        without the values; for a text search that plan cannot know whether the values
        match a handful of sign-ups or half a million, and the wrong one costs seconds."""
        if not text:
            yield self.db
            return
        async with self.transaction() as conn:
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            yield conn

    async def search_signups(
        self, query: SignupQuery, *, after: SignupCursor | None = None, limit: int = 50
    ) -> list[Signup]:
        async with self._planned_per_call(query.text) as db:
            terms = await _matching_terms(db, query.text)
            if _none_match(terms):
                return []
            return await self._search_signups(db, query, terms, after, limit)

    async def _search_signups(
        self,
        db: asyncpg.Connection | asyncpg.Pool,
        query: SignupQuery,
        terms: _Terms | None,
        after: SignupCursor | None,
        limit: int,
    ) -> list[Signup]:
        params = Params()
        where = _where(query, params, terms)
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
        return [signup(r) for r in await db.fetch(sql, *params.values)]

    async def count_signups(self, query: SignupQuery, *, cap: int | None = None) -> int:
        async with self._planned_per_call(query.text) as db:
            terms = await _matching_terms(db, query.text)
            if _none_match(terms):
                return 0
            params = Params()
            where = _where(query, params, terms)
            if where is None:
                return 0
            sql = "SELECT 1 FROM signups s" + (" WHERE " + " AND ".join(where) if where else "")
            if cap is not None:
                sql += f" LIMIT {params.add(int(cap) + 1)}"
            return int(await db.fetchval(f"SELECT COUNT(*) FROM ({sql}) AS matching", *params.values))

    async def export_query_pages(
        self, query: SignupQuery, *, page_size: int = 1000
    ) -> AsyncIterator[list[SignupExport]]:
        terms = await _matching_terms(self.db, query.text)
        if _none_match(terms):
            return
        params = Params(0)
        where = _where(query, params, terms)
        if where is None:
            return
        # Keyset on the id: every page is a short query from the last id, so memory stays
        # flat and no connection or snapshot is held between pages.
        sql = f"{_EXPORT_SELECT} WHERE {' AND '.join(['s.id > $1', *where])} ORDER BY s.id LIMIT {int(page_size)}"
        while True:
            async with self._planned_per_call(query.text) as db:
                rows = await db.fetch(sql, *params.values)
                if not rows:
                    return
                page = await export_page(db, rows)
            yield page
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
            placed = params.add(sorted(set(provinces)))
            sql += f" AND COALESCE(s.province_id, q.named_province_id) = ANY({placed}::text[])"
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
