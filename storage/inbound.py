"""The inbound journal: platform updates kept from receipt until handled.

Platforms consider an update delivered once the bot acknowledges it (Telegram's
getUpdates offset, a webhook's 200). The bot writes the update here first, so one
that was being handled when the process died is replayed at the next start.

Several processes on one database: each row names the process that received it (its
store's `instance`), and only rows of processes that are gone are adopted and handled
again, never those another live process is handling. One user's updates take turns
(`take_inbound_turn`) so that two processes never handle them at once or out of order.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# A turn left by a process that died mid-update frees the user after this long, at most;
# handlers take well under a second, and adoption frees a dead process's turns sooner.
INBOUND_TURN_LEASE = timedelta(seconds=120)


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
        """The channel's rows in arrival order, whoever received them."""

    @abc.abstractmethod
    async def adopt_inbound(self, channel: str) -> list[JournalEntry]:
        """Rows received by processes that are gone (killed, crashed, or this process's
        previous run), now this store's, in arrival order. Rows of live processes, this
        one included, stay theirs; two callers never adopt the same row."""

    @abc.abstractmethod
    async def take_inbound_turn(self, channel: str, key: str) -> bool:
        """Try to start handling the journaled update `key`: True unless another update of
        the same user is ahead of it (received earlier and still in the journal) or being
        handled by another process. The turn ends with `finish_inbound(key)`, or lapses
        after `INBOUND_TURN_LEASE` if its holder died. An update the journal does not know
        (or with no user) always may go."""

    @abc.abstractmethod
    async def purge_inbound(self, *, received_before: datetime) -> int:
        """Delete rows received before the date (retention); how many."""
