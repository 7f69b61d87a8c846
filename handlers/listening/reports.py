"""Anonymous workplace reports (/report, and the main menu): what is happening, at which
company, in which province, to about how many workers; early warnings to organizers.

Anonymous means the stored report has no link to the person: no user id, no channel id,
only the day (not the time) it was sent. The person appears only as a keyed hash in a
rate-limit table (3 a day), dropped after 7 days. The draft lives in the person's
conversation state until it is sent, then that state is cleared. Only a person who
chooses "an officer may contact me" is linked, through the question put in the inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from handlers.context import Ctx
from handlers.forms import FormFlow, QuitWords, step_buttons
from handlers.i18n import Catalog
from handlers.join.common import clean_note, clean_text, parse_province, province_name, province_scope
from handlers.listening.options import CATEGORIES, options
from handlers.listening.text import cluster_key, personal_data_in, read_count
from handlers.rights.inbox import ask_officer_button, tell_officers
from handlers.router import Actions, Router, payload
from handlers.scope import no_province_yet, officer_notices
from handlers.types import Button, Reply
from storage import Role
from storage.listening import NewReport, ReportCluster

logger = logging.getLogger(__name__)

FLOW = "wreport"
PREFIX = "rp"
ORG = "rpo"
WORKER_CHOICES = (1, 5, 30, 100, 300)  # the estimate stored for each button
# The ranges the buttons' labels name (listening.report.workers.<n>): typed, such a range is
# the same answer as its button; any other range ("200-300") is taken at its middle.
WORKER_RANGES = {(10, 50): 30, (50, 200): 100}
MAX_WORKERS = 100_000
# More words than this at the head-count step is the story typed early, not a head count.
STORY_WORDS = 8
COMPANY_MIN, COMPANY_MAX = 2, 120
DESCRIPTION_MAX = 1000
ORG_DAYS = 30


def today(ctx: Ctx) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(ctx.settings.timezone)).date()


def category_label(ctx: Ctx, category: str) -> str:
    return ctx.t(f"listening.report.cat.{category}") if category in CATEGORIES else category


class Step(StrEnum):
    """Where a report draft is; stored as text, so a draft survives a restart."""

    CATEGORY = "category"  # what is happening: a button
    COMPANY = "company"  # typing the company's name
    PROVINCE = "province"  # typing the province (when the sign-up does not say)
    WORKERS = "workers"  # about how many workers: a button or a number
    DESCRIPTION = "description"  # typing what happened, or skipping it
    REVIEW = "review"  # sending it anonymously or with contact


# The draft in the conversation state (handlers/forms.py): one per person, so its
# buttons carry no form id; the retention worker drops one left unsent. Opened over an
# unfinished sign-up form, it holds the form and puts it back when sent or cancelled
# (`end`); the report itself is built from its own fields only, never with the form's.
DRAFT = FormFlow(FLOW, interrupts=True)
# "I want to stop": the common words (handlers/forms.py) and the report's own. The report
# asks no person's name, so all of them are refused at every step.
QUIT = QuitWords(
    *("hủy báo cáo", "không báo", "không báo nữa", "ko báo nữa", "thôi không báo", "thôi không báo nữa"),
    *("không báo cáo", "không báo cáo nữa", "ko báo cáo nữa", "thôi không báo cáo", "thôi không báo cáo nữa"),
)


def _cancel_row(ctx: Ctx) -> list[Button]:
    # As every form's cancel: a typed word never presses it (handlers/types.Button.typed).
    return [Button(ctx.t("listening.report.cancel_button"), payload(PREFIX, "cancel"), typed=False)]


async def _save(ctx: Ctx, step: Step, data: dict[str, Any]) -> None:
    await DRAFT.save(ctx, step, data)


def _hash(ctx: Ctx) -> str:
    return options(ctx).reporter_hash(ctx.user.channel, ctx.user.external_id)


async def _over_limit(ctx: Ctx) -> bool:
    return await ctx.store.reports_today(_hash(ctx), today(ctx)) >= options(ctx).reports_per_day


Screen = Callable[[Ctx, dict[str, Any]], Reply]


def _ask_category(ctx: Ctx, data: dict[str, Any]) -> Reply:
    rows = [[Button(ctx.t(f"listening.report.cat.{c}"), payload(PREFIX, "cat", c))] for c in CATEGORIES]
    rows.append(_cancel_row(ctx))
    return Reply(ctx.t("listening.report.intro") + "\n\n" + ctx.t("listening.report.ask_category"), buttons=rows)


def _ask_company(ctx: Ctx, data: dict[str, Any]) -> Reply:
    return Reply(ctx.t("listening.report.ask_company"), buttons=[_cancel_row(ctx)])


def _ask_province(ctx: Ctx, data: dict[str, Any]) -> Reply:
    return Reply(ctx.t("listening.report.ask_province"), buttons=[_cancel_row(ctx)])


def _ask_workers(ctx: Ctx, data: dict[str, Any]) -> Reply:
    rows = [[Button(ctx.t(f"listening.report.workers.{n}"), payload(PREFIX, "w", n))] for n in WORKER_CHOICES]
    if data.get("from_signup"):
        # A worker signed up in one province could not report a company in another
        # (found by an outside tester).
        rows.append([Button(ctx.t("listening.report.other_province"), payload(PREFIX, "chprov"))])
    rows.append(_cancel_row(ctx))
    return Reply(ctx.t("listening.report.ask_workers"), buttons=rows, numbers_typed=True)


def _ask_description(ctx: Ctx, data: dict[str, Any]) -> Reply:
    text = ctx.t("listening.report.ask_description", limit=DESCRIPTION_MAX)
    rows = [[Button(ctx.t("listening.report.skip_button"), payload(PREFIX, "skip"))], _cancel_row(ctx)]
    kept = data.get("description")
    if kept:  # the story typed at the head-count step (_early_story): offered, not assumed
        keep = ctx.t("listening.report.keep_button")
        text = ctx.t("listening.report.description_kept", description=kept, button=keep) + "\n\n" + text
        rows.insert(0, [Button(keep, payload(PREFIX, "keep"))])
    return Reply(text, buttons=rows)


_SCREENS: dict[str, Screen] = {
    Step.CATEGORY: _ask_category,
    Step.COMPANY: _ask_company,
    Step.PROVINCE: _ask_province,
    Step.WORKERS: _ask_workers,
    Step.DESCRIPTION: _ask_description,
}


def _ask(ctx: Ctx, step: str, data: dict[str, Any], intro: str | None = None) -> Reply:
    """The step's screen (the review for any other step), after `intro` if given."""
    screen = _SCREENS.get(step)
    reply = screen(ctx, data) if screen is not None else _review(ctx, data)
    if intro:
        reply.text = f"{intro}\n\n{reply.text}"
    return reply


