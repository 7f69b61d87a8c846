"""Editing the text of a broadcast that is scheduled but has not started sending.

From the broadcast's screen (manage.py): the current text to copy and correct, the new
text checked as when composing, the preview with the audience and time unchanged, then
Save. The edit is a form of its own (flow "bc_edit") bound to one broadcast: every button
carries its id, and the broadcast is loaded within the organizer's provinces on every
step, as cancelling is. The store replaces the text only if no sender has claimed the
broadcast (`edit_broadcast_text`), so a broadcast goes out wholly with the old text or
wholly with the new, and only if it still holds the texts the edit started from (kept in
the edit's state), so a save never undoes another organizer's unseen. An edit that can no
longer be saved gives back what was typed in it, to copy.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from handlers.broadcasts import compose
from handlers.broadcasts.manage import audit, detail_screen, load_in_scope
from handlers.broadcasts.options import options
from handlers.broadcasts.render import describe_audience, describe_when
from handlers.broadcasts.textsteps import (
    ask_en,
    ask_vi,
    en_choices,
    english_after,
    languages,
    preview_messages,
    step_button,
    take_new_text,
)
from handlers.context import Ctx
from handlers.forms import FormFlow
from handlers.i18n import LANGUAGES
from handlers.router import Actions, OneMessageStep, Router, payload
from handlers.types import Button, Channel, Reply
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


def _fresh(b: Broadcast) -> dict[str, Any]:
    """A new edit of `b`: the texts being typed, and the texts it starts from ("old_"),
    which the save requires the broadcast to still hold."""
    return {"id": b.id, "text_vi": b.text_vi, "text_en": b.text_en, "old_vi": b.text_vi, "old_en": b.text_en}


Texts = tuple[str | None, str | None]


def _typed(data: dict[str, Any]) -> Texts:
    return data.get("text_vi"), data.get("text_en") or None


def _old(data: dict[str, Any]) -> Texts:
    return data.get("old_vi"), data.get("old_en") or None


def _current(b: Broadcast) -> Texts:
    return b.text_vi, b.text_en or None


def _changed_meanwhile(b: Broadcast, data: dict[str, Any]) -> bool:
    """Whether `b`'s text is no longer the one the edit started from: someone saved
    another edit since. An edit opened before the starting texts were kept cannot tell,
    and is treated as changed rather than risk undoing someone's save."""
    return "old_vi" not in data or _old(data) != _current(b)


def _texts(ctx: Ctx, key: str, texts: dict[str, str]) -> list[Reply]:
    """A heading naming the languages, then each text in a message of its own, to copy whole."""
    if not texts:
        return []
    names = ", ".join(ctx.t(f"broadcasts.lang.{lang}") for lang in texts)
    return [Reply(ctx.t(key, languages=names)), *(Reply(text) for text in texts.values())]


def _given_back(ctx: Ctx, data: dict[str, Any], key: str) -> list[Reply]:
    """What the organizer typed in an edit that will not be saved: the texts they changed
    only. A text merely kept is left out: pasted back, it could undo someone else's fix."""
    typed, old = _typed(data), _old(data)
    changed = {lang: new for lang, new, was in zip(LANGUAGES, typed, old, strict=True) if new and new != was}
    replies = _texts(ctx, key, changed)
    if old[1] and typed[1] is None:
        replies.append(Reply(ctx.t("broadcasts.edit.yours_dropped_en")))
    return replies


