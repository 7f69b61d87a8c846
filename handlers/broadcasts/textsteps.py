"""Replacing a broadcast's text: the prompts, the checks and the preview messages, shared
by a draft at its preview (compose.py) and a broadcast scheduled but not sent (edit.py),
so both take a new text the way the composer took the first one.
"""

from __future__ import annotations

from handlers.broadcasts.render import MAX_TEXT, render_message
from handlers.context import Ctx
from handlers.i18n import LANGUAGES
from handlers.types import Button, Reply


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
