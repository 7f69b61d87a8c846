"""Delivers member-care notices: the outbox the CLI, organizers and the store write to.

Every few seconds the running bot (1) starts the day-before reminders whose time has
come: each is a broadcast to the program's confirmed participants, created as the store
marks the program reminded (one transaction: exactly once), then sent by the broadcast
delivery engine like any other, so quiet hours, pacing, exactly-once per worker and the
delivery report are the engine's; (2) claims due notices with a lease, renders each in
the worker's language and sends it through the channel registry on the channel the
worker used, and (3) marks it sent.
A notice whose send failed is released and tried again later, at most MAX_ATTEMPTS
times; one claimed by a bot that died is claimed again once its lease runs out.
Nothing is sent during quiet hours (the broadcasts' setting): it waits for the morning.
Once a day it applies the retention rules to member-care data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.periodic import PeriodicService
from handlers.broadcasts.schedule import QuietHours
from handlers.care.common import reminder_broadcast, render_notice
from handlers.i18n import Catalog
from handlers.types import Deliver
from storage import Store

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
POLL_SECONDS = 5.0
# Registrations are kept this long after the program's event (or closing) for questions.
PROGRAM_RETENTION = timedelta(days=90)
OUTBOX_RETENTION = timedelta(days=30)
DAYS_PER_MONTH = 30.44


async def purge_care(store: Store, retention_months: int, *, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    counts = await store.purge_care(
        programs_before=now - PROGRAM_RETENTION,
        cases_before=now - timedelta(days=round(retention_months * DAYS_PER_MONTH)),
        outbox_before=now - OUTBOX_RETENTION,
    )
    if any(counts.values()):
        await store.audit(None, "care.purge", "care", counts)
        logger.info("retention: erased member-care data %s", counts)
    return counts


async def start_reminders(store: Store, catalog: Catalog, *, timezone: str, now: datetime | None = None) -> list[int]:
    """Create the reminder broadcasts now due; their ids, for the broadcast service."""
    now = now or datetime.now(UTC)
    zone = ZoneInfo(timezone)
    started = await store.start_due_reminders(
        now=now, compose=lambda program: reminder_broadcast(catalog, zone, program, run_at=now)
    )
    for broadcast_id in started:
        logger.info("care: reminder broadcast %s started", broadcast_id)
    return started


async def deliver_due(
    store: Store,
    catalog: Catalog,
    deliver: Deliver,
    *,
    timezone: str,
    quiet: QuietHours | None = None,
    now: datetime | None = None,
) -> int:
    """One round of notices: send what is due. How many were sent."""
    now = now or datetime.now(UTC)
    if quiet is not None and quiet.is_quiet(now):
        return 0
    zone = ZoneInfo(timezone)
    sent = 0
    while True:
        batch = await store.claim_outbox(now=now)
        if not batch:
            return sent
        for msg in batch:
            user = await store.get_user(msg.user_id)
            if user is None:  # erased meanwhile: nothing to send, nobody to send it to
                await store.mark_outbox_sent(msg.id, ok=True, now=now)
                continue
            reply = render_notice(catalog, user.language, zone, msg, user.channel)
            ok = await deliver(user.channel, user.external_id, reply)
            attempts = msg.attempts
            # Ids only in the log: the notice's text may hold a reason or a name.
            if not ok:
                logger.info(
                    "care notice %s (%s) to user %s not delivered (attempt %s)", msg.id, msg.kind, user.id, attempts
                )
            # A platform hiccup or a worker out of reach for now: back off (1, 2, 4, 8 min)
            # rather than hammer; given up after MAX_ATTEMPTS.
            retry = now + RETRY_BASE * 2 ** max(attempts - 1, 0)
            await store.mark_outbox_sent(msg.id, ok=ok or attempts >= MAX_ATTEMPTS, now=now, retry_at=retry)
            sent += ok
        if len(batch) < 50:
            return sent
        now = datetime.now(UTC)


class CareOutbox(PeriodicService):
    """A background service (see bot.app.Service): delivers due notices every few seconds
    and purges what is past its time once a day."""

    name = "care-outbox"

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        deliver: Deliver,
        *,
        timezone: str,
        quiet: QuietHours | None,
        retention_months: int,
        every: float = POLL_SECONDS,
        started: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(every)
        self.store, self.catalog, self.deliver = store, catalog, deliver
        # Told of each reminder broadcast this process created (the broadcast service's
        # `changed`), so it goes out now rather than at the service's next sync.
        self.started = started
        self.timezone, self.quiet, self.retention_months = timezone, quiet, retention_months
        self._last_purge: datetime | None = None
        # Notices go out from every process (each is claimed with a lease), the daily
        # purge only from the leader; a lone process purges (bot.leadership decides).
        self.purging = True

    # Under bot.leadership the outbox runs everywhere; leading only turns the purge on.
    async def lead(self) -> None:
        self.purging = True

    async def follow(self) -> None:
        self.purging = False

    async def run_once(self) -> None:
        now = datetime.now(UTC)
        if self.purging and (self._last_purge is None or now - self._last_purge > timedelta(days=1)):
            self._last_purge = now
            await purge_care(self.store, self.retention_months, now=now)
        for broadcast_id in await start_reminders(self.store, self.catalog, timezone=self.timezone, now=now):
            if self.started is not None:
                await self.started(broadcast_id)
        await deliver_due(self.store, self.catalog, self.deliver, timezone=self.timezone, quiet=self.quiet, now=now)
