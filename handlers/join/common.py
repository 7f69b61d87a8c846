"""What the sign-up handlers share: flow names, who may see which province, labels,
text cleaning, statistics and export rows (the chat and the command line use the same).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from handlers.context import Ctx
from handlers.i18n import Catalog
from handlers.join.provinces import get_province, resolve_province
from storage import Role, Store
from storage.signups import PAPER_CHANNEL, SignupExport, SignupFact, SignupSource, SignupStatus

if TYPE_CHECKING:
    from handlers.join.export import SignupRow

# Conversation-state flow names. Stored in the database: never rename.
FLOW_JOIN = "join"  # a worker signing up
FLOW_COLLECT = "collect"  # a volunteer signing up a worker next to them
FLOW_NOTE = "jnote"  # an organizer typing a note on a sign-up
FLOW_FORGET = "forget"  # a worker confirming erasure
FORM_FLOWS = (FLOW_JOIN, FLOW_COLLECT)


# -- who sees what --------------------------------------------------------------
async def province_scope(ctx: Ctx) -> frozenset[str] | None:
    """The provinces whose sign-ups this user may see: None for all (an admin); an
    organizer sees the ones assigned with /scope; everyone else none."""
    if ctx.role is Role.ADMIN:
        return None
    if ctx.role is Role.ORGANIZER:
        return await ctx.store.organizer_provinces(ctx.user.id)
    return frozenset()


def in_scope(scope: frozenset[str] | None, province_id: str) -> bool:
    return scope is None or province_id in scope


def province_name(province_id: str | None, lang: str) -> str:
    if not province_id:
        return ""
    province = get_province(province_id)
    return province.name(lang) if province else province_id


def parse_province(text: str) -> tuple[str | None, tuple[str, ...]]:
    """(province id, suggested ids) for typed text; accepts stored ids ("ho_chi_minh") too."""
    text = text.strip()
    if get_province(text) is not None:
        return text, ()
    match = resolve_province(text)
    if match.province is not None:
        return match.province.id, ()
    return None, tuple(p.id for p in match.suggestions)


# -- labels ---------------------------------------------------------------------
def status_label(catalog: Catalog, lang: str, status: SignupStatus | str) -> str:
    return catalog.t(lang, f"join.status.{SignupStatus(status).value}")


def source_label(
    catalog: Catalog, lang: str, source: SignupSource | str, code: str | None, consent_channel: str | None = None
) -> str:
    source = SignupSource(source)
    if consent_channel == PAPER_CHANNEL:
        return catalog.t(lang, "join.source.paper_plain")
    if source is SignupSource.SELF or not code:
        return catalog.t(lang, f"join.source.{source.value}_plain")
    return catalog.t(lang, f"join.source.{source.value}", code=code)


def local_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M")


# -- free text ------------------------------------------------------------------
_INVISIBLE = frozenset("\u200b\ufeff\u2060\u00ad")
# Letters, marks, digits, spaces and punctuation; not emoji, pictographs or controls.
_ALLOWED_CATEGORIES = ("L", "M", "N", "P", "Zs")
_ALLOWED_SYMBOLS = frozenset("&+/#°№")


def clean_text(text: str, *, min_len: int, max_len: int) -> str | None:
    """A company, commune or note as typed, tidied; None when unusable.

    One line, NFC, single spaces. Refuses emoji and control characters (what a spreadsheet
    or a phone call cannot use) and text without a single letter or digit.
    """
    text = "".join(ch for ch in text if ch not in _INVISIBLE)
    text = " ".join(unicodedata.normalize("NFC", text).split())
    if not min_len <= len(text) <= max_len:
        return None
    if not any(ch.isalnum() for ch in text):
        return None
    for ch in text:
        if ch not in _ALLOWED_SYMBOLS and not unicodedata.category(ch).startswith(_ALLOWED_CATEGORIES):
            return None
    return text


def clean_note(text: str, *, max_len: int = 1000) -> str | None:
    """An organizer's note: several lines allowed, controls dropped, length-checked."""
    lines = [" ".join(line.split()) for line in unicodedata.normalize("NFC", text).splitlines()]
    cleaned = "\n".join(line for line in lines if line)
    cleaned = "".join(ch for ch in cleaned if ch == "\n" or unicodedata.category(ch) != "Cc")
    return cleaned if 1 <= len(cleaned) <= max_len else None


