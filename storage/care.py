"""Member care: partner benefits, programs with limited places, hardship support cases
and the outbox that carries their news to workers.

No oversell, ever: every change to a program's seats (registering, cancelling,
approving, erasing an account) runs in one write transaction that reads the seats in
use and writes the outcome, so two workers can never both get the last place. On
SQLite that is `BEGIN IMMEDIATE` (the store's `transaction()`); a PostgreSQL backend
locks the program row (`SELECT ... FOR UPDATE`) the same way.
"""

from __future__ import annotations

import abc
import unicodedata
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from storage.broadcasts import NewBroadcast

NATIONWIDE = "*"


def fold_text(text: str) -> str:
    """Lower-case and without diacritics ("Điện máy" -> "dien may"), for searching."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return " ".join("".join(ch for ch in text if not unicodedata.combining(ch)).split())


class BenefitCategory(StrEnum):
    SHOPPING = "shopping"
    HEALTH = "health"
    EDUCATION = "education"
    TRAVEL = "travel"
    FINANCE = "finance"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Benefit:
    key: str
    title: str
    partner: str
    category: BenefitCategory
    provinces: tuple[str, ...]  # ids, or (NATIONWIDE,)
    gives: str
    how_to_claim: str
    valid_from: date | None
    valid_until: date | None
    link: str | None = None
    members_only: bool = False

    def active_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    def covers(self, province_id: str | None) -> bool:
        return NATIONWIDE in self.provinces or (province_id is not None and province_id in self.provinces)


class ProgramMode(StrEnum):
    FIRST_COME = "first-come"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class NewProgram:
    title: str
    province_id: str  # or NATIONWIDE
    places: int
    opens_at: datetime
    closes_at: datetime
    mode: ProgramMode = ProgramMode.FIRST_COME
    max_per_person: int = 1
    event_at: datetime | None = None
    place: str | None = None
    questions: tuple[str, ...] = ()
    remind_at: datetime | None = None
    created_by: int | None = None
    questions_en: tuple[str, ...] = ()  # paired in order with `questions`; empty: Vietnamese only


@dataclass(frozen=True, slots=True)
class Program:
    id: int
    title: str
    province_id: str
    places: int
    opens_at: datetime
    closes_at: datetime
    mode: ProgramMode
    max_per_person: int
    event_at: datetime | None
    place: str | None
    questions: tuple[str, ...]
    closed: bool
    created_at: datetime
    remind_at: datetime | None
    reminded_at: datetime | None
    questions_en: tuple[str, ...] = ()

    def is_open(self, now: datetime) -> bool:
        return not self.closed and self.opens_at <= now < self.closes_at

    def questions_in(self, lang: str) -> tuple[str, ...]:
        """The priority questions in `lang`: English ones when given, else the Vietnamese."""
        if lang == "en" and len(self.questions_en) == len(self.questions):
            return self.questions_en
        return self.questions


@dataclass(frozen=True, slots=True)
class ProgramCounts:
    confirmed_seats: int = 0
    confirmed: int = 0
    waitlisted: int = 0
    pending: int = 0
    rejected: int = 0
    checked_in: int = 0


class RegStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITING = "waiting"
    PENDING = "pending"  # review mode: waiting for an organizer's decision
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Registration:
    id: int
    program_id: int
    user_id: int
    phone_e164: str
    full_name: str
    seats: int
    answers: tuple[str, ...]
    status: RegStatus
    code: str | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None
    checked_in_at: datetime | None


class RegisterOutcome(StrEnum):
    CONFIRMED = "confirmed"
    WAITING = "waiting"
    PENDING = "pending"
    EXISTING = "existing"  # this account registered this phone for the program already
    ACCOUNT_LIMIT = "account_limit"  # the account holds max_per_person seats already, across phones
    NOT_OPEN = "not_open"  # before it opens
    ENDED = "ended"  # after it closes, or closed by an organizer
    TOO_MANY_SEATS = "too_many_seats"
    NO_PROGRAM = "no_program"


@dataclass(frozen=True, slots=True)
class RegisterResult:
    outcome: RegisterOutcome
    registration: Registration | None = None
    position: int | None = None  # place on the waiting list (1 = next)


@dataclass(frozen=True, slots=True)
class RegistrationDraft:
    program_id: int
    user_id: int
    phone_e164: str
    full_name: str
    seats: int
    answers: tuple[str, ...] = ()


class CheckinOutcome(StrEnum):
    OK = "ok"
    ALREADY = "already"
    UNKNOWN = "unknown"  # not a confirmed ticket of this program


@dataclass(frozen=True, slots=True)
class CheckinResult:
    outcome: CheckinOutcome
    registration: Registration | None = None


class CaseStatus(StrEnum):
    RECEIVED = "received"
    CONTACTED = "contacted"
    SUPPORTED = "supported"
    CLOSED = "closed"
    DECLINED = "declined"


class CaseCategory(StrEnum):
    ILLNESS = "illness"
    WORK_ACCIDENT = "work_accident"
    DISASTER = "disaster"  # natural disaster or fire
    BEREAVEMENT = "bereavement"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class SupportCase:
    id: int
    user_id: int
    category: CaseCategory
    description: str
    phone_e164: str
    province_id: str
    status: CaseStatus
    consent_version: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CaseMoved:
    """set_case_status's answer when the case was no longer at the expected status (another
    officer moved it meanwhile): nothing was changed or queued; `case` is how it is now."""

    case: SupportCase


@dataclass(frozen=True, slots=True)
class CaseEvent:
    id: int
    case_id: int
    author_id: int | None
    at: datetime
    status: CaseStatus
    note: str | None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    user_id: int
    kind: str  # a catalog key under care.notify.*
    params: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0  # delivery tries so far, this one included once claimed


class CareStore(abc.ABC):
    """Abstract part of the store for member care; implemented in `storage/sqlite/care.py`.

    `provinces=None` means every province (an admin); an empty collection means none.
    """

    # -- benefits ------------------------------------------------------------
    @abc.abstractmethod
    async def upsert_benefits(self, benefits: Collection[Benefit]) -> tuple[int, int]:
        """Insert or update by key, all in one transaction; (created, updated)."""

    @abc.abstractmethod
    async def list_benefits(self) -> list[Benefit]:
        """Every benefit, active or not, by category then title."""

    @abc.abstractmethod
    async def care_province(self, user_id: int) -> str | None:
        """The province a worker without a sign-up chose for browsing."""

    @abc.abstractmethod
    async def set_care_province(self, user_id: int, province_id: str) -> None: ...

    # -- programs ------------------------------------------------------------
    @abc.abstractmethod
    async def create_program(self, program: NewProgram) -> int: ...

    @abc.abstractmethod
    async def get_program(self, program_id: int) -> Program | None: ...

    @abc.abstractmethod
    async def list_programs(self, *, provinces: Collection[str] | None = None) -> list[Program]:
        """Newest first; `provinces` includes nationwide programs only when it holds NATIONWIDE."""

    @abc.abstractmethod
    async def close_program(self, program_id: int) -> bool:
        """False if unknown or closed already."""

    @abc.abstractmethod
    async def program_counts(self, program_id: int) -> ProgramCounts: ...

    @abc.abstractmethod
    async def register(
        self, draft: RegistrationDraft, *, now: datetime | None = None, claim: tuple[int, str, str] | None = None
    ) -> RegisterResult | None:
        """Allocate places in one write transaction. With `claim` (user id, flow, form id),
        the conversation state is consumed in the same transaction; None if it was gone
        already (the confirm button pressed twice). `max_per_person` holds per account: an
        account's seats across phones (not rejected ones) count together.

        A registration belongs to its account: EXISTING only when this account registered
        this phone for the program before. Another account's registration with the same
        number is never looked at here (refusing it told anyone who typed a worker's
        number that the worker had registered); it is registered like any other and the
        officers see the pair through `same_phone`."""

    @abc.abstractmethod
    async def registration_by_code(self, code: str) -> Registration | None: ...

    @abc.abstractmethod
    async def get_registration(self, registration_id: int) -> Registration | None: ...

    @abc.abstractmethod
    async def registrations_of_user(self, user_id: int) -> list[Registration]: ...

    @abc.abstractmethod
    async def registrations(
        self, program_id: int, *, status: RegStatus | None = None, after_id: int = 0, limit: int = 1000
    ) -> list[Registration]:
        """Arrival order (keyset paging by id)."""

    @abc.abstractmethod
    async def same_phone(self, program_id: int, registration_ids: Collection[int]) -> dict[int, tuple[int, ...]]:
        """For the officers only: each of these registrations of the program whose phone
        number another registration of the program has too (whatever its status or
        account), mapped to those others' ids in arrival order. Never shown to workers."""

    @abc.abstractmethod
    async def waiting_position(self, registration_id: int) -> int | None: ...

    @abc.abstractmethod
    async def cancel_registration(self, registration_id: int, *, user_id: int | None) -> list[Registration] | None:
        """Delete it (only the owner's, unless user_id is None) and promote the first
        waiting registrations that fit; the promoted ones, or None if there was nothing
        to cancel. The promoted workers are told through the outbox."""

    @abc.abstractmethod
    async def decide_registration(
        self, registration_id: int, *, approve: bool, reason: str | None
    ) -> Registration | None:
        """Review mode: approve (confirmed if it fits, else waiting) or reject a pending
        registration; the worker is told through the outbox. None if not pending."""

    @abc.abstractmethod
    async def checkin(self, program_id: int, code: str, *, now: datetime | None = None) -> CheckinResult: ...

    @abc.abstractmethod
    async def undo_checkin(self, program_id: int, code: str) -> Registration | None:
        """Clear a check-in made by mistake; the registration after it, or None if no
        checked-in ticket of this program has that code."""

    @abc.abstractmethod
    async def start_due_reminders(self, *, now: datetime, compose: Callable[[Program], NewBroadcast]) -> list[int]:
        """For programs whose reminder time has come, mark the program reminded and create
        its reminder broadcast (`compose` gives it; its audience is the program's confirmed
        participants, chosen when the broadcast runs) in one transaction: exactly once, even
        with several processes. A program whose event has passed (the bot was down) is
        marked and gets none. The new broadcasts' ids; the delivery engine sends them."""

    # -- support cases -------------------------------------------------------------
    @abc.abstractmethod
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
        """The new case's id; None if the claimed conversation state was gone (submitted twice)."""

    @abc.abstractmethod
    async def get_case(self, case_id: int) -> SupportCase | None: ...

    @abc.abstractmethod
    async def list_cases(
        self,
        *,
        provinces: Collection[str] | None,
        status: CaseStatus | None = None,
        before_id: int | None = None,
        limit: int = 10,
    ) -> list[SupportCase]:
        """Newest first."""

    @abc.abstractmethod
    async def cases_of_user(self, user_id: int) -> list[SupportCase]: ...

    @abc.abstractmethod
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
        """Move the case from `expected` to `status`, record the change and queue the
        worker's notice, in one transaction; the case after the change, None if unknown.
        The move is made only if the case is still at `expected` (checked in the same
        statement that changes it): otherwise CaseMoved with the case as it is, nothing
        recorded and no notice (two officers reopening one case told the worker twice).
        With `changes`, the number of status changes the officer saw (`case_events`), it is
        made only if there have been no others since: declined, reopened and declined
        again is back at the status seen, but not the case the officer decided on.
        The notice carries `note` as the reason for a refusal and for a reopening (back
        to received)."""

    @abc.abstractmethod
    async def case_events(self, case_id: int) -> list[CaseEvent]: ...

    # -- outbox --------------------------------------------------------------------------
    @abc.abstractmethod
    async def claim_outbox(
        self, *, now: datetime, lease_seconds: float = 600, limit: int = 50, kinds: Collection[str] | None = None
    ) -> list[OutboxMessage]:
        """Due, unsent messages not held by another sender; each claimed for the lease."""

    @abc.abstractmethod
    async def mark_outbox_sent(
        self, message_id: int, *, ok: bool, now: datetime, retry_at: datetime | None = None
    ) -> None:
        """Sent (never claimed again), or released to be tried again from `retry_at`."""

    @abc.abstractmethod
    async def pending_outbox(self, user_id: int | None = None) -> list[OutboxMessage]: ...

    # -- erasure and retention -------------------------------------------------------------
    @abc.abstractmethod
    async def forget_care(self, user_id: int) -> int:
        """Release the user's registrations (promoting those waiting) before the account
        goes; how many were released."""

    @abc.abstractmethod
    async def purge_care(
        self, *, programs_before: datetime, cases_before: datetime, outbox_before: datetime
    ) -> dict[str, int]:
        """Retention: registrations of programs that ended before `programs_before`,
        finished cases not touched since `cases_before`, sent outbox rows."""

    def export_registration_pages(self, program_id: int, *, page_size: int = 1000) -> AsyncIterator[list[Registration]]:
        async def pages() -> AsyncIterator[list[Registration]]:
            after = 0
            while True:
                page = await self.registrations(program_id, after_id=after, limit=page_size)
                if not page:
                    return
                yield page
                after = page[-1].id

        return pages()
