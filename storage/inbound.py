"""The inbound journal: platform updates kept from receipt until handled.

Platforms consider an update delivered once the bot acknowledges it (Telegram's
getUpdates offset, a webhook's 200). The bot writes the update here first, so one
that was being handled when the process died is replayed at the next start.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class JournalEntry:
    key: str
    user_ref: str
    payload: str = field(repr=False)  # JSON; holds the worker's text
    received_at: datetime
    done: bool


class InboundJournalStore(abc.ABC):
    """Abstract part of the store; implemented in `storage/sqlite/inbound.py`."""

    @abc.abstractmethod
    async def journal_inbound(self, channel: str, key: str, user_ref: str, payload: str) -> bool:
        """Record a received update, in one transaction with its dedupe mark.

        False (and nothing written) if the key was seen before: a platform redelivery,
        already handled or already waiting in the journal.
        """

    @abc.abstractmethod
    async def journal_inbound_many(self, channel: str, entries: list[tuple[str, str, str]]) -> list[bool]:
        """`journal_inbound` for a batch of (key, user_ref, payload), in one transaction."""

    @abc.abstractmethod
    async def mark_inbound_done(self, channel: str, key: str) -> None:
        """The handlers have run for this update; its replies may still be going out."""

    @abc.abstractmethod
    async def finish_inbound(self, channel: str, key: str) -> None:
        """Delete the row: the update is fully handled."""

    @abc.abstractmethod
    async def journal_entries(self, channel: str) -> list[JournalEntry]:
        """The channel's rows in arrival order (at start-up: what a crash left)."""

    @abc.abstractmethod
    async def purge_inbound(self, *, received_before: datetime) -> int:
        """Delete rows received before the date (retention); how many."""
