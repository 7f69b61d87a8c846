"""SQLite implementation of `storage.console.ConsoleStore` (a mixin of SQLiteStore)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage.console import ConsoleSession, ImportOutcome, SignupCursor, SignupQuery
from storage.questions import Question
from storage.signups import PAPER_CHANNEL, Signup, SignupDraft, SignupExport
from storage.sqlite.questions import _SELECT as _Q_SELECT
from storage.sqlite.questions import _province_filter, _question
from storage.sqlite.signups import _SELECT as _S_SELECT
from storage.sqlite.signups import _filter_provinces, _signup, _ts

if TYPE_CHECKING:
    from storage.sqlite.store import GuardedConnection


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(query: SignupQuery) -> tuple[list[str], list[Any]] | None:
    """The query's conditions on alias s; None when the scope is empty (nothing to see)."""
    where: list[str] = []
    params: list[Any] = []
    if not _filter_provinces(query.provinces, where, params):
        return None
    if query.status is not None:
        where.append("s.status = ?")
        params.append(query.status.value)
    if query.source is not None:
        where.append("s.source = ?")
        params.append(query.source.value)
    if query.paper is not None:
        where.append("s.consent_channel = ?" if query.paper else "s.consent_channel != ?")
        params.append(PAPER_CHANNEL)
    if query.volunteer_code:
        where.append("s.volunteer_id = (SELECT user_id FROM volunteer_codes WHERE code = ?)")
        params.append(query.volunteer_code)
    if query.since is not None:
        where.append("s.created_at >= ?")
        params.append(_ts(query.since))
    if query.until is not None:
        where.append("s.created_at < ?")
        params.append(_ts(query.until))
    if query.phone_e164:
        where.append("s.phone_e164 = ?")
        params.append(query.phone_e164)
    if query.text:
        pattern = _like(query.text)
        where.append("(s.full_name LIKE ? ESCAPE '\\' OR s.workplace LIKE ? ESCAPE '\\')")
        params.extend((pattern, pattern))
    return where, params


