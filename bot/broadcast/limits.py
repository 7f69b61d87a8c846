"""Pacing for one channel: messages per second overall, one chat at a time, groups per
minute, and a channel-wide pause when the platform says "retry after".

The overall limit is enforced on departures twice over: evenly spaced (1/rate apart),
and never more than `rate` departures in any window of 1 s + `window_margin`. The
margin absorbs the jitter between our departure and the platform's arrival clock, so
the platform never counts more than `rate` in one of its seconds; with the defaults the
achieved rate is about 29.4/s for a limit of 30 (the fake Bot API measures it).

One limiter per bot token (per Zalo app) paces everything the bot sends with it:
broadcasts and replies alike, or the two together would exceed the platform's limit
and draw 429s. Replies to a worker who just wrote go first (`Priority.REPLY`): a
reply waits at most for the send already in its turn; broadcasts fill the rest.

Several processes on one PostgreSQL database share one token's limit: each limiter then
also takes a global slot (`SharedSlots`, handed out by the store) for every departure,
after its own priorities chose who goes next. A "retry after" that one process meets
pauses them all: the store hands out no slot before it ends.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import IntEnum

logger = logging.getLogger(__name__)


class Priority(IntEnum):
    REPLY = 0  # a worker is waiting for this answer
    BROADCAST = 1


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    # Messages per second to different chats; None: no limit (benchmarks, tests).
    rate: float | None = 30.0
    window_margin: float = 0.012
    per_chat_interval: float = 1.0  # Telegram: about one message per second to one chat
    group_per_minute: int = 20  # Telegram: about 20 messages per minute to one group
    # Global slots (several processes) are spaced (1 + shared_margin)/rate apart: the
    # margin absorbs the jitter between a slot and the request's arrival, which across
    # processes includes a database round trip and is counted from no answer.
    shared_margin: float = 0.03


class SharedSlots:
    """Send slots for one key shared by every process on the database.

    `reserve(count)` asks the store for the next `count` slots and answers the seconds
    until the first; the rest follow `1/per_second` apart. At 30/s each departure
    reserves one slot (a round trip of about a millisecond); at paid rates a batch
    covering ~20 ms saves round trips. A reserved slot that has passed unused is dropped,
    never used late: a late departure could land within 1/per_second of a slot that
    another process holds after the batch.
    """

    def __init__(
        self,
        reserve: Callable[[int], Awaitable[float]],
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        batch: int | None = None,
        pause: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._reserve = reserve
        self._pause = pause
        self._pausing: set[asyncio.Task[None]] = set()
        self.interval = 1.0 / per_second
        self.batch = batch if batch is not None else max(1, int(per_second // 50))
        self.clock = clock
        self.sleep = sleep
        self._slots: deque[float] = deque()  # local clock times of reserved, unused slots
        self._last_warning = -math.inf

    def pause(self, seconds: float) -> None:
        """A 429 told this process to wait: the other processes wait too. The slots this
        one holds are given up, and the database hands out none before the pause ends
        (a background write: the caller is inside the limiter and must not block on it)."""
        self._slots.clear()
        if self._pause is None:
            return
        task = asyncio.get_running_loop().create_task(self._tell_pause(seconds))
        self._pausing.add(task)
        task.add_done_callback(self._pausing.discard)

    async def _tell_pause(self, seconds: float) -> None:
        assert self._pause is not None
        try:
            await self._pause(seconds)
        except Exception:  # out of reach: this process still pauses itself
            logger.warning("could not share a 429 pause with the other processes", exc_info=True)

    async def wait(self) -> None:
        """Wait for this process's next global slot; the caller departs right after."""
        now = self.clock()
        while self._slots and self._slots[0] < now:
            self._slots.popleft()
        if self._slots:
            at = self._slots.popleft()
        else:
            try:
                wait = await self._reserve(self.batch)
            except Exception:
                # The database is out of reach: this process keeps its own pacing (the
                # local limiter still holds the per-process rate) rather than stop
                # sending; said once a minute, not per message.
                if self.clock() - self._last_warning > 60:
                    self._last_warning = self.clock()
                    logger.warning("shared send rate unavailable; pacing this process alone", exc_info=True)
                return
            # The server's answer counts from its clock; the answer's way back is the
            # same order for every process, so the local times keep the spacing.
            start = self.clock() + wait
            self._slots.extend(start + k * self.interval for k in range(1, self.batch))
            at = start  # a fresh slot a moment old (the round trip) is still ours
        delay = at - self.clock()
        if delay > 0:
            await self.sleep(delay)


