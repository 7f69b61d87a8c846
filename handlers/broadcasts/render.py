"""How a broadcast reads: the worker's message, the organizer's descriptions and summary.

`render_message` is the one place a broadcast's text is put together, used by the
preview and by the delivery engine, so the preview is exactly what workers get.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.broadcasts.options import BroadcastOptions
from handlers.broadcasts.schedule import WEEKDAYS, format_local
from handlers.i18n import Catalog
from handlers.join.provinces import get_province
from storage import Channel, Store
from storage.broadcasts import Audience, AudienceReach, Broadcast, BroadcastStats

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# Room for the opt-out footer inside Telegram's 4096 characters.
MAX_TEXT = 3800

_SIMPLE_WEEKLY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* (\*|mon|tue|wed|thu|fri|sat|sun|[0-7])$")
# cron numbers weekdays from Sunday (0 or 7); WEEKDAYS starts on Monday.
_CRON_DAY_NUMBER = {str(n): WEEKDAYS[(n - 1) % 7] for n in range(8)}


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    language: str  # the language of the text actually used
    text: str


def message_language(recipient_language: str, text_en: str | None) -> str:
    """Workers who chose English get the English text when there is one; others Vietnamese."""
    return "en" if recipient_language == "en" and text_en else "vi"


def render_message(catalog: Catalog, recipient_language: str, text_vi: str, text_en: str | None) -> RenderedMessage:
    lang = message_language(recipient_language, text_en)
    body = (text_en if lang == "en" else text_vi) or ""
    return RenderedMessage(lang, f"{body.strip()}\n\n{catalog.t(lang, 'broadcasts.footer')}")


def describe_audience(catalog: Catalog, lang: str, audience: Audience, opts: BroadcastOptions) -> str:
    t = catalog.t
    if audience.program is not None:
        parts = [t(lang, "broadcasts.audience.program", program=audience.program)]
    elif audience.everyone:
        parts = [t(lang, "broadcasts.audience.everyone")]
    else:
        names = [(topic.name(lang) if (topic := opts.topic(tid)) else tid) for tid in audience.topics]
        parts = [t(lang, "broadcasts.audience.topics", topics=", ".join(names))]
    if audience.provinces:
        names = [(p.name(lang) if (p := get_province(pid)) else pid) for pid in audience.provinces]
        parts.append(t(lang, "broadcasts.audience.provinces", provinces=", ".join(names)))
    if audience.language:
        parts.append(t(lang, "broadcasts.audience.language", language=t(lang, f"broadcasts.lang.{audience.language}")))
    if audience.roles:
        roles = ", ".join(t(lang, f"roles.{r}") for r in audience.roles)
        parts.append(t(lang, "broadcasts.audience.roles", roles=roles))
    return "; ".join(parts)


def describe_cron(catalog: Catalog, lang: str, cron: str) -> str:
    m = _SIMPLE_WEEKLY.match(cron.strip())
    if m is None:
        return catalog.t(lang, "broadcasts.when.cron", cron=cron)
    at = f"{int(m.group(2)):02d}:{int(m.group(1)):02d}"
    if m.group(3) == "*":
        return catalog.t(lang, "broadcasts.when.daily", time=at)
    name = _CRON_DAY_NUMBER.get(m.group(3), m.group(3))
    day = catalog.t(lang, f"broadcasts.day.{WEEKDAYS.index(name)}")
    return catalog.t(lang, "broadcasts.when.weekly", day=day, time=at)


def describe_when(catalog: Catalog, lang: str, b: Broadcast, tz: ZoneInfo) -> str:
    if b.is_series and b.cron:
        text = describe_cron(catalog, lang, b.cron)
        if b.until is not None:
            text += " " + catalog.t(lang, "broadcasts.when.until", until=b.until.astimezone(tz).strftime("%d/%m/%Y"))
        return text
    if b.run_at is None:
        return "-"
    return catalog.t(lang, "broadcasts.when.at", at=format_local(b.run_at, tz))


def status_label(catalog: Catalog, lang: str, b: Broadcast) -> str:
    label = catalog.t(lang, f"broadcasts.status.{b.status.value}")
    if b.reason == "quiet_hours":
        label += " " + catalog.t(lang, "broadcasts.status.quiet")
    return label


def reason_label(catalog: Catalog, lang: str, reason: str) -> str:
    """'blocked' -> 'chặn bot'; 'bad_request: chat not found' keeps the platform's words."""
    code, sep, detail = reason.partition(":")
    key = f"broadcasts.reason.{code.strip()}"
    if not catalog.has(key):
        return reason
    return catalog.t(lang, key) + (f" ({detail.strip()})" if sep and detail.strip() else "")


