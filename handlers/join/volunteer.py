"""Volunteers: a personal referral link and QR code (/volunteer), their own counts
(/mystats). /collect, signing up a worker in person, is the form in form.py.

Volunteers never see anyone's data but what they type themselves, and not even that
after submission: /mystats holds counts only, never a name or a status per person.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from handlers.context import Ctx
from handlers.join.qr import new_referral_code, qr_png, referral_link
from handlers.router import Router
from handlers.types import Photo, Reply
from storage import Role
from storage.signups import SignupSource

logger = logging.getLogger(__name__)


async def referral_code(ctx: Ctx) -> str:
    code = await ctx.store.volunteer_code(ctx.user.id)
    if code is None:
        # Two presses at once may both draw a code; the store keeps the first.
        code = await ctx.store.create_volunteer_code(ctx.user.id, new_referral_code())
    return code


async def volunteer(ctx: Ctx) -> Reply:
    """The volunteer's code, its t.me deep link and a QR code to show or print."""
    code = await referral_code(ctx)
    username = ctx.settings.bot_username
    link = None
    if username:
        try:
            link = referral_link(username, code)
        except ValueError:
            logger.warning("bot username is not a valid Telegram username; no referral link")
    if link is None:
        # The local chat, or a Zalo-only bot: no t.me link to make.
        return ctx.reply("join.vol.no_link", code=code)
    png = await asyncio.to_thread(qr_png, link)
    return Reply(
        ctx.t("join.vol.link", code=code, link=link),
        photo=Photo(png, filename=f"qr-{code}.png"),
        buttons=[ctx.back_button()],
    )


async def mystats(ctx: Ctx) -> Reply:
    """How many workers the volunteer brought in: counts, nothing per person."""
    # Sign-ups through the link, but /collect submissions rather than the sign-ups
    # they left: collecting a number already known changes no sign-up, and the
    # counts must not tell the volunteer which numbers those were.
    facts = await ctx.store.signup_facts(volunteer_id=ctx.user.id)
    linked = [f.created_at for f in facts if f.source is SignupSource.REFERRAL]
    collected = await ctx.store.collect_submissions(ctx.user.id)
    tz = ZoneInfo(ctx.settings.timezone)
    now = datetime.now(UTC).astimezone(tz)
    local = [t.astimezone(tz) for t in (*linked, *collected)]
    code = await ctx.store.volunteer_code(ctx.user.id)
    return ctx.reply(
        "join.vol.stats",
        total=len(local),
        link=len(linked),
        collected=len(collected),
        month=sum(t.year == now.year and t.month == now.month for t in local),
        year=sum(t.year == now.year for t in local),
        code=code or "—",
    )


def register(router: Router) -> None:
    router.command("volunteer", min_role=Role.VOLUNTEER)(volunteer)
    router.command("mystats", min_role=Role.VOLUNTEER)(mystats)