class ChannelLimiter:
    def __init__(
        self,
        limits: ChannelLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        shared: SharedSlots | None = None,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.sleep = sleep  # injectable with `clock`, for tests on virtual time
        # Other processes' sends for the same token (PostgreSQL); None: this one alone.
        self.shared = shared if limits.rate is not None else None
        self._gate = _PriorityGate()
        self._window = math.ceil(limits.rate) if limits.rate else 0
        # [time, chat] of the last `rate` departures; `sent` moves a time to the answer.
        self._departures: deque[list[float | str]] = deque(maxlen=self._window or 1)
        self._next_free = 0.0
        self._paused_until = 0.0
        self._chat_next: dict[str, float] = {}
        self._group_departures: dict[str, deque[float]] = {}
        self._acquired = 0
        self.pauses = 0

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """The platform asked the whole channel to wait `seconds` from now."""
        self._paused_until = max(self._paused_until, self.clock() + seconds)
        self.pauses += 1
        if self.shared is not None:
            self.shared.pause(seconds)

    async def acquire(self, chat: str, *, group: bool = False, priority: Priority = Priority.BROADCAST) -> None:
        """Wait until a message to `chat` may leave, then count it as gone."""
        async with self.turn(chat, group=group, priority=priority):
            pass

    @asynccontextmanager
    async def turn(
        self,
        chat: str,
        *,
        group: bool = False,
        priority: Priority = Priority.BROADCAST,
    ) -> AsyncIterator[None]:
        """Wait for `chat`'s turn; the message counts as gone when the block ends.

        The caller does its last step before sending (claiming the delivery row) inside
        the block, so the departure is recorded after it and the pacer's clock stays
        within a millisecond of the real send. Inside, other senders wait: replies
        first, then broadcasts, each in arrival order.

        A reply to a private chat skips the one-per-second spacing for that chat: the
        worker just wrote, and a few messages in a row to one private chat are within
        Telegram's limits (the spacing protects broadcasts, which go on for minutes).
        """
        if priority is not Priority.REPLY or group:
            await self._wait_for_chat(chat, group)
        if self.limits.rate is None:
            await self._sleep_while(lambda: self._paused_until - self.clock())
            yield
            self._depart(chat, group, self.clock())
            return
        async with self._gate.hold(priority):
            await self._sleep_while(lambda: self._global_wait(self.clock()))
            if self.shared is not None:
                # The gate chose this sender; now the database says when, so the sum
                # over every process stays within the rate. A 429 pause arriving while
                # waiting wins: the slot is given up and a fresh one taken after it.
                await self.shared.wait()
                while self._paused_until > self.clock():
                    await self._sleep_while(lambda: self._paused_until - self.clock())
                    await self.shared.wait()
            # Even spacing counts from the turn given; the one-second window counts real
            # departures, taken after the caller's last step.
            self._next_free = self.clock() + 1.0 / self.limits.rate
            yield
            now = self.clock()
            self._departures.append([now, chat])
        self._depart(chat, group, now)

    def sent(self, chat: str) -> None:
        """The send to `chat` has been answered: count it from now in the one-second window.

        The platform counted the message somewhere between our departure and its answer.
        Counting it from the answer keeps the window right even when the event loop was
        slow to put the request on the wire (measured: with replies and a broadcast on a
        busy machine, one window in a thousand reached 31 when counted from departure).
        Even spacing still counts from the departure, so the rate barely changes.
        """
        now = self.clock()
        for entry in reversed(self._departures):
            if entry[1] == chat:
                entry[0] = max(entry[0], now)
                return

    async def _sleep_while(self, wait_for: Callable[[], float]) -> None:
        """Sleep until `wait_for()` is no longer positive. A deadline that moves (a 429
        pause arriving meanwhile) is re-read after every sleep."""
        while True:
            wait = wait_for()
            if wait <= 0:
                return
            await self.sleep(wait)

    def _global_wait(self, now: float) -> float:
        wait = max(self._paused_until - now, self._next_free - now)
        if len(self._departures) >= self._window:
            oldest = self._departures[0][0]
            assert isinstance(oldest, float)
            wait = max(wait, oldest + 1.0 + self.limits.window_margin - now)
        return wait

    async def _wait_for_chat(self, chat: str, group: bool) -> None:
        while True:
            now = self.clock()
            ready = self._chat_next.get(chat, 0.0)
            if group:
                sent = self._group_departures.get(chat)
                if sent is not None and len(sent) >= self.limits.group_per_minute:
                    ready = max(ready, sent[0] + 60.0)
            if ready <= now:
                return
            await self.sleep(ready - now)

    def _depart(self, chat: str, group: bool, now: float) -> None:
        self._chat_next[chat] = now + self.limits.per_chat_interval
        if group:
            sent = self._group_departures.setdefault(chat, deque(maxlen=self.limits.group_per_minute))
            sent.append(now)
        self._acquired += 1
        if self._acquired % 10_000 == 0:
            # A broadcast touches each chat once: forget chats whose pacing has expired.
            self._chat_next = {k: v for k, v in self._chat_next.items() if v > now}
            self._group_departures = {k: v for k, v in self._group_departures.items() if v and v[-1] > now - 60}


class _PriorityGate:
    """A lock whose waiters are served by priority, then in arrival order."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: tuple[deque[asyncio.Future[None]], ...] = tuple(deque() for _ in Priority)

    @asynccontextmanager
    async def hold(self, priority: Priority) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: Priority) -> None:
        if not self._held:  # free means nobody waits: a release hands the gate on directly
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[priority].append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # handed the gate just as we were cancelled: pass it on
            else:
                self._waiters[priority].remove(future)
            raise

    def _release(self) -> None:
        for queue in self._waiters:
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)  # the gate passes straight to this waiter
                    return
        self._held = False
