"""PostgreSQL implementation of `storage.signups.SignupStore` (a mixin of PostgresStore)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage.postgres.store import PostgresFeature, affected, delete_in_batches, now_utc
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
    SignupStatus,
    SignupVolunteerCount,
    SubmitOutcome,
    SubmitResult,
)
from storage.sqlite.signups import _ERASURE_SELECT, _SOURCES, _STATUSES, _erasure_request, _updated

if TYPE_CHECKING:
    import asyncpg

_SELECT = (
    "SELECT s.*, v.code AS volunteer_code FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
)
_EXPORT_SELECT = (
    "SELECT s.id, s.created_at, s.full_name, s.phone_e164, s.workplace, s.province_id, s.commune,"
    " s.source, v.code, s.status FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
)
# The columns a (re)submission writes ($1..$9, then the id as $10); status, notes and
# attribution are kept or reset explicitly by submit_signup.
_UPDATE_DETAILS = (
    "UPDATE signups SET full_name = $1, phone_e164 = $2, workplace = $3, province_id = $4, commune = $5,"
    " consent_version = $6, consent_lang = $7, consent_channel = $8, consent_at = $9,"
    " updated_at = $9, last_contact_at = $9 WHERE id = $10"
)
# First key of pg_advisory_xact_lock(int, int) for sign-up submissions (the two-key
# space never meets the migrations' one-key lock).
_SUBMIT_LOCK = 0x5347  # "SG"
# (IMPORT_LOCK, 0): shared by every submission, exclusive for a paper import (console.py).
IMPORT_LOCK = 0x5349  # "SI"
# First key of the locks serialising one chat's erasure requests (their throttle count:
# "a:<channel>:<id>") and the decisions on one sign-up's requests ("s:<sign-up id>").
_ERASURE_LOCK = 0x5345  # "SE"


class Params:
    """Positional parameters for a query built from parts: `add` gives the next `$n`."""

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def filter_provinces(provinces: Collection[str] | None, where: list[str], params: Params) -> bool:
    """Add the province scope to a query; False when the scope is empty (nothing to see).

    None means every province (an admin); an empty collection means none at all.
    """
    if provinces is None:
        return True
    if not provinces:
        return False
    where.append(f"s.province_id = ANY({params.add(sorted(set(provinces)))}::text[])")
    return True


def signup(r: asyncpg.Record) -> Signup:
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
        consent_at=r["consent_at"],
        status=_STATUSES[r["status"]],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        last_contact_at=r["last_contact_at"],
    )


async def export_page(db: asyncpg.Connection | asyncpg.Pool, rows: list[asyncpg.Record]) -> list[SignupExport]:
    """Export records for one page of `_EXPORT_SELECT` rows (in id order), with their notes
    read in one query over the page's id range."""
    notes = await db.fetch(
        "SELECT signup_id, text FROM signup_notes WHERE signup_id BETWEEN $1 AND $2 ORDER BY id",
        rows[0][0],
        rows[-1][0],
    )
    by_signup: dict[int, list[str]] = {}
    for signup_id, text in notes:
        by_signup.setdefault(signup_id, []).append(text)
    return [
        SignupExport(
            r[0],
            r[1],
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


class PostgresSignupMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py)."""

    # -- sign-ups ------------------------------------------------------------
    async def submit_signup(self, draft: SignupDraft, *, form: FormClaim | None = None) -> SubmitResult | None:
        now = now_utc()
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
        )
        async with self.transaction() as db:
            if form is not None:
                # A second submission of the same form waits on this row, then finds it gone.
                claimed = await db.fetchval(
                    "DELETE FROM conversation_state WHERE user_id = $1 AND flow = $2"
                    " AND data->>'fid' = $3 RETURNING user_id",
                    form.user_id,
                    form.flow,
                    form.form_id,
                )
                if claimed is None:
                    return None
            # SQLite runs one writer at a time; here concurrent submissions of the same
            # number (or by the same account) queue on transaction-scoped locks, so each
            # reads what the one before it wrote and none fails on the unique number.
            # The number's lock is always taken first: no two submissions wait on each other.
            # A paper import holds the whole table's lock exclusively (one lock, not one per
            # number): submissions wait for it, and it for them, instead of failing.
            await db.execute("SELECT pg_advisory_xact_lock_shared($1, 0)", IMPORT_LOCK)
            await db.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _SUBMIT_LOCK, "p:" + draft.phone_e164)
            if draft.owner_id is not None:
                await db.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _SUBMIT_LOCK, f"u:{draft.owner_id}")
            by_phone = await db.fetchrow(
                "SELECT id, user_id, province_id FROM signups WHERE phone_e164 = $1", draft.phone_e164
            )
            by_owner = None
            if draft.owner_id is not None:
                by_owner = await db.fetchrow("SELECT id, province_id FROM signups WHERE user_id = $1", draft.owner_id)

            if by_phone is None and by_owner is None:
                new_id = await _insert_signup(db, draft, now)
                if draft.owner_id is None:
                    await _record_collect(db, draft, new_id, SubmitOutcome.CREATED, now)
                return SubmitResult(new_id, SubmitOutcome.CREATED, draft.province_id)

            if by_phone is None:
                # The owner signs up again with a new number: same person, same sign-up.
                assert by_owner is not None
                await db.execute(_UPDATE_DETAILS, *details, by_owner["id"])
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
                await db.execute(_UPDATE_DETAILS, *details, by_phone["id"])
                return _updated(by_phone["id"], draft, by_phone["province_id"])

            # Another account's, or an unowned, sign-up: replaced by a fresh one, so that
            # nothing recorded before reaches this account (see storage/signups.py). The
            # account's own earlier sign-up under another number goes too: one per account.
            stale = {by_phone["id"], by_owner["id"] if by_owner is not None else by_phone["id"]}
            await db.execute("DELETE FROM signups WHERE id = ANY($1::bigint[])", sorted(stale))
            new_id = await _insert_signup(db, draft, now)
            return SubmitResult(new_id, SubmitOutcome.CLAIMED, draft.province_id, replaced_id=by_phone["id"])

    async def collect_submissions(self, volunteer_id: int) -> list[datetime]:
        rows = await self.db.fetch(
            "SELECT at FROM audit_log WHERE action = $1 AND actor_id = $2 ORDER BY id", COLLECT_ACTION, volunteer_id
        )
        return [r[0] for r in rows]

    async def get_signup(self, signup_id: int) -> Signup | None:
        row = await self.db.fetchrow(f"{_SELECT} WHERE s.id = $1", signup_id)
        return signup(row) if row else None

    async def signup_of_user(self, user_id: int) -> Signup | None:
        row = await self.db.fetchrow(f"{_SELECT} WHERE s.user_id = $1", user_id)
        return signup(row) if row else None

    async def list_signups(
        self,
        *,
        provinces: Collection[str] | None,
        status: SignupStatus | None = None,
        before_id: int | None = None,
        limit: int = 10,
    ) -> list[Signup]:
        where: list[str] = []
        params = Params()
        if not filter_provinces(provinces, where, params):
            return []
        if status is not None:
            where.append(f"s.status = {params.add(SignupStatus(status).value)}")
        if before_id is not None:
            where.append(f"s.id < {params.add(before_id)}")
        sql = (
            _SELECT
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY s.id DESC LIMIT {params.add(limit)}"
        )
        return [signup(r) for r in await self.db.fetch(sql, *params.values)]

    async def set_signup_status(self, signup_id: int, status: SignupStatus) -> SignupStatus | None:
        now = now_utc()
        async with self.transaction() as db:
            # FOR UPDATE: two organizers changing it at once each get the status the other left.
            before = await db.fetchval("SELECT status FROM signups WHERE id = $1 FOR UPDATE", signup_id)
            if before is None:
                return None
            await db.execute(
                "UPDATE signups SET status = $1, updated_at = $2, last_contact_at = $2 WHERE id = $3",
                SignupStatus(status).value,
                now,
                signup_id,
            )
        return SignupStatus(before)

    async def add_signup_note(self, signup_id: int, author_id: int | None, text: str) -> int | None:
        now = now_utc()
        async with self.transaction() as db:
            updated = await db.execute(
                "UPDATE signups SET updated_at = $1, last_contact_at = $1 WHERE id = $2", now, signup_id
            )
            if affected(updated) != 1:
                return None
            note_id = await db.fetchval(
                "INSERT INTO signup_notes (signup_id, author_id, at, text) VALUES ($1, $2, $3, $4) RETURNING id",
                signup_id,
                author_id,
                now,
                text,
            )
        return int(note_id)

    async def signup_notes(self, signup_id: int) -> list[SignupNote]:
        rows = await self.db.fetch("SELECT * FROM signup_notes WHERE signup_id = $1 ORDER BY id", signup_id)
        return [
            SignupNote(id=r["id"], signup_id=r["signup_id"], author_id=r["author_id"], at=r["at"], text=r["text"])
            for r in rows
        ]

    async def export_pages(
        self, *, provinces: Collection[str] | None, page_size: int = 1000
    ) -> AsyncIterator[list[SignupExport]]:
        params = Params(0)
        where = ["s.id > $1"]
        if not filter_provinces(provinces, where, params):
            return
        sql = f"{_EXPORT_SELECT} WHERE {' AND '.join(where)} ORDER BY s.id LIMIT {int(page_size)}"
        # Keyset: each page is its own short query from the last id, never an open
        # cursor holding a connection (and a snapshot) for the whole export.
        while True:
            rows = await self.db.fetch(sql, *params.values)
            if not rows:
                return
            yield await export_page(self.db, rows)
            params.values[0] = rows[-1][0]

    async def signup_day_counts(
        self,
        *,
        provinces: Collection[str] | None,
        since: datetime,
        until: datetime,
        utc_offset: timedelta,
    ) -> list[SignupDayCount]:
        params = Params(utc_offset, PAPER_CHANNEL, since, until)
        where = ["s.created_at >= $3", "s.created_at < $4"]
        if not filter_provinces(provinces, where, params):
            return []
        # The UTC wall-clock time shifted by the offset, as SQLite's date(t, '+N minutes').
        sql = (
            "SELECT ((s.created_at AT TIME ZONE 'UTC') + $1::interval)::date AS day, s.province_id, COUNT(*),"
            " COUNT(*) FILTER (WHERE s.status = 'joined'), COUNT(*) FILTER (WHERE s.source = 'self'),"
            " COUNT(*) FILTER (WHERE s.consent_channel = $2) FROM signups s"
            f" WHERE {' AND '.join(where)} GROUP BY day, s.province_id ORDER BY day, s.province_id"
        )
        return [SignupDayCount(r[0], r[1], r[2], r[3], r[4], r[5]) for r in await self.db.fetch(sql, *params.values)]

    async def signup_volunteer_counts(
        self,
        *,
        provinces: Collection[str] | None,
        since: datetime,
        until: datetime,
    ) -> list[SignupVolunteerCount]:
        params = Params(since, until, PAPER_CHANNEL)
        where = ["s.created_at >= $1", "s.created_at < $2", "s.source != 'self'", "s.consent_channel != $3"]
        if not filter_provinces(provinces, where, params):
            return []
        sql = (
            "SELECT v.code, s.source, COUNT(*) FROM signups s"
            " LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
            f" WHERE {' AND '.join(where)} GROUP BY v.code, s.source ORDER BY v.code NULLS FIRST, s.source"
        )
        return [SignupVolunteerCount(r[0], _SOURCES[r[1]], r[2]) for r in await self.db.fetch(sql, *params.values)]

    async def signup_facts(
        self,
        *,
        provinces: Collection[str] | None = None,
        volunteer_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SignupFact]:
        params = Params(PAPER_CHANNEL)
        where: list[str] = []
        if not filter_provinces(provinces, where, params):
            return []
        if volunteer_id is not None:
            where.append(f"s.volunteer_id = {params.add(volunteer_id)}")
        if since is not None:
            where.append(f"s.created_at >= {params.add(since)}")
        if until is not None:
            where.append(f"s.created_at < {params.add(until)}")
        sql = (
            "SELECT s.created_at, s.province_id, s.source, s.volunteer_id, v.code, s.status, s.consent_channel = $1"
            " FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY s.id"
        )
        return [
            SignupFact(r[0], r[1], _SOURCES[r[2]], r[3], r[4], _STATUSES[r[5]], bool(r[6]))
            for r in await self.db.fetch(sql, *params.values)
        ]

    # -- volunteers ----------------------------------------------------------
    async def volunteer_code(self, user_id: int) -> str | None:
        code = await self.db.fetchval("SELECT code FROM volunteer_codes WHERE user_id = $1", user_id)
        return str(code) if code is not None else None

    async def create_volunteer_code(self, user_id: int, code: str) -> str:
        await self.db.execute(
            "INSERT INTO volunteer_codes (user_id, code, created_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (user_id) DO NOTHING",
            user_id,
            code,
            now_utc(),
        )
        held = await self.volunteer_code(user_id)
        assert held is not None
        return held

    async def volunteer_by_code(self, code: str) -> int | None:
        user_id = await self.db.fetchval("SELECT user_id FROM volunteer_codes WHERE code = $1", code)
        return int(user_id) if user_id is not None else None

    # -- organizers' provinces -----------------------------------------------
    async def admins(self) -> list[User]:
        from storage.postgres.store import _user

        rows = await self.db.fetch("SELECT * FROM users WHERE role = 'admin' AND reachable ORDER BY id")
        return [_user(r) for r in rows]

    async def organizers_of(self, province_id: str) -> list[User]:
        from storage.postgres.store import _user

        rows = await self.db.fetch(
            "SELECT u.* FROM users u JOIN organizer_provinces o ON o.user_id = u.id"
            " WHERE o.province_id = $1 AND u.role IN ('organizer', 'admin') AND u.reachable ORDER BY u.id",
            province_id,
        )
        return [_user(r) for r in rows]

    async def organizer_provinces(self, user_id: int) -> frozenset[str]:
        rows = await self.db.fetch("SELECT province_id FROM organizer_provinces WHERE user_id = $1", user_id)
        return frozenset(r[0] for r in rows)

    async def add_organizer_provinces(
        self, user_id: int, province_ids: Collection[str], granted_by: int | None
    ) -> None:
        await self.db.execute(
            "INSERT INTO organizer_provinces (user_id, province_id, granted_by, granted_at)"
            " SELECT $1, p, $3, $4 FROM unnest($2::text[]) AS p ON CONFLICT DO NOTHING",
            user_id,
            sorted(set(province_ids)),
            granted_by,
            now_utc(),
        )

    async def remove_organizer_provinces(self, user_id: int, province_ids: Collection[str]) -> None:
        await self.db.execute(
            "DELETE FROM organizer_provinces WHERE user_id = $1 AND province_id = ANY($2::text[])",
            user_id,
            sorted(set(province_ids)),
        )

    # -- targets ---------------------------------------------------------------
    async def set_signup_target(self, province_id: str, year: int, target: int, set_by: int | None) -> None:
        await self.db.execute(
            "INSERT INTO signup_targets (province_id, year, target, set_by, set_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (province_id, year) DO UPDATE SET target = excluded.target,"
            "  set_by = excluded.set_by, set_at = excluded.set_at",
            province_id,
            year,
            target,
            set_by,
            now_utc(),
        )

    async def signup_targets(self, year: int, *, provinces: Collection[str] | None = None) -> dict[str, int]:
        if provinces is None:
            rows = await self.db.fetch("SELECT province_id, target FROM signup_targets WHERE year = $1", year)
        elif not provinces:
            return {}
        else:
            rows = await self.db.fetch(
                "SELECT province_id, target FROM signup_targets WHERE year = $1 AND province_id = ANY($2::text[])",
                year,
                sorted(set(provinces)),
            )
        return {r[0]: int(r[1]) for r in rows}

    # -- erasure ----------------------------------------------------------------
    async def forget_signup_by_phone(
        self, phone_e164: str, *, include_owned: bool = False, form_flows: Collection[str] = ()
    ) -> tuple[int, str] | None:
        erased = None
        async with self.transaction() as db:
            await self._delete_forms_and_lock_phone(db, phone_e164, form_flows)
            row = await db.fetchrow("SELECT id, user_id, province_id FROM signups WHERE phone_e164 = $1", phone_e164)
            if row is not None and (include_owned or row["user_id"] is None):
                await db.execute("DELETE FROM signups WHERE id = $1", row["id"])
                erased = (int(row["id"]), str(row["province_id"]))
        return erased

    async def _delete_forms_and_lock_phone(
        self, db: asyncpg.Connection, phone_e164: str, form_flows: Collection[str]
    ) -> None:
        """Half-filled forms holding the number go, then the submissions' lock on it."""
        if form_flows:
            # A form of these flows, or one set aside under `resume` by another flow
            # (an open /forget confirmation keeps the form it interrupted there).
            await db.execute(
                "DELETE FROM conversation_state WHERE (flow = ANY($1::text[]) AND data->>'phone' = $2)"
                " OR (data->'resume'->>'flow' = ANY($1::text[]) AND data->'resume'->'data'->>'phone' = $2)",
                sorted(set(form_flows)),
                phone_e164,
            )
        # The submissions' lock, taken after the forms' rows as submit_signup takes it
        # after its form's row (the same order: neither waits on the other's lock): a
        # sign-up being submitted for this number now is erased once stored, not kept.
        await db.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _SUBMIT_LOCK, "p:" + phone_e164)

    async def request_signup_erasure(
        self, phone_e164: str, requester: ErasureRequester, *, requester_id: int, limit: int, since: datetime
    ) -> ErasureRequestResult:
        address = (requester.channel, requester.external_id)
        async with self.transaction() as db:
            # One chat's requests one at a time: two at once cannot both pass the count.
            await db.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", _ERASURE_LOCK, f"a:{address[0]}:{address[1]}"
            )
            filed = await db.fetchval(
                "SELECT COUNT(*) FROM signup_erasure_requests"
                " WHERE requester_channel = $1 AND requester_external_id = $2 AND created_at >= $3",
                *address,
                since,
            )
            if filed >= limit:
                return ErasureRequestResult(ErasureOutcome.THROTTLED)
            signup = await db.fetchrow(
                "SELECT id, user_id, province_id FROM signups WHERE phone_e164 = $1 FOR SHARE", phone_e164
            )
            outcome, signup_id = ErasureOutcome.NO_SIGNUP, None
            if signup is not None and signup["user_id"] != requester_id:
                signup_id = int(signup["id"])
                open_id = await db.fetchval(
                    "SELECT id FROM signup_erasure_requests WHERE signup_id = $1 AND status = 'open'"
                    " AND requester_channel = $2 AND requester_external_id = $3",
                    signup_id,
                    *address,
                )
                outcome = ErasureOutcome.FILED if open_id is None else ErasureOutcome.PENDING
            # One row for every attempt, as for a number with no sign-up: a repeat that
            # wrote nothing would leave the limit and /mydata counting differently for a
            # number that signed up. Only a new request is open (and has the sign-up).
            new_request = outcome is ErasureOutcome.FILED
            new_id = await db.fetchval(
                "INSERT INTO signup_erasure_requests (signup_id, requester_channel, requester_external_id,"
                " status, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                signup_id if new_request else None,
                *address,
                (ErasureStatus.OPEN if new_request else ErasureStatus.NONE).value,
                now_utc(),
            )
            if signup is None or signup_id is None:
                return ErasureRequestResult(outcome, int(new_id))
            return ErasureRequestResult(outcome, int(new_id), signup_id, str(signup["province_id"]))

    async def erasure_requests_by(self, channel: str, external_id: str, *, since: datetime) -> list[ErasureRequest]:
        rows = await self.db.fetch(
            f"{_ERASURE_SELECT} WHERE r.requester_channel = $1 AND r.requester_external_id = $2 AND r.created_at >= $3"
            " ORDER BY r.id DESC",
            channel,
            external_id,
            since,
        )
        return [_erasure_request(r) for r in rows]

    async def get_erasure_request(self, request_id: int) -> ErasureRequest | None:
        row = await self.db.fetchrow(f"{_ERASURE_SELECT} WHERE r.id = $1", request_id)
        return _erasure_request(row) if row is not None else None

    async def open_erasure_requests(self, *, provinces: Collection[str] | None) -> list[ErasureRequest]:
        where = ["r.status = 'open'", "r.signup_id IS NOT NULL"]
        params = Params()
        if not filter_provinces(provinces, where, params):
            return []
        rows = await self.db.fetch(f"{_ERASURE_SELECT} WHERE {' AND '.join(where)} ORDER BY r.id", *params.values)
        return [_erasure_request(r) for r in rows]

    async def decide_signup_erasure(
        self, request_id: int, *, confirm: bool, decided_by: int | None, form_flows: Collection[str] = ()
    ) -> ErasureDecision | None:
        now = now_utc()
        async with self.transaction() as db:
            row = await db.fetchrow(f"{_ERASURE_SELECT} WHERE r.id = $1", request_id)
            if row is None or row["status"] != ErasureStatus.OPEN.value or row["signup_id"] is None:
                return None
            # Deciders of one sign-up one at a time (two officers confirming two requests
            # for it must not deadlock on each other's rows); then read the request again.
            await db.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _ERASURE_LOCK, f"s:{row['signup_id']}")
            row = await db.fetchrow(f"{_ERASURE_SELECT} WHERE r.id = $1", request_id)
            if row is None or row["status"] != ErasureStatus.OPEN.value or row["phone_e164"] is None:
                return None
            request = _erasure_request(row)
            if not confirm:
                await db.execute(
                    "UPDATE signup_erasure_requests SET status = 'rejected', decided_at = $1, decided_by = $2"
                    " WHERE id = $3",
                    now,
                    decided_by,
                    request_id,
                )
                return ErasureDecision(request, erased=False)
            await self._delete_forms_and_lock_phone(db, str(request.phone_e164), form_flows)
            closed = await db.fetch(
                "UPDATE signup_erasure_requests SET status = 'confirmed', decided_at = $1, decided_by = $2"
                " WHERE signup_id = $3 AND status = 'open' RETURNING id",
                now,
                decided_by,
                request.signup_id,
            )
            if not closed:
                return None  # the sign-up went (replaced, erased) before the submissions' lock
            await db.execute("DELETE FROM signups WHERE id = $1", request.signup_id)
        return ErasureDecision(request, erased=True)

    async def purge_signups(self, *, last_contact_before: datetime) -> int:
        await self.db.execute(
            "DELETE FROM signup_erasure_requests WHERE created_at < $1", now_utc() - ERASURE_REQUEST_TTL
        )
        # Bounded batches over the last_contact index: a first purge of years of sign-ups
        # must not hold locks on them all in one long statement while workers chat.
        return await delete_in_batches(self.db, "signups", "id", "last_contact_at < $1", last_contact_before)

    async def purge_forms(self, flows: Collection[str], *, updated_before: datetime) -> int:
        if not flows:
            return 0
        status = await self.db.execute(
            "DELETE FROM conversation_state WHERE flow = ANY($1::text[]) AND updated_at < $2",
            sorted(set(flows)),
            updated_before,
        )
        return affected(status)


async def _insert_signup(db: asyncpg.Connection, draft: SignupDraft, now: datetime) -> int:
    new_id = await db.fetchval(
        "INSERT INTO signups (user_id, full_name, phone_e164, workplace, province_id, commune,"
        " source, volunteer_id, consent_version, consent_lang, consent_channel, consent_at,"
        " created_at, updated_at, last_contact_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $12) RETURNING id",
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
    )
    return int(new_id)


async def _record_collect(
    db: asyncpg.Connection, draft: SignupDraft, signup_id: int, outcome: SubmitOutcome, now: datetime
) -> None:
    """The volunteer's submission, in the audit log (ids only, never a name or number), in
    the submission's transaction: /mystats counts these, not the sign-ups they left."""
    await db.execute(
        "INSERT INTO audit_log (at, actor_id, action, target, details) VALUES ($1, $2, $3, $4, $5)",
        now,
        draft.volunteer_id,
        COLLECT_ACTION,
        f"signup:{signup_id}",
        {"outcome": outcome.value},
    )
