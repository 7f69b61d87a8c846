"""Recurring schedules as crontab lines, evaluated with APScheduler 3's CronTrigger.

APScheduler numbers weekdays from Monday = 0 while cron uses Sunday = 0 (and 7), so a
crontab line typed by an organizer ("0 19 * * 1" = Mondays) would silently fire on
Tuesdays. Numeric weekdays are translated to names before APScheduler sees them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")  # cron: 0 and 7 are Sunday


class CronError(ValueError):
    pass


def _day(token: str) -> int:
    if not token.isdigit() or not 0 <= int(token) <= 7:
        raise CronError(f"day of week must be 0-7 or a name, got {token!r}")
    return int(token)


def _translate_weekdays(field: str) -> str:
    out: list[str] = []
    for element in field.split(","):
        base, _, step = element.partition("/")
        if base == "*" or not any(ch.isdigit() for ch in base):
            out.append(element)  # '*', '*/2', names and name ranges mean the same to both
            continue
        first, _, last = base.partition("-")
        lo, hi = _day(first), _day(last) if last else _day(first)
        if hi < lo:
            raise CronError(f"day-of-week range {base!r} runs backwards")
        stride = int(step) if step.isdigit() else 1
        out.extend(_CRON_DAYS[d] for d in range(lo, hi + 1, stride))
    return ",".join(dict.fromkeys(out))


def cron_trigger(expression: str, timezone: str | ZoneInfo) -> CronTrigger:
    """A 5-field crontab line (minute hour day month weekday) in `timezone`."""
    fields = expression.split()
    if len(fields) != 5:
        raise CronError("a schedule needs 5 fields: minute hour day month weekday, e.g. '0 19 * * mon'")
    fields[4] = _translate_weekdays(fields[4])
    tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    try:
        return CronTrigger.from_crontab(" ".join(fields), timezone=tz)
    except ValueError as e:
        raise CronError(str(e)) from None


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first firing strictly after `after`."""
    return trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
