"""Zalo's sending rules as pure functions, for the broadcast engine and the organizer's preview.

* The OA may send a customer-service message only to a worker who interacted with
  it within the last 7 days (Zalo answers -230/-232 otherwise). Broadcasting to the
  others would only collect errors, so they are skipped up front with `REASON_WINDOW`.
* Nothing goes out on Zalo at night (22:00-06:00 local time, error -234 for
  promotion messages); the bot applies it to every Zalo broadcast, on top of its own
  quiet hours. The Bot platform documents no such rule; applying it there too keeps
  one rule for "Zalo" that organizers can remember.
* `classify_error` turns what a Zalo channel's `send` raises into what a broadcast
  sender does about it, so Zalo's codes are known in this package only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from bot.channels.zalo.errors import (
    Blocked,
    RateLimited,
    Unreachable,
    ZaloAuthError,
    ZaloError,
    ZaloTransientError,
)

# Delivery reasons, as recorded on skipped deliveries.
REASON_WINDOW = "zalo_window"  # OA: no interaction within the window
REASON_NIGHT = "zalo_night"

DEFAULT_WINDOW_DAYS = 7
NIGHT_START = time(22, 0)
NIGHT_END = time(6, 0)

# Zalo codes for "this worker cannot be reached through the OA now", mapped to the
# reason a skipped delivery records. The adapters raise `Unreachable(reason_code)`.
UNREACHABLE_REASONS = {
    -230: REASON_WINDOW,  # no interaction in the past 7 days
    -232: REASON_WINDOW,  # no interaction, or it expired
    -213: "zalo_not_follower",
    -227: "zalo_inactive",  # banned, or inactive for more than 45 days
    -217: "zalo_blocked",  # the worker blocked the OA
    -244: "zalo_restricted",  # the worker restricted this message type
}


def oa_can_broadcast(last_seen_at: datetime | None, now: datetime, window_days: float = DEFAULT_WINDOW_DAYS) -> bool:
    """Whether the OA may send this worker a customer-service message now.

    `last_seen_at` is the worker's last message to the OA (the store's
    `User.last_seen_at`, which every inbound message updates). Both datetimes must be
    timezone-aware. The window is open-ended at the far side: exactly 7 days is out.
    """
    if last_seen_at is None:
        return False
    if last_seen_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("oa_can_broadcast needs timezone-aware datetimes")
    age = now.astimezone(UTC) - last_seen_at.astimezone(UTC)
    return age < timedelta(days=window_days)


def in_zalo_night(local_time: time | datetime, start: time = NIGHT_START, end: time = NIGHT_END) -> bool:
    """Whether `local_time` (wall clock where the workers are) falls in Zalo's night.

    The night runs from `start` (included) to `end` (excluded) and may wrap midnight.
    """
    t = local_time.timetz() if isinstance(local_time, datetime) else local_time
    t = t.replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def unreachable_reason(code: int | None) -> str:
    """The skip reason for a Zalo `Unreachable` code ("zalo_unreachable" if unknown)."""
    return UNREACHABLE_REASONS.get(code or 0, "zalo_unreachable")


class Outcome(StrEnum):
    """What a sender should do about a failed Zalo send."""

    RATE_LIMITED = "rate_limited"  # pause the channel `retry_after` seconds, then retry
    UNREACHABLE = "unreachable"  # skip this worker with `reason`; never retry
    BLOCKED = "blocked"  # the worker blocked the OA: mark them unreachable; never retry
    TRANSIENT = "transient"  # retry with backoff, bounded (delivery may be unknown)
    CHANNEL_DOWN = "channel_down"  # token refused: stop the channel, keep rows queued
    REJECTED = "rejected"  # permanent for this message: failed with `reason`


# OA limits are per minute per app; without a hint from Zalo, wait most of a minute.
DEFAULT_RATE_LIMIT_PAUSE = 60.0


@dataclass(frozen=True, slots=True)
class SendFailure:
    outcome: Outcome
    reason: str
    retry_after: float | None = None
    parts_sent: int = 0  # messages of this reply that went out before the failure


def classify_error(exc: ZaloError) -> SendFailure:
    """Map an exception from a Zalo channel's `send` to what a broadcast sender does."""
    parts = exc.parts_sent
    coded = f"zalo_{exc.code}" if exc.code is not None else None
    if isinstance(exc, RateLimited):
        pause = exc.retry_after or DEFAULT_RATE_LIMIT_PAUSE
        return SendFailure(Outcome.RATE_LIMITED, "zalo_rate_limited", pause, parts)
    if isinstance(exc, Blocked):
        return SendFailure(Outcome.BLOCKED, unreachable_reason(exc.reason_code), None, parts)
    if isinstance(exc, Unreachable):
        return SendFailure(Outcome.UNREACHABLE, unreachable_reason(exc.reason_code), None, parts)
    if isinstance(exc, ZaloTransientError):
        return SendFailure(Outcome.TRANSIENT, coded or "zalo_network", None, parts)
    if isinstance(exc, ZaloAuthError):
        return SendFailure(Outcome.CHANNEL_DOWN, "zalo_auth", None, parts)
    return SendFailure(Outcome.REJECTED, coded or "zalo_rejected", None, parts)


def parse_hhmm(text: str) -> time:
    """ "22:00" -> time(22, 0); config validation has already checked the shape."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
