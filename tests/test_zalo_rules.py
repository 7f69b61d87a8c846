"""Zalo's sending rules: the OA's 7-day window and Zalo's night."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from bot.channels.zalo.rules import (
    REASON_WINDOW,
    in_zalo_night,
    oa_can_broadcast,
    parse_hhmm,
    unreachable_reason,
)

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
VN = timezone(timedelta(hours=7))


@pytest.mark.parametrize(
    ("age", "allowed"),
    [
        (timedelta(0), True),
        (timedelta(days=6, hours=23, minutes=59), True),
        (timedelta(days=7), False),
        (timedelta(days=30), False),
    ],
)
def test_oa_window(age: timedelta, allowed: bool) -> None:
    assert oa_can_broadcast(NOW - age, NOW) is allowed


def test_oa_window_edges() -> None:
    assert oa_can_broadcast(None, NOW) is False
    assert oa_can_broadcast(NOW - timedelta(days=2), NOW, window_days=1) is False
    # Time zones do not shift the window.
    assert oa_can_broadcast((NOW - timedelta(days=6)).astimezone(VN), NOW) is True
    with pytest.raises(ValueError, match="timezone-aware"):
        oa_can_broadcast(datetime(2026, 11, 20), NOW)


@pytest.mark.parametrize(
    ("clock", "night"),
    [
        (time(21, 59), False),
        (time(22, 0), True),
        (time(23, 30), True),
        (time(0, 0), True),
        (time(5, 59), True),
        (time(6, 0), False),
        (time(12, 0), False),
    ],
)
def test_zalo_night(clock: time, night: bool) -> None:
    assert in_zalo_night(clock) is night
    assert in_zalo_night(datetime.combine(NOW.date(), clock, tzinfo=VN)) is night


def test_zalo_night_configured_and_degenerate() -> None:
    assert in_zalo_night(time(13, 0), parse_hhmm("12:00"), parse_hhmm("14:00")) is True
    assert in_zalo_night(time(15, 0), parse_hhmm("12:00"), parse_hhmm("14:00")) is False
    assert in_zalo_night(time(3, 0), time(0, 0), time(0, 0)) is False


def test_unreachable_reasons() -> None:
    assert unreachable_reason(-230) == unreachable_reason(-232) == REASON_WINDOW
    assert unreachable_reason(-213) == "zalo_not_follower"
    assert unreachable_reason(None) == "zalo_unreachable"


def test_send_failures_are_classified_for_the_broadcast_engine() -> None:
    from bot.channels.zalo.errors import (
        RateLimited,
        TokenRefreshError,
        Unreachable,
        ZaloAuthError,
        ZaloNetworkError,
        ZaloPermanentError,
        ZaloServerError,
    )
    from bot.channels.zalo.rules import Outcome, SendFailure, classify_error

    limited = classify_error(RateLimited("slow", code=-32))
    assert (limited.outcome, limited.retry_after) == (Outcome.RATE_LIMITED, 60.0)
    assert classify_error(RateLimited("slow", retry_after=5)).retry_after == 5
    window = classify_error(Unreachable(-230, "not interacted"))
    assert (window.outcome, window.reason) == (Outcome.UNREACHABLE, REASON_WINDOW)
    assert classify_error(ZaloNetworkError("timeout")).outcome is Outcome.TRANSIENT
    assert classify_error(ZaloServerError("failed", code=-200)).reason == "zalo_-200"
    assert classify_error(ZaloAuthError("bad token", code=-216)).outcome is Outcome.CHANNEL_DOWN
    assert classify_error(TokenRefreshError("refused")).outcome is Outcome.CHANNEL_DOWN
    rejected = ZaloPermanentError("invalid", code=-201)
    rejected.parts_sent = 1
    assert classify_error(rejected) == SendFailure(Outcome.REJECTED, "zalo_-201", None, 1)
