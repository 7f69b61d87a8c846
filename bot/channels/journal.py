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
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers.join.form import FORM_TTL
from storage import Store

logger = logging.getLogger(__name__)

# A worker's text waiting in the journal expires like an unfinished sign-up form.
JOURNAL_TTL = FORM_TTL
# Purge expired rows now and then while running, not only at start-up.
PURGE_EVERY = 1000


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

    async def receive(self, key: str, user_ref: str, payload: Any) -> bool:
        """Write the update down before it is acknowledged; False for a redelivery."""
        return (await self.receive_many([(key, user_ref, payload)]))[0]

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

    async def unfinished(self) -> list[Pending]:
        """What a crash left, to handle again in arrival order (call once, at start-up)."""
        expired = await self.purge()
        pending: list[Pending] = []
        in_doubt = 0
        for entry in await self.store.journal_entries(self.channel):
            if entry.done:
                in_doubt += 1
                await self.finish(entry.key)
                continue
            pending.append(Pending(entry.key, json.loads(entry.payload)))
        if pending or in_doubt or expired:
            logger.warning(
                "%s: %d updates interrupted by the last stop will be handled again;"
                " %d were handled and their replies may not have gone out; %d expired",
                self.channel,
                len(pending),
                in_doubt,
                expired,
            )
        return pending
