"""Workers choose the announcements they get: topic buttons, /stop and opt-out words."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from handlers.broadcasts.options import options
from handlers.broadcasts.optout import OptOut, classify
from handlers.care.programs import PREFIX as TICKETS_PREFIX
from handlers.context import Ctx
from handlers.dispatcher import QA_STOP_ASKED
from handlers.forms import QA_FLOW
from handlers.menu import main_menu
from handlers.router import Router, payload
from handlers.text import fold
from handlers.types import Button, Reply
from storage.care import RegStatus

logger = logging.getLogger(__name__)


async def subscriptions_screen(ctx: Ctx, *, intro: str | None = None, edit: bool = False) -> Reply:
    """The topics with what the worker gets now, one toggle button per topic."""
    opts = options(ctx)
    if not opts.topics:
        return ctx.reply("broadcasts.subs.no_topics")
    subs = await ctx.store.subscriptions(ctx.user.id)
    lang = ctx.lang
    lines = [intro] if intro else []
    lines.append(ctx.t("broadcasts.subs.title"))
    for topic in opts.topics:
        mark = "✅" if topic.id in subs else "▫️"
        desc = topic.description(lang)
        lines.append(f"{mark} {topic.name(lang)}" + (f": {desc}" if desc else ""))
    lines.append("")
    lines.append(ctx.t("broadcasts.subs.none") if not subs else ctx.t("broadcasts.subs.hint"))
    rows = [
        [Button(f"{'✅' if t.id in subs else '➕'} {t.name(lang)}", payload("sub", "t", t.id))] for t in opts.topics
    ]
    rows.append(
        [
            Button(ctx.t("broadcasts.subs.all_button"), payload("sub", "all")),
            Button(ctx.t("broadcasts.subs.stop_button"), payload("sub", "stop")),
        ]
    )
    rows.append(ctx.back_button())
    return Reply("\n".join(lines), buttons=rows, edit=edit)


async def stop(ctx: Ctx) -> Reply:
    """Unsubscribe from everything, confirm, and offer the way back."""
    had = await ctx.store.opt_out(ctx.user.id)
    logger.info("user %s opted out of announcements (%d topics)", ctx.user.id, len(had))
    rows = []
    if had:
        rows.append([Button(ctx.t("broadcasts.stop.resubscribe"), payload("sub", "back"))])
    rows.append([Button(ctx.t("broadcasts.stop.choose"), payload("sub", "menu"))])
    rows.append(ctx.back_button())
    return Reply(ctx.t("broadcasts.stop.done"), buttons=rows)


async def news(ctx: Ctx) -> Reply:
    """The subscriptions screen (also the main menu's announcements button)."""
    return await subscriptions_screen(ctx)


async def stop_command(ctx: Ctx) -> Reply:
    return await stop(ctx)


async def sub_button(ctx: Ctx) -> Reply:
    """A topic switched on or off, stop-all, welcome back, or 'keep them' after a stop question."""
    action = ctx.args[0] if ctx.args else ""
    opts = options(ctx)
    if action == "t" and len(ctx.args) == 2 and opts.topic(ctx.args[1]) is not None:
        topic = ctx.args[1]
        if topic in await ctx.store.subscriptions(ctx.user.id):
            await ctx.store.unsubscribe(ctx.user.id, [topic])
        else:
            await ctx.store.subscribe(ctx.user.id, [topic])
        return await subscriptions_screen(ctx, edit=True)
    if action == "all" and opts.topics:
        await ctx.store.subscribe(ctx.user.id, [t.id for t in opts.topics])
        return await subscriptions_screen(ctx, intro=ctx.t("broadcasts.subs.all_done"), edit=True)
    if action == "stop":
        return await stop(ctx)
    if action == "back":
        restored = [t for t in await ctx.store.opt_back_in(ctx.user.id) if opts.topic(t)]
        intro = ctx.t("broadcasts.stop.welcome_back") if restored else None
        return await subscriptions_screen(ctx, intro=intro, edit=True)
    if action == "menu":
        return await subscriptions_screen(ctx)
    if action == "keep":
        return _kept(ctx)
    return await subscriptions_screen(ctx, intro=ctx.t("fallback.button_expired"))


def register(router: Router) -> None:
    router.command("news", describe="broadcasts.cmd.news")(news)
    router.command("stop", "unsubscribe", describe="broadcasts.cmd.stop")(stop_command)
    router.button("sub")(sub_button)


def _kept(ctx: Ctx) -> Reply:
    """ "No" to "do you want to stop announcements?", pressed or typed: nothing changes."""
    return main_menu(ctx, intro=f"{ctx.t('broadcasts.stop.kept')}\n\n{ctx.t('menu.title')}")


def confirm_stop(ctx: Ctx) -> Reply:
    """A bare "dung" / "huy" may be "đúng", "dùng", or a name: ask before unsubscribing.

    The stop button is pressed (typed=False) or a yes typed right after (ask_stop).
    """
    return Reply(
        ctx.t("broadcasts.stop.confirm"),
        buttons=[
            [
                Button(ctx.t("broadcasts.stop.confirm_yes"), payload("sub", "stop"), typed=False),
                Button(ctx.t("broadcasts.stop.confirm_no"), payload("sub", "keep")),
            ],
        ],
    )


async def opt_out_words(ctx: Ctx) -> Reply | None:
    """A whole message 'dừng' / 'stop' unsubscribes (asked first when unsure); any other
    text is left to the features after it. Right after "do you want to stop?", a typed
    yes ("có", "ok") or no ("không") answers it; "đúng" shows the buttons again."""
    answer = await _answer_to_stop_question(ctx)
    if answer is not None:
        return answer
    verdict = classify(ctx.inbound.text)
    if verdict is OptOut.YES and fold(ctx.inbound.text) in _CANCEL_WORDS and await _holds_a_place(ctx):
        # "Hủy" / "hủy đăng ký" is also how a worker holding a Tết bus ticket cancels it
        # (found by an outside tester: the ticket stayed booked and every announcement
        # stopped): asked which, the tickets one tap away.
        return await ask_stop(ctx, tickets=True)
    if verdict is OptOut.YES:
        return await stop(ctx)
    if verdict is OptOut.ASK:
        # "dung" typed under "Did you mean…?" is "đúng" (yes): show those choices again.
        from handlers.rights.chat import reoffer_choices

        return await reoffer_choices(ctx) or await ask_stop(ctx)
    return None


# The question "do you want to stop announcements?" is remembered in the Q&A's state
# (one state per user, and the Q&A's memory must survive it) until the next message.
STOP_ANSWER_WINDOW = timedelta(minutes=10)  # a typed yes/no answers the question this long
# Whole messages, folded. "đúng"/"dung" is a yes here too, but issue 9 wants it never
# to unsubscribe (it is typed under every question the bot asks): the buttons again.
_YES = frozenset({"co", "ok", "oke", "okay", "yes", "y", "dong y", "stop"})
_NO = frozenset({"khong", "ko", "k", "no", "khong a", "no thanks"})
_PRESS = frozenset({"dung", "dung roi", "dung vay", "u", "uh"})


# Whole messages, folded, that cancel a registration as readily as they stop announcements.
_CANCEL_WORDS = frozenset({"huy", "huy dang ky", "huy dang ki"})


async def _holds_a_place(ctx: Ctx) -> bool:
    """A registration for a program that "hủy" could mean: not refused, not used yet."""
    regs = await ctx.store.registrations_of_user(ctx.user.id)
    return any(r.status is not RegStatus.REJECTED and r.checked_in_at is None for r in regs)


async def ask_stop(ctx: Ctx, *, tickets: bool = False) -> Reply:
    """ "Do you want to stop announcements?", a typed yes or no answering it; with `tickets`,
    "announcements or your ticket?", which only a button answers (found in review: "có" or
    "hủy" again stopped every announcement and left the ticket booked)."""
    state = await ctx.store.get_state(ctx.user.id)
    if not tickets and (state is None or state.flow == QA_FLOW):
        data = dict(state.data) if state is not None else {}
        data[QA_STOP_ASKED] = True
        await ctx.store.set_state(ctx.user.id, QA_FLOW, state.step if state is not None else "asked", data)
    reply = confirm_stop(ctx)
    if tickets:
        reply.text = ctx.t("broadcasts.stop.confirm_or_tickets")
        reply.buttons.insert(1, [Button(ctx.t("care.programs.my_tickets"), payload(TICKETS_PREFIX, "m"))])
    return reply


async def _answer_to_stop_question(ctx: Ctx) -> Reply | None:
    state = await ctx.store.get_state(ctx.user.id)
    if state is None or state.flow != QA_FLOW or not state.data.get(QA_STOP_ASKED):
        return None
    data = {k: v for k, v in state.data.items() if k != QA_STOP_ASKED}
    await ctx.store.set_state(ctx.user.id, state.flow, state.step, data)  # asked once only
    if state.updated_at is None or datetime.now(UTC) - state.updated_at > STOP_ANSWER_WINDOW:
        return None  # a question left unanswered: "có" a day later answers something else
    if classify(ctx.inbound.text) is OptOut.YES:
        return await stop(ctx)  # "dừng" with its diacritics, say
    said = fold(ctx.inbound.text)
    if said in _YES:
        return await stop(ctx)
    if said in _NO:
        return _kept(ctx)
    if said in _PRESS:
        return await ask_stop(ctx)
    return None
