"""Getting into the organizers' web console: one-time sign-in links and who may use them.

No passwords: an organizer or admin asks the bot (`/console`) or the operator asks the
command line (`unionbot console link`) for a link that works once, for ten minutes.
Only the SHA-256 of the token is stored. Every page of the console then re-checks the
person's role and provinces against the store, through the same `province_scope` the
chat uses (`viewer_context`), so a role revoked in the chat closes the console too.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from handlers.context import Ctx, Services, effective_role
from handlers.join.common import year_bounds
from handlers.router import Router
from handlers.types import Inbound, InboundKind, Reply
from storage import Role, Store, User
from storage.broadcasts import Broadcast, BroadcastStatus
from storage.signups import SignupStatus

logger = logging.getLogger(__name__)

LINK_TTL = timedelta(minutes=10)
SESSION_IDLE = timedelta(hours=8)
CONSOLE_ROLES = frozenset({Role.ORGANIZER, Role.ADMIN})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """256 random bits: a link or a session id cannot be guessed or enumerated."""
    return secrets.token_urlsafe(32)


def link_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/console/login/{token}"


async def issue_link(store: Store, user: User) -> str:
    """A fresh one-time sign-in token for `user`; only its hash is stored."""
    token = new_token()
    await store.add_console_link(token_hash(token), user.id, expires_at=datetime.now(UTC) + LINK_TTL)
    return token


def viewer_context(services: Services, user: User) -> Ctx:
    """The context the chat would build for this person, so role and province checks
    (`effective_role`, `province_scope`, `deliver_answer`) run exactly as they do there."""
    inbound = Inbound(user.channel, user.external_id, InboundKind.TEXT)
    return Ctx(services, inbound, user, effective_role(user, services.settings))


def may_use_console(ctx: Ctx) -> bool:
    return ctx.role in CONSOLE_ROLES


async def console(ctx: Ctx) -> Reply:
    """`/console`: a sign-in link to the web console, valid ten minutes, once."""
    base = ctx.services.console_url
    if not base:
        return ctx.reply("console.off")
    token = await issue_link(ctx.store, ctx.user)
    await ctx.store.audit(ctx.user.id, "console.link", f"user:{ctx.user.id}", {"via": ctx.inbound.channel})
    logger.info("user %s asked for a console sign-in link", ctx.user.id)
    return ctx.reply("console.link", url=link_url(base, token), minutes=int(LINK_TTL.total_seconds() // 60))


def register(router: Router) -> None:
    router.command("console", min_role=Role.ORGANIZER)(console)


# -- the overview page ------------------------------------------------------------
@dataclass(slots=True)
class ProvinceOverview:
    province_id: str
    week: int = 0
    year: int = 0
    joined: int = 0
    target: int | None = None
    waiting: int = 0
    oldest: datetime | None = None
    # The last 12 weeks in this province (Monday, sign-ups), oldest first.
    weeks: list[tuple[date, int]] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        return self.year * 100 / self.target if self.target else None


@dataclass(slots=True)
class Overview:
    year: int
    rows: list[ProvinceOverview] = field(default_factory=list)
    waiting_total: int = 0
    # The last 12 weeks (Monday, sign-ups), oldest first, and the next scheduled broadcasts.
    weeks: list[tuple[date, int]] = field(default_factory=list)
    next_broadcasts: list[Broadcast] = field(default_factory=list)


async def overview_rows(store: Store, scope: frozenset[str] | None, tz: tzinfo) -> Overview:
    """Per province in scope: sign-ups this week and year, joined, target, questions waiting."""
    now = datetime.now(tz)
    start, end = year_bounds(now.year, tz)
    week_start = datetime.combine(now.date() - timedelta(days=now.weekday()), time(), tz)
    facts = await store.signup_facts(provinces=scope, since=start, until=end)
    targets = await store.signup_targets(now.year, provinces=scope)
    this_monday = week_start.date()
    mondays = [this_monday - timedelta(weeks=i) for i in range(11, -1, -1)]
    recent = await store.signup_facts(provinces=scope, since=datetime.combine(mondays[0], time(), tz))
    # An admin sees the provinces with sign-ups (this year or in the chart's weeks, which in
    # January reach into last year) or a target.
    ids = (
        set(scope)
        if scope is not None
        else {f.province_id for f in facts} | {f.province_id for f in recent} | set(targets)
    )
    rows = {p: ProvinceOverview(p, target=targets.get(p)) for p in ids}
    for fact in facts:
        row = rows.get(fact.province_id)
        if row is None:
            continue
        row.year += 1
        row.joined += fact.status is SignupStatus.JOINED
        row.week += fact.created_at >= week_start
    for p, row in rows.items():
        row.waiting = await store.count_open_questions(provinces={p})
        if row.waiting:
            oldest = await store.list_open_questions(limit=1, provinces={p})
            row.oldest = oldest[0].created_at if oldest else None
    result = Overview(now.year, sorted(rows.values(), key=lambda r: r.province_id))
    result.waiting_total = await store.count_open_questions(provinces=scope)
    by_week: dict[date, int] = dict.fromkeys(mondays, 0)
    per_province: dict[str, dict[date, int]] = {p: dict.fromkeys(mondays, 0) for p in rows}
    for fact in recent:
        day = fact.created_at.astimezone(tz).date()
        monday = day - timedelta(days=day.weekday())
        if monday in by_week:
            by_week[monday] += 1
            if fact.province_id in per_province:
                per_province[fact.province_id][monday] += 1
    result.weeks = sorted(by_week.items())
    for p, weeks in per_province.items():
        rows[p].weeks = sorted(weeks.items())
    scheduled = await store.list_broadcasts([BroadcastStatus.SCHEDULED], limit=50, within_provinces=scope)
    far = datetime.max.replace(tzinfo=UTC)
    result.next_broadcasts = sorted(scheduled, key=lambda b: b.run_at or far)[:5]
    return result
