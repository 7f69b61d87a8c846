"""Quiet hours, times as organizers type them, cron weekdays, and the channel pacer."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time

import pytest

from bot.broadcast.cron import CronError, cron_trigger, next_fire
from bot.broadcast.limits import ChannelLimiter, ChannelLimits
from handlers.broadcasts.optout import OptOut, classify, fold, is_opt_out
from handlers.broadcasts.schedule import (
    QuietHours,
    next_weekly,
    parse_local_date,
    parse_local_datetime,
    parse_period,
    parse_time_of_day,
    weekly_cron,
)
from tests.fakes.broadcast_support import VN, local

QUIET = QuietHours.parse("21:00", "07:00", "Asia/Ho_Chi_Minh")


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (20, 59, False),
        (21, 0, True),
        (23, 30, True),
        (0, 0, True),
        (6, 59, True),
        (7, 0, False),
        (12, 0, False),
    ],
)
def test_quiet_hours_wrap_past_midnight(hour: int, minute: int, quiet: bool) -> None:
    assert QUIET.is_quiet(local(2025, 5, 1, hour, minute)) is quiet


def test_quiet_hours_end_and_next_start() -> None:
    assert QUIET.ends_after(local(2025, 5, 1, 22, 0)) == local(2025, 5, 2, 7, 0)
    assert QUIET.ends_after(local(2025, 5, 2, 3, 0)) == local(2025, 5, 2, 7, 0)
    noon = local(2025, 5, 2, 12, 0)
    assert QUIET.ends_after(noon) == noon
    assert QUIET.next_start(noon) == local(2025, 5, 2, 21, 0)
    assert QUIET.next_start(local(2025, 5, 2, 22, 0)) == local(2025, 5, 3, 21, 0)


def test_quiet_hours_within_a_day_and_disabled() -> None:
    lunch = QuietHours.parse("12:00", "13:00", "Asia/Ho_Chi_Minh")
    assert lunch.is_quiet(local(2025, 5, 1, 12, 30)) and not lunch.is_quiet(local(2025, 5, 1, 13, 0))
    assert lunch.ends_after(local(2025, 5, 1, 12, 30)) == local(2025, 5, 1, 13, 0)
    off = QuietHours.parse("00:00", "00:00", "Asia/Ho_Chi_Minh")
    assert not off.is_quiet(local(2025, 5, 1, 3, 0)) and off.next_start(local(2025, 5, 1, 3, 0)) is None


def test_parse_datetimes_the_way_organizers_type_them() -> None:
    now = local(2025, 4, 20, 10, 0)
    want = datetime(2025, 5, 1, 8, 0, tzinfo=VN)
    typed = ("2025-05-01 08:00", "01/05/2025 08:00", "1/5/2025 8:00", "8h00 01/05/2025", "01/05 8h", "01.05.25 08:00")
    for text in typed:
        assert parse_local_datetime(text, VN, now) == want, text
    assert parse_local_datetime("mai", VN, now) is None
    assert parse_local_datetime("31/02/2025 08:00", VN, now) is None
    assert parse_local_datetime("01/05/2025 25:00", VN, now) is None
    # A day and month already past this year means next year.
    assert parse_local_datetime("01/02 08:00", VN, now) == datetime(2026, 2, 1, 8, 0, tzinfo=VN)


def test_parse_times_dates_and_periods() -> None:
    now = local(2025, 4, 20, 10, 0)
    assert parse_time_of_day("19:00") == time(19, 0) and parse_time_of_day("7h30") == time(7, 30)
    assert parse_time_of_day("19g") == time(19, 0) and parse_time_of_day("24:00") is None
    assert parse_local_date("31/05/2025", VN, now) == date(2025, 5, 31)
    assert parse_local_date("31/05/2025 hello", VN, now) is None
    assert parse_period("31/05/2025", VN, now) == (None, date(2025, 5, 31))
    assert parse_period("01/05/2025 - 31/05/2025", VN, now) == (date(2025, 5, 1), date(2025, 5, 31))
    assert parse_period("01/05/2025 đến 31/05/2025", VN, now) == (date(2025, 5, 1), date(2025, 5, 31))
    assert parse_period("31/05/2025 - 01/05/2025", VN, now) is None


def test_weekly_schedule_from_the_chat() -> None:
    assert weekly_cron(0, time(19, 0)) == "0 19 * * mon"
    assert weekly_cron(None, time(7, 30)) == "30 7 * * *"
    # 1 May 2025 is a Thursday: the first Monday 19:00 after it is 5 May.
    assert next_weekly(local(2025, 5, 1, 0, 0), 0, time(19, 0), VN) == datetime(2025, 5, 5, 19, 0, tzinfo=VN)
    assert next_weekly(local(2025, 5, 5, 19, 0), 0, time(19, 0), VN) == datetime(2025, 5, 12, 19, 0, tzinfo=VN)


def test_cron_weekday_numbers_mean_what_cron_means() -> None:
    """APScheduler counts Monday as 0; a crontab's 1 is Monday and must stay Monday."""
    after = local(2025, 5, 1, 0, 0)  # a Thursday
    assert next_fire(cron_trigger("0 19 * * 1", VN), after).astimezone(VN).strftime("%a %d") == "Mon 05"
    assert next_fire(cron_trigger("0 19 * * 0", VN), after).astimezone(VN).strftime("%a") == "Sun"
    assert next_fire(cron_trigger("0 19 * * 7", VN), after).astimezone(VN).strftime("%a") == "Sun"
    assert next_fire(cron_trigger("0 19 * * 1-5", VN), after).astimezone(VN).strftime("%a") == "Thu"
    assert next_fire(cron_trigger("0 19 * * mon", VN), after).astimezone(VN).strftime("%a") == "Mon"
    first = next_fire(cron_trigger("0 19 * * 1", VN), after)
    assert next_fire(cron_trigger("0 19 * * 1", VN), first).astimezone(VN).strftime("%d") == "12"
    for bad in ("0 19 * *", "0 25 * * 1", "0 19 * * 8", "0 19 * * 5-1"):
        with pytest.raises(CronError):
            cron_trigger(bad, VN)


