"""One process of several on one database runs the schedules (see bot.app.Service).

Every bot process handles updates and delivers; only the leader fires scheduled and
recurring broadcasts and runs the once-a-day retention purges. The store decides who
leads (`Store.hold_leadership`: a PostgreSQL advisory lock that dies with its holder's
session; SQLite, one process per file, always leads). Each process asks every `every`
seconds: a follower takes over within that time of the leader's session ending, and a
leader that cannot confirm its hold (its connection is gone) steps down at once, so two
leaders overlap for at most one round; the broadcasts' leases and unique occurrences
keep even that overlap from sending anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from bot.periodic import Outage
from storage import Store

logger = logging.getLogger(__name__)

SCHEDULER_ROLE = "scheduler"
# A dead leader is replaced within this plus the time its server takes to see its
# session end (at once for a killed process, ~14 s for a vanished host): inside 30 s.
RETRY_SECONDS = 5.0


class Led(Protocol):
    """Work only the leader does: `lead` on taking over, `follow` on stepping down."""

    async def lead(self) -> None: ...

    async def follow(self) -> None: ...


class Leadership:
    name = "leadership"

    def __init__(
        self, store: Store, led: Sequence[Led], *, role: str = SCHEDULER_ROLE, every: float = RETRY_SECONDS
    ) -> None:
        self.store = store
        self.led = list(led)
        self.role = role
        self.every = every
        self.leading = False
        self.changes = 0  # times leadership was taken or lost (tests wait on it)
        self.checks = 0  # rounds of `check` finished (tests wait on it instead of sleeping)
        self._task: asyncio.Task[None] | None = None
        self.outage = Outage(f"leadership {role}", "could not ask the store")

    async def start(self) -> None:
        # The first answer before start() returns: a single process (SQLite) schedules from
        # the moment the bot is up, as it did before there was a leader to choose.
        await self.check()
        self._task = asyncio.create_task(self._run(), name=f"leadership:{self.role}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()
        # Released at once rather than when the process exits: a follower takes over
        # at its next try instead of waiting for the server to notice.
        with contextlib.suppress(Exception):
            await self.store.release_leadership(self.role)

    async def check(self) -> bool:
        """One round: take, keep or lose leadership; True if this process leads now."""
        try:
            held = await self.store.hold_leadership(self.role)
        except Exception:  # a store that fails cannot vouch for the lock: not leading
            self.outage.failed()
            held = False
        else:
            self.outage.recovered()
        if held and not self.leading:
            self.leading = True
            self.changes += 1
            logger.info("leadership %s: this process leads", self.role)
            for part in self.led:
                try:
                    await part.lead()
                except Exception:  # one part failing to start must not keep the others down
                    logger.exception("leadership %s: %r could not take over", self.role, part)
        elif not held and self.leading:
            logger.warning("leadership %s: lost; another process leads", self.role)
            await self._step_down()
        self.checks += 1
        return self.leading

    async def _step_down(self) -> None:
        if not self.leading:
            return
        self.leading = False
        self.changes += 1
        for part in reversed(self.led):
            try:
                await part.follow()
            except Exception:
                logger.exception("leadership %s: %r could not step down", self.role, part)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self.check()
