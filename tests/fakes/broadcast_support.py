"""Test doubles for broadcasting: a settable clock, a recording sender, and builders for
the engine and the chat side with topics configured."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.broadcast.engine import DeliveryEngine, EngineSettings
from bot.broadcast.limits import ChannelLimits
from bot.broadcast.senders import Part
from handlers.broadcasts import BroadcastOptions, Topic
from handlers.broadcasts.schedule import QuietHours
from handlers.i18n import load_catalog
from storage import Store, User
from storage.broadcasts import Broadcast, BroadcastPhoto, BroadcastStats

VN = ZoneInfo("Asia/Ho_Chi_Minh")

TOPICS = (
    Topic("workers_month", "Tháng Công nhân", "Workers' Month", "Hoạt động tháng 5.", "May activities."),
    Topic("osh_month", "Tháng ATVSLĐ", "OSH Month"),
    Topic("tet_sum_vay", "Tết Sum vầy", "Tết Sum vầy"),
    Topic("member_drive", "Phát triển đoàn viên", "Member drive"),
    Topic("legal_updates", "Cập nhật pháp luật", "Legal updates"),
    Topic("union_news", "Tin công đoàn", "Union news"),
)
OPTS = BroadcastOptions(topics=TOPICS, quiet_start="21:00", quiet_end="07:00")
NO_QUIET = QuietHours.parse("00:00", "00:00", "Asia/Ho_Chi_Minh")
FAST = EngineSettings(backoff_base=0.01, backoff_cap=0.05, status_poll_seconds=0.05, lease_seconds=5)


def local(*args: int) -> datetime:
    """A Vietnam local time as an aware UTC datetime: local(2025, 5, 1, 8, 0)."""
    return datetime(*args, tzinfo=VN).astimezone(UTC)  # type: ignore[misc]


class FakeClock:
    """Wall clock that moves only when the test says so; sleepers wake when it passes."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._moved = asyncio.Event()
        self.sleeps: list[datetime] = []

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when
        self._moved.set()
        self._moved = asyncio.Event()

    def advance(self, **delta: float) -> None:
        self.set(self._now + timedelta(**delta))

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> None:
        self.sleeps.append(when)
        while self._now < when and not (wake is not None and wake.is_set()):
            moved = self._moved
            waiters = [asyncio.ensure_future(moved.wait())]
            if wake is not None:
                waiters.append(asyncio.ensure_future(wake.wait()))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()


class RecordingControl:
    """The broadcast service's `changed` hook, recording which broadcasts were changed."""

    def __init__(self) -> None:
        self.changed_ids: list[int] = []

    async def changed(self, broadcast_id: int) -> None:
        self.changed_ids.append(broadcast_id)


@dataclass
class RecordingSender:
    """A neutral channel that records what it was asked to send."""

    channel: str = "telegram"
    limits: ChannelLimits = field(default_factory=lambda: ChannelLimits(rate=None, per_chat_interval=0.0))
    sent: list[tuple[str, str | None]] = field(default_factory=list)
    hook: object = None  # async callable(chat_id, part) run before recording

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def plan(self, text: str, photo: BroadcastPhoto | None) -> list[Part]:
        return [Part(text=text, photo=photo)]

    def is_group(self, chat_id: str) -> bool:
        return chat_id.startswith("-")

    async def send(self, chat_id: str, part: Part) -> None:
        if self.hook is not None:
            await self.hook(chat_id, part)  # type: ignore[operator]
        self.sent.append((chat_id, part.text))

    def chats(self) -> list[str]:
        return [c for c, _ in self.sent]


@dataclass
class Summaries:
    """Collects the organizer summaries an engine sends."""

    got: list[tuple[User, Broadcast, BroadcastStats]] = field(default_factory=list)

    async def __call__(self, user: User, broadcast: Broadcast, stats: BroadcastStats) -> None:
        self.got.append((user, broadcast, stats))


def make_engine(
    store: Store,
    senders: dict,
    *,
    quiet: QuietHours = NO_QUIET,
    settings: EngineSettings = FAST,
    clock: object = None,
    notify: object = None,
    owner: str | None = None,
) -> DeliveryEngine:
    return DeliveryEngine(
        store,
        load_catalog(),
        senders,
        quiet,
        settings=settings,
        clock=clock,  # type: ignore[arg-type]
        notify=notify,
        owner=owner,  # type: ignore[arg-type]
    )


async def add_workers(
    store: Store,
    ids: Iterable[int | str],
    *,
    topics: Iterable[str] = ("workers_month",),
    language: str = "vi",
    channel: str = "telegram",
) -> list[User]:
    users = []
    topics = list(topics)
    for i in ids:
        user = await store.touch_user(channel, str(i), language=language)
        if topics:
            await store.subscribe(user.id, topics)
        users.append(user)
    return users


def with_options(services) -> None:  # type: ignore[no-untyped-def]
    services.broadcast_options = OPTS
