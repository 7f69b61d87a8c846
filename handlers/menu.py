"""The main menu and the screens every feature falls back to.

Rendering only, with no feature imports, so any feature (and the dispatcher) can show
the menu without an import cycle; its buttons are handled in handlers/core.py.
"""

from __future__ import annotations

from handlers.context import Ctx
from handlers.router import payload
from handlers.types import Button, Reply


def main_menu(ctx: Ctx, *, intro: str | None = None) -> Reply:
    t = ctx.t
    rows = [
        [Button(t("menu.rights"), payload("menu", "rights"))],
        [Button(t("menu.join"), payload("menu", "join"))],
        [Button(t("menu.news"), payload("menu", "news"))],
        [Button(t("menu.report"), payload("menu", "report"))],
        [Button(t("menu.contact"), payload("menu", "contact"))],
        [Button(t("menu.language"), payload("menu", "lang"))],
        # Member care last, so the numbered choices above keep their numbers on Zalo.
        [
            Button(t("care.menu.benefits"), payload("menu", "benefits")),
            Button(t("care.menu.programs"), payload("menu", "programs")),
        ],
        [Button(t("care.menu.support"), payload("menu", "support"))],
    ]
    return Reply(intro or t("menu.title"), buttons=rows)


def with_menu(ctx: Ctx, text: str) -> Reply:
    """`text` followed by the main menu, for replies that leave the user nowhere else."""
    menu = main_menu(ctx)
    return Reply(f"{text}\n\n{menu.text}", buttons=menu.buttons)


def language_picker(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("lang.choose"),
        buttons=[
            [
                Button(ctx.t("lang.vi_label"), payload("lang", "vi")),
                Button(ctx.t("lang.en_label"), payload("lang", "en")),
            ],
            ctx.back_button(),
        ],
    )


def contact_reply(ctx: Ctx) -> Reply:
    s = ctx.settings
    hotline = ctx.t("contact.hotline", hotline=s.hotline) if s.hotline else ""
    office = ctx.t("contact.office", office=s.office) if s.office else ""
    return ctx.reply("contact.text", hotline=hotline, office=office)
