"""SQLite implementation of `storage.signups.SignupStore` (a mixin of SQLiteStore)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage.records import User
from storage.signups import (
    COLLECT_ACTION,
    ERASURE_REQUEST_TTL,
    PAPER_CHANNEL,
    ErasureDecision,
    ErasureOutcome,
    ErasureRequest,
    ErasureRequester,
    ErasureRequestResult,
    ErasureStatus,
    FormClaim,
    Signup,
    SignupDayCount,
    SignupDraft,
    SignupExport,
    SignupFact,
    SignupNote,
    SignupSource,
    SignupStatus,
    SignupVolunteerCount,
    SubmitOutcome,
    SubmitResult,
)
from storage.sqlite.purge import delete_in_batches

if TYPE_CHECKING:
    import aiosqlite

    from storage.sqlite.store import GuardedConnection

_SELECT = (
    "SELECT s.*, v.code AS volunteer_code FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
)
# The columns a (re)submission writes; status, notes and attribution are kept or reset
# explicitly by submit_signup.
_DETAILS = (
    "full_name = ?, phone_e164 = ?, workplace = ?, province_id = ?, commune = ?,"
    " consent_version = ?, consent_lang = ?, consent_channel = ?, consent_at = ?,"
    " updated_at = ?, last_contact_at = ?"
)


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> str:
    return _ts(datetime.now(UTC))


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


# Enum(value) goes through EnumMeta.__call__; a dict hit is five times cheaper, which
# matters when an export builds 200,000 records.
_SOURCES = {s.value: s for s in SignupSource}
_STATUSES = {s.value: s for s in SignupStatus}


def _signup(r: aiosqlite.Row) -> Signup:
    return Signup(
        id=r["id"],
        user_id=r["user_id"],
        full_name=r["full_name"],
        phone_e164=r["phone_e164"],
        workplace=r["workplace"],
        province_id=r["province_id"],
        commune=r["commune"],
        source=_SOURCES[r["source"]],
        volunteer_id=r["volunteer_id"],
        volunteer_code=r["volunteer_code"],
        consent_version=r["consent_version"],
        consent_lang=r["consent_lang"],
        consent_channel=r["consent_channel"],
        consent_at=_dt(r["consent_at"]),
        status=_STATUSES[r["status"]],
        created_at=_dt(r["created_at"]),
        updated_at=_dt(r["updated_at"]),
        last_contact_at=_dt(r["last_contact_at"]),
    )


# An erasure request with its sign-up's province and number (while the sign-up exists).
_ERASURE_SELECT = (
    "SELECT r.*, s.province_id, s.phone_e164 FROM signup_erasure_requests r LEFT JOIN signups s ON s.id = r.signup_id"
)


def _erasure_request(r: Any) -> ErasureRequest:
    """A row of _ERASURE_SELECT (aiosqlite or asyncpg: timestamps parsed when text)."""

    def moment(value: Any) -> datetime | None:
        return _dt(value) if isinstance(value, str) else value

    created = moment(r["created_at"])
    assert created is not None
    return ErasureRequest(
        id=int(r["id"]),
        signup_id=r["signup_id"],
        province_id=r["province_id"],
        phone_e164=r["phone_e164"],
        requester=ErasureRequester(r["requester_channel"], r["requester_external_id"]),
        status=ErasureStatus(r["status"]),
        created_at=created,
        decided_at=moment(r["decided_at"]),
        decided_by=r["decided_by"],
    )


def _in(column: str, values: Collection[str]) -> tuple[str, tuple[str, ...]]:
    """`column IN (?, ?, ...)` for a non-empty collection of values."""
    items = tuple(sorted(set(values)))
    return f"{column} IN ({', '.join('?' * len(items))})", items


def _filter_provinces(provinces: Collection[str] | None, where: list[str], params: list[Any]) -> bool:
    """Add the province scope to a query; False when the scope is empty (nothing to see).

    None means every province (an admin); an empty collection means none at all.
    """
    if provinces is None:
        return True
    if not provinces:
        return False
    clause, values = _in("s.province_id", provinces)
    where.append(clause)
    params.extend(values)
    return True


class SQLiteSignupMixin:
    """Uses SQLiteStore's `db` and `transaction()`."""

    if TYPE_CHECKING:

        @property
        def db(self) -> GuardedConnection: ...

        def transaction(self) -> AbstractAsyncContextManager[GuardedConnection]: ...

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        async with self.db.execute(sql, params) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async with self.db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _checkpoint(self) -> None:
        # Erased rows' old page images stay in the WAL until a checkpoint copies it back
        # (secure_delete zeroes them in the main file) and truncates it.
        await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- sign-ups ------------------------------------------------------------
    async def submit_signup(self, draft: SignupDraft, *, form: FormClaim | None = None) -> SubmitResult | None:
        now = _now()
        details = (
            draft.full_name,
            draft.phone_e164,
            draft.workplace,
            draft.province_id,
            draft.commune,
            draft.consent_version,
            draft.consent_lang,
            draft.consent_channel,
            now,
            now,
            now,
        )
        async with self.transaction() as db:
            if form is not None:
                async with db.execute(
                    "DELETE FROM conversation_state WHERE user_id = ? AND flow = ?"
                    " AND json_extract(data, '$.fid') = ? RETURNING user_id",
                    (form.user_id, form.flow, form.form_id),
                ) as cur:
                    if await cur.fetchone() is None:
                        return None
            by_phone = await self._one(
                "SELECT id, user_id, province_id FROM signups WHERE phone_e164 = ?", (draft.phone_e164,)
            )
            by_owner = None
            if draft.owner_id is not None:
                by_owner = await self._one("SELECT id, province_id FROM signups WHERE user_id = ?", (draft.owner_id,))

            if by_phone is None and by_owner is None:
                new_id = await self._insert_signup(db, draft, now)
                if draft.owner_id is None:
                    await _record_collect(db, draft, new_id, SubmitOutcome.CREATED, now)
                return SubmitResult(new_id, SubmitOutcome.CREATED, draft.province_id)

            if by_phone is None:
                # The owner signs up again with a new number: same person, same sign-up.
                assert by_owner is not None
                await db.execute(f"UPDATE signups SET {_DETAILS} WHERE id = ?", (*details, by_owner["id"]))
                return _updated(by_owner["id"], draft, by_owner["province_id"])

            if draft.owner_id is None:
                # A volunteer collecting a number we know: the sign-up stays exactly as it
                # is (the worker's own details, province, status and notes are not the
                # volunteer's to change). Only the attempt is recorded.
                await _record_collect(db, draft, by_phone["id"], SubmitOutcome.KNOWN, now)
                return SubmitResult(int(by_phone["id"]), SubmitOutcome.KNOWN, by_phone["province_id"])

            if by_phone["user_id"] == draft.owner_id:
                # The owner again: new details and consent; the organizers' status, notes
                # and the attribution stay.
                await db.execute(f"UPDATE signups SET {_DETAILS} WHERE id = ?", (*details, by_phone["id"]))
                return _updated(by_phone["id"], draft, by_phone["province_id"])

            # Another account's, or an unowned, sign-up: replaced by a fresh one, so that
            # nothing recorded before reaches this account (see storage/signups.py). The
            # account's own earlier sign-up under another number goes too: one per account.
            stale = {by_phone["id"], by_owner["id"] if by_owner is not None else by_phone["id"]}
            await db.executemany("DELETE FROM signups WHERE id = ?", [(i,) for i in sorted(stale)])
            new_id = await self._insert_signup(db, draft, now)
            return SubmitResult(new_id, SubmitOutcome.CLAIMED, draft.province_id, replaced_id=by_phone["id"])

    async def collect_submissions(self, volunteer_id: int) -> list[datetime]:
        rows = await self._all(
            "SELECT at FROM audit_log WHERE action = ? AND actor_id = ? ORDER BY id",
            (COLLECT_ACTION, volunteer_id),
        )
        return [_dt(r[0]) for r in rows]

    @staticmethod
    async def _insert_signup(db: GuardedConnection, draft: SignupDraft, now: str) -> int:
        async with db.execute(
            "INSERT INTO signups (user_id, full_name, phone_e164, workplace, province_id, commune,"
            " source, volunteer_id, consent_version, consent_lang, consent_channel, consent_at,"
            " created_at, updated_at, last_contact_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                draft.owner_id,
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
                now,
                now,
                now,
                now,
            ),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def get_signup(self, signup_id: int) -> Signup | None:
        row = await self._one(f"{_SELECT} WHERE s.id = ?", (signup_id,))
        return _signup(row) if row else None

    async def signup_of_user(self, user_id: int) -> Signup | None:
        row = await self._one(f"{_SELECT} WHERE s.user_id = ?", (user_id,))
        return _signup(row) if row else None

    async def list_signups(
        self,
        *,
        provinces: Collection[str] | None,
        status: SignupStatus | None = None,
        before_id: int | None = None,
        limit: int = 10,
    ) -> list[Signup]:
        where: list[str] = []
        params: list[Any] = []
        if not _filter_provinces(provinces, where, params):
            return []
        if status is not None:
            where.append("s.status = ?")
            params.append(SignupStatus(status).value)
        if before_id is not None:
            where.append("s.id < ?")
            params.append(before_id)
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY s.id DESC LIMIT ?"
        return [_signup(r) for r in await self._all(sql, (*params, limit))]

    async def set_signup_status(self, signup_id: int, status: SignupStatus) -> SignupStatus | None:
        now = _now()
        async with self.transaction() as db:
            row = await self._one("SELECT status FROM signups WHERE id = ?", (signup_id,))
            if row is None:
                return None
            await db.execute(
                "UPDATE signups SET status = ?, updated_at = ?, last_contact_at = ? WHERE id = ?",
                (SignupStatus(status).value, now, now, signup_id),
            )
        return SignupStatus(row["status"])

    async def add_signup_note(self, signup_id: int, author_id: int | None, text: str) -> int | None:
        now = _now()
        async with self.transaction() as db:
            async with db.execute(
                "UPDATE signups SET updated_at = ?, last_contact_at = ? WHERE id = ?", (now, now, signup_id)
            ) as cur:
                if cur.rowcount != 1:
                    return None
            async with db.execute(
                "INSERT INTO signup_notes (signup_id, author_id, at, text) VALUES (?, ?, ?, ?) RETURNING id",
                (signup_id, author_id, now, text),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def signup_notes(self, signup_id: int) -> list[SignupNote]:
        rows = await self._all("SELECT * FROM signup_notes WHERE signup_id = ? ORDER BY id", (signup_id,))
        return [
            SignupNote(id=r["id"], signup_id=r["signup_id"], author_id=r["author_id"], at=_dt(r["at"]), text=r["text"])
            for r in rows
        ]

    async def export_pages(
        self, *, provinces: Collection[str] | None, page_size: int = 1000
    ) -> AsyncIterator[list[SignupExport]]:
        where: list[str] = ["s.id > ?"]
        params: list[Any] = [0]
        if not _filter_provinces(provinces, where, params):
            return
        sql = (
            "SELECT s.id, s.created_at, s.full_name, s.phone_e164, s.workplace, s.province_id, s.commune,"
            " s.source, v.code, s.status FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
            f" WHERE {' AND '.join(where)} ORDER BY s.id LIMIT {int(page_size)}"
        )
        parse = datetime.fromisoformat
        while True:
            rows = await self._all(sql, tuple(params))
            if not rows:
                return
            first, last = rows[0][0], rows[-1][0]
            notes = await self._all(
                "SELECT signup_id, text FROM signup_notes WHERE signup_id BETWEEN ? AND ? ORDER BY id",
                (first, last),
            )
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
            params[0] = last

    async def signup_day_counts(
        self,
        *,
        provinces: Collection[str] | None,
        since: datetime,
        until: datetime,
        utc_offset: timedelta,
    ) -> list[SignupDayCount]:
        where: list[str] = ["s.created_at >= ?", "s.created_at < ?"]
        params: list[Any] = [_ts(since), _ts(until)]
        if not _filter_provinces(provinces, where, params):
            return []
        # Stored times are UTC ISO strings; SQLite's date() takes a "+N minutes" modifier.
        shift = f"{int(utc_offset.total_seconds() // 60):+d} minutes"
        sql = (
            "SELECT date(s.created_at, ?) AS day, s.province_id, COUNT(*),"
            " SUM(s.status = 'joined'), SUM(s.source = 'self'), SUM(s.consent_channel = ?) FROM signups s"
            f" WHERE {' AND '.join(where)} GROUP BY day, s.province_id"
        )
        return [
            SignupDayCount(date.fromisoformat(r[0]), r[1], r[2], r[3], r[4], r[5])
            for r in await self._all(sql, (shift, PAPER_CHANNEL, *params))
        ]

    async def signup_volunteer_counts(
        self,
        *,
        provinces: Collection[str] | None,
        since: datetime,
        until: datetime,
    ) -> list[SignupVolunteerCount]:
        where: list[str] = ["s.created_at >= ?", "s.created_at < ?", "s.source != 'self'", "s.consent_channel != ?"]
        params: list[Any] = [_ts(since), _ts(until), PAPER_CHANNEL]
        if not _filter_provinces(provinces, where, params):
            return []
        sql = (
            "SELECT v.code, s.source, COUNT(*) FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
            f" WHERE {' AND '.join(where)} GROUP BY v.code, s.source"
        )
        return [SignupVolunteerCount(r[0], _SOURCES[r[1]], r[2]) for r in await self._all(sql, tuple(params))]

    async def signup_facts(
        self,
        *,
        provinces: Collection[str] | None = None,
        volunteer_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SignupFact]:
        where: list[str] = []
        params: list[Any] = []
        if not _filter_provinces(provinces, where, params):
            return []
        if volunteer_id is not None:
            where.append("s.volunteer_id = ?")
            params.append(volunteer_id)
        if since is not None:
            where.append("s.created_at >= ?")
            params.append(_ts(since))
        if until is not None:
            where.append("s.created_at < ?")
            params.append(_ts(until))
        sql = (
            "SELECT s.created_at, s.province_id, s.source, s.volunteer_id, v.code, s.status, s.consent_channel = ?"
            " FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
            + (" WHERE " + " AND ".join(where) if where else "")
        )
        return [
            SignupFact(_dt(r[0]), r[1], SignupSource(r[2]), r[3], r[4], SignupStatus(r[5]), bool(r[6]))
            for r in await self._all(sql, (PAPER_CHANNEL, *params))
        ]

    # -- volunteers ----------------------------------------------------------
    async def volunteer_code(self, user_id: int) -> str | None:
        row = await self._one("SELECT code FROM volunteer_codes WHERE user_id = ?", (user_id,))
        return row[0] if row else None

    async def create_volunteer_code(self, user_id: int, code: str) -> str:
        await self.db.execute(
            "INSERT INTO volunteer_codes (user_id, code, created_at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO NOTHING",
            (user_id, code, _now()),
        )
        held = await self.volunteer_code(user_id)
        assert held is not None
        return held

    async def volunteer_by_code(self, code: str) -> int | None:
        row = await self._one("SELECT user_id FROM volunteer_codes WHERE code = ?", (code,))
        return int(row[0]) if row else None

    # -- organizers' provinces -----------------------------------------------
    async def admins(self) -> list[User]:
        from storage.sqlite.store import _user  # the store module imports this one

        rows = await self._all("SELECT * FROM users WHERE role = 'admin' AND reachable ORDER BY id", ())
        return [_user(r) for r in rows]

    async def organizers_of(self, province_id: str) -> list[User]:
        from storage.sqlite.store import _user  # the store module imports this one

        rows = await self._all(
            "SELECT u.* FROM users u JOIN organizer_provinces o ON o.user_id = u.id"
            " WHERE o.province_id = ? AND u.role IN ('organizer', 'admin') AND u.reachable ORDER BY u.id",
            (province_id,),
        )
        return [_user(r) for r in rows]

    async def organizer_provinces(self, user_id: int) -> frozenset[str]:
        rows = await self._all("SELECT province_id FROM organizer_provinces WHERE user_id = ?", (user_id,))
        return frozenset(r[0] for r in rows)

    async def add_organizer_provinces(
        self, user_id: int, province_ids: Collection[str], granted_by: int | None
    ) -> None:
        now = _now()
        async with self.transaction() as db:
            await db.executemany(
                "INSERT OR IGNORE INTO organizer_provinces (user_id, province_id, granted_by, granted_at)"
                " VALUES (?, ?, ?, ?)",
                [(user_id, p, granted_by, now) for p in sorted(set(province_ids))],
            )

    async def remove_organizer_provinces(self, user_id: int, province_ids: Collection[str]) -> None:
        async with self.transaction() as db:
            await db.executemany(
                "DELETE FROM organizer_provinces WHERE user_id = ? AND province_id = ?",
                [(user_id, p) for p in sorted(set(province_ids))],
            )

    # -- targets ---------------------------------------------------------------
    async def set_signup_target(self, province_id: str, year: int, target: int, set_by: int | None) -> None:
        await self.db.execute(
            "INSERT INTO signup_targets (province_id, year, target, set_by, set_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (province_id, year) DO UPDATE SET target = excluded.target,"
            "  set_by = excluded.set_by, set_at = excluded.set_at",
            (province_id, year, target, set_by, _now()),
        )

    async def signup_targets(self, year: int, *, provinces: Collection[str] | None = None) -> dict[str, int]:
        sql = "SELECT province_id, target FROM signup_targets WHERE year = ?"
        params: tuple[object, ...] = (year,)
        if provinces is not None:
            if not provinces:
                return {}
            clause, values = _in("province_id", provinces)
            sql, params = f"{sql} AND {clause}", (year, *values)
        return {r[0]: int(r[1]) for r in await self._all(sql, params)}

    # -- erasure ----------------------------------------------------------------
    async def forget_signup_by_phone(
        self, phone_e164: str, *, include_owned: bool = False, form_flows: Collection[str] = ()
    ) -> tuple[int, str] | None:
        erased = None
        async with self.transaction() as db:
            row = await self._one("SELECT id, user_id, province_id FROM signups WHERE phone_e164 = ?", (phone_e164,))
            if row is not None and (include_owned or row["user_id"] is None):
                await db.execute("DELETE FROM signups WHERE id = ?", (row["id"],))
                erased = (int(row["id"]), str(row["province_id"]))
            await self._delete_forms_with_phone(db, phone_e164, form_flows)
        await self._checkpoint()
        return erased

    async def _delete_forms_with_phone(
        self, db: GuardedConnection, phone_e164: str, form_flows: Collection[str]
    ) -> None:
        if not form_flows:
            return
        clause, flows = _in("flow", form_flows)
        # A form of these flows, or one set aside under `resume` by another flow
        # (an open /forget confirmation keeps the form it interrupted there).
        resumed = clause.replace("flow", "json_extract(data, '$.resume.flow')", 1)
        await db.execute(
            f"DELETE FROM conversation_state WHERE ({clause} AND json_extract(data, '$.phone') = ?)"
            f" OR ({resumed} AND json_extract(data, '$.resume.data.phone') = ?)",
            (*flows, phone_e164, *flows, phone_e164),
        )

    async def request_signup_erasure(
        self, phone_e164: str, requester: ErasureRequester, *, requester_id: int, limit: int, since: datetime
    ) -> ErasureRequestResult:
        now = _now()
        address = (requester.channel, requester.external_id)
        async with self.transaction() as db:
            filed = await self._one(
                "SELECT COUNT(*) FROM signup_erasure_requests"
                " WHERE requester_channel = ? AND requester_external_id = ? AND created_at >= ?",
                (*address, _ts(since)),
            )
            if filed is not None and filed[0] >= limit:
                return ErasureRequestResult(ErasureOutcome.THROTTLED)
            signup = await self._one("SELECT id, user_id, province_id FROM signups WHERE phone_e164 = ?", (phone_e164,))
            outcome, signup_id = ErasureOutcome.NO_SIGNUP, None
            if signup is not None and signup["user_id"] != requester_id:
                signup_id = int(signup["id"])
                open_one = await self._one(
                    "SELECT id FROM signup_erasure_requests WHERE signup_id = ? AND status = 'open'"
                    " AND requester_channel = ? AND requester_external_id = ?",
                    (signup_id, *address),
                )
                outcome = ErasureOutcome.FILED if open_one is None else ErasureOutcome.PENDING
            # One row for every attempt, as for a number with no sign-up: a repeat that
            # wrote nothing would leave the limit and /mydata counting differently for a
            # number that signed up. Only a new request is open (and has the sign-up).
            new_request = outcome is ErasureOutcome.FILED
            async with db.execute(
                "INSERT INTO signup_erasure_requests (signup_id, requester_channel, requester_external_id,"
                " status, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (
                    signup_id if new_request else None,
                    *address,
                    (ErasureStatus.OPEN if new_request else ErasureStatus.NONE).value,
                    now,
                ),
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            if signup is None or signup_id is None:
                return ErasureRequestResult(outcome, int(row[0]))
            return ErasureRequestResult(outcome, int(row[0]), signup_id, str(signup["province_id"]))

    async def erasure_requests_by(self, channel: str, external_id: str, *, since: datetime) -> list[ErasureRequest]:
        rows = await self._all(
            f"{_ERASURE_SELECT} WHERE r.requester_channel = ? AND r.requester_external_id = ? AND r.created_at >= ?"
            " ORDER BY r.id DESC",
            (channel, external_id, _ts(since)),
        )
        return [_erasure_request(r) for r in rows]

    async def get_erasure_request(self, request_id: int) -> ErasureRequest | None:
        row = await self._one(f"{_ERASURE_SELECT} WHERE r.id = ?", (request_id,))
        return _erasure_request(row) if row is not None else None

    async def open_erasure_requests(self, *, provinces: Collection[str] | None) -> list[ErasureRequest]:
        where = ["r.status = 'open'", "r.signup_id IS NOT NULL"]
        params: list[Any] = []
        if not _filter_provinces(provinces, where, params):
            return []
        rows = await self._all(f"{_ERASURE_SELECT} WHERE {' AND '.join(where)} ORDER BY r.id", tuple(params))
        return [_erasure_request(r) for r in rows]

    async def decide_signup_erasure(
        self, request_id: int, *, confirm: bool, decided_by: int | None, form_flows: Collection[str] = ()
    ) -> ErasureDecision | None:
        now = _now()
        async with self.transaction() as db:
            row = await self._one(f"{_ERASURE_SELECT} WHERE r.id = ?", (request_id,))
            if row is None or row["status"] != ErasureStatus.OPEN.value or row["phone_e164"] is None:
                return None
            request = _erasure_request(row)
            if not confirm:
                await db.execute(
                    "UPDATE signup_erasure_requests SET status = 'rejected', decided_at = ?, decided_by = ?"
                    " WHERE id = ?",
                    (now, decided_by, request_id),
                )
                return ErasureDecision(request, erased=False)
            await db.execute(
                "UPDATE signup_erasure_requests SET status = 'confirmed', decided_at = ?, decided_by = ?"
                " WHERE signup_id = ? AND status = 'open'",
                (now, decided_by, request.signup_id),
            )
            await self._delete_forms_with_phone(db, str(request.phone_e164), form_flows)
            await db.execute("DELETE FROM signups WHERE id = ?", (request.signup_id,))
        await self._checkpoint()
        return ErasureDecision(request, erased=True)

    async def purge_signups(self, *, last_contact_before: datetime) -> int:
        await self.db.execute(
            "DELETE FROM signup_erasure_requests WHERE created_at < ?", (_ts(datetime.now(UTC) - ERASURE_REQUEST_TTL),)
        )
        # Bounded batches over the last_contact index: a first purge of years of sign-ups
        # must not hold the database for one long statement while workers chat.
        count = await delete_in_batches(self.db, "signups", "id", "last_contact_at < ?", (_ts(last_contact_before),))
        await self._checkpoint()
        return count

    async def purge_forms(self, flows: Collection[str], *, updated_before: datetime) -> int:
        if not flows:
            return 0
        clause, values = _in("flow", flows)
        async with self.db.execute(
            f"DELETE FROM conversation_state WHERE {clause} AND updated_at < ?",
            (*values, _ts(updated_before)),
        ) as cur:
            count = cur.rowcount
        await self._checkpoint()
        return max(count, 0)


async def _record_collect(
    db: GuardedConnection, draft: SignupDraft, signup_id: int, outcome: SubmitOutcome, now: str
) -> None:
    """The volunteer's submission, in the audit log (ids only, never a name or number), in
    the submission's transaction: /mystats counts these, not the sign-ups they left."""
    await db.execute(
        "INSERT INTO audit_log (at, actor_id, action, target, details) VALUES (?, ?, ?, ?, ?)",
        (now, draft.volunteer_id, COLLECT_ACTION, f"signup:{signup_id}", json.dumps({"outcome": outcome.value})),
    )


def _updated(signup_id: int, draft: SignupDraft, before: str) -> SubmitResult:
    moved = before if before != draft.province_id else None
    return SubmitResult(int(signup_id), SubmitOutcome.UPDATED, draft.province_id, previous_province_id=moved)
