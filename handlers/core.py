"""Welcome, main menu buttons, help, language and contact: what every user meets first.

The menu's rendering lives in handlers/menu.py."""

from __future__ import annotations

import re

from handlers.context import Ctx
from handlers.forms import HELD, QA_FLOW, held_form, hold, put_back
from handlers.i18n import LANGUAGES
from handlers.menu import contact_reply, language_picker, main_menu
from handlers.router import Actions, Handler, HandlerResult, Router, as_replies, payload
from handlers.types import Button, Reply
from storage import Role, User

# Telegram deep-link payloads: up to 64 characters of A-Z a-z 0-9 _ -
_START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


async def _set_language(ctx: Ctx, lang: str) -> Reply:
    await ctx.store.set_language(ctx.user.id, lang)
    ctx.user = await _reload(ctx)
    return main_menu(ctx, intro=f"{ctx.t('lang.changed')}\n\n{ctx.t('menu.title')}")


async def _reload(ctx: Ctx) -> User:
    user = await ctx.store.get_user(ctx.user.id)
    assert user is not None
    return user


async def start(ctx: Ctx) -> list[Reply]:
    """The welcome and the main menu; `/start <code>` also records a referral."""
    replies: list[Reply] = []
    if ctx.args and _START_PAYLOAD.match(ctx.args[0]):
        # Only a volunteer's real code, not the volunteer's own: a made-up or mistyped
        # link is not thanked, kept, or allowed to skip the form's referral question.
        volunteer = await ctx.store.volunteer_by_code(ctx.args[0])
        if volunteer is not None and volunteer != ctx.user.id:
            # First touch wins: a later link must not steal a volunteer's referral.
            if ctx.user.referral_code is None:
                await ctx.store.set_referral_code(ctx.user.id, ctx.args[0])
            # Scanned at the factory gate to sign up: the form is the first button, not
            # one of nine menu items (found trying the bot).
            join = Button(ctx.t("start.referral_join"), payload("menu", "join"))
            replies.append(Reply(ctx.t("start.referral_noted"), buttons=[[join]]))
    replies.append(main_menu(ctx, intro=ctx.t("start.welcome")))
    return replies


async def menu(ctx: Ctx) -> Reply:
    """The main menu again."""
    return main_menu(ctx)


async def help_(ctx: Ctx) -> Reply:
    """What the bot can do, with the extra commands of the user's role."""
    parts = [ctx.t("help.text")]
    if ctx.role.rank >= Role.VOLUNTEER.rank:
        parts.append(ctx.t("help.volunteer"))
    if ctx.role.rank >= Role.ORGANIZER.rank:
        parts.append(ctx.t("help.organizer"))
    return Reply("\n\n".join(parts), buttons=[ctx.back_button()])


async def lang(ctx: Ctx) -> Reply:
    """`/lang` shows the picker; `/lang en` switches at once."""
    if not ctx.args:
        return language_picker(ctx)
    choice = ctx.args[0].lower()
    if choice not in LANGUAGES:
        return ctx.reply("lang.unknown")
    return await _set_language(ctx, choice)


async def cancel(ctx: Ctx) -> Reply | list[Reply]:
    """Leave whatever form or guided step is open; works from anywhere. A step opened over
    an unfinished form (handlers/forms.py) is left, and the form comes back, said so."""
    state = await ctx.store.get_state(ctx.user.id)
    flows = ctx.router.flows if ctx.router is not None else {}
    if state is None or state.flow not in flows:
        return main_menu(ctx, intro=f"{ctx.t('cancel.nothing')}\n\n{ctx.t('menu.title')}")
    own = ctx.router.cancel_handlers.get(state.flow) if ctx.router is not None else None
    if own is not None:
        return as_replies(await own(ctx))
    await ctx.store.clear_state(ctx.user.id)
    held = held_form(state)
    if held is not None:
        # Only the step is cancelled: "what you were typing was erased" would be untrue of
        # the form it held (a /forget confirmation holds one too).
        back = await put_back(ctx, held, note=ctx.t("cancel.step_done"))
        if back is not None:
            return back
    return main_menu(ctx, intro=f"{ctx.t('cancel.done')}\n\n{ctx.t('menu.title')}")


async def whoami(ctx: Ctx) -> Reply:
    """The user's id on this channel and their role (what an admin needs to /grant)."""
    return ctx.reply("roles.you_are", user=ctx.user.external_id, role=ctx.t(f"roles.one.{ctx.role.value}"))


