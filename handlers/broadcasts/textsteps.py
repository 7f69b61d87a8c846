"""Replacing a broadcast's text: the prompts, the checks and the preview messages, shared
by a draft at its preview (compose.py) and a broadcast scheduled but not sent (edit.py),
so both take a new text the way the composer took the first one.
"""

from __future__ import annotations

from typing import Any

from handlers.broadcasts.render import MAX_TEXT, render_message
from handlers.context import Ctx
from handlers.i18n import LANGUAGES
from handlers.types import Button, InboundKind, Reply


def text_problem(ctx: Ctx, text: str) -> str | None:
    """Why `text` (stripped) cannot be a broadcast's text, in the composer's words; None if it can."""
    if not text:
        return ctx.t("broadcasts.compose.empty_text")
    if len(text) > MAX_TEXT:
        return ctx.t("broadcasts.compose.too_long", limit=MAX_TEXT, length=len(text))
    return None


def step_button(label: str, data: str) -> Button:
    # Any text typed at these steps is the new text, so a typed word must never press a
    # button instead (a text starting "Giữ nguyên..."); on Zalo its number still does.
    return Button(label, data, typed=False)


def _with_intro(intro: str | None, text: str) -> str:
    return f"{intro}\n\n{text}" if intro else text


def ask_vi(
    ctx: Ctx, buttons: list[list[Button]], *, current: str | None = None, intro: str | None = None
) -> list[Reply]:
    """Asks for the new Vietnamese text. With `current` (entering the step), that text comes
    first in a message of its own, to copy and correct rather than retype."""
    replies = [Reply(current)] if current else []
    replies.append(Reply(_with_intro(intro, ctx.t("broadcasts.edit.ask_vi", limit=MAX_TEXT)), buttons=buttons))
    return replies


def ask_en(
    ctx: Ctx,
    buttons: list[list[Button]],
    *,
    has_en: bool,
    current: str | None = None,
    intro: str | None = None,
) -> list[Reply]:
    """Asks for the new English text (or to keep or drop the one there is)."""
    replies = [Reply(current)] if current else []
    key = "broadcasts.edit.ask_en" if has_en else "broadcasts.edit.ask_en_none"
    replies.append(Reply(_with_intro(intro, ctx.t(key, limit=MAX_TEXT)), buttons=buttons))
    return replies


def take_new_text(ctx: Ctx, data: dict[str, Any], *, english: bool) -> str | None:
    """Puts the text just typed at a text step into `data` (as the English text, or the
    Vietnamese); None once taken, else why it was not, with `data` unchanged."""
    if ctx.inbound.kind is InboundKind.UNSUPPORTED:
        return ctx.t("broadcasts.edit.text_only")
    text = ctx.inbound.text.strip()
    if problem := text_problem(ctx, text):
        return problem
    data["text_en" if english else "text_vi"] = text
    return None


def english_after(ctx: Ctx, data: dict[str, Any], *, english: bool, buttons: list[list[Button]]) -> list[Reply] | None:
    """After `take_new_text`: the English step to go on to (the caller saves it as its
    step), or None for the preview. A new Vietnamese text is followed by the English one
    when there is one, since a typo fixed in one language is likely in the other too."""
    if english or not data.get("text_en"):
        return None
    return ask_en(ctx, buttons, has_en=True, current=data["text_en"], intro=ctx.t("broadcasts.edit.vi_saved"))


def en_choices(ctx: Ctx, has_en: bool, keep: str, drop: str) -> list[list[Button]]:
    """The English step's buttons: keep it as it is (or go on without one), remove it."""
    if not has_en:
        return [[step_button(ctx.t("broadcasts.edit.no_en_button"), keep)]]
    return [
        [step_button(ctx.t("broadcasts.edit.keep_en_button"), keep)],
        [step_button(ctx.t("broadcasts.edit.drop_en_button"), drop)],
    ]


def languages(text_en: str | None) -> list[str]:
    """The languages a broadcast is written in: Vietnamese always, first."""
    return list(LANGUAGES) if text_en else list(LANGUAGES[:1])


def preview_messages(ctx: Ctx, text_vi: str, text_en: str | None, *, photo_ref: str | None = None) -> list[Reply]:
    """Each language's message exactly as workers will get it (render_message, as the
    delivery engine builds it)."""
    return [
        Reply(render_message(ctx.services.catalog, lang, text_vi, text_en).text, photo_ref=photo_ref)
        for lang in languages(text_en)
    ]
