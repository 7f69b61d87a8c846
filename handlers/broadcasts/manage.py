"""Organizers follow and steer broadcasts: list, details, pause, resume, cancel,
resend to failed only (and edit the text before sending starts: edit.py). Every change
goes to the store first, is audited, then the delivery service is told."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from handlers.broadcasts import compose
from handlers.broadcasts.options import notify_changed, options
from handlers.broadcasts.render import describe_audience, describe_when, reason_label, stats_text, status_label
from handlers.context import Ctx
from handlers.join.common import province_scope
from handlers.router import Actions, Router, payload
from handlers.scope import broadcast_in_scope, no_province_yet
from handlers.text import shorten
from handlers.types import Button, Reply
from storage import Role, Store
from storage.broadcasts import REASON_CANCELLED, Broadcast, BroadcastStatus

logger = logging.getLogger(__name__)

LIST_LIMIT = 12
_PAUSABLE = (BroadcastStatus.SCHEDULED, BroadcastStatus.RUNNING)
_CANCELLABLE = (BroadcastStatus.SCHEDULED, BroadcastStatus.RUNNING, BroadcastStatus.PAUSED)
_ICONS = {
    BroadcastStatus.SCHEDULED: "⏰",
    BroadcastStatus.RUNNING: "📤",
    BroadcastStatus.PAUSED: "⏸",
    BroadcastStatus.DONE: "✅",
    BroadcastStatus.CANCELLED: "✖️",
    BroadcastStatus.SKIPPED: "⏭",
}


def _tz(ctx: Ctx) -> ZoneInfo:
    return ZoneInfo(options(ctx).timezone)


def broadcast_menu(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("broadcasts.manage.menu"),
        buttons=[
            [Button(ctx.t("broadcasts.manage.new_button"), payload("bcc", "new"))],
            [Button(ctx.t("broadcasts.manage.list_button"), payload("bcm", "list"))],
            ctx.back_button(),
        ],
    )


async def list_screen(ctx: Ctx) -> Reply:
    # An organizer sees the broadcasts aimed within their provinces only (handlers/scope.py).
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    items = await ctx.store.list_broadcasts(limit=LIST_LIMIT, within_provinces=scope)
    if not items:
        return Reply(
            ctx.t("broadcasts.manage.empty"),
            buttons=[
                [Button(ctx.t("broadcasts.manage.new_button"), payload("bcc", "new"))],
                ctx.back_button(),
            ],
        )
    lines = [ctx.t("broadcasts.manage.list_title")]
    rows = []
    for b in items:
        label = f"{_ICONS[b.status]} #{b.id} {shorten(b.text_vi, 40)}"
        lines.append(f"{label} · {status_label(ctx.services.catalog, ctx.lang, b)}")
        rows.append([Button(shorten(label, 48), payload("bcm", "show", b.id))])
    rows.append([Button(ctx.t("broadcasts.manage.new_button"), payload("bcc", "new"))])
    rows.append(ctx.back_button())
    return Reply("\n".join(lines), buttons=rows)


async def detail_screen(ctx: Ctx, b: Broadcast, *, intro: str | None = None) -> Reply:
    catalog, lang, tz = ctx.services.catalog, ctx.lang, _tz(ctx)
    lines = [intro] if intro else []
    lines.append(
        ctx.t(
            "broadcasts.manage.detail",
            id=b.id,
            status=status_label(catalog, lang, b),
            when=describe_when(catalog, lang, b, tz),
            audience=describe_audience(catalog, lang, b.audience, options(ctx)),
        )
    )
    if b.series_id is not None:
        lines.append(ctx.t("broadcasts.manage.occurrence_of", id=b.series_id))
    if b.reason and b.reason != "quiet_hours":
        lines.append(ctx.t("broadcasts.manage.reason", reason=reason_label(catalog, lang, b.reason)))
    lines.append(f"«{shorten(b.text_vi, 300)}»")
    if not b.is_series and b.audience_size is not None:
        lines.append(stats_text(catalog, lang, b, await ctx.store.delivery_stats(b.id)))
    rows: list[list[Button]] = []
    if b.text_editable and await ctx.store.poll_of_broadcast(b.id) is None:
        # A poll's message is its question, not this text: editing it would change nothing.
        rows.append([Button(ctx.t("broadcasts.edit.button"), payload("bce", "start", b.id))])
    if b.status in _PAUSABLE:
        rows.append([Button(ctx.t("broadcasts.manage.pause_button"), payload("bcm", "pause", b.id))])
    if b.status is BroadcastStatus.PAUSED:
        rows.append([Button(ctx.t("broadcasts.manage.resume_button"), payload("bcm", "resume", b.id))])
    if b.status in _CANCELLABLE:
        rows.append([Button(ctx.t("broadcasts.manage.cancel_button"), payload("bcm", "cancel", b.id))])
    if not b.is_series and b.status is BroadcastStatus.DONE:
        rows.append([Button(ctx.t("broadcasts.manage.resend_button"), payload("bcm", "resend", b.id))])
    rows.append(
        [
            Button(ctx.t("broadcasts.manage.refresh_button"), payload("bcm", "show", b.id)),
            Button(ctx.t("broadcasts.manage.list_button"), payload("bcm", "list")),
        ]
    )
    return Reply("\n".join(lines), buttons=rows)


async def _load(ctx: Ctx) -> Broadcast | None:
    if len(ctx.args) < 2 or not ctx.args[1].isdigit() or len(ctx.args[1]) > 12:
        return None
    return await load_in_scope(ctx, int(ctx.args[1]))


async def load_in_scope(ctx: Ctx, broadcast_id: int) -> Broadcast | None:
    """The broadcast if it is aimed within the user's provinces; one outside them is
    treated as not existing (shown, paused, cancelled, resent: none of it)."""
    b = await ctx.store.get_broadcast(broadcast_id)
    if b is None or broadcast_in_scope(await province_scope(ctx), b):
        return b
    logger.info("user %s asked for broadcast %s outside their provinces", ctx.user.id, broadcast_id)
    return None


async def audit(ctx: Ctx, action: str, b: Broadcast, **details: object) -> None:
    """Records an organizer's change to broadcast `b` (`broadcast.<action>`), and logs it."""
    await ctx.store.audit(ctx.user.id, f"broadcast.{action}", f"broadcast:{b.id}", dict(details))
    logger.info("user %s: broadcast %s %s", ctx.user.id, b.id, action)


