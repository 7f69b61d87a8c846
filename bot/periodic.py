"""A background service that runs one round of work now and then (see bot.app.Service).

Retention purges, the member-care outbox and similar jobs share this loop: a failed
round is logged and the next one retries, so one bad row never ends the service.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging

logger = logging.getLogger(__name__)


class PeriodicService(abc.ABC):
    """Subclasses implement `run_once`; `every` is the pause between rounds, in seconds."""

    name = "periodic"

    def __init__(self, every: float) -> None:
        self.every = every
        self._task: asyncio.Task[None] | None = None
        # Rounds finished (failed ones too): lets a caller wait for the service to be idle.
        self.rounds = 0

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
                logger.exception("%s: round failed", self.name)
            self.rounds += 1
            await asyncio.sleep(self.every)
