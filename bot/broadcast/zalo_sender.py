"""The broadcast sender for the two Zalo channels (OA and Bot platform).

It wraps the channel's documented seam, `await channel.send(external_id, Reply(...))`,
one Zalo message per `Part` (texts already cut to Zalo's 2,000 characters, the photo
on its own), so the engine's part index is exact and `parts_sent` is never needed.
What Zalo raises is mapped with `rules.classify_error`:

    -32 / 429          -> Throttled: the whole Zalo channel pauses, then this part again
    -213/-227/-230/-232 -> Skipped(reason): the row is skipped, never retried
    -217/-244          -> RecipientGone: the worker blocked the OA; marked, never retried
    5xx, network       -> Transient: retried with the engine's bounded backoff
    token refused      -> ChannelDown: this channel stops, its rows stay queued
    anything else      -> Rejected: failed with Zalo's code

Zalo's rules the engine asks the sender about:

* `skip_reason`: the OA may only send customer-service messages to a worker who
  wrote within `oa_window_days`; the others are skipped up front (`zalo_window`),
  with no API call.
* `blackout_until`: nothing goes out on Zalo at night (22:00-06:00 local by
  default), on top of the bot's quiet hours; those rows wait, other channels go on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from bot.broadcast.limits import ChannelLimiter, ChannelLimits
from bot.broadcast.senders import ChannelDown, Part, RecipientGone, Rejected, Skipped, Throttled, Transient
from bot.channels.zalo.errors import ZaloError
from bot.channels.zalo.rules import (
    REASON_NIGHT,
    REASON_WINDOW,
    Outcome,
    classify_error,
    in_zalo_night,
    oa_can_broadcast,
    parse_hhmm,
)
from bot.channels.zalo.text import split_text
from bot.config import Config
from handlers.types import Button, Channel, Photo, Reply
from storage.broadcasts import BroadcastPhoto, DeliveryTarget

logger = logging.getLogger(__name__)

OA = Channel.ZALO_OA
BOT = Channel.ZALO_BOT


@runtime_checkable
class ZaloSendChannel(Protocol):
    name: str

    async def send(self, user_id: str, reply: Reply) -> None: ...


class ZaloSender:
    """A `Sender` (bot/broadcast/senders.py) for one running Zalo channel."""

    def __init__(
        self,
        channel: ZaloSendChannel,
        limits: ChannelLimits,
        *,
        timezone: str,
        night_start: str = "22:00",
        night_end: str = "06:00",
        window_days: float | None = None,
        max_pause: float = 120.0,
        limiter: ChannelLimiter | None = None,
    ) -> None:
        self.zalo = channel
        self.limiter = limiter
        self.channel = channel.name
        self.limits = limits
        self.tz = ZoneInfo(timezone)
        self.night_start = parse_hhmm(night_start)
        self.night_end = parse_hhmm(night_end)
        # OA only: the customer-service window in days; None: no window (Bot platform).
        self.window_days = window_days
        # Longest pause one rate-limit answer may impose (Zalo's hint, or a minute).
        self.max_pause = max_pause
        self.blackout_reason = REASON_NIGHT

    async def start(self) -> None:
        pass  # the channel owns the connection and is started before the broadcast service

    async def stop(self) -> None:
        pass

    # Photos: the OA sends image bytes (uploaded once by the channel); the Bot platform
    # takes only public URLs, so its workers get the text alone.
    @property
    def sends_photos(self) -> bool:
        return self.channel == OA

    def plan(self, text: str, photo: BroadcastPhoto | None) -> list[Part]:
        parts = [Part(text=chunk) for chunk in split_text(text)]
        if photo is not None and self.sends_photos and photo.available_on(self.channel):
            parts.insert(0, Part(photo=photo))
        return parts

    def is_group(self, chat_id: str) -> bool:
        return False

    # -- Zalo's rules ------------------------------------------------------
    def skip_reason(self, target: DeliveryTarget, now: datetime) -> str | None:
        """Why this row is skipped without a call (outside the OA window), or None."""
        if self.window_days is None:
            return None
        if target.last_seen_at is None or not oa_can_broadcast(target.last_seen_at, now, self.window_days):
            return REASON_WINDOW
        return None

    def blackout_until(self, now: datetime) -> datetime | None:
        """When Zalo's night containing `now` ends; None if it is not Zalo's night."""
        local = now.astimezone(self.tz)
        if not in_zalo_night(local, self.night_start, self.night_end):
            return None
        day = local.date()
        if self.night_start > self.night_end and local.time() >= self.night_start:
            day += timedelta(days=1)
        return datetime.combine(day, self.night_end, tzinfo=self.tz)

    # -- sending -----------------------------------------------------------
    async def send(self, chat_id: str, part: Part) -> None:
        if part.photo is not None:
            reply = Reply(part.text or "", photo=Photo(part.photo.data, part.photo.filename))
        else:
            # A poll's choices become numbered choices the worker answers by number.
            reply = Reply(
                part.text or "", buttons=[[Button(label, data) for label, data in row] for row in part.buttons]
            )
        try:
            await self.zalo.send(chat_id, reply)
        except ZaloError as exc:
            failure = classify_error(exc)
            if failure.outcome is Outcome.RATE_LIMITED:
                raise Throttled(min(failure.retry_after or self.max_pause, self.max_pause)) from exc
            if failure.outcome is Outcome.BLOCKED:
                raise RecipientGone(failure.reason) from exc
            if failure.outcome is Outcome.UNREACHABLE:
                raise Skipped(failure.reason) from exc
            if failure.outcome is Outcome.TRANSIENT:
                raise Transient(failure.reason) from exc
            if failure.outcome is Outcome.CHANNEL_DOWN:
                raise ChannelDown(failure.reason) from exc
            raise Rejected(failure.reason) from exc


def zalo_limits(config: Config) -> ChannelLimits:
    # One message per worker per second is plenty: a broadcast sends each a few.
    # The Bot platform documents no per-app limit; the OA's conservative pace serves both.
    return ChannelLimits(rate=config.zalo.oa_rate, per_chat_interval=1.0)


def zalo_senders(config: Config, channels: list[object]) -> dict[str, ZaloSender]:
    """Senders for the Zalo channels that run in this process, keyed by channel name."""
    zalo = config.zalo
    senders: dict[str, ZaloSender] = {}
    for channel in channels:
        if not isinstance(channel, ZaloSendChannel) or channel.name not in (OA, BOT):
            continue
        name = channel.name
        senders[name] = ZaloSender(
            channel,
            zalo_limits(config),
            timezone=config.bot.timezone,
            night_start=zalo.night_start,
            night_end=zalo.night_end,
            window_days=zalo.oa_window_days if name == OA else None,
            # The app's one pacer, shared with the channel's replies, when it has one.
            limiter=getattr(channel, "limiter", None),
        )
    return senders
