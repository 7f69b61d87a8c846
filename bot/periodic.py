"""A background service that runs one round of work now and then (see bot.app.Service).

Retention purges, the member-care outbox and similar jobs share this loop: a failed
round is logged and the next one retries, so one bad row never ends the service.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import math
import time

logger = logging.getLogger(__name__)
# A failure that repeats (the database out of reach) is said once a minute while it lasts.
OUTAGE_LOG_EVERY = 60.0


class Outage:
    """Says that something keeps failing (the database out of reach, most often) once a
    minute while it lasts, with the error the first time, and once when it works again;
    never a line per retry."""

    def __init__(self, who: str, what: str, every: float = OUTAGE_LOG_EVERY) -> None:
        self.who, self.what = who, what
        self.every = every
        self.since: float | None = None
        self._said = -math.inf
        self.failures = 0

    def failed(self) -> None:
        now = time.monotonic()
        self.failures += 1
        if self.since is None:
            self.since = now
        if now - self._said >= self.every:
            first = self._said == -math.inf
            self._said = now
            logger.warning("%s: %s (%d tries so far)", self.who, self.what, self.failures, exc_info=first)

    def recovered(self) -> None:
        if self.since is None:
            return
        logger.warning("%s: back after %.0f s", self.who, time.monotonic() - self.since)
        self.since, self._said, self.failures = None, -math.inf, 0


class PeriodicService(abc.ABC):
    """Subclasses implement `run_once`; `every` is the pause between rounds, in seconds."""

    name = "periodic"

    def __init__(self, every: float) -> None:
        self.every = every
        self._task: asyncio.Task[None] | None = None
        # Rounds finished (failed ones too): lets a caller wait for the service to be idle.
        self.rounds = 0
        self.outage = Outage(self.name, "round failed")

    @abc.abstractmethod
    async def run_once(self) -> None:
        """One round of the work."""

    async def start(self) -> None:
        if self._task is not None:
            return  # already running (a leader confirmed again)
        self._task = asyncio.create_task(self._run(), name=self.name)

    # A job only the leader runs (bot.leadership): it runs while this process leads.
    async def lead(self) -> None:
        await self.start()

    async def follow(self) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a failed round must not end the service; the next one retries
                self.outage.failed()
            else:
                self.outage.recovered()
            self.rounds += 1
            await asyncio.sleep(self.every)