async def _overtaken(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> list[Reply]:
    """Ends an edit whose broadcast's text changed since it opened: saving it would undo
    that change unseen. The current text and what was typed, to start again from."""
    await ctx.store.clear_state(ctx.user.id)
    if _typed(data) == _current(b):  # the same fix, saved by someone else first
        return [await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.already", id=b.id))]
    logger.info("user %s: broadcast %s edit overtaken by another save", ctx.user.id, b.id)
    current = {lang: text for lang, text in zip(LANGUAGES, _current(b), strict=True) if text}
    return [
        await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.changed_meanwhile", id=b.id)),
        *_texts(ctx, "broadcasts.edit.current_heading", current),
        *_given_back(ctx, data, "broadcasts.edit.yours_heading"),
    ]


async def _refused(ctx: Ctx, data: dict[str, Any], screen: Reply) -> list[Reply]:
    """Ends an edit the broadcast no longer allows (`screen` says why), giving back what
    was typed in it for a new broadcast."""
    await ctx.store.clear_state(ctx.user.id)
    return [screen, *_given_back(ctx, data, "broadcasts.edit.yours_new_heading")]


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
    english = step is Step.EN
    # Said now, not after the organizer has typed it all out a second time.
    if (refused := await refusal(ctx, b)) is not None:
        if step is not Step.CONFIRM:
            take_new_text(ctx, data, english=english)  # given back with the rest
        return await _refused(ctx, data, refused)
    if step is Step.CONFIRM:
        return await _preview(ctx, b, data, intro=ctx.t("broadcasts.compose.use_buttons"))
    if problem := take_new_text(ctx, data, english=english):
        return await _show_step(ctx, b, step, data, intro=problem)
    if _changed_meanwhile(b, data):
        return await _overtaken(ctx, b, data)
    if asked := english_after(ctx, data, english=english, buttons=_en_buttons(ctx, b, True)):
        await FORM.save(ctx, Step.EN, data)
        return asked
    return await _to_preview(ctx, b, data)


async def on_cancel(ctx: Ctx) -> Reply:
    """`/cancel` while editing: nothing is changed."""
    state = await FORM.load(ctx)
    await ctx.store.clear_state(ctx.user.id)
    return ctx.reply("broadcasts.edit.abandoned", id=state.data.get("id", "") if state else "")


# -- buttons -------------------------------------------------------------------
EditAction = Callable[[Ctx, Broadcast, dict[str, Any]], Awaitable[Reply | list[Reply]]]
# `bce:<action>:<broadcast id>`, each valid on the steps below only; those that open an
# edit ("start", and "nodraft" which discards a compose draft first) need none open.
ACTIONS: Actions[EditAction] = Actions(PREFIX)
_OPENING = frozenset({"start", "nodraft"})
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
    if action in _OPENING:
        return await handler(ctx, b, {})
    state = await FORM.load(ctx)
    if state is None or state.data.get("id") != b.id:
        # Saved, abandoned, or left for another screen: nothing of it is pending.
        return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.expired"))
    data = dict(state.data)
    step = _step(state.step)
    if step not in _BUTTON_STEPS.get(action, frozenset()):
        return await _show_step(ctx, b, step, data, intro=ctx.t("broadcasts.edit.stale_button"))
    if action not in ("quit", "save") and _changed_meanwhile(b, data):
        # Said at once, before more is typed into an edit that could no longer be saved
        # (saving checks on its own, after whether sending started).
        return await _overtaken(ctx, b, data)
    return await handler(ctx, b, data)


@ACTIONS.on("start")
async def _start(ctx: Ctx, b: Broadcast, _: dict[str, Any]) -> Reply | list[Reply]:
    """Edit the text of a broadcast not yet sending: the current text, to copy and correct."""
    data = await _open(ctx, b)
    if (refused := await refusal(ctx, b)) is not None:
        return await _refused(ctx, data, refused) if data is not None else refused
    if data is None:
        if await compose.DRAFT.load(ctx) is not None:
            # The edit would take the conversation state the draft is kept in.
            return _draft_open(ctx, b)
        data = _fresh(b)
    elif _changed_meanwhile(b, data):
        return await _overtaken(ctx, b, data)
    # "Edit again" from the preview goes on from the text typed so far, not the stored one.
    return await _begin(ctx, b, data)


async def _begin(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> list[Reply]:
    await FORM.save(ctx, Step.VI, data)
    return ask_vi(ctx, _vi_buttons(ctx, b), current=data["text_vi"])


def _draft_open(ctx: Ctx, b: Broadcast) -> Reply:
    """Asks before an edit replaces the organizer's unsent compose draft."""
    return Reply(
        ctx.t("broadcasts.edit.draft_open", id=b.id),
        buttons=[
            # Typing its words never discards a draft (one may be at a text step); its number does.
            [Button(ctx.t("broadcasts.edit.drop_draft_button"), payload(PREFIX, "nodraft", b.id), typed=False)],
            [Button(ctx.t("broadcasts.edit.back_to_draft_button"), payload("bcc", compose.DRAFT_BUTTON))],
        ],
    )


@ACTIONS.on("nodraft")
async def _drop_draft(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> Reply | list[Reply]:
    """Discards the compose draft, as the organizer chose, and edits the broadcast."""
    if await compose.DRAFT.load(ctx) is None:  # pressed again, or the draft is gone: as "edit"
        return await _start(ctx, b, data)
    if (refused := await refusal(ctx, b)) is not None:
        return refused  # nothing to edit after all: the draft stays
    logger.info("user %s: broadcast draft discarded to edit broadcast %s", ctx.user.id, b.id)
    return await _begin(ctx, b, _fresh(b))


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
async def _save(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> Reply | list[Reply]:
    """Replaces the text, if the broadcast has still not started sending and still holds
    the text the edit started from."""
    if await ctx.store.poll_of_broadcast(b.id) is not None:  # only a forged state gets here
        await ctx.store.clear_state(ctx.user.id)
        return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.poll"))
    if not b.text_editable:
        return await _too_late(ctx, b, data)
    if _changed_meanwhile(b, data):
        return await _overtaken(ctx, b, data)
    (text_vi, text_en), (old_vi, old_en) = _typed(data), _old(data)
    if not text_vi or not old_vi:  # only a forged state lacks them
        await ctx.store.clear_state(ctx.user.id)
        return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.expired"))
    if (text_vi, text_en) == (old_vi, old_en):
        await ctx.store.clear_state(ctx.user.id)
        return await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.same"))
    # A sender's claim, a cancel or another organizer's save may land between the look
    # above and this write: the store's conditional write sees each of them.
    updated = await ctx.store.edit_broadcast_text(b.id, text_vi, text_en, old_vi=old_vi, old_en=old_en)
    if updated is None:
        fresh = await ctx.store.get_broadcast(b.id)
        if fresh is None:
            return await _refused(ctx, data, ctx.reply("broadcasts.manage.not_found"))
        if fresh.text_editable:
            return await _overtaken(ctx, fresh, data)
        return await _too_late(ctx, fresh, data)
    await ctx.store.clear_state(ctx.user.id)
    fields = (("text_vi", old_vi, text_vi), ("text_en", old_en, text_en))
    # The row keeps the latest text only: the audit keeps what it replaced, which the
    # conditional write makes the texts the edit started from.
    before = {field: old for field, old, new in fields if old != new}
    await audit(ctx, "edit", b, changed=list(before), before=before)
    return await detail_screen(ctx, updated, intro=ctx.t("broadcasts.edit.saved", id=b.id))


async def _too_late(ctx: Ctx, b: Broadcast, data: dict[str, Any]) -> list[Reply]:
    screen = await detail_screen(ctx, b, intro=ctx.t("broadcasts.edit.too_late", id=b.id))
    return await _refused(ctx, data, screen)


def register(router: Router) -> None:
    router.flow(FLOW, min_role=Role.ORGANIZER, one_message=EDIT_STEP, on_cancel=on_cancel)(on_text)
    router.button(PREFIX, min_role=Role.ORGANIZER, actions=ACTIONS)(edit_button)
