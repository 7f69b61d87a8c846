"""Inbound updates written down before they are acknowledged, replayed after a crash.

Where the two marks sit (one update's life):

1. **Receipt** (before the platform's acknowledgement: the next getUpdates that
   confirms the offset, or the webhook's 200): `receive` writes the journal row and
   the dedupe key (`processed_updates`) in one transaction. A platform redelivery of
   the same update is dropped there, whether the first copy is handled or still
   waiting. A replay at start-up reads the journal directly and never meets the
   dedupe check, so it is not mistaken for a redelivery.
2. **Handled** (`done`): right after the handlers return and before any reply is
   sent. A row found not done at start-up is handled again: the process died before
   or while the handlers ran, so nothing was sent yet and the worker gets one reply.
   A row found done is dropped, not replayed: its replies were going out when the
   process died and may have arrived, and sending them again is what would answer
   the worker twice. (A send interrupted by the kill is the one case that cannot be
   known either way; at most one answer is the promise there.)
3. **Finished**: the replies are out and the row is deleted (it holds the worker's
   text). Rows a crash left are purged after `JOURNAL_TTL` if never replayed, and
   `/forget` erases the worker's rows with the rest of their data.

An update whose handling raised is finished too: the channel has apologised, and a
replay would only fail the same way at every start.

Several processes on one database (PostgreSQL): a row belongs to the process that
received it, and `unfinished` adopts only rows of processes that are gone, at start-up
and every few seconds after (`bot.app`'s adoption round), so a survivor handles what a
killed process had acknowledged. One user's updates may reach two processes: each waits
for its turn (`take_turn`), given in arrival order, before it is handled, so they are
handled one at a time and in order whichever process received them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from bot.periodic import Outage, PeriodicService
from handlers.join.form import FORM_TTL
from storage import Store

logger = logging.getLogger(__name__)

# A worker's text waiting in the journal expires like an unfinished sign-up form.
JOURNAL_TTL = FORM_TTL
# Purge expired rows now and then while running, not only at start-up.
PURGE_EVERY = 1000
# Waiting for an earlier update of the same user handled by another process: first
# retry soon (handling takes milliseconds), then back off. A row whose process died is
# adopted within one adoption round; past TURN_WAIT the update goes anyway, with a warning,
# rather than leave the worker unanswered.
TURN_FIRST_RETRY = 0.005
TURN_MAX_RETRY = 0.1
TURN_WAIT = 30.0
# How often each process looks for rows of processes that died (only where several share
# the database): a killed process's acknowledged updates are answered within about this.
ADOPT_EVERY = 5.0
# The database out of reach when an update arrives: try again after this, doubling up to
# the cap (the platform holds the update meanwhile); `Outage` says so once a minute.
OUTAGE_FIRST_RETRY = 0.2
OUTAGE_MAX_RETRY = 5.0


@dataclass(frozen=True, slots=True)
class Pending:
    key: str
    payload: Any


class InboundJournal:
    """One channel's view of the store's inbound journal."""

    def __init__(self, store: Store, channel: str) -> None:
        self.store = store
        self.channel = channel
        self._received = 0
        self.outage = Outage(channel, "the database is out of reach; updates wait with the platform")

    async def receive(self, key: str, user_ref: str, payload: Any) -> bool:
        """Write the update down before it is acknowledged; False for a redelivery."""
        return (await self.receive_many([(key, user_ref, payload)]))[0]

    async def receive_patiently(self, updates: list[tuple[str, str, Any]]) -> list[bool]:
        """`receive_many`, retried with backoff until the store answers: for a poller,
        whose platform forgets the batch once the next poll confirms it. Cancelling (the
        channel stopping) leaves the batch unconfirmed, so the platform sends it again."""
        delay = OUTAGE_FIRST_RETRY
        while True:
            try:
                verdicts = await self.receive_many(updates)
            except Exception:
                self.outage.failed()
                await asyncio.sleep(delay)
                delay = min(delay * 2, OUTAGE_MAX_RETRY)
                continue
            self.outage.recovered()
            return verdicts

    async def receive_many(self, updates: list[tuple[str, str, Any]]) -> list[bool]:
        """`receive` for a batch of (key, user_ref, payload), in one transaction."""
        verdicts = await self.store.journal_inbound_many(
            self.channel,
            [
                (key, user_ref, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
                for key, user_ref, payload in updates
            ],
        )
        before, self._received = self._received, self._received + len(updates)
        if before // PURGE_EVERY != self._received // PURGE_EVERY:
            await self.purge()
        return verdicts

    async def handled(self, key: str) -> None:
        await self.store.mark_inbound_done(self.channel, key)

    async def finish(self, key: str) -> None:
        await self.store.finish_inbound(self.channel, key)

    async def purge(self, now: datetime | None = None) -> int:
        return await self.store.purge_inbound(received_before=(now or datetime.now(UTC)) - JOURNAL_TTL)

    async def take_turn(self, key: str) -> None:
        """Wait until `key` is its user's next update and nobody else is handling theirs.

        Only where other processes share the journal; a lone process's per-user queues
        (bot/channels/ordering.py) already keep one user's updates in order."""
        if not self.store.shared_by_processes:
            return
        delay, deadline = TURN_FIRST_RETRY, time.monotonic() + TURN_WAIT
        while not await self.store.take_inbound_turn(self.channel, key):
            if time.monotonic() >= deadline:
                logger.warning(
                    "%s: update %s waited %.0f s for its user's turn; handling it now", self.channel, key, TURN_WAIT
                )
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, TURN_MAX_RETRY)

    async def unfinished(self) -> list[Pending]:
        """What processes that are gone left (this one's previous run, or another process
        killed mid-way), now this process's to handle again, in arrival order. Called at
        start-up and, with several processes, every adoption round."""
        expired = await self.purge()
        pending: list[Pending] = []
        in_doubt = 0
        for entry in await self.store.adopt_inbound(self.channel):
            if entry.done:
                in_doubt += 1
                await self.finish(entry.key)
                continue
            pending.append(Pending(entry.key, json.loads(entry.payload)))
        if pending or in_doubt or expired:
            logger.warning(
                "%s: %d updates interrupted by a stopped process will be handled again;"
                " %d were handled and their replies may not have gone out; %d expired",
                self.channel,
                len(pending),
                in_doubt,
                expired,
            )
        return pending


@runtime_checkable
class Adopting(Protocol):
    name: str

    async def adopt_orphans(self) -> int: ...


class InboundAdoption(PeriodicService):
    """Every process, every few seconds: take over what processes that died on the shared
    database had acknowledged and not yet handled (`InboundJournal.unfinished`)."""

    name = "inbound-adoption"

    def __init__(self, channels: Sequence[Adopting], every: float = ADOPT_EVERY) -> None:
        super().__init__(every)
        self.channels = list(channels)
        self.adopted = 0  # updates taken over so far (tests and /healthz read it)

    async def run_once(self) -> None:
        for channel in self.channels:
            taken = await channel.adopt_orphans()
            if taken:
                logger.warning("%s: took over %d updates of a process that stopped", channel.name, taken)
            self.adopted += taken
