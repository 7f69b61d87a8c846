"""Welcome, main menu, help, language and contact: what every user meets first."""

from __future__ import annotations

import re

from handlers.context import Ctx
from handlers.i18n import LANGUAGES
from handlers.router import Router, payload
from handlers.types import Button, Reply
from storage import Role

# Telegram deep-link payloads: up to 64 characters of A-Z a-z 0-9 _ -
_START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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


async def _set_language(ctx: Ctx, lang: str) -> Reply:
    await ctx.store.set_language(ctx.user.id, lang)
    ctx.user = await _reload(ctx)
    return main_menu(ctx, intro=f"{ctx.t('lang.changed')}\n\n{ctx.t('menu.title')}")


async def _reload(ctx: Ctx):  # type: ignore[no-untyped-def]
    user = await ctx.store.get_user(ctx.user.id)
    assert user is not None
    return user


def register(router: Router) -> None:
    @router.command("start", describe="cmd.start")
    async def start(ctx: Ctx) -> list[Reply]:
        """The welcome and the main menu; `/start <code>` also records a referral."""
        replies: list[Reply] = []
        if ctx.args and _START_PAYLOAD.match(ctx.args[0]):
            # First touch wins: a later link must not steal a volunteer's referral.
            if ctx.user.referral_code is None:
                await ctx.store.set_referral_code(ctx.user.id, ctx.args[0])
            replies.append(Reply(ctx.t("start.referral_noted")))
        replies.append(main_menu(ctx, intro=ctx.t("start.welcome")))
        return replies

    @router.command("menu")
    async def menu(ctx: Ctx) -> Reply:
        return main_menu(ctx)

    @router.command("help", describe="cmd.help")
    async def help_(ctx: Ctx) -> Reply:
        """What the bot can do, with the extra commands of the user's role."""
        parts = [ctx.t("help.text")]
        if ctx.role.rank >= Role.VOLUNTEER.rank:
            parts.append(ctx.t("help.volunteer"))
        if ctx.role.rank >= Role.ORGANIZER.rank:
            parts.append(ctx.t("help.organizer"))
        return Reply("\n\n".join(parts), buttons=[ctx.back_button()])

    @router.command("lang", "language", describe="cmd.lang")
    async def lang(ctx: Ctx) -> Reply:
        """`/lang` shows the picker; `/lang en` switches at once."""
        if not ctx.args:
            return language_picker(ctx)
        choice = ctx.args[0].lower()
        if choice not in LANGUAGES:
            return ctx.reply("lang.unknown")
        return await _set_language(ctx, choice)

    @router.command("cancel", describe="cmd.cancel")
    async def cancel(ctx: Ctx) -> Reply:
        """Leave whatever form or guided step is open; works from anywhere."""
        state = await ctx.store.get_state(ctx.user.id)
        if state is None or state.flow not in router.flows:
            return main_menu(ctx, intro=f"{ctx.t('cancel.nothing')}\n\n{ctx.t('menu.title')}")
        await ctx.store.clear_state(ctx.user.id)
        return main_menu(ctx, intro=f"{ctx.t('cancel.done')}\n\n{ctx.t('menu.title')}")

    @router.command("whoami", describe="cmd.whoami")
    async def whoami(ctx: Ctx) -> Reply:
        return ctx.reply("roles.you_are", user=ctx.user.external_id, role=ctx.t(f"roles.{ctx.role.value}"))

    @router.button("lang")
    async def lang_button(ctx: Ctx) -> Reply:
        if not ctx.args or ctx.args[0] not in LANGUAGES:
            return main_menu(ctx, intro=ctx.t("fallback.button_expired"))
        reply = await _set_language(ctx, ctx.args[0])
        reply.edit = True
        return reply

    @router.button("menu")
    async def menu_button(ctx: Ctx):  # type: ignore[no-untyped-def]
        """The main menu's buttons; features plug their entry point in with `menu_entry`."""
        choice = ctx.args[0] if ctx.args else "main"
        if choice == "main":
            reply = main_menu(ctx)
            reply.edit = True
            return reply
        if choice == "lang":
            reply = language_picker(ctx)
            reply.edit = True
            return reply
        if choice == "contact":
            # The officers' contacts, and the next message goes to them (hand-off step).
            from handlers.inbox import open_handoff

            return await open_handoff(ctx, intro=contact_reply(ctx).text)
        if choice == "rights":
            return Reply(
                ctx.t("rights.prompt"),
                buttons=[
                    [Button(ctx.t("qa.browse"), payload("kb", "cats"))],
                    ctx.back_button(),
                ],
            )
        target = router.menu_actions.get(choice)
        if target is not None:
            # Run the feature's own command so its role check applies to the button too.
            route = router.commands[target]
            if ctx.role.rank < route.min_role.rank:
                return ctx.reply("auth.not_allowed", role=ctx.t(f"roles.{route.min_role.value}"))
            ctx.args = ()
            return await route.handler(ctx)
        return main_menu(ctx, intro=ctx.t("fallback.button_expired"))
