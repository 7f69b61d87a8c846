"""SQLite implementation of `storage.care.CareStore` (a mixin of SQLiteStore).

Seats are only ever allocated inside `self.transaction()`, which starts with
`BEGIN IMMEDIATE`: the write lock is taken before the seats in use are read, so a
second process (the CLI, another bot instance) waits instead of reading the same count.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime
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
from storage.sqlite.purge import delete_in_batches

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    import aiosqlite

    from storage.sqlite.store import GuardedConnection

# Ticket codes are read aloud and typed at a station: no 0/O, no 1/I.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 7


def new_ticket_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _dt_or_none(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _now() -> datetime:
    return datetime.now(UTC)


def _benefit(r: aiosqlite.Row) -> Benefit:
    return Benefit(
        key=r["key"],
        title=r["title"],
        partner=r["partner"],
        category=BenefitCategory(r["category"]),
        provinces=tuple(json.loads(r["provinces"])),
        gives=r["gives"],
        how_to_claim=r["how_to_claim"],
        valid_from=date.fromisoformat(r["valid_from"]) if r["valid_from"] else None,
        valid_until=date.fromisoformat(r["valid_until"]) if r["valid_until"] else None,
        link=r["link"],
        members_only=bool(r["members_only"]),
    )


def _program(r: aiosqlite.Row) -> Program:
    return Program(
        id=r["id"],
        title=r["title"],
        province_id=r["province_id"],
        places=r["places"],
        opens_at=_dt(r["opens_at"]),
        closes_at=_dt(r["closes_at"]),
        mode=ProgramMode(r["mode"]),
        max_per_person=r["max_per_person"],
        event_at=_dt_or_none(r["event_at"]),
        place=r["place"],
        questions=tuple(json.loads(r["questions"])),
        closed=bool(r["closed"]),
        created_at=_dt(r["created_at"]),
        remind_at=_dt_or_none(r["remind_at"]),
        reminded_at=_dt_or_none(r["reminded_at"]),
        questions_en=tuple(json.loads(r["questions_en"])),
    )


def _registration(r: aiosqlite.Row) -> Registration:
    return Registration(
        id=r["id"],
        program_id=r["program_id"],
        user_id=r["user_id"],
        phone_e164=r["phone_e164"],
        full_name=r["full_name"],
        seats=r["seats"],
        answers=tuple(json.loads(r["answers"])),
        status=RegStatus(r["status"]),
        code=r["code"],
        reason=r["reason"],
        created_at=_dt(r["created_at"]),
        decided_at=_dt_or_none(r["decided_at"]),
        checked_in_at=_dt_or_none(r["checked_in_at"]),
    )


def _case(r: aiosqlite.Row) -> SupportCase:
    return SupportCase(
        id=r["id"],
        user_id=r["user_id"],
        category=CaseCategory(r["category"]),
        description=r["description"],
        phone_e164=r["phone_e164"],
        province_id=r["province_id"],
        status=CaseStatus(r["status"]),
        consent_version=r["consent_version"],
        created_at=_dt(r["created_at"]),
        updated_at=_dt(r["updated_at"]),
    )


# Registration ids per same_phone query, well under SQLite's bound on parameters.
SAME_PHONE_BATCH = 500


def _in(column: str, values: Collection[str]) -> tuple[str, list[str]]:
    values = sorted(values)
    if not values:
        return "0", []
    return f"{column} IN ({', '.join('?' * len(values))})", values


class SQLiteCareMixin:
    if TYPE_CHECKING:

        @property
        def db(self) -> GuardedConnection: ...

        def transaction(self) -> AbstractAsyncContextManager[GuardedConnection]: ...

        # SQLiteBroadcastMixin's: a reminder broadcast is created inside a care transaction.
        async def create_broadcast(self, new: NewBroadcast) -> Broadcast: ...

    # -- benefits ------------------------------------------------------------
    async def upsert_benefits(self, benefits: Collection[Benefit]) -> tuple[int, int]:
        created = updated = 0
        now = _ts(_now())
        async with self.transaction() as db:
            for b in benefits:
                row = await (await db.execute("SELECT 1 FROM care_benefits WHERE key = ?", (b.key,))).fetchone()
                await db.execute(
                    "INSERT INTO care_benefits (key, title, partner, category, provinces, gives, how_to_claim,"
                    " valid_from, valid_until, link, members_only, search, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET title = excluded.title, partner = excluded.partner,"
                    "  category = excluded.category, provinces = excluded.provinces, gives = excluded.gives,"
                    "  how_to_claim = excluded.how_to_claim, valid_from = excluded.valid_from,"
                    "  valid_until = excluded.valid_until, link = excluded.link,"
                    "  members_only = excluded.members_only, search = excluded.search,"
                    "  updated_at = excluded.updated_at",
                    (
                        b.key,
                        b.title,
                        b.partner,
                        b.category.value,
                        json.dumps(list(b.provinces)),
                        b.gives,
                        b.how_to_claim,
                        b.valid_from.isoformat() if b.valid_from else None,
                        b.valid_until.isoformat() if b.valid_until else None,
                        b.link,
                        int(b.members_only),
                        fold_text(f"{b.title} {b.partner}"),
                        now,
                    ),
                )
                if row is None:
                    created += 1
                else:
                    updated += 1
        return created, updated

    async def list_benefits(self) -> list[Benefit]:
        rows = await self.db.execute_fetchall("SELECT * FROM care_benefits ORDER BY category, title, key")
        return [_benefit(r) for r in rows]

    async def care_province(self, user_id: int) -> str | None:
        rows = await self.db.execute_fetchall("SELECT province_id FROM care_prefs WHERE user_id = ?", (user_id,))
        return str(rows[0][0]) if rows else None

    async def set_care_province(self, user_id: int, province_id: str) -> None:
        await self.db.execute(
            "INSERT INTO care_prefs (user_id, province_id) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET province_id = excluded.province_id",
            (user_id, province_id),
        )

    # -- programs ------------------------------------------------------------
    async def create_program(self, program: NewProgram) -> int:
        p = program
        async with self.db.execute(
            "INSERT INTO care_programs (title, province_id, places, opens_at, closes_at, mode, max_per_person,"
            " event_at, place, questions, created_by, created_at, remind_at, questions_en)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                p.title,
                p.province_id,
                p.places,
                _ts(p.opens_at),
                _ts(p.closes_at),
                p.mode.value,
                p.max_per_person,
                _ts(p.event_at) if p.event_at else None,
                p.place,
                json.dumps(list(p.questions), ensure_ascii=False),
                p.created_by,
                _ts(_now()),
                _ts(p.remind_at) if p.remind_at else None,
                json.dumps(list(p.questions_en), ensure_ascii=False),
            ),
        ) as cur:
            assert cur.lastrowid is not None
            return int(cur.lastrowid)

    async def get_program(self, program_id: int) -> Program | None:
        rows = await self.db.execute_fetchall("SELECT * FROM care_programs WHERE id = ?", (program_id,))
        return _program(rows[0]) if rows else None

    async def list_programs(self, *, provinces: Collection[str] | None = None) -> list[Program]:
        if provinces is None:
            rows = await self.db.execute_fetchall("SELECT * FROM care_programs ORDER BY id DESC")
        else:
            where, params = _in("province_id", provinces)
            rows = await self.db.execute_fetchall(f"SELECT * FROM care_programs WHERE {where} ORDER BY id DESC", params)
        return [_program(r) for r in rows]

    async def close_program(self, program_id: int) -> bool:
        async with self.db.execute(
            "UPDATE care_programs SET closed = 1 WHERE id = ? AND closed = 0", (program_id,)
        ) as cur:
            return cur.rowcount == 1

    async def program_counts(self, program_id: int) -> ProgramCounts:
        rows = await self.db.execute_fetchall(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(seats), 0) AS seats,"
            " SUM(checked_in_at IS NOT NULL) AS checked FROM care_registrations"
            " WHERE program_id = ? GROUP BY status",
            (program_id,),
        )
        by = {r["status"]: r for r in rows}
        conf = by.get("confirmed")
        return ProgramCounts(
            confirmed_seats=int(conf["seats"]) if conf else 0,
            confirmed=int(conf["n"]) if conf else 0,
            waitlisted=int(by["waiting"]["n"]) if "waiting" in by else 0,
            pending=int(by["pending"]["n"]) if "pending" in by else 0,
            rejected=int(by["rejected"]["n"]) if "rejected" in by else 0,
            checked_in=int(conf["checked"] or 0) if conf else 0,
        )

    @staticmethod
    async def _seats_used(db: GuardedConnection, program_id: int) -> int:
        row = await (
            await db.execute(
                "SELECT COALESCE(SUM(seats), 0) FROM care_registrations WHERE program_id = ? AND status = 'confirmed'",
                (program_id,),
            )
        ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    async def _seats_of_account(db: GuardedConnection, program_id: int, user_id: int) -> int:
        """Seats an account holds or asks for in a program, across phones: the limit per
        person was per phone only, and one account held 2 of 3 places with two numbers."""
        row = await (
            await db.execute(
                "SELECT COALESCE(SUM(seats), 0) FROM care_registrations"
                " WHERE program_id = ? AND user_id = ? AND status != 'rejected'",
                (program_id, user_id),
            )
        ).fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    async def _fresh_code(db: GuardedConnection) -> str:
        while True:
            code = new_ticket_code()
            taken = await (await db.execute("SELECT 1 FROM care_registrations WHERE code = ?", (code,))).fetchone()
            if taken is None:
                return code

    @staticmethod
    async def _queue(
        db: GuardedConnection, user_id: int, kind: str, params: dict[str, Any], *, not_before: datetime | None = None
    ) -> None:
        now = _now()
        await db.execute(
            "INSERT INTO care_outbox (user_id, kind, params, created_at, not_before) VALUES (?, ?, ?, ?, ?)",
            (user_id, kind, json.dumps(params, ensure_ascii=False), _ts(now), _ts(not_before or now)),
        )

    async def _promote(self, db: GuardedConnection, program: Program, now: datetime) -> list[Registration]:
        """Confirm, in arrival order, every waiting registration that fits the free seats."""
        free = program.places - await self._seats_used(db, program.id)
        promoted: list[Registration] = []
        if free <= 0 or (program.event_at or program.closes_at) <= now:
            return promoted  # nothing free, or the program is over: nobody to promote into it
        rows = await (
            await db.execute(
                "SELECT * FROM care_registrations WHERE program_id = ? AND status = 'waiting' ORDER BY id",
                (program.id,),
            )
        ).fetchall()
        for r in rows:
            if r["seats"] > free:
                continue
            code = await self._fresh_code(db)
            await db.execute(
                "UPDATE care_registrations SET status = 'confirmed', code = ?, decided_at = ? WHERE id = ?",
                (code, _ts(now), r["id"]),
            )
            free -= r["seats"]
            reg = await self._reg(db, r["id"])
            assert reg is not None
            promoted.append(reg)
            await self._queue(db, reg.user_id, "promoted", _ticket_params(program, reg))
            if free <= 0:
                break
        return promoted

    @staticmethod
    async def _reg(db: GuardedConnection, registration_id: int) -> Registration | None:
        row = await (await db.execute("SELECT * FROM care_registrations WHERE id = ?", (registration_id,))).fetchone()
        return _registration(row) if row else None

    @staticmethod
    async def _position(db: GuardedConnection, reg: Registration) -> int | None:
        if reg.status is not RegStatus.WAITING:
            return None
        row = await (
            await db.execute(
                "SELECT COUNT(*) FROM care_registrations WHERE program_id = ? AND status = 'waiting' AND id <= ?",
                (reg.program_id, reg.id),
            )
        ).fetchone()
        return int(row[0]) if row else None

    @staticmethod
    async def _consume(db: GuardedConnection, claim: tuple[int, str, str] | None) -> bool:
        if claim is None:
            return True
        user_id, flow, form_id = claim
        async with db.execute(
            "DELETE FROM conversation_state WHERE user_id = ? AND flow = ? AND json_extract(data, '$.fid') = ?",
            (user_id, flow, form_id),
        ) as cur:
            return cur.rowcount == 1

    async def register(
        self, draft: RegistrationDraft, *, now: datetime | None = None, claim: tuple[int, str, str] | None = None
    ) -> RegisterResult | None:
        now = now or _now()
        async with self.transaction() as db:
            if not await self._consume(db, claim):
                return None
            row = await (await db.execute("SELECT * FROM care_programs WHERE id = ?", (draft.program_id,))).fetchone()
            if row is None:
                return RegisterResult(RegisterOutcome.NO_PROGRAM)
            program = _program(row)
            # This account's own registration of this number only: another account's is
            # never looked at (refusing it told whoever typed a number that it registered).
            existing = await (
                await db.execute(
                    "SELECT * FROM care_registrations WHERE program_id = ? AND user_id = ? AND phone_e164 = ?",
                    (program.id, draft.user_id, draft.phone_e164),
                )
            ).fetchone()
            if existing is not None:
                earlier = _registration(existing)
                return RegisterResult(RegisterOutcome.EXISTING, earlier, await self._position(db, earlier))
            if program.closed or now >= program.closes_at:
                return RegisterResult(RegisterOutcome.ENDED)
            if now < program.opens_at:
                return RegisterResult(RegisterOutcome.NOT_OPEN)
            if not 1 <= draft.seats <= program.max_per_person:
                return RegisterResult(RegisterOutcome.TOO_MANY_SEATS)
            if await self._seats_of_account(db, program.id, draft.user_id) + draft.seats > program.max_per_person:
                return RegisterResult(RegisterOutcome.ACCOUNT_LIMIT)
            code: str | None = None
            if program.mode is ProgramMode.REVIEW:
                status = RegStatus.PENDING
            elif await self._seats_used(db, program.id) + draft.seats <= program.places:
                status, code = RegStatus.CONFIRMED, await self._fresh_code(db)
            else:
                status = RegStatus.WAITING
            async with db.execute(
                "INSERT INTO care_registrations (program_id, user_id, phone_e164, full_name, seats, answers, status,"
                " code, created_at, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    program.id,
                    draft.user_id,
                    draft.phone_e164,
                    draft.full_name,
                    draft.seats,
                    json.dumps(list(draft.answers), ensure_ascii=False),
                    status.value,
                    code,
                    _ts(now),
                    _ts(now) if code else None,
                ),
            ) as cur:
                reg_id = cur.lastrowid
            reg = await self._reg(db, int(reg_id or 0))
            assert reg is not None
            outcome = {
                RegStatus.CONFIRMED: RegisterOutcome.CONFIRMED,
                RegStatus.WAITING: RegisterOutcome.WAITING,
                RegStatus.PENDING: RegisterOutcome.PENDING,
            }[status]
            return RegisterResult(outcome, reg, await self._position(db, reg))

    async def registration_by_code(self, code: str) -> Registration | None:
        rows = await self.db.execute_fetchall(
            "SELECT * FROM care_registrations WHERE code = ?", (code.strip().upper(),)
        )
        return _registration(rows[0]) if rows else None

    async def get_registration(self, registration_id: int) -> Registration | None:
        return await self._reg(self.db, registration_id)

    async def registrations_of_user(self, user_id: int) -> list[Registration]:
        rows = await self.db.execute_fetchall(
            "SELECT * FROM care_registrations WHERE user_id = ? ORDER BY id DESC", (user_id,)
        )
        return [_registration(r) for r in rows]

    async def registrations(
        self, program_id: int, *, status: RegStatus | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[Registration]:
        sql = "SELECT * FROM care_registrations WHERE program_id = ? AND id > ?"
        params: list[Any] = [program_id, after_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status.value)
        rows = await self.db.execute_fetchall(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [_registration(r) for r in rows]

    async def same_phone(self, program_id: int, registration_ids: Collection[int]) -> dict[int, tuple[int, ...]]:
        wanted = sorted(set(registration_ids))
        found: dict[int, list[int]] = {}
        for start in range(0, len(wanted), SAME_PHONE_BATCH):
            batch = wanted[start : start + SAME_PHONE_BATCH]
            rows = await self.db.execute_fetchall(
                "SELECT a.id, b.id AS other FROM care_registrations a JOIN care_registrations b"
                " ON b.program_id = a.program_id AND b.phone_e164 = a.phone_e164 AND b.id != a.id"
                f" WHERE a.program_id = ? AND a.id IN ({', '.join('?' * len(batch))}) ORDER BY a.id, b.id",
                (program_id, *batch),
            )
            for r in rows:
                found.setdefault(int(r["id"]), []).append(int(r["other"]))
        return {reg_id: tuple(others) for reg_id, others in found.items()}

    async def waiting_position(self, registration_id: int) -> int | None:
        reg = await self._reg(self.db, registration_id)
        return await self._position(self.db, reg) if reg else None

    async def cancel_registration(self, registration_id: int, *, user_id: int | None) -> list[Registration] | None:
        now = _now()
        async with self.transaction() as db:
            reg = await self._reg(db, registration_id)
            if reg is None or (user_id is not None and reg.user_id != user_id):
                return None
            await db.execute("DELETE FROM care_registrations WHERE id = ?", (registration_id,))
            row = await (await db.execute("SELECT * FROM care_programs WHERE id = ?", (reg.program_id,))).fetchone()
            if row is None or reg.status is not RegStatus.CONFIRMED:
                return []
            return await self._promote(db, _program(row), now)

    async def decide_registration(
        self, registration_id: int, *, approve: bool, reason: str | None
    ) -> Registration | None:
        now = _now()
        async with self.transaction() as db:
            reg = await self._reg(db, registration_id)
            if reg is None or reg.status is not RegStatus.PENDING:
                return None
            row = await (await db.execute("SELECT * FROM care_programs WHERE id = ?", (reg.program_id,))).fetchone()
            assert row is not None  # deleting a program deletes its registrations (ON DELETE CASCADE)
            program = _program(row)
            if not approve:
                await db.execute(
                    "UPDATE care_registrations SET status = 'rejected', reason = ?, decided_at = ? WHERE id = ?",
                    (reason, _ts(now), reg.id),
                )
                await self._queue(db, reg.user_id, "rejected", {"program": program.title, "reason": reason or ""})
            elif await self._seats_used(db, program.id) + reg.seats <= program.places:
                code = await self._fresh_code(db)
                await db.execute(
                    "UPDATE care_registrations SET status = 'confirmed', code = ?, decided_at = ? WHERE id = ?",
                    (code, _ts(now), reg.id),
                )
                done = await self._reg(db, reg.id)
                assert done is not None
                await self._queue(db, reg.user_id, "approved", _ticket_params(program, done))
            else:
                await db.execute(
                    "UPDATE care_registrations SET status = 'waiting', decided_at = ? WHERE id = ?", (_ts(now), reg.id)
                )
                done = await self._reg(db, reg.id)
                assert done is not None
                await self._queue(
                    db,
                    reg.user_id,
                    "approved_waiting",
                    {"program": program.title, "position": await self._position(db, done)},
                )
            return await self._reg(db, reg.id)

    async def checkin(self, program_id: int, code: str, *, now: datetime | None = None) -> CheckinResult:
        now = now or _now()
        async with self.transaction() as db:
            row = await (
                await db.execute(
                    "SELECT * FROM care_registrations WHERE program_id = ? AND code = ? AND status = 'confirmed'",
                    (program_id, code.strip().upper()),
                )
            ).fetchone()
            if row is None:
                return CheckinResult(CheckinOutcome.UNKNOWN)
            reg = _registration(row)
            if reg.checked_in_at is not None:
                return CheckinResult(CheckinOutcome.ALREADY, reg)
            await db.execute("UPDATE care_registrations SET checked_in_at = ? WHERE id = ?", (_ts(now), reg.id))
            return CheckinResult(CheckinOutcome.OK, await self._reg(db, reg.id))

    async def undo_checkin(self, program_id: int, code: str) -> Registration | None:
        async with self.transaction() as db:
            async with db.execute(
                "UPDATE care_registrations SET checked_in_at = NULL"
                " WHERE program_id = ? AND code = ? AND status = 'confirmed' AND checked_in_at IS NOT NULL",
                (program_id, code.strip().upper()),
            ) as cur:
                if cur.rowcount != 1:
                    return None
            row = await (
                await db.execute(
                    "SELECT * FROM care_registrations WHERE program_id = ? AND code = ?",
                    (program_id, code.strip().upper()),
                )
            ).fetchone()
            return _registration(row) if row else None

    async def start_due_reminders(self, *, now: datetime, compose: Callable[[Program], NewBroadcast]) -> list[int]:
        started: list[int] = []
        async with self.transaction() as db:
            rows = await (
                await db.execute(
                    "SELECT * FROM care_programs"
                    " WHERE remind_at IS NOT NULL AND remind_at <= ? AND reminded_at IS NULL ORDER BY id",
                    (_ts(now),),
                )
            ).fetchall()
            for row in rows:
                program = _program(row)
                await db.execute("UPDATE care_programs SET reminded_at = ? WHERE id = ?", (_ts(now), program.id))
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
        now = _ts(_now())
        async with self.transaction() as db:
            if not await self._consume(db, claim):
                return None
            async with db.execute(
                "INSERT INTO care_cases (user_id, category, description, phone_e164, province_id, status,"
                " consent_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'received', ?, ?, ?)",
                (user_id, category.value, description, phone_e164, province_id, consent_version, now, now),
            ) as cur:
                case_id = int(cur.lastrowid or 0)
            await db.execute(
                "INSERT INTO care_case_events (case_id, author_id, at, status) VALUES (?, ?, ?, ?)",
                (case_id, user_id, now, "received"),
            )
            return case_id

    async def get_case(self, case_id: int) -> SupportCase | None:
        rows = await self.db.execute_fetchall("SELECT * FROM care_cases WHERE id = ?", (case_id,))
        return _case(rows[0]) if rows else None

    async def list_cases(
        self,
        *,
        provinces: Collection[str] | None,
        status: CaseStatus | None = None,
        before_id: int | None = None,
        limit: int = 10,
    ) -> list[SupportCase]:
        clauses: list[str] = ["1"]
        params: list[str | int] = []
        if provinces is not None:
            where, values = _in("province_id", provinces)
            clauses.append(where)
            params += values
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        rows = await self.db.execute_fetchall(
            f"SELECT * FROM care_cases WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_case(r) for r in rows]

    async def cases_of_user(self, user_id: int) -> list[SupportCase]:
        rows = await self.db.execute_fetchall("SELECT * FROM care_cases WHERE user_id = ? ORDER BY id DESC", (user_id,))
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
        now = _ts(_now())
        async with self.transaction() as db:
            # Only from the status the officer saw: the WHERE is the check, in the write.
            cur = await db.execute(
                "UPDATE care_cases SET status = ?, updated_at = ? WHERE id = ? AND status = ? AND (? IS NULL OR "
                "(SELECT COUNT(*) FROM care_case_events e WHERE e.case_id = care_cases.id) = ?)",
                (status.value, now, case_id, expected.value, changes, changes),
            )
            row = await (await db.execute("SELECT * FROM care_cases WHERE id = ?", (case_id,))).fetchone()
            if row is None:
                return None
            if cur.rowcount != 1:
                return CaseMoved(_case(row))  # moved meanwhile: no event, no notice
            await db.execute(
                "INSERT INTO care_case_events (case_id, author_id, at, status, note) VALUES (?, ?, ?, ?, ?)",
                (case_id, author_id, now, status.value, note),
            )
            params: dict[str, Any] = {"case": case_id, "status": status.value}
            if status is CaseStatus.DECLINED:
                params["reason"] = note or ""  # a refusal is always explained to the worker
            elif status is CaseStatus.RECEIVED and note:
                # Back to received is a reopening (a case starts received without a change):
                # the worker, told of the refusal or the closing, is told why it is reopened.
                params["reason"] = note
                params["reopened"] = True
            await self._queue(db, row["user_id"], "case_status", params)
            return _case(row)  # read back after the update, in its transaction

    async def case_events(self, case_id: int) -> list[CaseEvent]:
        rows = await self.db.execute_fetchall(
            "SELECT * FROM care_case_events WHERE case_id = ? ORDER BY id", (case_id,)
        )
        return [
            CaseEvent(
                r["id"],
                r["case_id"],
                r["author_id"],
                _dt(r["at"]),
                CaseStatus(r["status"]),
                r["note"],
            )
            for r in rows
        ]

    # -- outbox --------------------------------------------------------------------------
    async def claim_outbox(
        self, *, now: datetime, lease_seconds: float = 600, limit: int = 50, kinds: Collection[str] | None = None
    ) -> list[OutboxMessage]:
        from datetime import timedelta

        until = _ts(now + timedelta(seconds=lease_seconds))
        kind_sql, kind_params = ("1", []) if kinds is None else _in("kind", kinds)
        async with self.transaction() as db:
            rows = await (
                await db.execute(
                    "UPDATE care_outbox SET claimed_until = ?, attempts = attempts + 1 WHERE id IN ("
                    " SELECT id FROM care_outbox WHERE sent_at IS NULL AND not_before <= ?"
                    f" AND (claimed_until IS NULL OR claimed_until < ?) AND {kind_sql} ORDER BY id LIMIT ?)"
                    " RETURNING id, user_id, kind, params, attempts",
                    (until, _ts(now), _ts(now), *kind_params, limit),
                )
            ).fetchall()
        return sorted(
            (OutboxMessage(r["id"], r["user_id"], r["kind"], json.loads(r["params"]), r["attempts"]) for r in rows),
            key=lambda m: m.id,
        )

    async def mark_outbox_sent(
        self, message_id: int, *, ok: bool, now: datetime, retry_at: datetime | None = None
    ) -> None:
        if ok:
            await self.db.execute(
                "UPDATE care_outbox SET sent_at = ?, claimed_until = NULL WHERE id = ?", (_ts(now), message_id)
            )
        else:
            await self.db.execute(
                "UPDATE care_outbox SET claimed_until = NULL, not_before = ? WHERE id = ?",
                (_ts(retry_at or now), message_id),
            )

    async def pending_outbox(self, user_id: int | None = None) -> list[OutboxMessage]:
        sql = "SELECT * FROM care_outbox WHERE sent_at IS NULL"
        params: tuple[Any, ...] = ()
        if user_id is not None:
            sql += " AND user_id = ?"
            params = (user_id,)
        rows = await self.db.execute_fetchall(sql + " ORDER BY id", params)
        return [OutboxMessage(r["id"], r["user_id"], r["kind"], json.loads(r["params"]), r["attempts"]) for r in rows]

    # -- erasure and retention -------------------------------------------------------------
    async def forget_care(self, user_id: int) -> int:
        now = _now()
        async with self.transaction() as db:
            rows = await (await db.execute("SELECT * FROM care_registrations WHERE user_id = ?", (user_id,))).fetchall()
            await db.execute("DELETE FROM care_registrations WHERE user_id = ?", (user_id,))
            await db.execute("DELETE FROM care_outbox WHERE user_id = ?", (user_id,))
            for pid in sorted({r["program_id"] for r in rows if r["status"] == "confirmed"}):
                row = await (await db.execute("SELECT * FROM care_programs WHERE id = ?", (pid,))).fetchone()
                if row is not None:
                    await self._promote(db, _program(row), now)
            return len(rows)

    async def purge_care(
        self, *, programs_before: datetime, cases_before: datetime, outbox_before: datetime
    ) -> dict[str, int]:
        # Each kind in bounded batches over its index (migration 0015); the three kinds are
        # independent, so no transaction needs to span them.
        counts = {
            "registrations": await delete_in_batches(
                self.db,
                "care_registrations",
                "id",
                "program_id IN (SELECT id FROM care_programs WHERE COALESCE(event_at, closes_at) < ?)",
                (_ts(programs_before),),
            ),
            "cases": await delete_in_batches(self.db, "care_cases", "id", "updated_at < ?", (_ts(cases_before),)),
            "outbox": await delete_in_batches(self.db, "care_outbox", "id", "created_at < ?", (_ts(outbox_before),)),
        }
        if any(counts.values()):
            await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts


def _ticket_params(program: Program, reg: Registration) -> dict[str, Any]:
    return {
        "program": program.title,
        "code": reg.code,
        "seats": reg.seats,
        "place": program.place or "",
        "event_at": _ts(program.event_at) if program.event_at else "",
    }