# The four operations below are shared with the command line: store first, then the caller
# tells the delivery service.
async def pause(store: Store, b: Broadcast) -> bool:
    return await store.set_broadcast_status(b.id, BroadcastStatus.PAUSED, expect=_PAUSABLE)


async def resume(store: Store, b: Broadcast) -> bool:
    if b.is_series:
        # Occurrences that fell in the pause are not sent late: the next one is computed anew.
        return await store.set_broadcast_status(
            b.id,
            BroadcastStatus.SCHEDULED,
            expect=[BroadcastStatus.PAUSED],
            clear_run_at=True,
        )
    if b.started_at is None:
        run_at = max(b.run_at or datetime.now(UTC), datetime.now(UTC))
        return await store.set_broadcast_status(
            b.id,
            BroadcastStatus.SCHEDULED,
            expect=[BroadcastStatus.PAUSED],
            run_at=run_at,
        )
    return await store.set_broadcast_status(b.id, BroadcastStatus.RUNNING, expect=[BroadcastStatus.PAUSED])


async def cancel(store: Store, b: Broadcast) -> bool:
    moved = await store.set_broadcast_status(
        b.id,
        BroadcastStatus.CANCELLED,
        reason=REASON_CANCELLED,
        expect=_CANCELLABLE,
    )
    if moved and not b.is_series:
        await store.skip_queued(b.id, REASON_CANCELLED)
    return moved


async def resend_failed(store: Store, b: Broadcast) -> int:
    """Queue the failed rows again (not workers who still block the bot); 0 if none."""
    if b.is_series or b.status is not BroadcastStatus.DONE:
        return 0
    count = await store.requeue_failed(b.id)
    if count:
        await store.set_broadcast_status(b.id, BroadcastStatus.RUNNING, expect=[BroadcastStatus.DONE])
    return count


