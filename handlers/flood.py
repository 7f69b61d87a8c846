"""Slow down one user who floods the bot without affecting anyone else."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum


class Verdict(Enum):
    OK = "ok"
    NOTICE = "notice"  # first message over the limit: tell the user once
    DROP = "drop"  # further messages while still over the limit


class FloodGuard:
    def __init__(
        self,
        max_messages: int = 20,
        window_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_messages = max_messages
        self.window = window_seconds
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._noticed: set[str] = set()
        self._checks = 0

    def check(self, key: str) -> Verdict:
        now = self.clock()
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        self._checks += 1
        if self._checks % 10_000 == 0:
            self._forget_idle(now)
        if len(times) >= self.max_messages:
            # Dropped messages do not extend the penalty: the user is served again as
            # soon as their accepted messages fall out of the window.
            if key in self._noticed:
                return Verdict.DROP
            self._noticed.add(key)
            return Verdict.NOTICE
        times.append(now)
        self._noticed.discard(key)
        return Verdict.OK

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, t in self._seen.items() if not t or now - t[-1] > self.window]
        for k in idle:
            del self._seen[k]
            self._noticed.discard(k)
