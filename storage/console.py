"""The organizers' web console: sign-in links, sessions, and the filtered lookups its
pages need (sign-ups by search and filter, questions by status and text).

Tokens never reach the store: callers pass the SHA-256 hash of a link token or a
session id, so whoever reads the database file cannot sign in with what it holds.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.questions import Question
from storage.signups import Signup, SignupDraft, SignupExport, SignupSource, SignupStatus

SORTS = ("new", "old", "name")


@dataclass(frozen=True, slots=True)
class SignupQuery:
    """A filter over sign-ups; `provinces` None means every province (an admin), empty none."""

    provinces: frozenset[str] | None
    status: SignupStatus | None = None
    source: SignupSource | None = None
    # True: only sheets imported from paper (consent channel PAPER_CHANNEL); False: none.
    paper: bool | None = None
    volunteer_code: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    phone_e164: str | None = None  # exact number
    text: str | None = None  # part of the name or the workplace
    sort: str = "new"  # one of SORTS


@dataclass(frozen=True, slots=True)
class SignupCursor:
    """Where the next page starts (keyset): the last row's sort key."""

    id: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    user_id: int
    csrf: str


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    created: int
    known: int  # numbers already signed up: left exactly as they were


class ConsoleStore(abc.ABC):
    # -- paper imports ----------------------------------------------------------------
    @abc.abstractmethod
    async def import_signups(self, rows: Sequence[tuple[SignupDraft, datetime]]) -> ImportOutcome:
        """Add sign-ups collected on paper, each dated as given, in one transaction; a
        number already signed up is left untouched (never doubled, never overwritten)."""

    @abc.abstractmethod
    async def known_phones(self, phones: Collection[str]) -> set[str]:
        """Which of these numbers are signed up already (for an import's preview)."""

    # -- sign-in links and sessions ------------------------------------------------
    @abc.abstractmethod
    async def add_console_link(self, token_hash: str, user_id: int, *, expires_at: datetime) -> None: ...

    @abc.abstractmethod
    async def use_console_link(self, token_hash: str, *, now: datetime) -> int | None:
        """Mark the link used and return its user, once: None if unknown, used or expired."""

    @abc.abstractmethod
    async def add_console_session(self, id_hash: str, user_id: int, csrf: str) -> None: ...

    @abc.abstractmethod
    async def console_session(self, id_hash: str, *, idle_since: datetime) -> ConsoleSession | None:
        """The session if it was used after `idle_since`, marking it used now; else None
        (an idle session is erased)."""

    @abc.abstractmethod
    async def end_console_session(self, id_hash: str) -> None: ...

    @abc.abstractmethod
    async def end_console_sessions(self, user_id: int) -> int:
        """Sign a user out everywhere; how many sessions ended."""

    # -- lookups ------------------------------------------------------------------
    @abc.abstractmethod
    async def search_signups(
        self, query: SignupQuery, *, after: SignupCursor | None = None, limit: int = 50
    ) -> list[Signup]: ...

    @abc.abstractmethod
    async def count_signups(self, query: SignupQuery, *, cap: int | None = None) -> int:
        """How many match; with `cap`, counting stops at cap + 1 (a page needs "over 5,000",
        not the exact figure, and an exact count of a broad filter reads every row)."""

    @abc.abstractmethod
    def export_query_pages(self, query: SignupQuery, *, page_size: int = 1000) -> AsyncIterator[list[SignupExport]]:
        """The query's sign-ups with their notes, oldest first, a page at a time (keyset)."""

    @abc.abstractmethod
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
        """Questions in `status` (one, or several: answered and closed together). Open
        questions oldest first (`after_id` pages on); handled ones newest first
        (`before_id` pages on). `text` matches the question or its answer."""
