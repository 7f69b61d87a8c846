"""Member care (issue 18): partner benefits, programs with limited places and hardship
support, for workers; check-in, review and cases for organizers.

`register` wires it all into the router; `mydata_parts` is what /mydata shows of it.
"""

from __future__ import annotations

from handlers.care import benefits, organizer, programs, support
from handlers.care.common import FLOW_PROVINCE, PROVINCE_FORM, PROVINCE_PREFIX, local, province_question, tz
from handlers.context import Ctx
from handlers.forms import answered_instead
from handlers.join.common import province_name
from handlers.join.provinces import get_province, resolve_province
from handlers.router import Router
from handlers.types import Reply

# Province names are at most four words ("Thành phố Hồ Chí Minh"); more is a sentence.
SENTENCE_WORDS = 5


async def _province_chosen(ctx: Ctx, then: str, province_id: str, query: str | None) -> Reply:
    await ctx.store.set_care_province(ctx.user.id, province_id)
    if then == "p":
        return await programs.programs_for(ctx, province_id)
    if query:
        return await benefits.search(ctx, province_id, query)
    return await benefits.categories(ctx, province_id)


async def _province_button(ctx: Ctx) -> list[Reply]:
    """The province chosen for a benefit, program or support list."""
    then, province_id = (*ctx.args, "", "")[:2]
    if then not in ("b", "p") or get_province(province_id) is None:
        return [ctx.reply("care.expired")]
    state = await PROVINCE_FORM.load(ctx)
    query, back = None, []
    if state is not None:
        query = state.data.get("q")
        back = await PROVINCE_FORM.end(ctx)  # a sign-up form it held comes back after the list
    reply = await _province_chosen(ctx, then, province_id, query)
    reply.edit = True
    return [reply, *back]


async def province_typed(ctx: Ctx) -> Reply | list[Reply]:
    """A province typed instead of pressed for a member-care list (a question is answered)."""
    state = await PROVINCE_FORM.load(ctx)
    data = state.data if state is not None else {}
    then = str(data.get("then", "b"))
    match = resolve_province(ctx.inbound.text)
    if match.province is None and len(ctx.inbound.text.split()) > SENTENCE_WORDS and ctx.router is not None:
        # A question, not a province: answer it rather than trap the worker in the prompt.
        return await answered_instead(ctx, PROVINCE_FORM)
    if match.province is None:
        return province_question(ctx, then, note=ctx.t("care.province.unknown"))
    back = await PROVINCE_FORM.end(ctx)
    return [await _province_chosen(ctx, then, match.province.id, data.get("q")), *back]


async def mydata_parts(ctx: Ctx) -> list[str]:
    """The worker's registrations and support cases, for /mydata."""
    parts: list[str] = []
    zone = tz(ctx)
    regs = await ctx.store.registrations_of_user(ctx.user.id)
    if regs:
        lines = [ctx.t("care.mydata.registrations")]
        for r in regs:
            p = await ctx.store.get_program(r.program_id)
            lines.append(
                ctx.t(
                    "care.mydata.registration",
                    title=p.title if p else r.program_id,
                    name=r.full_name,
                    phone=r.phone_e164,
                    seats=r.seats,
                    status=ctx.t(f"care.reg.status.{r.status.value}"),
                    code=r.code or "—",
                    at=local(r.created_at, zone),
                )
            )
            lines += [f"  • {a}" for a in r.answers]
        parts.append("\n".join(lines))
    cases = await ctx.store.cases_of_user(ctx.user.id)
    if cases:
        lines = [ctx.t("care.mydata.cases")]
        for c in cases:
            lines.append(
                ctx.t(
                    "care.mydata.case",
                    id=c.id,
                    category=ctx.t(f"care.case.category.{c.category.value}"),
                    status=ctx.t(f"care.case.status.{c.status.value}"),
                    phone=c.phone_e164,
                    province=province_name(c.province_id, ctx.lang),
                    at=local(c.created_at, zone),
                    description=c.description,
                )
            )
        parts.append("\n".join(lines))
    chosen = await ctx.store.care_province(ctx.user.id)
    if chosen:
        parts.append(ctx.t("care.mydata.province", province=province_name(chosen, ctx.lang)))
    return parts


def register(router: Router) -> None:
    benefits.register(router)
    programs.register(router)
    support.register(router)
    organizer.register(router)
    router.button(PROVINCE_PREFIX)(_province_button)
    router.flow(FLOW_PROVINCE)(province_typed)
    router.menu_entry("benefits", "benefits")
    router.menu_entry("programs", "programs")
    router.menu_entry("support", "support")