async def broadcast(ctx: Ctx) -> Reply | list[Reply]:
    """`/broadcast`: the organizer's menu; `/broadcast new`, `/broadcast list`, `/broadcast 12`."""
    arg = ctx.args[0].lower() if ctx.args else ""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    if arg == "new":
        return await compose.start(ctx)
    if arg == "list":
        return await list_screen(ctx)
    if arg.lstrip("#").isdigit() and len(arg) <= 12:
        b = await load_in_scope(ctx, int(arg.lstrip("#")))
        return await detail_screen(ctx, b) if b else ctx.reply("broadcasts.manage.not_found")
    return broadcast_menu(ctx)


ManageAction = Callable[[Ctx, Broadcast], Awaitable[Reply]]
# `bcm:<action>:<broadcast id>`; `bcm:list` needs no broadcast.
ACTIONS: Actions[ManageAction] = Actions("bcm")


async def manage_button(ctx: Ctx) -> Reply:
    """A button on a broadcast's screen, for a broadcast within the organizer's provinces."""
    action = ctx.args[0] if ctx.args else ""
    if action == "list":
        return await list_screen(ctx)
    handler = ACTIONS.get(action)
    b = await _load(ctx)
    if b is None or handler is None:
        return ctx.reply("broadcasts.manage.not_found")
    return await handler(ctx, b)


@ACTIONS.on("show")
async def _show(ctx: Ctx, b: Broadcast) -> Reply:
    """The broadcast's details and delivery counts."""
    return await detail_screen(ctx, b)


@ACTIONS.on("pause")
async def _pause(ctx: Ctx, b: Broadcast) -> Reply:
    """Stops sending until resumed; what was sent stays sent."""
    return await _changed(ctx, b, "pause", await pause(ctx.store, b), "broadcasts.manage.paused")


@ACTIONS.on("resume")
async def _resume(ctx: Ctx, b: Broadcast) -> Reply:
    """Sends the rest of a paused broadcast."""
    return await _changed(ctx, b, "resume", await resume(ctx.store, b), "broadcasts.manage.resumed")


@ACTIONS.on("cancel")
async def _ask_cancel(ctx: Ctx, b: Broadcast) -> Reply:
    """Asks to confirm before a broadcast is cancelled."""
    return Reply(
        ctx.t("broadcasts.manage.cancel_confirm", id=b.id),
        buttons=[
            [Button(ctx.t("broadcasts.manage.cancel_yes"), payload("bcm", "cancel_yes", b.id))],
            [Button(ctx.t("broadcasts.manage.cancel_no"), payload("bcm", "show", b.id))],
        ],
    )


@ACTIONS.on("cancel_yes")
async def _cancel(ctx: Ctx, b: Broadcast) -> Reply:
    """Cancels the broadcast: nothing more is sent."""
    return await _changed(ctx, b, "cancel", await cancel(ctx.store, b), "broadcasts.manage.cancelled")


@ACTIONS.on("resend")
async def _resend(ctx: Ctx, b: Broadcast) -> Reply:
    """Sends again to the recipients whose delivery failed (not to those who block the bot)."""
    count = await resend_failed(ctx.store, b)
    if count == 0:
        fresh = await ctx.store.get_broadcast(b.id)
        return await detail_screen(ctx, fresh or b, intro=ctx.t("broadcasts.manage.nothing_to_resend"))
    await audit(ctx, "resend_failed", b, count=count)
    await notify_changed(ctx, b.id)
    fresh = await ctx.store.get_broadcast(b.id)
    return await detail_screen(ctx, fresh or b, intro=ctx.t("broadcasts.manage.resending", count=count))


async def _changed(ctx: Ctx, b: Broadcast, what: str, ok: bool, key: str) -> Reply:
    """The broadcast's screen after a change, or why the change was not possible now."""
    if not ok:
        fresh = await ctx.store.get_broadcast(b.id)
        return await detail_screen(ctx, fresh or b, intro=ctx.t("broadcasts.manage.not_now"))
    await audit(ctx, what, b)
    await notify_changed(ctx, b.id)
    fresh = await ctx.store.get_broadcast(b.id)
    return await detail_screen(ctx, fresh or b, intro=ctx.t(key))


def register(router: Router) -> None:
    router.command("broadcast", "broadcasts", min_role=Role.ORGANIZER)(broadcast)
    router.button("bcm", min_role=Role.ORGANIZER, actions=ACTIONS)(manage_button)