def _review(ctx: Ctx, data: dict[str, Any]) -> Reply:
    t, opts = ctx.t, options(ctx)
    summary = t(
        "listening.report.review",
        category=category_label(ctx, data["category"]),
        company=data["company"],
        province=province_name(data["province"], ctx.lang),
        workers=t(f"listening.report.workers.{data['workers']}")
        if data["workers"] in WORKER_CHOICES
        else str(data["workers"]),
        description=data.get("description") or t("listening.report.no_description"),
    )
    return Reply(
        f"{summary}\n\n{t('listening.report.anonymity', per_day=opts.reports_per_day, days=opts.limit_days)}",
        buttons=[
            [Button(t("listening.report.send_anonymous"), payload(PREFIX, "send", "anon"))],
            [Button(t("listening.report.send_contact"), payload(PREFIX, "send", "contact"))],
            _cancel_row(ctx),
        ],
    )


def _limit_reply(ctx: Ctx) -> Reply:
    """The day's reports are used up: an officer can still be reached, one tap away."""
    ask = ask_officer_button(ctx, forward=False)
    return Reply(
        ctx.t("listening.report.limit", limit=options(ctx).reports_per_day), buttons=[[ask], ctx.back_button()]
    )


async def start(ctx: Ctx) -> Reply:
    """/report: the draft left unfinished, if something was typed into it (found by an
    outside tester: /start, then /report, began again and the company typed was gone), or
    a new one."""
    if await _over_limit(ctx):
        return _limit_reply(ctx)
    state = await DRAFT.load(ctx)
    if state is not None and any(state.data.get(k) for k in ("company", "description")):
        reply = _ask(ctx, state.step, dict(state.data), ctx.t("listening.report.still_open"))
        reply.buttons.insert(-1, [Button(ctx.t("listening.report.restart_button"), payload(PREFIX, "new"))])
        return reply
    return await _begin(ctx)


