"""What the broadcast handlers need from the configuration, and the control hook.

The composition root puts a `BroadcastOptions` in `Services.broadcast_options` and, when
the delivery service runs in this process, a `BroadcastControl` in
`Services.broadcast_control`. Handlers change the store (the source of truth) and then
tell the control, so a change takes effect at once rather than at the next sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from handlers.broadcasts.schedule import QuietHours
from handlers.context import Ctx


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    name_vi: str
    name_en: str
    description_vi: str = ""
    description_en: str = ""

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_vi

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" else self.description_vi


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    topics: tuple[Topic, ...] = ()
    timezone: str = "Asia/Ho_Chi_Minh"
    quiet_start: str = "21:00"
    quiet_end: str = "07:00"
    # The Zalo OA reaches only workers who wrote within this many days (preview counts).
    zalo_window_days: int = 7

    @property
    def quiet(self) -> QuietHours:
        return QuietHours.parse(self.quiet_start, self.quiet_end, self.timezone)

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def topic_index(self, topic_id: str) -> int:
        return next(i for i, t in enumerate(self.topics) if t.id == topic_id)


class BroadcastControl(Protocol):
    async def changed(self, broadcast_id: int) -> None:
        """The broadcast was created, paused, resumed, cancelled or re-queued in the store."""


_DEFAULT = BroadcastOptions()


def options(ctx: Ctx) -> BroadcastOptions:
    return ctx.services.broadcast_options or _DEFAULT


async def notify_changed(ctx: Ctx, broadcast_id: int) -> None:
    control = ctx.services.broadcast_control
    if control is not None:
        await control.changed(broadcast_id)