@pytest.mark.parametrize(
    "text",
    [
        "dừng",
        "Dừng!",
        "hủy",
        "huỷ",
        "HỦY",
        "Thôi nhận tin",
        "thoi nhan tin",
        "stop",
        "STOP.",
        "unsubscribe",
        " ngừng nhận tin ",
        "hủy đăng ký",
        "huy dang ky",
        "Stop please",
        "please stop",
        # How workers say it (found trying the bot): "don't send any more", "no more news".
        "đừng gửi tin nữa",
        "dung gui nua",
        "ko nhan tin nua",
        "không nhận thông báo nữa",
        "stop sending me messages",
        "Don't send me messages",
    ],
)
def test_opt_out_words(text: str) -> None:
    assert is_opt_out(text)
    assert classify(text) is OptOut.YES


@pytest.mark.parametrize("text", ["dung", "DUNG", "huy", "Huy", "dung lai", "dung!"])
def test_bare_diacritic_free_dung_or_huy_asks_first(text: str) -> None:
    # dừng / đúng / dùng / Dũng; hủy / the name Huy: never unsubscribe without asking.
    assert classify(text) is OptOut.ASK
    assert not is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "công ty bắt dừng việc không báo trước",
        "làm sao để hủy hợp đồng",
        "stop working overtime?",
        "dung co",
        "tôi muốn dừng nhận lương tháng",
        "thôi",
        "",
        "đúng",
        "Đúng!",
        "Dũng",
        "dùng",
        "dũng",
        "đúng rồi",
        "Huỳnh",
        "huy chương",
    ],
)
def test_sentences_with_such_words_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text)
    assert classify(text) is OptOut.NO


def test_fold_handles_d_with_stroke_and_tone_marks() -> None:
    assert fold("Đăng KÝ  Huỷ!") == "dang ky huy"


class VirtualTime:
    """Monotonic time that jumps forward when a coroutine sleeps."""

    def __init__(self) -> None:
        self.t = 0.0

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


async def test_pacer_never_exceeds_the_rate_in_any_window() -> None:
    vt = VirtualTime()
    limiter = ChannelLimiter(ChannelLimits(rate=30), clock=vt.clock, sleep=vt.sleep)
    times: list[float] = []

    async def one(i: int) -> None:
        await limiter.acquire(str(i))
        times.append(vt.t)

    await asyncio.gather(*(one(i) for i in range(300)))
    times.sort()
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) <= 30
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 29.0 <= rate <= 30.0


async def test_pacer_spaces_one_chat_and_groups() -> None:
    vt = VirtualTime()
    limiter = ChannelLimiter(ChannelLimits(rate=None), clock=vt.clock, sleep=vt.sleep)
    await limiter.acquire("42")
    await limiter.acquire("42")
    assert vt.t >= 1.0, "a second message to one chat waits a second"
    vt.t = 100.0
    times = []
    for _ in range(25):
        await limiter.acquire("-100123", group=True)
        times.append(vt.t)
    assert times[19] - times[0] < 60 and times[20] - times[0] >= 60, "at most 20 a minute to a group"


async def test_pause_holds_the_whole_channel() -> None:
    vt = VirtualTime()
    limiter = ChannelLimiter(ChannelLimits(rate=None), clock=vt.clock, sleep=vt.sleep)
    limiter.pause(2.0)
    await limiter.acquire("1")
    assert vt.t == pytest.approx(2.0)
    await limiter.acquire("2")
    assert vt.t == pytest.approx(2.0)