async def lang_button(ctx: Ctx) -> Reply:
    """A language chosen in the picker: the menu again, in that language."""
    if not ctx.args or ctx.args[0] not in LANGUAGES:
        return main_menu(ctx, intro=ctx.t("fallback.button_expired"))
    reply = await _set_language(ctx, ctx.args[0])
    # From the picker the menu replaces it; from under an answer ("keep") the answer stays.
    reply.edit = "keep" not in ctx.args[1:]
    return reply


# `menu:<choice>`: the menu's own screens here; features plug theirs in with
# `router.menu_entry(choice, command)` (listed by `unionbot routes` too).
MENU: Actions[Handler] = Actions("menu")


async def menu_button(ctx: Ctx) -> HandlerResult:
    """A main-menu button: one of the screens below, or a feature's own command."""
    choice = ctx.args[0] if ctx.args else "main"
    handler = MENU.get(choice)
    if handler is not None:
        return await handler(ctx)
    target = ctx.router.menu_actions.get(choice) if ctx.router is not None else None
    if target is not None:
        return await run_command(ctx, target)
    return main_menu(ctx, intro=ctx.t("fallback.button_expired"))


async def run_command(ctx: Ctx, name: str, *, quiet: bool = False) -> HandlerResult:
    """`/name` run as if typed without arguments, with the command's own role check, for
    what stands in for typing it (a menu button, a feature named in a message). A role
    below the command's gets "not allowed", or None when `quiet` (the text goes on to
    the Q&A); None too when there is no such command."""
    route = ctx.router.commands.get(name) if ctx.router is not None else None
    if route is None:
        return None
    if ctx.role.rank < route.min_role.rank:
        return None if quiet else ctx.reply("auth.not_allowed", role=ctx.t(f"roles.{route.min_role.value}"))
    ctx.args = ()
    return await route.handler(ctx)


@MENU.on("main")
async def _menu_main(ctx: Ctx) -> Reply:
    """The main menu, in place of the message it was pressed on."""
    reply = main_menu(ctx)
    reply.edit = True
    return reply


@MENU.on("lang")
async def _menu_language(ctx: Ctx) -> Reply:
    """The language picker."""
    reply = language_picker(ctx)
    reply.edit = True
    return reply


@MENU.on("contact")
async def _menu_contact(ctx: Ctx) -> HandlerResult:
    """The officers' contacts, and the next message goes to them (hand-off step)."""
    # inbox shows the menu itself: imported late
    from handlers.rights.inbox import open_handoff, recent_question

    # The question just asked stays one tap away, as under the answer's own 🙋 button
    # (found by an outside tester); one from another day is not brought back.
    return await open_handoff(ctx, intro=contact_reply(ctx).text, last=await recent_question(ctx))


@MENU.on("rights")
async def _menu_rights(ctx: Ctx) -> Reply:
    """Invites a question about rights, or browsing the topics."""
    note = await _leave_form_for_a_question(ctx)
    prompt = ctx.t("rights.prompt")
    return Reply(
        f"{note}\n\n{prompt}" if note else prompt,
        buttons=[[Button(ctx.t("qa.browse"), payload("kb", "cats"))], ctx.back_button()],
    )


async def _leave_form_for_a_question(ctx: Ctx) -> str | None:
    """A worker's form still open (the menu reached by /start in the middle of it) took the
    question asked next as its answer: a question about Sunday overtime became a hardship
    story (found by an outside tester). The sign-up form is held in the Q&A's state for
    /join to take back (handlers/forms.py); another worker's form is closed, and the
    worker is told which. An officer's or volunteer's own steps are theirs to leave."""
    state = await ctx.store.get_state(ctx.user.id)
    router = ctx.router
    if state is None or router is None or state.flow == QA_FLOW or state.flow not in router.flows:
        return None
    if state.flow in router.resumers:
        kept: object = hold(state)
    else:
        held = held_form(state)
        # Only a form /join takes back is kept as one (/forget sets aside any form).
        kept = state.data.get(HELD) if held is not None and held.flow in router.resumers else None
    if kept is not None:
        await ctx.store.set_state(ctx.user.id, QA_FLOW, "asked", {HELD: kept})
        return ctx.t("rights.form_kept")
    if router.flows[state.flow].min_role is not Role.WORKER:
        return None
    await ctx.store.clear_state(ctx.user.id)
    return ctx.t("rights.form_closed")


def register(router: Router) -> None:
    router.command("start", describe="cmd.start")(start)
    router.command("menu")(menu)
    router.command("help", describe="cmd.help")(help_)
    router.command("lang", "language", describe="cmd.lang")(lang)
    router.command("cancel", describe="cmd.cancel")(cancel)
    router.command("whoami", describe="cmd.whoami")(whoami)
    router.button("lang")(lang_button)
    router.button("menu", actions=MENU)(menu_button)
