"""Editing the text of a broadcast that is scheduled but has not started sending.

From the broadcast's screen (manage.py): the current text to copy and correct, the new
text checked as when composing, the preview with the audience and time unchanged, then
Save. The edit is a form of its own (flow "bc_edit") bound to one broadcast: every button
carries its id, and the broadcast is loaded within the organizer's provinces on every
step, as cancelling is. The store replaces the text only if no sender has claimed the
broadcast (`edit_broadcast_text`), so a broadcast goes out wholly with the old text or
wholly with the new.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from handlers.broadcasts.manage import detail_screen, load_in_scope
from handlers.broadcasts.options import options
from handlers.broadcasts.render import describe_audience, describe_when
from handlers.broadcasts.textsteps import (
    ask_en,
    ask_vi,
    en_choices,
    languages,
    preview_messages,
    step_button,
    text_problem,
)
from handlers.context import Ctx
from handlers.forms import FormFlow
from handlers.router import Actions, OneMessageStep, Router, payload
from handlers.types import Button, Channel, InboundKind, Reply
from storage import Role
from storage.broadcasts import Broadcast, BroadcastStatus

logger = logging.getLogger(__name__)

FLOW = "bc_edit"
PREFIX = "bce"
FORM = FormFlow(FLOW)
# The edit's own buttons keep it open; any other command or button leaves it, so that a
# question typed afterwards is never taken for the broadcast's new text.
EDIT_STEP = OneMessageStep(buttons=frozenset({PREFIX}))


class Step(StrEnum):
    VI = "vi"  # typing the new Vietnamese text
    EN = "en"  # typing the new English text, or keeping or removing it
    CONFIRM = "confirm"  # looking at the preview


async def refusal(ctx: Ctx, b: Broadcast) -> Reply | None:
    """Why the broadcast's text cannot be edited now (its screen, with the reason), or None."""
    if await ctx.store.poll_of_broadcast(b.id) is not None:
        return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.poll"))
    if b.text_editable:
        return None
    never_sent = b.status in (BroadcastStatus.CANCELLED, BroadcastStatus.SKIPPED) and b.started_at is None
    key = "broadcasts.edit.closed" if never_sent else "broadcasts.edit.started"
    return await detail_screen(ctx, b, intro=ctx.t(key, id=b.id))


def _step(stored: str) -> Step:
    try:
        return Step(stored)
    except ValueError:  # a step from an older version of the flow: its first
        return Step.VI


async def _open(ctx: Ctx, b: Broadcast) -> dict[str, Any] | None:
    """The data of the edit open on `b`, or None (none open, or one of another broadcast)."""
    state = await FORM.load(ctx)
    if state is None or state.data.get("id") != b.id:
        return None
    return dict(state.data)


# -- screens -------------------------------------------------------------------
def _vi_buttons(ctx: Ctx, b: Broadcast) -> list[list[Button]]:
    return [
        [step_button(ctx.t("broadcasts.edit.en_button"), payload(PREFIX, "en", b.id))],
        [step_button(ctx.t("broadcasts.edit.quit_button"), payload(PREFIX, "quit", b.id))],
    ]


def _en_buttons(ctx: Ctx, b: Broadcast, has_en: bool) -> list[list[Button]]:
    rows = en_choices(ctx, has_en, payload(PREFIX, "keep", b.id), payload(PREFIX, "drop", b.id))
    rows.append([step_button(ctx.t("broadcasts.edit.quit_button"), payload(PREFIX, "quit", b.id))])
    return rows


async def _photo_ref(ctx: Ctx, b: Broadcast) -> str | None:
    """The broadcast's photo as this channel can show it in the preview, if it can."""
    if b.photo_id is None or ctx.inbound.channel != Channel.TELEGRAM:
        return None
    photo = await ctx.store.get_photo(b.photo_id)
    return photo.telegram_file_id if photo is not None else None


