"""Partner benefits (ưu đãi đoàn viên): `/benefits`, categories, six per page, search.

Only benefits valid today for the worker's province (from their sign-up, else asked
once) and nationwide ones are shown. A members-only benefit says so and offers /join to
someone with no sign-up; the bot cannot verify membership and does not pretend to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from handlers.care.common import PROVINCE_FORM, area_name, ask_province, now_utc, province_question, tz, worker_province
from handlers.context import Ctx
from handlers.router import Actions, Router, payload
from handlers.types import Button, Reply
from storage.care import Benefit, BenefitCategory, fold_text

PREFIX = "cb"
PAGE_SIZE = 6
MAX_QUERY = 60


def today(ctx: Ctx) -> date:
    return now_utc().astimezone(tz(ctx)).date()


async def visible(ctx: Ctx, province_id: str) -> list[Benefit]:
    day = today(ctx)
    return [b for b in await ctx.store.list_benefits() if b.active_on(day) and b.covers(province_id)]


def matches(benefit: Benefit, query: str) -> bool:
    """Every word of the query in the title or partner, diacritics optional."""
    haystack = fold_text(f"{benefit.title} {benefit.partner}")
    return all(word in haystack for word in fold_text(query).split())


def _item(ctx: Ctx, b: Benefit, signed_up: bool) -> str:
    lines = [f"🎁 {b.title} — {b.partner}", f"   {b.gives}", "   " + ctx.t("care.benefits.claim", how=b.how_to_claim)]
    if b.valid_until:
        lines.append("   " + ctx.t("care.benefits.until", until=b.valid_until.strftime("%d/%m/%Y")))
    if b.link:
        lines.append(f"   {b.link}")
    if b.members_only:
        lines.append("   " + ctx.t("care.benefits.members_only" if signed_up else "care.benefits.members_only_join"))
    return "\n".join(lines)


async def categories(ctx: Ctx, province_id: str) -> Reply:
    shown = await visible(ctx, province_id)
    counts = {c: sum(b.category is c for b in shown) for c in BenefitCategory}
    rows = [
        [Button(ctx.t(f"care.benefits.cat.{c.value}", n=counts[c]), payload(PREFIX, "c", c.value, 0))]
        for c in BenefitCategory
        if counts[c]
    ]
    rows.append([Button(ctx.t("care.province.change"), payload(PREFIX, "p"))])
    rows.append(ctx.back_button())
    area = area_name(province_id, ctx.lang, ctx.services.catalog)
    key = "care.benefits.title" if shown else "care.benefits.none"
    return Reply(ctx.t(key, province=area) + "\n" + ctx.t("care.benefits.search_hint"), buttons=rows)


async def page(ctx: Ctx, province_id: str, category: BenefitCategory, number: int) -> Reply:
    shown = [b for b in await visible(ctx, province_id) if b.category is category]
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    number = min(max(number, 0), pages - 1)
    signed_up = await ctx.store.signup_of_user(ctx.user.id) is not None
    chunk = shown[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]
    head = ctx.t(
        "care.benefits.page", category=ctx.t(f"care.benefits.catname.{category.value}"), page=number + 1, pages=pages
    )
    body = "\n\n".join(_item(ctx, b, signed_up) for b in chunk) or ctx.t("care.benefits.empty_category")
    nav: list[Button] = []
    if number > 0:
        nav.append(Button(ctx.t("care.prev"), payload(PREFIX, "c", category.value, number - 1)))
    if number + 1 < pages:
        nav.append(Button(ctx.t("care.next"), payload(PREFIX, "c", category.value, number + 1)))
    rows = [nav] if nav else []
    rows.append([Button(ctx.t("care.benefits.all_categories"), payload(PREFIX, "home"))])
    rows.append(ctx.back_button())
    return Reply(f"{head}\n\n{body}", buttons=rows)


async def search(ctx: Ctx, province_id: str, query: str) -> Reply:
    query = " ".join(query.split())[:MAX_QUERY]
    found = [b for b in await visible(ctx, province_id) if matches(b, query)]
    signed_up = await ctx.store.signup_of_user(ctx.user.id) is not None
    rows = [[Button(ctx.t("care.benefits.all_categories"), payload(PREFIX, "home"))], ctx.back_button()]
    if not found:
        return Reply(ctx.t("care.benefits.no_match", query=query), buttons=rows)
    more = ctx.t("care.benefits.more", n=len(found) - PAGE_SIZE) if len(found) > PAGE_SIZE else ""
    body = "\n\n".join(_item(ctx, b, signed_up) for b in found[:PAGE_SIZE])
    return Reply(f"{ctx.t('care.benefits.found', query=query, n=len(found))}\n\n{body}{more}", buttons=rows)


async def show(ctx: Ctx) -> Reply:
    """`/benefits` or `/benefits <word>`."""
    province_id = await worker_province(ctx)
    if province_id is None:
        day = today(ctx)
        if not any(b.active_on(day) for b in await ctx.store.list_benefits()):
            # Asking for the province first only to say there is nothing (found trying the bot).
            return Reply(ctx.t("care.benefits.none_anywhere"), buttons=[ctx.back_button()])
        if ctx.args:
            # Remember the search so it runs once the province is known.
            query = " ".join(ctx.args)[:MAX_QUERY]
            await PROVINCE_FORM.save(ctx, "ask", {"then": "b", "q": query})
            return province_question(ctx, "b")
        return await ask_province(ctx, "b")
    if ctx.args:
        return await search(ctx, province_id, " ".join(ctx.args))
    return await categories(ctx, province_id)


async def on_button(ctx: Ctx) -> Reply:
    """Partner benefits by category, and one benefit's details."""
    action, *args = ctx.args or ("home",)
    # Any other payload (an old button) shows the categories.
    handler = ACTIONS.get(action) or _home
    return await handler(ctx, args)


# The buttons of /benefits (`cb:<action>:<args>`).
BenefitAction = Callable[[Ctx, Sequence[str]], Awaitable[Reply]]
ACTIONS: Actions[BenefitAction] = Actions(PREFIX)


@ACTIONS.on("p")
async def _change_province(ctx: Ctx, args: Sequence[str]) -> Reply:
    """Choose another province for the benefits shown."""
    reply = await ask_province(ctx, "b")
    reply.edit = True
    return reply


@ACTIONS.on("home")
async def _home(ctx: Ctx, args: Sequence[str]) -> Reply:
    """The categories, with how many benefits each has for the worker's province today."""
    province_id = await worker_province(ctx)
    if province_id is None:
        return await ask_province(ctx, "b")
    reply = await categories(ctx, province_id)
    reply.edit = True
    return reply


@ACTIONS.on("c")
async def _category_page(ctx: Ctx, args: Sequence[str]) -> Reply:
    """A page of one category's benefits (`c:<category>:<page>`), six per page."""
    province_id = await worker_province(ctx)
    if province_id is None:
        return await ask_province(ctx, "b")
    try:
        category_arg, number_arg = args
        category, number = BenefitCategory(category_arg), int(number_arg)
    except ValueError:  # another shape: the categories instead
        return await _home(ctx, args)
    reply = await page(ctx, province_id, category, number)
    reply.edit = True
    return reply


def register(router: Router) -> None:
    router.command("benefits", "uudai", describe="care.cmd.benefits")(show)
    router.button(PREFIX, actions=ACTIONS)(on_button)
