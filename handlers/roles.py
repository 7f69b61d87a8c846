"""Granting and revoking the volunteer and organizer roles, every change audited.

Admins change anyone but another admin; an organizer only people of their own provinces
(handlers/scope.py), and never to admin (not grantable here at all)."""

from __future__ import annotations

import logging

from handlers.context import Ctx, effective_role
from handlers.join.common import province_scope
from handlers.router import Router
from handlers.scope import no_province_yet, person_in_scope
from handlers.types import Reply
from storage import Role, User

logger = logging.getLogger(__name__)

GRANTABLE = {Role.VOLUNTEER, Role.ORGANIZER}


async def grant(ctx: Ctx) -> Reply | list[Reply]:
    """`/grant <user id> volunteer|organizer`, for someone who has written to the bot."""
    if len(ctx.args) != 2 or ctx.args[1].lower() not in {r.value for r in GRANTABLE}:
        return ctx.reply("roles.usage")
    return await _change(ctx, ctx.args[0], Role(ctx.args[1].lower()))


async def revoke(ctx: Ctx) -> Reply | list[Reply]:
    """`/revoke <user id>`: back to worker."""
    if len(ctx.args) != 1:
        return ctx.reply("roles.usage")
    return await _change(ctx, ctx.args[0], Role.WORKER)


def register(router: Router) -> None:
    router.command("grant", min_role=Role.ORGANIZER)(grant)
    router.command("revoke", min_role=Role.ORGANIZER)(revoke)


async def _change(ctx: Ctx, external_id: str, role: Role) -> Reply | list[Reply]:
    # Roles are granted within the actor's own channel: a Telegram id means nothing on Zalo.
    target = await ctx.store.find_user(ctx.user.channel, external_id[:64])
    if target is None:
        return ctx.reply("roles.user_not_found", user=external_id[:64])
    if effective_role(target, ctx.settings) is Role.ADMIN:
        return ctx.reply("roles.cannot_change_admin")
    if target.id == ctx.user.id:
        # "/revoke <my own id>" locked an organizer out until an admin restored them
        # (found trying the bot as an organizer).
        return ctx.reply("roles.not_yourself")
    # Organizers appoint within their own provinces only (handlers/scope.py): the target
    # must belong wholly to them, so an organizer of another province is out of reach and
    # nobody ends up above the actor. Admins are only made in the configuration.
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    if not await person_in_scope(ctx, scope, target):
        logger.info("user %s was refused a role change of user %s outside their provinces", ctx.user.id, target.id)
        return ctx.reply("scope.person_out_of_scope", user=target.external_id)
    before = target.role
    await ctx.store.set_role(target.id, role)
    await ctx.store.audit(
        ctx.user.id,
        "role.grant" if role is not Role.WORKER else "role.revoke",
        f"user:{target.id}",
        {"from": before.value, "to": role.value},
    )
    logger.info("user %s changed the role of user %s to %s", ctx.user.id, target.id, role)
    # The person is told, with where to start: a new volunteer did not know /volunteer.
    told = [] if before is role else [_tell(ctx, target, role)]
    if role is Role.WORKER:
        return [ctx.reply("roles.revoked", user=target.external_id), *told]
    text = ctx.t("roles.granted", user=target.external_id, role=ctx.t(f"roles.one.{role.value}"))
    if role is Role.ORGANIZER and not await ctx.store.organizer_provinces(target.id):
        text += "\n" + ctx.t("roles.granted_no_scope", user=target.external_id)
    return [Reply(text, buttons=[ctx.back_button()]), *told]


def _tell(ctx: Ctx, target: User, role: Role) -> Reply:
    text = ctx.services.catalog.t(target.language, f"roles.told.{role.value}")
    return Reply(text, to_channel=target.channel, to_user=target.external_id)
