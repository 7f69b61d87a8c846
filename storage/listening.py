"""Listening to workers: quick polls (delivered by the broadcast engine) and anonymous
workplace reports. Implemented in `storage/sqlite/listening.py`.

Poll answers are kept per person only until the poll closes plus a retention period,
then folded into counts (`aggregate_poll`). Workplace reports carry no link to a user
at all; the reporter appears only as a keyed hash in a 7-day rate-limit table.
"""

from __future__ import annotations

import abc
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from storage.broadcasts import Broadcast, NewBroadcast

# Breakdown dimensions of poll results.
DIMENSIONS = ("province", "channel", "language")
MAX_CHOICES = 6


@dataclass(frozen=True, slots=True)
class PollChoice:
    vi: str
    en: str | None = None

    def label(self, lang: str) -> str:
        return (self.en or self.vi) if lang == "en" else self.vi


@dataclass(frozen=True, slots=True)
class NewPoll:
    question_vi: str
    choices: tuple[PollChoice, ...]
    closes_at: datetime
    question_en: str | None = None
    multi: bool = False
    created_by: int | None = None


@dataclass(frozen=True, slots=True)
class Poll:
    id: int
    broadcast_id: int | None
    created_by: int | None
    created_at: datetime
    question_vi: str
    question_en: str | None
    choices: tuple[PollChoice, ...]
    multi: bool
    provinces: tuple[str, ...]
    closes_at: datetime
    closed_at: datetime | None
    aggregated_at: datetime | None

    def question(self, lang: str) -> str:
        return (self.question_en or self.question_vi) if lang == "en" else self.question_vi

    def is_open(self, now: datetime) -> bool:
        return self.closed_at is None and now < self.closes_at

    def ended_at(self) -> datetime:
        return self.closed_at if self.closed_at is not None and self.closed_at < self.closes_at else self.closes_at


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    recorded: bool  # False: the poll was closed (nothing changed)
    mask: int  # the person's choices now (bits)


@dataclass(slots=True)
class Tally:
    """Counts for one group of respondents: how many answered, how many chose each choice."""

    respondents: int = 0
    counts: list[int] = field(default_factory=list)


@dataclass(slots=True)
class PollTally:
    overall: Tally
    # dimension -> group value ('' when unknown) -> tally
    breakdowns: dict[str, dict[str, Tally]]
    delivered: int  # deliveries sent (or possibly sent) for the poll's broadcast


@dataclass(frozen=True, slots=True)
class PollAnswerOfUser:
    poll_id: int
    question_vi: str
    question_en: str | None
    choices: tuple[str, ...]  # the chosen labels in Vietnamese
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class NewReport:
    created_on: date
    province: str
    category: str
    company: str
    company_key: str
    workers: int
    description: str | None = None
    contact_question_id: int | None = None


@dataclass(frozen=True, slots=True)
class WorkplaceReport:
    id: int
    created_on: date
    province: str
    category: str
    company: str
    company_key: str
    workers: int
    description: str | None
    contact_question_id: int | None


@dataclass(frozen=True, slots=True)
class ReportCluster:
    """Reports about one company in one category, in one province."""

    province: str
    company_key: str
    category: str
    company: str  # as written in the latest report
    reports: int
    workers: int  # the largest estimate given (several reports often count the same people)
    first_on: date
    last_on: date
    latest_id: int
    alerted_on: date | None = None  # the latest early warning sent for it


@dataclass(frozen=True, slots=True)
class ClusterWindow:
    reports: int  # in the current window
    workers: int
    previous: int  # in the window before it (the trend)