async def _preview(ctx: Ctx, b: Broadcast, data: dict[str, Any], *, intro: str | None = None) -> list[Reply]:
    """The new text exactly as workers will get it, then what stays as it was."""
    catalog = ctx.services.catalog
    text_vi, text_en = data["text_vi"], data.get("text_en") or None
    head = ctx.t("broadcasts.edit.preview_intro", id=b.id)
    replies = [Reply(f"{intro}\n\n{head}" if intro else head)]
    replies += preview_messages(ctx, text_vi, text_en, photo_ref=await _photo_ref(ctx, b))
    lines = [
        ctx.t(
            "broadcasts.edit.summary",
            id=b.id,
            audience=describe_audience(catalog, ctx.lang, b.audience, options(ctx)),
            when=describe_when(catalog, ctx.lang, b, ZoneInfo(options(ctx).timezone)),
            languages=", ".join(ctx.t(f"broadcasts.lang.{lang}") for lang in languages(text_en)),
        )
    ]
    if b.photo_id is not None:
        lines.append(ctx.t("broadcasts.edit.photo_note"))
    if b.is_series:
        lines.append(ctx.t("broadcasts.edit.series_note"))
    replies.append(
        Reply(
            "\n".join(lines),
            buttons=[
                [Button(ctx.t("broadcasts.edit.save_button"), payload(PREFIX, "save", b.id))],
                [Button(ctx.t("broadcasts.edit.again_button"), payload(PREFIX, "start", b.id))],
                [Button(ctx.t("broadcasts.edit.quit_button"), payload(PREFIX, "quit", b.id), typed=False)],
            ],
        )
    )
    return replies


async def _show_step(
    ctx: Ctx, b: Broadcast, step: Step, data: dict[str, Any], *, intro: str | None = None
) -> list[Reply]:
    if step is Step.VI:
        return ask_vi(ctx, _vi_buttons(ctx, b), intro=intro)
    if step is Step.EN:
        has_en = bool(data.get("text_en"))
        return ask_en(ctx, _en_buttons(ctx, b, has_en), has_en=has_en, intro=intro)
    return await _preview(ctx, b, data, intro=intro)