class SQLiteConsoleMixin:
    """Uses SQLiteStore's `db` and `transaction()`."""

    if TYPE_CHECKING:

        @property
        def db(self) -> GuardedConnection: ...

        def transaction(self) -> AbstractAsyncContextManager[GuardedConnection]: ...

    async def known_phones(self, phones: Collection[str]) -> set[str]:
        found: set[str] = set()
        items = sorted(set(phones))
        for i in range(0, len(items), 500):  # SQLite's bound-parameter limit
            chunk = items[i : i + 500]
            async with self.db.execute(
                f"SELECT phone_e164 FROM signups WHERE phone_e164 IN ({', '.join('?' * len(chunk))})",
                chunk,
            ) as cur:
                found.update(r[0] for r in await cur.fetchall())
        return found

    async def import_signups(self, rows: Sequence[tuple[SignupDraft, datetime]]) -> ImportOutcome:
        now = _ts(datetime.now(UTC))
        created = 0
        async with self.transaction() as db:
            for draft, signed in rows:
                at = _ts(signed)
                async with db.execute(
                    "INSERT INTO signups (user_id, full_name, phone_e164, workplace, province_id, commune, source,"
                    " volunteer_id, consent_version, consent_lang, consent_channel, consent_at, created_at,"
                    " updated_at, last_contact_at) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (phone_e164) DO NOTHING",
                    (
                        draft.full_name,
                        draft.phone_e164,
                        draft.workplace,
                        draft.province_id,
                        draft.commune,
                        draft.source.value,
                        draft.volunteer_id,
                        draft.consent_version,
                        draft.consent_lang,
                        draft.consent_channel,
                        at,
                        at,
                        now,
                        now,
                    ),
                ) as cur:
                    created += max(cur.rowcount, 0)
        return ImportOutcome(created, len(rows) - created)

    # -- sign-in links and sessions ------------------------------------------------
    async def add_console_link(self, token_hash: str, user_id: int, *, expires_at: datetime) -> None:
        now = datetime.now(UTC)
        # Expired links are useless; clearing them here keeps the table small without a timer.
        await self.db.execute("DELETE FROM console_links WHERE expires_at < ?", (_ts(now),))
        await self.db.execute(
            "INSERT INTO console_links (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (token_hash, user_id, _ts(now), _ts(expires_at)),
        )

    async def use_console_link(self, token_hash: str, *, now: datetime) -> int | None:
        # One statement: two tabs following the same link cannot both succeed.
        async with self.db.execute(
            "UPDATE console_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?"
            " RETURNING user_id",
            (_ts(now), token_hash, _ts(now)),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else None

    async def add_console_session(self, id_hash: str, user_id: int, csrf: str) -> None:
        now = _ts(datetime.now(UTC))
        await self.db.execute(
            "INSERT INTO console_sessions (id_hash, user_id, csrf, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
            (id_hash, user_id, csrf, now, now),
        )

    async def console_session(self, id_hash: str, *, idle_since: datetime) -> ConsoleSession | None:
        async with self.db.execute(
            "UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at > ?"
            " RETURNING user_id, csrf",
            (_ts(datetime.now(UTC)), id_hash, _ts(idle_since)),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            await self.db.execute("DELETE FROM console_sessions WHERE id_hash = ?", (id_hash,))
            return None
        return ConsoleSession(int(row[0]), str(row[1]))

    async def end_console_session(self, id_hash: str) -> None:
        await self.db.execute("DELETE FROM console_sessions WHERE id_hash = ?", (id_hash,))

    async def end_console_sessions(self, user_id: int) -> int:
        async with self.db.execute("DELETE FROM console_sessions WHERE user_id = ?", (user_id,)) as cur:
            return max(cur.rowcount, 0)

    # -- lookups ------------------------------------------------------------------
    async def search_signups(
        self, query: SignupQuery, *, after: SignupCursor | None = None, limit: int = 50
    ) -> list[Signup]:
        built = _where(query)
        if built is None:
            return []
        where, params = built
        if query.sort == "name":
            order = "s.full_name, s.id"
            if after is not None:
                where.append("(s.full_name, s.id) > (?, ?)")
                params.extend((after.name or "", after.id))
        elif query.sort == "old":
            order = "s.id"
            if after is not None:
                where.append("s.id > ?")
                params.append(after.id)
        else:
            order = "s.id DESC"
            if after is not None:
                where.append("s.id < ?")
                params.append(after.id)
        sql = _S_SELECT + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY {order} LIMIT ?"
        async with self.db.execute(sql, (*params, int(limit))) as cur:
            return [_signup(r) for r in await cur.fetchall()]

    async def count_signups(self, query: SignupQuery, *, cap: int | None = None) -> int:
        built = _where(query)
        if built is None:
            return 0
        where, params = built
        sql = "SELECT 1 FROM signups s" + (" WHERE " + " AND ".join(where) if where else "")
        sql = f"SELECT COUNT(*) FROM ({sql}{f' LIMIT {int(cap) + 1}' if cap is not None else ''})"
        async with self.db.execute(sql, tuple(params)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def export_query_pages(
        self, query: SignupQuery, *, page_size: int = 1000
    ) -> AsyncIterator[list[SignupExport]]:
        built = _where(query)
        if built is None:
            return
        where, params = built
        # Walk the table in id order and filter as it goes (the unary + keeps SQLite off the
        # province index, which would re-read and re-sort every remaining row per page):
        # the whole export then costs one pass over the table, whatever the filter.
        where = ["s.id > ?", *(w.replace("s.province_id IN", "+s.province_id IN") for w in where)]
        params = [0, *params]
        sql = (
            "SELECT s.id, s.created_at, s.full_name, s.phone_e164, s.workplace, s.province_id, s.commune,"
            " s.source, v.code, s.status FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
            f" WHERE {' AND '.join(where)} ORDER BY s.id LIMIT {int(page_size)}"
        )
        parse = datetime.fromisoformat
        while True:
            async with self.db.execute(sql, tuple(params)) as cur:
                rows = await cur.fetchall()
            if not rows:
                return
            ids = [r[0] for r in rows]
            async with self.db.execute(
                "SELECT signup_id, text FROM signup_notes WHERE signup_id BETWEEN ? AND ? ORDER BY id",
                (ids[0], ids[-1]),
            ) as cur:
                notes = await cur.fetchall()
            by_signup: dict[int, list[str]] = {}
            for signup_id, text in notes:
                by_signup.setdefault(signup_id, []).append(text)
            yield [
                SignupExport(
                    r[0],
                    parse(r[1]),
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                    "\n".join(by_signup[r[0]]) if r[0] in by_signup else None,
                )
                for r in rows
            ]
            params[0] = ids[-1]

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
        scope, params = _province_filter(provinces)
        sql = f"{_Q_SELECT} WHERE q.status IN ({', '.join('?' * len(statuses))}){scope}"
        args: list[Any] = [*statuses, *params]
        if text:
            pattern = _like(text)
            sql += " AND (q.text LIKE ? ESCAPE '\\' OR q.answer LIKE ? ESCAPE '\\')"
            args.extend((pattern, pattern))
        if statuses == ("open",):
            sql += " AND q.id > ? ORDER BY q.id LIMIT ?"
            args.extend((after_id or 0, int(limit)))
        else:
            if before_id is not None:
                sql += " AND q.id < ?"
                args.append(before_id)
            sql += " ORDER BY q.id DESC LIMIT ?"
            args.append(int(limit))
        async with self.db.execute(sql, tuple(args)) as cur:
            return [_question(r) for r in await cur.fetchall()]
