"""PostgreSQL implementation of `storage.care.CareStore` (a mixin of PostgresStore).

No oversell across processes: every change to a program's seats (registering,
cancelling, approving, erasing an account) runs in one transaction that first locks the
program row (`SELECT ... FOR UPDATE`) and only then reads the seats in use, so a second
process waits for the first to commit instead of reading the same count. Locks are
always taken program first, registrations after, so these transactions never deadlock.
Outbox rows are claimed with `FOR UPDATE SKIP LOCKED`: two senders never take the same
row and never wait for each other.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage.broadcasts import Broadcast, NewBroadcast
from storage.care import (
    Benefit,
    BenefitCategory,
    CaseCategory,
    CaseEvent,
    CaseMoved,
    CaseStatus,
    CheckinOutcome,
    CheckinResult,
    NewProgram,
    OutboxMessage,
    Program,
    ProgramCounts,
    ProgramMode,
    RegisterOutcome,
    RegisterResult,
    Registration,
    RegistrationDraft,
    RegStatus,
    SupportCase,
    fold_text,
)
from storage.postgres.store import PostgresFeature, affected, delete_in_batches, now_utc
from storage.sqlite.care import _ticket_params, new_ticket_code

if TYPE_CHECKING:
    import asyncpg


def _benefit(r: asyncpg.Record) -> Benefit:
    return Benefit(
        key=r["key"],
        title=r["title"],
        partner=r["partner"],
        category=BenefitCategory(r["category"]),
        provinces=tuple(r["provinces"]),
        gives=r["gives"],
        how_to_claim=r["how_to_claim"],
        valid_from=r["valid_from"],
        valid_until=r["valid_until"],
        link=r["link"],
        members_only=r["members_only"],
    )


def _program(r: asyncpg.Record) -> Program:
    return Program(
        id=r["id"],
        title=r["title"],
        province_id=r["province_id"],
        places=r["places"],
        opens_at=r["opens_at"],
        closes_at=r["closes_at"],
        mode=ProgramMode(r["mode"]),
        max_per_person=r["max_per_person"],
        event_at=r["event_at"],
        place=r["place"],
        questions=tuple(r["questions"]),
        closed=r["closed"],
        created_at=r["created_at"],
        remind_at=r["remind_at"],
        reminded_at=r["reminded_at"],
        questions_en=tuple(r["questions_en"]),
    )


def _registration(r: asyncpg.Record) -> Registration:
    return Registration(
        id=r["id"],
        program_id=r["program_id"],
        user_id=r["user_id"],
        phone_e164=r["phone_e164"],
        full_name=r["full_name"],
        seats=r["seats"],
        answers=tuple(r["answers"]),
        status=RegStatus(r["status"]),
        code=r["code"],
        reason=r["reason"],
        created_at=r["created_at"],
        decided_at=r["decided_at"],
        checked_in_at=r["checked_in_at"],
    )


def _case(r: asyncpg.Record) -> SupportCase:
    return SupportCase(
        id=r["id"],
        user_id=r["user_id"],
        category=CaseCategory(r["category"]),
        description=r["description"],
        phone_e164=r["phone_e164"],
        province_id=r["province_id"],
        status=CaseStatus(r["status"]),
        consent_version=r["consent_version"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def _message(r: asyncpg.Record) -> OutboxMessage:
    return OutboxMessage(r["id"], r["user_id"], r["kind"], r["params"], r["attempts"])


class PostgresCareMixin(PostgresFeature):
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py)."""

    if TYPE_CHECKING:
        # PostgresBroadcastMixin's: a reminder broadcast is created inside a care transaction.
        async def create_broadcast(self, new: NewBroadcast) -> Broadcast: ...

    # -- benefits ------------------------------------------------------------
    async def upsert_benefits(self, benefits: Collection[Benefit]) -> tuple[int, int]:
        created = updated = 0
        now = now_utc()
        async with self.transaction() as conn:
            for b in benefits:
                # xmax is 0 only on a row version this statement inserted: created vs updated
                # in the same statement, no read-then-write race with a second importer.
                inserted = await conn.fetchval(
                    "INSERT INTO care_benefits (key, title, partner, category, provinces, gives, how_to_claim,"
                    " valid_from, valid_until, link, members_only, search, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                    " ON CONFLICT (key) DO UPDATE SET title = excluded.title, partner = excluded.partner,"
                    "  category = excluded.category, provinces = excluded.provinces, gives = excluded.gives,"
                    "  how_to_claim = excluded.how_to_claim, valid_from = excluded.valid_from,"
                    "  valid_until = excluded.valid_until, link = excluded.link,"
                    "  members_only = excluded.members_only, search = excluded.search,"
                    "  updated_at = excluded.updated_at"
                    " RETURNING (xmax = 0)",
                    b.key,
                    b.title,
                    b.partner,
                    b.category.value,
                    list(b.provinces),
                    b.gives,
                    b.how_to_claim,
                    b.valid_from,
                    b.valid_until,
                    b.link,
                    bool(b.members_only),
                    fold_text(f"{b.title} {b.partner}"),
                    now,
                )
                if inserted:
                    created += 1
                else:
                    updated += 1
        return created, updated

    async def list_benefits(self) -> list[Benefit]:
        # Code-point order as on SQLite, whatever collation the database was created with.
        rows = await self.db.fetch(
            'SELECT * FROM care_benefits ORDER BY category COLLATE "C", title COLLATE "C", key COLLATE "C"'
        )
        return [_benefit(r) for r in rows]

    async def care_province(self, user_id: int) -> str | None:
        value = await self.db.fetchval("SELECT province_id FROM care_prefs WHERE user_id = $1", user_id)
        return str(value) if value is not None else None

    async def set_care_province(self, user_id: int, province_id: str) -> None:
        await self.db.execute(
            "INSERT INTO care_prefs (user_id, province_id) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET province_id = excluded.province_id",
            user_id,
            province_id,
        )

    # -- programs ------------------------------------------------------------
    async def create_program(self, program: NewProgram) -> int:
        p = program
        program_id = await self.db.fetchval(
            "INSERT INTO care_programs (title, province_id, places, opens_at, closes_at, mode, max_per_person,"
            " event_at, place, questions, created_by, created_at, remind_at, questions_en)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            p.title,
            p.province_id,
            p.places,
            p.opens_at,
            p.closes_at,
            p.mode.value,
            p.max_per_person,
            p.event_at,
            p.place,
            list(p.questions),
            p.created_by,
            now_utc(),
            p.remind_at,
            list(p.questions_en),
        )
        return int(program_id)

    async def get_program(self, program_id: int) -> Program | None:
        row = await self.db.fetchrow("SELECT * FROM care_programs WHERE id = $1", program_id)
        return _program(row) if row else None

    async def list_programs(self, *, provinces: Collection[str] | None = None) -> list[Program]:
        if provinces is None:
            rows = await self.db.fetch("SELECT * FROM care_programs ORDER BY id DESC")
        else:
            rows = await self.db.fetch(
                "SELECT * FROM care_programs WHERE province_id = ANY($1::text[]) ORDER BY id DESC", sorted(provinces)
            )
        return [_program(r) for r in rows]

    async def close_program(self, program_id: int) -> bool:
        status = await self.db.execute(
            "UPDATE care_programs SET closed = TRUE WHERE id = $1 AND NOT closed", program_id
        )
        return affected(status) == 1

    async def program_counts(self, program_id: int) -> ProgramCounts:
        rows = await self.db.fetch(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(seats), 0) AS seats,"
            " COUNT(*) FILTER (WHERE checked_in_at IS NOT NULL) AS checked FROM care_registrations"
            " WHERE program_id = $1 GROUP BY status",
            program_id,
        )
        by = {r["status"]: r for r in rows}
        conf = by.get("confirmed")
        return ProgramCounts(
            confirmed_seats=int(conf["seats"]) if conf else 0,
            confirmed=int(conf["n"]) if conf else 0,
            waitlisted=int(by["waiting"]["n"]) if "waiting" in by else 0,
            pending=int(by["pending"]["n"]) if "pending" in by else 0,
            rejected=int(by["rejected"]["n"]) if "rejected" in by else 0,
            checked_in=int(conf["checked"]) if conf else 0,
        )

    @staticmethod
    async def _lock_program(conn: asyncpg.Connection, program_id: int) -> Program | None:
        """The program, locked until the transaction ends: whoever changes its seats next
        waits here, then reads the seats this transaction committed."""
        row = await conn.fetchrow("SELECT * FROM care_programs WHERE id = $1 FOR UPDATE", program_id)
        return _program(row) if row else None

    @staticmethod
    async def _seats_used(conn: asyncpg.Connection | asyncpg.Pool, program_id: int) -> int:
        used = await conn.fetchval(
            "SELECT COALESCE(SUM(seats), 0) FROM care_registrations WHERE program_id = $1 AND status = 'confirmed'",
            program_id,
        )
        return int(used)

    @staticmethod
    async def _fresh_code(conn: asyncpg.Connection | asyncpg.Pool) -> str:
        while True:
            code = new_ticket_code()
            if await conn.fetchval("SELECT 1 FROM care_registrations WHERE code = $1", code) is None:
                return code

    @staticmethod
    async def _queue(
        conn: asyncpg.Connection | asyncpg.Pool,
        user_id: int,
        kind: str,
        params: dict[str, Any],
        *,
        not_before: datetime | None = None,
    ) -> None:
        now = now_utc()
        await conn.execute(
            "INSERT INTO care_outbox (user_id, kind, params, created_at, not_before) VALUES ($1, $2, $3, $4, $5)",
            user_id,
            kind,
            params,
            now,
            not_before or now,
        )

    async def _promote(self, conn: asyncpg.Connection, program: Program, now: datetime) -> list[Registration]:
        """Confirm, in arrival order, every waiting registration that fits the free seats.
        The caller holds the program's lock."""
        free = program.places - await self._seats_used(conn, program.id)
        promoted: list[Registration] = []
        if free <= 0 or (program.event_at or program.closes_at) <= now:
            return promoted  # nothing free, or the program is over: nobody to promote into it
        rows = await conn.fetch(
            "SELECT * FROM care_registrations WHERE program_id = $1 AND status = 'waiting' ORDER BY id", program.id
        )
        for r in rows:
            if r["seats"] > free:
                continue
            code = await self._fresh_code(conn)
            row = await conn.fetchrow(
                "UPDATE care_registrations SET status = 'confirmed', code = $1, decided_at = $2 WHERE id = $3"
                " RETURNING *",
                code,
                now,
                r["id"],
            )
            free -= r["seats"]
            reg = _registration(row)
            promoted.append(reg)
            await self._queue(conn, reg.user_id, "promoted", _ticket_params(program, reg))
            if free <= 0:
                break
        return promoted

    @staticmethod
    async def _reg(conn: asyncpg.Connection | asyncpg.Pool, registration_id: int) -> Registration | None:
        row = await conn.fetchrow("SELECT * FROM care_registrations WHERE id = $1", registration_id)
        return _registration(row) if row else None

    @staticmethod
    async def _position(conn: asyncpg.Connection | asyncpg.Pool, reg: Registration) -> int | None:
        if reg.status is not RegStatus.WAITING:
            return None
        n = await conn.fetchval(
            "SELECT COUNT(*) FROM care_registrations WHERE program_id = $1 AND status = 'waiting' AND id <= $2",
            reg.program_id,
            reg.id,
        )
        return int(n)

    @staticmethod
    async def _consume(conn: asyncpg.Connection, claim: tuple[int, str, str] | None) -> bool:
        if claim is None:
            return True
        user_id, flow, form_id = claim
        status = await conn.execute(
            "DELETE FROM conversation_state WHERE user_id = $1 AND flow = $2 AND data->>'fid' = $3",
            user_id,
            flow,
            form_id,
        )
        return affected(status) == 1

    async def register(
        self, draft: RegistrationDraft, *, now: datetime | None = None, claim: tuple[int, str, str] | None = None
    ) -> RegisterResult | None:
        now = now or now_utc()
        async with self.transaction() as conn:
            if not await self._consume(conn, claim):
                return None
            program = await self._lock_program(conn, draft.program_id)
            if program is None:
                return RegisterResult(RegisterOutcome.NO_PROGRAM)
            # This account's own registration of this number only: another account's is
            # never looked at (refusing it told whoever typed a number that it registered).
            existing = await conn.fetchrow(
                "SELECT * FROM care_registrations WHERE program_id = $1 AND user_id = $2 AND phone_e164 = $3",
                program.id,
                draft.user_id,
                draft.phone_e164,
            )
            if existing is not None:
                earlier = _registration(existing)
                return RegisterResult(RegisterOutcome.EXISTING, earlier, await self._position(conn, earlier))
            if program.closed or now >= program.closes_at:
                return RegisterResult(RegisterOutcome.ENDED)
            if now < program.opens_at:
                return RegisterResult(RegisterOutcome.NOT_OPEN)
            if not 1 <= draft.seats <= program.max_per_person:
                return RegisterResult(RegisterOutcome.TOO_MANY_SEATS)
            # Per account too, across phones; the program row lock makes it atomic.
            held = await conn.fetchval(
                "SELECT COALESCE(SUM(seats), 0) FROM care_registrations"
                " WHERE program_id = $1 AND user_id = $2 AND status != 'rejected'",
                program.id,
                draft.user_id,
            )
            if int(held) + draft.seats > program.max_per_person:
                return RegisterResult(RegisterOutcome.ACCOUNT_LIMIT)
            code: str | None = None
            if program.mode is ProgramMode.REVIEW:
                status = RegStatus.PENDING
            elif await self._seats_used(conn, program.id) + draft.seats <= program.places:
                status, code = RegStatus.CONFIRMED, await self._fresh_code(conn)
            else:
                status = RegStatus.WAITING
            row = await conn.fetchrow(
                "INSERT INTO care_registrations (program_id, user_id, phone_e164, full_name, seats, answers, status,"
                " code, created_at, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
                program.id,
                draft.user_id,
                draft.phone_e164,
                draft.full_name,
                draft.seats,
                list(draft.answers),
                status.value,
                code,
                now,
                now if code else None,
            )
            reg = _registration(row)
            outcome = {
                RegStatus.CONFIRMED: RegisterOutcome.CONFIRMED,
                RegStatus.WAITING: RegisterOutcome.WAITING,
                RegStatus.PENDING: RegisterOutcome.PENDING,
            }[status]
            return RegisterResult(outcome, reg, await self._position(conn, reg))

    async def registration_by_code(self, code: str) -> Registration | None:
        row = await self.db.fetchrow("SELECT * FROM care_registrations WHERE code = $1", code.strip().upper())
        return _registration(row) if row else None

    async def get_registration(self, registration_id: int) -> Registration | None:
        return await self._reg(self.db, registration_id)

    async def registrations_of_user(self, user_id: int) -> list[Registration]:
        rows = await self.db.fetch("SELECT * FROM care_registrations WHERE user_id = $1 ORDER BY id DESC", user_id)
        return [_registration(r) for r in rows]

    async def registrations(
        self, program_id: int, *, status: RegStatus | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[Registration]:
        rows = await self.db.fetch(
            "SELECT * FROM care_registrations WHERE program_id = $1 AND id > $2"
            " AND ($3::text IS NULL OR status = $3) ORDER BY id LIMIT $4",
            program_id,
            after_id,
            status.value if status is not None else None,
            limit,
        )
        return [_registration(r) for r in rows]

    async def same_phone(self, program_id: int, registration_ids: Collection[int]) -> dict[int, tuple[int, ...]]:
        rows = await self.db.fetch(
            "SELECT a.id, b.id AS other FROM care_registrations a JOIN care_registrations b"
            " ON b.program_id = a.program_id AND b.phone_e164 = a.phone_e164 AND b.id != a.id"
            " WHERE a.program_id = $1 AND a.id = ANY($2::bigint[]) ORDER BY a.id, b.id",
            program_id,
            sorted(set(registration_ids)),
        )
        found: dict[int, list[int]] = {}
        for r in rows:
            found.setdefault(int(r["id"]), []).append(int(r["other"]))
        return {reg_id: tuple(others) for reg_id, others in found.items()}

    async def waiting_position(self, registration_id: int) -> int | None:
        reg = await self._reg(self.db, registration_id)
        return await self._position(self.db, reg) if reg else None

    async def cancel_registration(self, registration_id: int, *, user_id: int | None) -> list[Registration] | None:
        now = now_utc()
        async with self.transaction() as conn:
            found = await self._reg(conn, registration_id)
            if found is None or (user_id is not None and found.user_id != user_id):
                return None
            program = await self._lock_program(conn, found.program_id)
            # Deleted after the lock, and its status read from the delete itself: it may
            # have been promoted (or cancelled by another process) while we waited.
            row = await conn.fetchrow("DELETE FROM care_registrations WHERE id = $1 RETURNING *", registration_id)
            if row is None:
                return None
            reg = _registration(row)
            if program is None or reg.status is not RegStatus.CONFIRMED:
                return []
            return await self._promote(conn, program, now)

    async def decide_registration(
        self, registration_id: int, *, approve: bool, reason: str | None
    ) -> Registration | None:
        now = now_utc()
        async with self.transaction() as conn:
            found = await self._reg(conn, registration_id)
            if found is None or found.status is not RegStatus.PENDING:
                return None
            program = await self._lock_program(conn, found.program_id)
            assert program is not None  # deleting a program deletes its registrations (ON DELETE CASCADE)
            # Read again under the lock: a second organizer may have decided it meanwhile.
            reg = await self._reg(conn, registration_id)
            if reg is None or reg.status is not RegStatus.PENDING:
                return None
            if not approve:
                await conn.execute(
                    "UPDATE care_registrations SET status = 'rejected', reason = $1, decided_at = $2 WHERE id = $3",
                    reason,
                    now,
                    reg.id,
                )
                await self._queue(conn, reg.user_id, "rejected", {"program": program.title, "reason": reason or ""})
            elif await self._seats_used(conn, program.id) + reg.seats <= program.places:
                code = await self._fresh_code(conn)
                row = await conn.fetchrow(
                    "UPDATE care_registrations SET status = 'confirmed', code = $1, decided_at = $2 WHERE id = $3"
                    " RETURNING *",
                    code,
                    now,
                    reg.id,
                )
                await self._queue(conn, reg.user_id, "approved", _ticket_params(program, _registration(row)))
            else:
                row = await conn.fetchrow(
                    "UPDATE care_registrations SET status = 'waiting', decided_at = $1 WHERE id = $2 RETURNING *",
                    now,
                    reg.id,
                )
                await self._queue(
                    conn,
                    reg.user_id,
                    "approved_waiting",
                    {"program": program.title, "position": await self._position(conn, _registration(row))},
                )
            return await self._reg(conn, reg.id)

    async def checkin(self, program_id: int, code: str, *, now: datetime | None = None) -> CheckinResult:
        now = now or now_utc()
        code = code.strip().upper()
        async with self.transaction() as conn:
            # One statement checks in and tells whether it was the first time: two stations
            # scanning the same ticket at once get OK once and ALREADY once.
            row = await conn.fetchrow(
                "UPDATE care_registrations SET checked_in_at = $3"
                " WHERE program_id = $1 AND code = $2 AND status = 'confirmed' AND checked_in_at IS NULL"
                " RETURNING *",
                program_id,
                code,
                now,
            )
            if row is not None:
                return CheckinResult(CheckinOutcome.OK, _registration(row))
            row = await conn.fetchrow(
                "SELECT * FROM care_registrations WHERE program_id = $1 AND code = $2 AND status = 'confirmed'",
                program_id,
                code,
            )
            if row is None:
                return CheckinResult(CheckinOutcome.UNKNOWN)
            return CheckinResult(CheckinOutcome.ALREADY, _registration(row))

    async def undo_checkin(self, program_id: int, code: str) -> Registration | None:
        row = await self.db.fetchrow(
            "UPDATE care_registrations SET checked_in_at = NULL"
            " WHERE program_id = $1 AND code = $2 AND status = 'confirmed' AND checked_in_at IS NOT NULL"
            " RETURNING *",
            program_id,
            code.strip().upper(),
        )
        return _registration(row) if row else None

    async def start_due_reminders(self, *, now: datetime, compose: Callable[[Program], NewBroadcast]) -> list[int]:
        started: list[int] = []
        async with self.transaction() as conn:
            # FOR UPDATE re-checks `reminded_at IS NULL` after waiting for another process
            # that is starting the same reminders: it then skips them, so exactly once.
            rows = await conn.fetch(
                "SELECT * FROM care_programs"
                " WHERE remind_at IS NOT NULL AND remind_at <= $1 AND reminded_at IS NULL ORDER BY id FOR UPDATE",
                now,
            )
            for row in rows:
                program = _program(row)
                await conn.execute("UPDATE care_programs SET reminded_at = $1 WHERE id = $2", now, program.id)
                if program.event_at is None or program.event_at <= now:
                    continue  # the bot was down past the event: a reminder now would be wrong
                # Joins this transaction: the broadcast exists if and only if the mark does.
                started.append((await self.create_broadcast(compose(program))).id)
        return started

    # -- support cases -------------------------------------------------------------
    async def create_case(
        self,
        *,
        user_id: int,
        category: CaseCategory,
        description: str,
        phone_e164: str,
        province_id: str,
        consent_version: str,
        claim: tuple[int, str, str] | None = None,
    ) -> int | None:
        now = now_utc()
        async with self.transaction() as conn:
            if not await self._consume(conn, claim):
                return None
            case_id = await conn.fetchval(
                "INSERT INTO care_cases (user_id, category, description, phone_e164, province_id, status,"
                " consent_version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'received', $6, $7, $7)"
                " RETURNING id",
                user_id,
                category.value,
                description,
                phone_e164,
                province_id,
                consent_version,
                now,
            )
            await conn.execute(
                "INSERT INTO care_case_events (case_id, author_id, at, status) VALUES ($1, $2, $3, 'received')",
                case_id,
                user_id,
                now,
            )
            return int(case_id)

    async def get_case(self, case_id: int) -> SupportCase | None:
        row = await self.db.fetchrow("SELECT * FROM care_cases WHERE id = $1", case_id)
        return _case(row) if row else None

    async def list_cases(
        self,
        *,
        provinces: Collection[str] | None,
        status: CaseStatus | None = None,
        before_id: int | None = None,
        limit: int = 10,
    ) -> list[SupportCase]:
        rows = await self.db.fetch(
            "SELECT * FROM care_cases WHERE ($1::text[] IS NULL OR province_id = ANY($1::text[]))"
            " AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3)"
            " ORDER BY id DESC LIMIT $4",
            sorted(provinces) if provinces is not None else None,
            status.value if status is not None else None,
            before_id,
            limit,
        )
        return [_case(r) for r in rows]

    async def cases_of_user(self, user_id: int) -> list[SupportCase]:
        rows = await self.db.fetch("SELECT * FROM care_cases WHERE user_id = $1 ORDER BY id DESC", user_id)
        return [_case(r) for r in rows]

    async def set_case_status(
        self,
        case_id: int,
        status: CaseStatus,
        *,
        expected: CaseStatus,
        note: str | None,
        author_id: int | None,
        changes: int | None = None,
    ) -> SupportCase | CaseMoved | None:
        now = now_utc()
        async with self.transaction() as conn:
            # Only from the status the officer saw. The UPDATE locks the case, and one
            # waiting for another's change sees its new status: of two officers moving the
            # case from one status, the second changes nothing and queues no notice.
            row = await conn.fetchrow(
                "UPDATE care_cases SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4 AND ($5::int IS NULL"
                " OR (SELECT COUNT(*) FROM care_case_events e WHERE e.case_id = care_cases.id) = $5) RETURNING *",
                status.value,
                now,
                case_id,
                expected.value,
                changes,
            )
            if row is None:
                current = await conn.fetchrow("SELECT * FROM care_cases WHERE id = $1", case_id)
                return CaseMoved(_case(current)) if current is not None else None
            await conn.execute(
                "INSERT INTO care_case_events (case_id, author_id, at, status, note) VALUES ($1, $2, $3, $4, $5)",
                case_id,
                author_id,
                now,
                status.value,
                note,
            )
            params: dict[str, Any] = {"case": case_id, "status": status.value}
            if status is CaseStatus.DECLINED:
                params["reason"] = note or ""  # a refusal is always explained to the worker
            elif status is CaseStatus.RECEIVED and note:
                # Back to received is a reopening (a case starts received without a change):
                # the worker, told of the refusal or the closing, is told why it is reopened.
                params["reason"] = note
                params["reopened"] = True
            await self._queue(conn, row["user_id"], "case_status", params)
            return _case(row)

    async def case_events(self, case_id: int) -> list[CaseEvent]:
        rows = await self.db.fetch("SELECT * FROM care_case_events WHERE case_id = $1 ORDER BY id", case_id)
        return [
            CaseEvent(r["id"], r["case_id"], r["author_id"], r["at"], CaseStatus(r["status"]), r["note"]) for r in rows
        ]

    # -- outbox --------------------------------------------------------------------------
    async def claim_outbox(
        self, *, now: datetime, lease_seconds: float = 600, limit: int = 50, kinds: Collection[str] | None = None
    ) -> list[OutboxMessage]:
        rows = await self.db.fetch(
            "WITH due AS ("
            " SELECT id FROM care_outbox WHERE sent_at IS NULL AND not_before <= $2"
            " AND (claimed_until IS NULL OR claimed_until < $2)"
            " AND ($3::text[] IS NULL OR kind = ANY($3::text[]))"
            " ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)"
            " UPDATE care_outbox o SET claimed_until = $1, attempts = o.attempts + 1 FROM due WHERE o.id = due.id"
            " RETURNING o.id, o.user_id, o.kind, o.params, o.attempts",
            now + timedelta(seconds=lease_seconds),
            now,
            sorted(kinds) if kinds is not None else None,
            limit,
        )
        return sorted((_message(r) for r in rows), key=lambda m: m.id)

    async def mark_outbox_sent(
        self, message_id: int, *, ok: bool, now: datetime, retry_at: datetime | None = None
    ) -> None:
        if ok:
            await self.db.execute(
                "UPDATE care_outbox SET sent_at = $1, claimed_until = NULL WHERE id = $2", now, message_id
            )
        else:
            await self.db.execute(
                "UPDATE care_outbox SET claimed_until = NULL, not_before = $1 WHERE id = $2",
                retry_at or now,
                message_id,
            )

    async def pending_outbox(self, user_id: int | None = None) -> list[OutboxMessage]:
        rows = await self.db.fetch(
            "SELECT * FROM care_outbox WHERE sent_at IS NULL AND ($1::bigint IS NULL OR user_id = $1) ORDER BY id",
            user_id,
        )
        return [_message(r) for r in rows]

    # -- erasure and retention -------------------------------------------------------------
    async def forget_care(self, user_id: int) -> int:
        now = now_utc()
        async with self.transaction() as conn:
            # Lock every program the user holds a place in before touching registrations
            # (the same order as register/cancel), in id order so two erasures never deadlock.
            locked = await conn.fetch(
                "SELECT * FROM care_programs WHERE id IN"
                " (SELECT program_id FROM care_registrations WHERE user_id = $1) ORDER BY id FOR UPDATE",
                user_id,
            )
            programs = {r["id"]: _program(r) for r in locked}
            rows = await conn.fetch(
                "DELETE FROM care_registrations WHERE user_id = $1 RETURNING program_id, status", user_id
            )
            await conn.execute("DELETE FROM care_outbox WHERE user_id = $1", user_id)
            for pid in sorted({r["program_id"] for r in rows if r["status"] == "confirmed"}):
                program = programs.get(pid)
                if program is not None:
                    await self._promote(conn, program, now)
            return len(rows)

    async def purge_care(
        self, *, programs_before: datetime, cases_before: datetime, outbox_before: datetime
    ) -> dict[str, int]:
        # Each kind in bounded batches over its index (migration 0011); the three kinds are
        # independent, so no transaction needs to span them.
        return {
            "registrations": await delete_in_batches(
                self.db,
                "care_registrations",
                "id",
                "program_id IN (SELECT id FROM care_programs WHERE COALESCE(event_at, closes_at) < $1)",
                programs_before,
            ),
            "cases": await delete_in_batches(self.db, "care_cases", "id", "updated_at < $1", cases_before),
            "outbox": await delete_in_batches(self.db, "care_outbox", "id", "created_at < $1", outbox_before),
        }
