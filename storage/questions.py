"""Rights Q&A: answer feedback and the organizers' inbox of handed-off questions."""

from __future__ import annotations

import abc
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
WITHDRAWN = "withdrawn"  # the close reason of a question its asker took back
STATUSES = (OPEN, ANSWERED, CLOSED)


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    user_id: int
    channel: str  # where the answer must be delivered
    external_id: str
    lang: str
    text: str
    status: str  # OPEN | ANSWERED | CLOSED
    created_at: datetime
    answered_at: datetime | None = None
    answer: str | None = None
    # The asker's province: their sign-up's, else the one they named when they asked;
    # None when neither. Read at query time, so a sign-up made or moved later counts.
    province_id: str | None = None
    # Closed without an answer by an organizer (spam, a duplicate, settled by phone).
    closed_at: datetime | None = None
    close_reason: str | None = None


class QuestionStore(abc.ABC):
    @abc.abstractmethod
    async def add_question(self, user_id: int, text: str, lang: str, province_id: str | None = None) -> int:
        """A handed-off question; `province_id`, the province the asker named, places it
        for the officers of that province when the asker has no sign-up."""

    @abc.abstractmethod
    async def set_question_province(self, question_id: int, user_id: int, province_id: str) -> bool:
        """Name the province of the asker's own open question; False if it is not theirs
        or no longer open."""

    @abc.abstractmethod
    async def add_to_question(self, question_id: int, user_id: int, text: str, *, limit: int) -> str | None:
        """Append `text` to the asker's own open question (what they added at "which
        province?"), the whole cut to `limit` characters; the question's text after, or
        None if it is not theirs or no longer open (answered, closed, taken back)."""

    @abc.abstractmethod
    async def withdraw_question(self, question_id: int, user_id: int) -> bool:
        """Take back the asker's own question while it is still open and unplaced ("which
        province?"): its words are erased and it is closed as WITHDRAWN, never deleted, so
        its number is never given to another question (an organizer's `/reply <number>`
        written for it must not reach someone else). False if it is not theirs, answered,
        closed or placed."""

    @abc.abstractmethod
    async def get_question(self, question_id: int) -> Question | None: ...

    @abc.abstractmethod
    async def list_open_questions(
        self, *, limit: int = 10, provinces: Collection[str] | None = None, after_id: int | None = None
    ) -> list[Question]:
        """Oldest first: whoever has waited longest is answered first. With `provinces`,
        only questions of askers signed up there (an empty set: none); None: all.
        `after_id` pages on: only questions numbered above it."""

    @abc.abstractmethod
    async def count_open_questions(self, *, provinces: Collection[str] | None = None) -> int: ...

    @abc.abstractmethod
    async def answer_question(self, question_id: int, answered_by: int, answer: str) -> Question | None:
        """Mark an open question answered; None if it is unknown or already answered
        (two organizers answering at once must not both reach the worker)."""

    @abc.abstractmethod
    async def close_question(self, question_id: int, closed_by: int, reason: str) -> Question | None:
        """Close an open question without answering it; None if it is unknown or no longer
        open (answered or closed meanwhile by someone else)."""

    @abc.abstractmethod
    async def purge_questions(self, *, before: datetime) -> int:
        """Erase handed-off questions (and their answers) last touched before the date:
        answered or closed then, or asked then and never handled (retention); how many."""

    @abc.abstractmethod
    async def questions_of(self, user_id: int) -> list[Question]: ...

    @abc.abstractmethod
    async def record_feedback(self, user_id: int, topic_id: str, helpful: bool) -> None: ...

    @abc.abstractmethod
    async def feedback_counts(self) -> dict[str, tuple[int, int]]:
        """topic id -> (helpful, not helpful)."""
