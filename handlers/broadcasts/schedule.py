"""Times as organizers type them, quiet hours, and weekly schedules, in local time.

Pure functions over aware datetimes: the chat flow, the command line and the delivery
engine share them, so "quiet hours" means the same thing in the preview and in the send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_TIME = re.compile(r"\b(\d{1,2})\s*[:hg]\s*(\d{2})?\b", re.I)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_VN_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?\b")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window, in local time, in which nothing is broadcast. It may wrap past
    midnight (21:00-07:00); equal start and end mean no quiet hours."""

    start: time
    end: time
    tz: ZoneInfo

    @staticmethod
    def parse(start: str, end: str, timezone: str) -> QuietHours:
        return QuietHours(_hhmm(start), _hhmm(end), ZoneInfo(timezone))

    @property
    def enabled(self) -> bool:
        return self.start != self.end

    def is_quiet(self, at: datetime) -> bool:
        if not self.enabled:
            return False
        t = at.astimezone(self.tz).time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def ends_after(self, at: datetime) -> datetime:
        """When the quiet window containing `at` ends (`at` itself if not quiet)."""
        if not self.is_quiet(at):
            return at
        local = at.astimezone(self.tz)
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=self.tz)

    def next_start(self, at: datetime) -> datetime | None:
        """The next moment quiet hours begin, at or after `at`; None without quiet hours."""
        if not self.enabled:
            return None
        local = at.astimezone(self.tz)
        day = local.date()
        if local.time() > self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.start, tzinfo=self.tz)


# A poll closes at most a year ahead: one open until "2099" (a typo, found trying the bot
# as an organizer) would keep its answers linked to people for decades, as they are
# unlinked 30 days after it closes.
MAX_AHEAD = timedelta(days=366)


def too_far(at: datetime, now: datetime) -> bool:
    return at - now > MAX_AHEAD


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def parse_time_of_day(text: str) -> time | None:
    """'19:00', '19h', '7h30', '19g' -> a time; None if it is not one."""
    m = _TIME.fullmatch(text.strip())
    if m is None:
        return None
    hours, minutes = int(m.group(1)), int(m.group(2) or 0)
    if hours > 23 or minutes > 59:
        return None
    return time(hours, minutes)


def _find_date(text: str, today: date) -> tuple[date | None, str]:
    """The date in `text` and the text without it."""
    m = _ISO_DATE.search(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = _VN_DATE.search(text)
        if m is None:
            return None, text
        d, mo = int(m.group(1)), int(m.group(2))
        year = m.group(3)
        y = (2000 + int(year) if len(year) == 2 else int(year)) if year else today.year
    try:
        found = date(y, mo, d)
    except ValueError:
        return None, text
    if m.re is _VN_DATE and not m.group(3) and found < today:
        # "01/05" typed in December means next May.
        try:
            found = found.replace(year=found.year + 1)
        except ValueError:  # "29/02" with no 29 February next year: the organizer types the year
            return None, text
    return found, text[: m.start()] + " " + text[m.end() :]


def parse_local_datetime(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """A date and time as organizers type them, in local time:
    '2025-05-01 08:00', '01/05/2025 8:00', '8h30 1/5/2025', '01/05 19:00'."""
    today = now.astimezone(tz).date()
    found, rest = _find_date(text, today)
    if found is None:
        return None
    clock = parse_time_of_day(" ".join(rest.split()))
    if clock is None:
        return None
    return datetime.combine(found, clock, tzinfo=tz)


def parse_local_date(text: str, tz: ZoneInfo, now: datetime) -> date | None:
    found, rest = _find_date(text, now.astimezone(tz).date())
    return found if found is not None and not rest.strip() else None


def parse_period(text: str, tz: ZoneInfo, now: datetime) -> tuple[date | None, date] | None:
    """'31/05/2025' (from now until then) or '01/05/2025 - 31/05/2025'."""
    parts = [p for p in re.split(r"\s+(?:-|–|đến|den|to)\s+|\s*[–]\s*", text.strip()) if p.strip()]
    if len(parts) == 1:
        until = parse_local_date(parts[0], tz, now)
        return (None, until) if until else None
    if len(parts) == 2:
        start, until = parse_local_date(parts[0], tz, now), parse_local_date(parts[1], tz, now)
        if start and until and start <= until:
            return start, until
    return None


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def weekly_cron(weekday: int | None, at: time) -> str:
    """A crontab line for 'every <weekday> at HH:MM' (weekday None: every day).

    Weekday names rather than numbers: cron counts Sunday as 0, APScheduler counts Monday
    as 0, and names mean the same to both.
    """
    day = "*" if weekday is None else WEEKDAYS[weekday]
    return f"{at.minute} {at.hour} * * {day}"


def next_weekly(after: datetime, weekday: int | None, at: time, tz: ZoneInfo) -> datetime:
    """The first 'every <weekday> at HH:MM' strictly after `after`."""
    local = after.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        candidate = datetime.combine(day, at, tzinfo=tz)
        if candidate > local and (weekday is None or day.weekday() == weekday):
            return candidate
    raise AssertionError("a weekly schedule always fires within 8 days")


def format_local(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%d/%m/%Y %H:%M")
