"""Province scope for every organizer action, beyond sign-ups (handlers/join/organizer.py).

A federation works province by province: the provincial federation (LĐLĐ tỉnh/thành phố)
answers its own workers, writes to its own workers and appoints its own officers. So an
organizer acts only within the provinces an admin (or an organizer holding them) gave
them with /scope; an admin acts everywhere. An organizer with no province yet acts
nowhere until someone scopes them: being granted the role alone shows nothing.

Where a thing's province comes from, always from the store, never from a payload:

- a question: the asker's sign-up (Question.province_id), else the province the asker
  named when asking (in the question, or when the hand-off asked them where they work:
  handlers/rights/inbox.py). A question with neither cannot be placed, so only admins
  (the national level) see it. Showing unplaced questions to every organizer would hand
  a worker's words to officers of 34 provinces, which is exactly the leak this module
  closes.
- a broadcast: its audience's province filter. It is in an organizer's scope when it
  names provinces and all of them are the organizer's. One without a province filter
  reaches the whole country and is admin-only; an organizer's "everyone" is turned into
  "everyone signed up in my provinces" when it is composed (see `own_audience`).
- a person (for /grant, /revoke, /scope): their sign-up's province and the provinces
  they hold as an organizer. An organizer may change someone only when that set is not
  empty and wholly theirs, so nobody is lifted above the actor, and an organizer of
  another province is out of reach. Someone with no province at all (never signed up,
  no scope) is for admins to appoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from handlers.context import Ctx
from handlers.join.common import in_scope, province_name, province_scope
from handlers.join.provinces import resolve_province
from handlers.types import Reply
from storage import Channel, User
from storage.broadcasts import Audience, Broadcast
from storage.questions import Question

Scope = frozenset[str] | None  # None: everywhere (an admin)
MAX_PROVINCES = 10  # provinces one audience may name
# Typed instead of province names: drop the province filter.
CLEAR_PROVINCES = frozenset({"-", "0", "xoa", "xoá", "xóa", "clear", "none"})


async def officer_notices(
    ctx: Ctx, province_id: str, text: Callable[[str], str], *, or_admins: bool = False, skip: int | None = None
) -> list[Reply]:
    """A notice about a province for its officers: the province's alert chats ([join]
    alert_chats, in the default language), else its organizers in their own chats and
    languages, else, with `or_admins`, the admins (a province nobody covers yet). `skip`:
    an account not to tell (the one acting). Callers never put a worker's words in `text`:
    a group's members may not all be entitled to read them."""
    chats = dict(ctx.settings.join_alert_chats).get(province_id, ())
    if chats:
        lang = ctx.settings.default_language
        return [Reply(text(lang), to_channel=Channel.TELEGRAM, to_user=str(chat)) for chat in chats]
    officers = [o for o in await ctx.store.organizers_of(province_id) if o.id != skip]
    if not officers and or_admins:
        officers = await admins(ctx, skip=skip)
    return [Reply(text(o.language), to_channel=o.channel, to_user=o.external_id) for o in officers]


async def admins(ctx: Ctx, *, skip: int | None = None) -> list[User]:
    """The admins who can be written to: by role in the store, and those named in the
    configuration who have written to the bot."""
    found = {u.id: u for u in await ctx.store.admins()}
    for channel, external_id in ctx.settings.admins:
        user = await ctx.store.find_user(channel, external_id)
        if user is not None and user.reachable:
            found[user.id] = user
    return [u for uid, u in found.items() if uid != skip]


def no_province_yet(ctx: Ctx) -> Reply:
    return ctx.reply("scope.none_yet", user=ctx.user.external_id)


def scope_names(scope: frozenset[str], lang: str) -> str:
    return ", ".join(sorted(province_name(p, lang) for p in scope))


def question_in_scope(scope: Scope, q: Question) -> bool:
    if scope is None:
        return True
    return q.province_id is not None and q.province_id in scope


def audience_in_scope(scope: Scope, audience: Audience) -> bool:
    if scope is None:
        return True
    return bool(audience.provinces) and set(audience.provinces) <= scope


def broadcast_in_scope(scope: Scope, b: Broadcast) -> bool:
    return audience_in_scope(scope, b.audience)


def own_audience(scope: Scope, audience: Audience) -> Audience:
    """The audience an organizer really reaches: without a province filter, theirs."""
    if scope is None or audience.provinces:
        return audience
    return replace(audience, provinces=tuple(sorted(scope)))


async def provinces_of(ctx: Ctx, user: User) -> set[str]:
    """Where a person belongs: their sign-up's province and the provinces they hold."""
    held = set(await ctx.store.organizer_provinces(user.id))
    signup = await ctx.store.signup_of_user(user.id)
    if signup is not None:
        held.add(signup.province_id)
    return held


async def person_in_scope(ctx: Ctx, scope: Scope, user: User) -> bool:
    if scope is None:
        return True
    where = await provinces_of(ctx, user)
    return bool(where) and where <= scope


__all__ = [
    "Scope",
    "audience_in_scope",
    "broadcast_in_scope",
    "no_province_yet",
    "own_audience",
    "person_in_scope",
    "province_scope",
    "provinces_of",
    "question_in_scope",
    "scope_names",
]


async def typed_provinces(ctx: Ctx, text: str) -> list[str] | str:
    """Provinces typed for an audience ("Hà Nội, Bắc Ninh"), for the broadcast and poll
    composers: their ids ([] for "-": no province filter), or, when a name is unknown or
    outside the organizer's own provinces, the message to show instead."""
    if text.lower() in CLEAR_PROVINCES:
        return []
    found: list[str] = []
    unknown: list[str] = []
    for part in [p.strip() for p in text.replace(";", ",").split(",") if p.strip()][:MAX_PROVINCES]:
        match = resolve_province(part)
        if match.province is None:
            unknown.append(part[:40])
        elif match.province.id not in found:
            found.append(match.province.id)
    if unknown or not found:
        return ctx.t("broadcasts.compose.unknown_provinces", names=", ".join(unknown) or text[:40])
    # The province filter counts sign-ups there: only within the organizer's own provinces.
    scope = await province_scope(ctx)
    outside = [p for p in found if not in_scope(scope, p)]
    if outside:
        return ctx.t(
            "broadcasts.compose.provinces_out_of_scope",
            names=", ".join(province_name(p, ctx.lang) for p in outside),
            allowed=", ".join(sorted(province_name(p, ctx.lang) for p in scope or ())) or "—",
        )
    return found
