"""Listening to workers: quick polls (handlers/listening/polls.py) and anonymous
workplace reports with early warnings (handlers/listening/reports.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from handlers.context import Ctx
from handlers.listening import polls, reports
from handlers.listening.options import ListeningOptions
from handlers.listening.polls import typed_answer
from handlers.router import Router

__all__ = ["ListeningOptions", "mydata_section", "register", "typed_answer"]


def register(router: Router) -> None:
    polls.register(router)
    reports.register(router)
    router.menu_entry("report", "report")


async def mydata_section(ctx: Ctx) -> str | None:
    """The person's poll answers for /mydata (workplace reports are not linked to anyone)."""
    answers = await ctx.store.poll_answers_of(ctx.user.id)
    if not answers:
        return None
    tz = ZoneInfo(ctx.settings.timezone)
    lines = [
        f"• #{a.poll_id} {a.question_en if ctx.lang == 'en' and a.question_en else a.question_vi}: "
        f"{', '.join(a.choices)} ({a.answered_at.astimezone(tz).strftime('%d/%m/%Y')})"
        for a in answers
    ]
    return ctx.t("listening.mydata", count=len(answers), answers="\n".join(lines))