class ListeningStore(abc.ABC):
    # -- polls -------------------------------------------------------------
    @abc.abstractmethod
    async def create_poll(self, new: NewPoll, broadcast: NewBroadcast) -> tuple[Poll, Broadcast]:
        """The poll and the broadcast that delivers it, written together so no delivery
        can start before the poll exists."""

    @abc.abstractmethod
    async def get_poll(self, poll_id: int) -> Poll | None: ...

    @abc.abstractmethod
    async def poll_of_broadcast(self, broadcast_id: int) -> Poll | None: ...

    @abc.abstractmethod
    async def list_polls(self, *, limit: int = 20, within_provinces: Collection[str] | None = None) -> list[Poll]:
        """Newest first; with `within_provinces`, only polls aimed inside those provinces."""

    @abc.abstractmethod
    async def close_poll(self, poll_id: int, at: datetime) -> bool: ...

    @abc.abstractmethod
    async def poll_received(self, poll_id: int, user_id: int) -> bool:
        """Whether the poll's broadcast was (or may have been) delivered to the user."""

    @abc.abstractmethod
    async def open_polls_received(self, user_id: int, *, now: datetime, limit: int = 3) -> list[Poll]:
        """Open polls delivered to the user, newest first (for answers typed as text)."""

    @abc.abstractmethod
    async def answer_poll(
        self,
        poll_id: int,
        user_id: int,
        *,
        mask: int,
        mode: str,
        now: datetime,
        province: str | None,
        channel: str,
        language: str,
    ) -> AnswerOutcome:
        """Set (mode "set"), add or remove the choices in `mask` for the person, atomically
        and only while the poll is open. Idempotent: a redelivered tap changes nothing."""

    @abc.abstractmethod
    async def poll_answer_mask(self, poll_id: int, user_id: int) -> int: ...

    @abc.abstractmethod
    async def poll_tally(self, poll_id: int) -> PollTally: ...

    @abc.abstractmethod
    async def aggregate_polls(self, *, ended_before: datetime) -> int:
        """Fold the answers of polls that ended before the date into counts and delete the
        per-person rows; how many polls."""

    @abc.abstractmethod
    async def poll_answers_of(self, user_id: int) -> list[PollAnswerOfUser]: ...

    # -- workplace reports ---------------------------------------------------
    @abc.abstractmethod
    async def count_report(self, key_hash: str, day: date, *, limit: int) -> bool:
        """Count one report for the hashed reporter on `day`; False (nothing counted)
        when they already reached `limit` that day."""

    @abc.abstractmethod
    async def reports_today(self, key_hash: str, day: date) -> int: ...

    @abc.abstractmethod
    async def add_report(self, new: NewReport) -> int: ...

    @abc.abstractmethod
    async def drop_report_draft(self, user_id: int) -> None:
        """Erase the person's draft (their conversation state) and its old page images in
        the write-ahead log, so nothing in the file ties the sent report to them."""

    @abc.abstractmethod
    async def company_keys(self, province: str) -> dict[str, str]:
        """Known company cluster keys of a province -> the latest spelling."""

    @abc.abstractmethod
    async def list_reports(
        self,
        *,
        provinces: Collection[str] | None = None,
        since: date | None = None,
        limit: int = 500,
        cluster: tuple[str, str, str] | None = None,
    ) -> list[WorkplaceReport]:
        """Newest first. `cluster` = (province, company key, category)."""

    @abc.abstractmethod
    async def get_report(self, report_id: int) -> WorkplaceReport | None: ...

    @abc.abstractmethod
    async def report_clusters(
        self,
        *,
        provinces: Collection[str] | None = None,
        since: date | None = None,
    ) -> list[ReportCluster]:
        """Largest first."""

    @abc.abstractmethod
    async def cluster_window(
        self, province: str, company_key: str, category: str, *, today: date, days: int
    ) -> ClusterWindow: ...

    @abc.abstractmethod
    async def claim_report_alert(
        self,
        province: str,
        company_key: str,
        category: str,
        *,
        today: date,
        days: int,
        reports: int,
        workers: int,
    ) -> bool:
        """Record an alert unless one went out for this cluster within `days`; True when
        this call recorded it (and so the alert must be sent)."""

    @abc.abstractmethod
    async def purge_report_limits(self, *, before: date) -> int: ...