async def _to_preview(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> list[Reply]:
    await FORM.save(ctx, Step.CONFIRM, data)
    return await _preview(ctx, b, data)


# -- typed input ---------------------------------------------------------------
async def on_text(ctx: Ctx) -> Reply | list[Reply]:
    """The new text of a broadcast being edited (checked as when composing)."""
    state = await FORM.load(ctx)
    if state is None:
        return ctx.reply("broadcasts.manage.not_found")
    data = dict(state.data)
    b = await load_in_scope(ctx, int(data.get("id") or 0))
    step = _step(state.step)
    if b is None:
        await ctx.store.clear_state(ctx.user.id)
        return ctx.reply("broadcasts.manage.not_found")
    # Said now, not after the organizer has typed it all out a second time.
    if (refused := await refusal(ctx, b)) is not None:
        await ctx.store.clear_state(ctx.user.id)
        return refused
    if step is Step.CONFIRM:
        return await _preview(ctx, b, data, intro=ctx.t("broadcasts.compose.use_buttons"))
    if ctx.inbound.kind is InboundKind.UNSUPPORTED:
        return await _show_step(ctx, b, step, data, intro=ctx.t("broadcasts.edit.text_only"))
    text = ctx.inbound.text.strip()
    if problem := text_problem(ctx, text):
        return await _show_step(ctx, b, step, data, intro=problem)
    if step is Step.VI:
        data["text_vi"] = text
        if data.get("text_en"):
            # A typo fixed in one language is likely in the other one too.
            await FORM.save(ctx, Step.EN, data)
            return ask_en(
                ctx,
                _en_buttons(ctx, b, True),
                has_en=True,
                current=data["text_en"],
                intro=ctx.t("broadcasts.edit.vi_saved"),
            )
    else:
        data["text_en"] = text
    return await _to_preview(ctx, b, data)


async def on_cancel(ctx: Ctx) -> Reply:
    """`/cancel` while editing: nothing is changed."""
    state = await FORM.load(ctx)
    await ctx.store.clear_state(ctx.user.id)
    return ctx.reply("broadcasts.edit.abandoned", id=state.data.get("id", "") if state else "")


# -- buttons -------------------------------------------------------------------
EditAction = Callable[[Ctx, Broadcast, dict[str, Any]], Awaitable[Reply | list[Reply]]]
# `bce:<action>:<broadcast id>`, each valid on the steps below only ("start" on none).
ACTIONS: Actions[EditAction] = Actions(PREFIX)
_BUTTON_STEPS: dict[str, frozenset[Step]] = {
    "en": frozenset({Step.VI}),
    "keep": frozenset({Step.EN}),
    "drop": frozenset({Step.EN}),
    "save": frozenset({Step.CONFIRM}),
    "quit": frozenset(Step),
}


async def edit_button(ctx: Ctx) -> Reply | list[Reply]:
    """A button of a broadcast's edit, for a broadcast within the organizer's provinces."""
    action = ctx.args[0] if ctx.args else ""
    handler = ACTIONS.get(action)
    b = None
    if len(ctx.args) >= 2 and ctx.args[1].isdigit() and len(ctx.args[1]) <= 12:
        b = await load_in_scope(ctx, int(ctx.args[1]))
    if b is None or handler is None:
        return ctx.reply("broadcasts.manage.not_found")
    if action == "start":
        return await handler(ctx, b, {})
    state = await FORM.load(ctx)
    if state is None or state.data.get("id") != b.id:
        # Saved, abandoned, or left for another screen: nothing of it is pending.
        return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.expired"))
    data = dict(state.data)
    step = _step(state.step)
    if step not in _BUTTON_STEPS.get(action, frozenset()):
        return await _show_step(ctx, b, step, data, intro=ctx.t("broadcasts.edit.stale_button"))
    return await handler(ctx, b, data)


@ACTIONS.on("start")
async def _start(ctx: Ctx, b: Broadcast, _: dict[str, Any]) -> Reply | list[Reply]:
    """Edit the text of a broadcast not yet sending: the current text, to copy and correct."""
    if (refused := await refusal(ctx, b)) is not None:
        return refused
    # "Edit again" from the preview goes on from the text typed so far, not the stored one.
    data = await _open(ctx, b) or {"id": b.id, "text_vi": b.text_vi, "text_en": b.text_en}
    await FORM.save(ctx, Step.VI, data)
    return ask_vi(ctx, _vi_buttons(ctx, b), current=data["text_vi"])


@ACTIONS.on("en")
async def _english(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> list[Reply]:
    """Keeps the Vietnamese text and asks for the English one (to correct, add or remove)."""
    await FORM.save(ctx, Step.EN, data)
    has_en = bool(data.get("text_en"))
    return ask_en(ctx, _en_buttons(ctx, b, has_en), has_en=has_en, current=data.get("text_en"))


@ACTIONS.on("keep")
async def _keep_english(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> list[Reply]:
    """Keeps the English text as it is (or none): the preview."""
    return await _to_preview(ctx, b, data)


@ACTIONS.on("drop")
async def _drop_english(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> list[Reply]:
    """Removes the English text (English readers get the Vietnamese): the preview."""
    data["text_en"] = None
    return await _to_preview(ctx, b, data)


@ACTIONS.on("quit")
async def _quit(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> Reply:
    """Leaves the edit: the broadcast keeps its text."""
    await ctx.store.clear_state(ctx.user.id)
    return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.abandoned", id=b.id))


@ACTIONS.on("save")
async def _save(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> Reply:
    """Replaces the text, if the broadcast has still not started sending."""
    await ctx.store.clear_state(ctx.user.id)
    if await ctx.store.poll_of_broadcast(b.id) is not None:  # only a forged state gets here
        return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.poll"))
    text_vi, text_en = data["text_vi"], data.get("text_en") or None
    if (text_vi, text_en) == (b.text_vi, b.text_en or None):
        return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.same"))
    # A sender may have claimed it (or someone cancelled it) since the preview was drawn:
    # seen here, or only by the store's conditional write if it happens in between.
    updated = await ctx.store.edit_broadcast_text(b.id, text_vi, text_en) if b.text_editable else None
    if updated is None:
        fresh = await ctx.store.get_broadcast(b.id)
        return await detail_screen(ctx, fresh or b, intro=ctx.t("broadcasts.edit.too_late", id=b.id))
    changed = [f for f, old, new in (("text_vi", b.text_vi, text_vi), ("text_en", b.text_en, text_en)) if old != new]
    # The row keeps the latest text only: the audit keeps what it replaced.
    before = {f: getattr(b, f) for f in changed}
    await ctx.store.audit(ctx.user.id, "broadcast.edit", f"broadcast:{b.id}", {"changed": changed, "before": before})
    logger.info("user %s: broadcast %s edit (%s)", ctx.user.id, b.id, ", ".join(changed))
    return await detail_screen(ctx, updated, intro=ctx.t("broadcasts.edit.saved", id=b.id))


def register(router: Router) -> None:
    router.flow(FLOW, min_role=Role.ORGANIZER, one_message=EDIT_STEP, on_cancel=on_cancel)(on_text)
    router.button(PREFIX, min_role=Role.ORGANIZER, actions=ACTIONS)(edit_button)