async def _begin(ctx: Ctx) -> Reply:
    await _save(ctx, Step.CATEGORY, {})
    return _ask(ctx, Step.CATEGORY, {})


async def _after_company(ctx: Ctx, data: dict[str, Any]) -> Reply:
    signup = await ctx.store.signup_of_user(ctx.user.id)
    if signup is not None:
        data["province"] = signup.province_id
        data["from_signup"] = True  # offered to change: the company may be elsewhere
        await _save(ctx, Step.WORKERS, data)
        return _ask(
            ctx,
            Step.WORKERS,
            data,
            ctx.t("listening.report.province_known", province=province_name(signup.province_id, ctx.lang)),
        )
    await _save(ctx, Step.PROVINCE, data)
    return _ask(ctx, Step.PROVINCE, data)


def _kinds(ctx: Ctx, found: list[str]) -> str:
    """The kinds of personal data found, for a warning: "số điện thoại, địa chỉ email"."""
    return ", ".join(ctx.t(f"listening.report.pii.{k}") for k in found)


# Typed answers, one handler per step that takes text: (ctx, draft data, stripped text).
TypedStep = Callable[[Ctx, dict[str, Any], str], Awaitable[Reply]]


async def _typed_company(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    if len(text) > COMPANY_MAX or len(text) < COMPANY_MIN:
        return _ask(ctx, Step.COMPANY, data, ctx.t("listening.report.company_length", min=COMPANY_MIN, max=COMPANY_MAX))
    company = clean_text(text, min_len=COMPANY_MIN, max_len=COMPANY_MAX)
    if company is None:
        return _ask(ctx, Step.COMPANY, data, ctx.t("listening.report.company_bad"))
    found = personal_data_in(company, company=True)
    if found:
        # The report is anonymous: a number, an address or a person's name typed here would
        # name its sender or someone else to the organizers (and outlive /forget in the
        # grouping key). Not kept; typed again.
        return _ask(ctx, Step.COMPANY, data, ctx.t("listening.report.company_pii", kinds=_kinds(ctx, found)))
    data["company"] = company
    return await _after_company(ctx, data)


async def _typed_province(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    province, suggestions = parse_province(text)
    if province is None:
        rows = [[Button(province_name(p, ctx.lang), payload(PREFIX, "prov", p))] for p in suggestions[:4]]
        reply = _ask(ctx, Step.PROVINCE, data, ctx.t("listening.report.province_unknown"))
        reply.buttons = rows + reply.buttons
        return reply
    data["province"] = province
    await _save(ctx, Step.WORKERS, data)
    return _ask(ctx, Step.WORKERS, data)


def _estimate(low: int, high: int) -> int:
    """The head count stored for a typed number or range, as the buttons store one."""
    if low == high:
        return low
    return WORKER_RANGES.get((low, high), round((low + high) / 2))


async def _typed_workers(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    # "khoảng 300 người", "tren 200", "200-300" were refused as not a number, and the worker
    # who typed the story here lost it (found by an outside tester).
    count = read_count(text)
    if count is not None and count[0] >= 1 and count[1] <= MAX_WORKERS:
        data["workers"] = _estimate(*count)
        await _save(ctx, Step.DESCRIPTION, data)
        return _ask(ctx, Step.DESCRIPTION, data)
    if len(text.split()) > STORY_WORDS:
        return await _early_story(ctx, data)
    return _ask(ctx, Step.WORKERS, data, ctx.t("listening.report.workers_bad", max=MAX_WORKERS))


async def _early_story(ctx: Ctx, data: dict[str, Any]) -> Reply:
    """The story typed at the head-count step: kept for the description step, where it is
    offered, after the checks a description gets; the head count is asked again."""
    t = ctx.t
    story = clean_note(ctx.inbound.text, max_len=DESCRIPTION_MAX)
    found = personal_data_in(story) if story is not None else []
    if found:
        # As a description's: not kept anywhere, and the worker is told why.
        return _ask(ctx, Step.WORKERS, data, t("listening.report.story_pii", kinds=_kinds(ctx, found)))
    kept = data.get("description")
    # A story in several messages: each one kept, in order.
    joined = clean_note(f"{kept}\n{story}", max_len=DESCRIPTION_MAX) if kept and story else story
    if joined is None:
        return _ask(ctx, Step.WORKERS, data, t("listening.report.story_long", limit=DESCRIPTION_MAX))
    data["description"] = joined
    await _save(ctx, Step.WORKERS, data)
    return _ask(ctx, Step.WORKERS, data, t("listening.report.story_kept"))


async def _typed_description(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    t = ctx.t
    description = clean_note(ctx.inbound.text, max_len=DESCRIPTION_MAX)
    if description is None:
        return _ask(ctx, Step.DESCRIPTION, data, t("listening.report.description_long", limit=DESCRIPTION_MAX))
    found = personal_data_in(description)
    if found:
        # Not kept anywhere (a story kept from the head-count step stays as it was): the
        # worker types it again without the name or number.
        return _ask(ctx, Step.DESCRIPTION, data, t("listening.report.pii_warning", kinds=_kinds(ctx, found)))
    data["description"] = description
    await _save(ctx, Step.REVIEW, data)
    return _review(ctx, data)


_TYPED: dict[str, TypedStep] = {
    Step.COMPANY: _typed_company,
    Step.PROVINCE: _typed_province,
    Step.WORKERS: _typed_workers,
    Step.DESCRIPTION: _typed_description,
}


async def on_text(ctx: Ctx) -> Reply:
    """Text typed during a workplace report: the company, province, workers or description."""
    state = await DRAFT.load(ctx)
    if state is None:  # cancelled elsewhere while this message was on its way
        return ctx.reply("listening.report.cancelled")
    data, step = dict(state.data), state.step
    text = ctx.inbound.text.strip()
    if not text:
        return _ask(ctx, step, data, ctx.t("listening.report.text_only"))
    if QUIT.typed(text):
        # "hủy" typed at the company step became the company (found by an outside tester),
        # and "thôi" as the description is no report. As in the sign-up form, a typed word
        # never cancels: the way out is shown and the step asked again, nothing kept.
        hint = ctx.t("listening.report.quit_hint", button=ctx.t("listening.report.cancel_button"))
        return _ask(ctx, step, data, hint)
    typed = _TYPED.get(step)
    if typed is None:  # a step answered with buttons
        return _ask(ctx, step, data, ctx.t("listening.report.use_buttons"))
    return await typed(ctx, data, text)


# -- the worker's buttons ------------------------------------------------------------
ReportAction = Callable[[Ctx, list[str]], Awaitable[Reply | list[Reply]]]
# `rp:<action>[:<arg>]`: the worker's report buttons, one line each.
ACTIONS: Actions[ReportAction] = Actions(PREFIX)


# `rp:<code>[:<arg>]`, a button of the draft valid at one step only: pressed on an older
# screen (or with an argument it does not take), it asks the current step again.
_draft_button = step_buttons(
    DRAFT, ACTIONS, lambda ctx, step, data: _ask(ctx, step, data, ctx.t("listening.report.use_buttons"))
)


async def on_button(ctx: Ctx) -> Reply | list[Reply]:
    """A step of the anonymous workplace report (category, province, company, send)."""
    code, *args = ctx.args or [""]
    action = ACTIONS.get(code)
    if action is not None:
        return await action(ctx, args)
    state = await DRAFT.load(ctx)
    if state is None:
        return ctx.reply("fallback.button_expired")
    return _ask(ctx, state.step, dict(state.data), ctx.t("listening.report.use_buttons"))


@ACTIONS.on("start")
async def _start_button(ctx: Ctx, args: list[str]) -> Reply:
    """The menu's "report a workplace problem": a fresh report (as /report)."""
    return await start(ctx)


@ACTIONS.on("new")
async def _restart(ctx: Ctx, args: list[str]) -> Reply:
    """Start over: the unfinished draft is dropped for a new one."""
    if await _over_limit(ctx):
        return _limit_reply(ctx)
    return await _begin(ctx)


@ACTIONS.on("cancel")
async def _cancel(ctx: Ctx, args: list[str]) -> list[Reply]:
    """Drops the draft; nothing is stored (a sign-up form it held comes back)."""
    back = await DRAFT.end(ctx)
    return [Reply(ctx.t("listening.report.cancelled"), buttons=[ctx.back_button()], edit=True), *back]


def _use_buttons(ctx: Ctx, step: Step, data: dict[str, Any]) -> Reply:
    return _ask(ctx, step, data, ctx.t("listening.report.use_buttons"))


@_draft_button("cat", Step.CATEGORY)
async def _category(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """What is happening (wages, insurance, overtime...); then the company is asked."""
    if arg not in CATEGORIES:
        return _use_buttons(ctx, Step.CATEGORY, data)
    data["category"] = arg
    await _save(ctx, Step.COMPANY, data)
    return _ask(ctx, Step.COMPANY, data)


@_draft_button("prov", Step.PROVINCE)
async def _province(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """One of the provinces suggested for a misspelt name; then how many workers."""
    province, _ = parse_province(arg)
    if province is None:
        return _use_buttons(ctx, Step.PROVINCE, data)
    data["province"] = province
    await _save(ctx, Step.WORKERS, data)
    return _ask(ctx, Step.WORKERS, data)


@_draft_button("chprov", Step.WORKERS)
async def _other_province(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """The company is in another province than the sign-up's: it is asked."""
    data.pop("from_signup", None)
    data.pop("province", None)
    await _save(ctx, Step.PROVINCE, data)
    return _ask(ctx, Step.PROVINCE, data)


@_draft_button("w", Step.WORKERS)
async def _workers(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """About how many workers are affected; then the description."""
    if not (arg.isdigit() and int(arg) in WORKER_CHOICES):
        return _use_buttons(ctx, Step.WORKERS, data)
    data["workers"] = int(arg)
    await _save(ctx, Step.DESCRIPTION, data)
    return _ask(ctx, Step.DESCRIPTION, data)


@_draft_button("keep", Step.DESCRIPTION)
async def _keep_description(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """The story typed at the head-count step is the description: on to the review."""
    if not data.get("description"):
        return _use_buttons(ctx, Step.DESCRIPTION, data)
    await _save(ctx, Step.REVIEW, data)
    return _review(ctx, data)


@_draft_button("skip", Step.DESCRIPTION)
async def _skip_description(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """No description: on to the review."""
    data["description"] = None
    await _save(ctx, Step.REVIEW, data)
    return _review(ctx, data)


@_draft_button("send", Step.REVIEW)
async def _send_button(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply | list[Reply]:
    """Sends the report, anonymous or with contact allowed; alerts organizers on a cluster."""
    if arg not in ("anon", "contact"):
        return _use_buttons(ctx, Step.REVIEW, data)
    return await _send(ctx, data, contact=arg == "contact")


async def _send(ctx: Ctx, data: dict[str, Any], *, contact: bool) -> list[Reply]:
    opts = options(ctx)
    day = today(ctx)
    await ctx.store.clear_state(ctx.user.id)
    if not await ctx.store.count_report(_hash(ctx), day, limit=opts.reports_per_day):
        return [_limit_reply(ctx), *await DRAFT.end(ctx, data)]
    province, category = data["province"], data["category"]
    key = cluster_key(data["company"], (await ctx.store.company_keys(province)).keys())
    question_id = None
    if contact:
        text = ctx.t(
            "listening.report.question_text",
            category=category_label(ctx, category),
            company=data["company"],
            province=province_name(province, ctx.lang),
            description=data.get("description") or "-",
        )
        # Placed in the report's province: from a worker not signed up it had none, so that
        # province's officers never saw it (found by an outside tester). A sign-up's
        # province still wins (storage/questions.py).
        question_id = await ctx.store.add_question(ctx.user.id, text, ctx.lang, province)
    await ctx.store.add_report(
        NewReport(
            created_on=day,
            province=province,
            category=category,
            company=data["company"],
            company_key=key,
            workers=int(data["workers"]),
            description=data.get("description"),
            contact_question_id=question_id,
        )
    )
    # Nothing logged: a log line's time beside the channel's own lines could point at the sender.
    await ctx.store.drop_report_draft(ctx.user.id)
    replies = [
        Reply(
            ctx.t("listening.report.thanks_contact" if contact else "listening.report.thanks"),
            buttons=[ctx.back_button()],
            edit=True,
        )
    ]
    if question_id is not None:
        placed = await ctx.store.get_question(question_id)
        if placed is not None and placed.province_id is not None:
            replies += await tell_officers(ctx, placed.province_id, question_id)
    replies += await early_warning(ctx, province, key, category, data["company"], day)
    # After drop_report_draft: a sign-up form the draft held comes back from `data`.
    return [*replies, *await DRAFT.end(ctx, data)]


async def early_warning(ctx: Ctx, province: str, key: str, category: str, company: str, day: date) -> list[Reply]:
    """Alerts to the province's organizer chats, once per company and category per window."""
    opts = options(ctx)
    window = await ctx.store.cluster_window(province, key, category, today=day, days=opts.alert_window_days)
    if window.reports < opts.alert_threshold and window.workers < opts.alert_workers:
        return []
    if not await ctx.store.claim_report_alert(
        province, key, category, today=day, days=opts.alert_window_days, reports=window.reports, workers=window.workers
    ):
        return []
    logger.info("early warning: %s reports in %s (%s)", window.reports, province, category)
    catalog = ctx.services.catalog

    def text(lang: str) -> str:
        return alert_text(
            catalog,
            lang,
            province,
            company,
            category,
            window.reports,
            window.workers,
            window.previous,
            opts.alert_window_days,
        )

    # Without an alert chat (the default configuration) the warning went only to the log
    # (found by an outside tester): the province's organizers get it in their own chats.
    return await officer_notices(ctx, province, text)


def alert_text(
    catalog: Catalog,
    lang: str,
    province: str,
    company: str,
    category: str,
    reports: int,
    workers: int,
    previous: int,
    days: int,
) -> str:
    cat = catalog.t(lang, f"listening.report.cat.{category}")
    trend_key = "up" if reports > previous else ("same" if reports == previous else "down")
    trend = catalog.t(lang, f"listening.alert.trend_{trend_key}", previous=previous)
    return catalog.t(
        lang,
        "listening.alert.text",
        company=company,
        category=cat,
        province=province_name(province, lang),
        count=reports,
        days=days,
        workers=workers,
        trend=trend,
    )


# -- organizers ---------------------------------------------------------------------
def cluster_line(ctx: Ctx, c: ReportCluster) -> str:
    mark = "🚨 " if c.alerted_on else ""
    return mark + ctx.t(
        "listening.org.cluster",
        company=c.company,
        category=category_label(ctx, c.category),
        count=c.reports,
        workers=c.workers,
        province=province_name(c.province, ctx.lang),
        last=c.last_on.strftime("%d/%m"),
    )


async def org_reports(ctx: Ctx) -> Reply:
    """/reports: reports of the organizer's provinces, grouped by company and category."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    since = today(ctx) - timedelta(days=ORG_DAYS)
    clusters = await ctx.store.report_clusters(provinces=scope, since=since)
    if not clusters:
        return ctx.reply("listening.org.none", days=ORG_DAYS)
    lines = [ctx.t("listening.org.title", days=ORG_DAYS)]
    rows = []
    for n, c in enumerate(clusters[:15], 1):
        lines.append(f"{n}. {cluster_line(ctx, c)}")
        rows.append(
            [Button(f"{n}. {c.company[:30]} · {category_label(ctx, c.category)[:20]}", payload(ORG, "cl", c.latest_id))]
        )
    rows.append(ctx.back_button())
    return Reply("\n".join(lines), buttons=rows)


OrgAction = Callable[[Ctx, list[str]], Awaitable[Reply]]
# `rpo:<action>[:<arg>]`: the organizer's report buttons.
ORG_ACTIONS: Actions[OrgAction] = Actions(ORG)


@ORG_ACTIONS.on("cl")
async def _cluster(ctx: Ctx, args: list[str]) -> Reply:
    """The reports of one company and category, as written (never who sent them)."""
    arg = args[0] if args else ""
    if not arg.isdigit():
        return ctx.reply("fallback.button_expired")
    report = await ctx.store.get_report(int(arg))
    scope = await province_scope(ctx)
    if report is None or (scope is not None and report.province not in scope):
        return ctx.reply("listening.org.not_found")
    reports = await ctx.store.list_reports(cluster=(report.province, report.company_key, report.category), limit=50)
    lines = [
        ctx.t(
            "listening.org.detail_title",
            company=report.company,
            category=category_label(ctx, report.category),
            province=province_name(report.province, ctx.lang),
        )
    ]
    for r in reports:
        line = ctx.t(
            "listening.org.detail_line",
            id=r.id,
            on=r.created_on.strftime("%d/%m/%Y"),
            company=r.company,
            workers=r.workers,
            description=r.description or "—",
        )
        if r.contact_question_id is not None:
            line += "\n  " + ctx.t("listening.org.contact", question=r.contact_question_id)
        lines.append(line)
    return Reply(
        "\n".join(lines), buttons=[[Button(ctx.t("listening.org.back"), payload(ORG, "list"))], ctx.back_button()]
    )


@ORG_ACTIONS.on("list")
async def _clusters(ctx: Ctx, args: list[str]) -> Reply:
    """Back to the list of companies and categories (as /reports)."""
    return await org_reports(ctx)


async def org_button(ctx: Ctx) -> Reply:
    """The organizer's view of workplace reports by company and their alerts."""
    code, *args = ctx.args or [""]
    action = ORG_ACTIONS.get(code)
    if action is None:
        return ctx.reply("fallback.button_expired")
    return await action(ctx, args)


def register(router: Router) -> None:
    router.command("report", describe="listening.cmd.report")(start)
    router.flow(FLOW)(on_text)
    router.button(PREFIX, actions=ACTIONS)(on_button)
    router.command("reports", min_role=Role.ORGANIZER, describe="listening.cmd.reports")(org_reports)
    router.button(ORG, min_role=Role.ORGANIZER, actions=ORG_ACTIONS)(org_button)
