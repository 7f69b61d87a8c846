"""Wall-clock time for schedules and quiet hours, injectable so tests can stand at 20:59."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Protocol

# Long waits (quiet hours last all night) are taken in slices so that a changed system
# clock or a missed wake-up costs at most this long.
MAX_SLICE = 60.0


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> None:
        """Return at `when`, or earlier if `wake` is set."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> None:
        while (left := (when - self.now()).total_seconds()) > 0:
            if wake is None:
                await asyncio.sleep(min(left, MAX_SLICE))
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, MAX_SLICE)):
                    await wake.wait()
            if wake.is_set():
                return