def format_reasons(catalog: Catalog, lang: str, reasons: dict[str, int]) -> str:
    ordered = sorted(reasons.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{reason_label(catalog, lang, reason)}: {n}" for reason, n in ordered)


def stats_text(catalog: Catalog, lang: str, b: Broadcast, stats: BroadcastStats) -> str:
    t = catalog.t
    lines = [
        t(
            lang,
            "broadcasts.stats.counts",
            audience=b.audience_size if b.audience_size is not None else "-",
            sent=stats.sent,
            failed=stats.failed,
            skipped=stats.skipped,
            in_doubt=stats.in_doubt,
            blocked=stats.blocked,
            queued=stats.queued,
        )
    ]
    if stats.failed_by_reason:
        reasons = format_reasons(catalog, lang, stats.failed_by_reason)
        lines.append(t(lang, "broadcasts.stats.failed_by_reason", reasons=reasons))
    if stats.skipped_by_reason:
        reasons = format_reasons(catalog, lang, stats.skipped_by_reason)
        lines.append(t(lang, "broadcasts.stats.skipped_by_reason", reasons=reasons))
    if b.started_at is not None:
        end = b.finished_at or datetime.now(b.started_at.tzinfo)
        seconds = max((end - b.started_at).total_seconds(), 0.001)
        lines.append(
            t(
                lang,
                "broadcasts.stats.duration",
                duration=format_duration(seconds),
                rate=f"{stats.sent / seconds:.1f}",
            )
        )
    return "\n".join(lines)


def summary_text(catalog: Catalog, lang: str, b: Broadcast, stats: BroadcastStats) -> str:
    head = catalog.t(lang, "broadcasts.summary.title", id=b.id, status=status_label(catalog, lang, b))
    return f"{head}\n{stats_text(catalog, lang, b, stats)}"


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


# Channels in the order the preview lists them; others follow by name.
REACH_ORDER = (Channel.TELEGRAM, Channel.ZALO_OA, Channel.ZALO_BOT)
# The channel that may only message workers who wrote within a window (Zalo's OA).
WINDOW_CHANNEL = Channel.ZALO_OA


def reach_text(catalog: Catalog, lang: str, reach: AudienceReach, window_days: int) -> str | None:
    """'By channel: Telegram 120 · Zalo OA 40 (12 outside the 7-day window) · Zalo Bot 5'."""
    if not reach.by_channel:
        return None
    rank: dict[str, int] = {c: i for i, c in enumerate(REACH_ORDER)}
    items = []
    for channel in sorted(reach.by_channel, key=lambda c: (rank.get(c, len(rank)), c)):
        count = reach.by_channel[channel]
        key = f"broadcasts.channel.{channel}"
        name = catalog.t(lang, key) if catalog.has(key) else channel
        if channel == WINDOW_CHANNEL and channel in reach.recent:
            items.append(
                catalog.t(
                    lang,
                    "broadcasts.reach.window",
                    name=name,
                    count=count,
                    outside=count - reach.recent[channel],
                    days=window_days,
                )
            )
        else:
            items.append(catalog.t(lang, "broadcasts.reach.channel", name=name, count=count))
    return catalog.t(lang, "broadcasts.reach.line", channels=" · ".join(items))


async def reach_note(
    store: Store,
    catalog: Catalog,
    lang: str,
    audience: Audience,
    opts: BroadcastOptions,
    now: datetime,
) -> str | None:
    """How many of `audience` each channel reaches now, for the organizer's preview."""
    days = opts.zalo_window_days
    reach = await store.audience_by_channel(audience, seen_since=now - timedelta(days=days))
    return reach_text(catalog, lang, reach, days)