_YEAR = re.compile(r"^(20\d\d)$")


def parse_year(token: str) -> int | None:
    m = _YEAR.match(token)
    return int(m.group(1)) if m else None


# -- statistics -------------------------------------------------------------------
@dataclass(slots=True)
class Progress:
    """Sign-ups of one year for a set of provinces, for /targets and `signups stats`."""

    year: int
    total: int = 0
    joined: int = 0
    by_province: Counter[str] = field(default_factory=Counter)
    by_month: Counter[int] = field(default_factory=Counter)
    by_week: Counter[date] = field(default_factory=Counter)  # Monday of the week -> count
    self_count: int = 0
    paper_count: int = 0  # imported from paper sheets: no volunteer on record
    # volunteer code ("" when the volunteer has left) -> (through their link, collected)
    by_volunteer: dict[str, list[int]] = field(default_factory=dict)


def year_bounds(year: int, tz: tzinfo) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def progress(facts: Iterable[SignupFact], *, year: int, tz: tzinfo) -> Progress:
    result = Progress(year)
    for fact in facts:
        local = fact.created_at.astimezone(tz)
        if local.year != year:
            continue
        result.total += 1
        result.joined += fact.status is SignupStatus.JOINED
        result.by_province[fact.province_id] += 1
        result.by_month[local.month] += 1
        day = local.date()
        result.by_week[day - timedelta(days=day.weekday())] += 1
        if fact.paper:
            result.paper_count += 1
        elif fact.source is SignupSource.SELF:
            result.self_count += 1
        else:
            counts = result.by_volunteer.setdefault(fact.volunteer_code or "", [0, 0])
            counts[fact.source is SignupSource.COLLECTED] += 1
    return result


async def load_progress(store: Store, *, provinces: Collection[str] | None, year: int, tz: tzinfo) -> Progress:
    """The year's progress counted in the database (a few hundred rows back, whatever the
    number of sign-ups), so /targets stays fast on the bot's event loop at 1,000,000."""
    since, until = year_bounds(year, tz)
    # Vietnam has kept UTC+7 since 1975; a zone with summer time is counted at its
    # mid-year offset, which can shift a sign-up near midnight by a day.
    offset = datetime(year, 7, 1, tzinfo=tz).utcoffset() or timedelta(0)
    result = Progress(year)
    for row in await store.signup_day_counts(provinces=provinces, since=since, until=until, utc_offset=offset):
        result.total += row.count
        result.joined += row.joined
        result.self_count += row.self_count
        result.paper_count += row.paper_count
        result.by_province[row.province_id] += row.count
        result.by_month[row.day.month] += row.count
        result.by_week[row.day - timedelta(days=row.day.weekday())] += row.count
    for vol in await store.signup_volunteer_counts(provinces=provinces, since=since, until=until):
        counts = result.by_volunteer.setdefault(vol.volunteer_code or "", [0, 0])
        counts[vol.source is SignupSource.COLLECTED] += vol.count
    return result


def percent(count: int, target: int, lang: str) -> str:
    text = f"{count * 100 / target:.1f}%"
    return text.replace(".", ",") if lang == "vi" else text


# -- export -----------------------------------------------------------------------
def _words_only(label: str) -> str:
    """ "🆕 Mới" -> "Mới": leading symbols and spaces dropped."""
    i = 0
    while i < len(label) and not label[i].isalnum():
        i += 1
    return label[i:] or label


def export_rows(items: Iterable[SignupExport], catalog: Catalog, lang: str) -> list[SignupRow]:
    from handlers.join.export import SignupRow

    # Five statuses and three sources: look each label up once, not once per row. A
    # spreadsheet cell gets the words without the chat's emoji ("Mới", not "🆕 Mới"):
    # filters and formulas match on them (found trying the export as an organizer).
    statuses = {s.value: _words_only(status_label(catalog, lang, s)) for s in SignupStatus}
    sources = {s.value: source_label(catalog, lang, s, None) for s in SignupSource}
    return [
        SignupRow(
            e.id,
            e.created_at,
            e.full_name,
            e.phone_e164,
            e.workplace,
            e.province_id,
            e.commune,
            sources[e.source],
            e.volunteer_code,
            statuses[e.status],
            e.notes,
        )
        for e in items
    ]
