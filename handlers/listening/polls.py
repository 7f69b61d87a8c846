"""Quick polls: organizers compose them (/poll), the broadcast engine delivers them,
workers answer with a tap, a number or the choice's words, and results stay anonymous.

A poll is a broadcast whose message carries one button per choice (numbered choices on
Zalo: `bot/channels/numbered.py` turns the buttons into "1. ..., 2. ..."). Answers are
upserts keyed on (poll, person): a redelivered or repeated tap changes nothing, a later
one changes the answer until the poll closes. Only people the poll was delivered to may
answer, so a forged button for another province's poll is refused.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from handlers.broadcasts.options import notify_changed
from handlers.broadcasts.options import options as broadcast_options
from handlers.broadcasts.render import render_message
from handlers.broadcasts.schedule import format_local, parse_local_datetime, too_far
from handlers.context import Ctx
from handlers.forms import FormFlow, step_buttons
from handlers.i18n import LANGUAGES, Catalog
from handlers.join.common import province_name, province_scope
from handlers.join.export import Exporter, InProcessExporter
from handlers.listening.options import options
from handlers.listening.results import chart_png, results_text
from handlers.listening.text import fold, match_choice, parse_numbers
from handlers.router import Actions, Router, payload
from handlers.scope import audience_in_scope, no_province_yet, own_audience, scope_names, typed_provinces
from handlers.types import Button, Photo, Reply
from storage import Role, Store
from storage.broadcasts import Audience, Broadcast, NewBroadcast
from storage.listening import MAX_CHOICES, NewPoll, Poll, PollChoice

logger = logging.getLogger(__name__)

FLOW = "poll_compose"
VOTE = "pv"  # pv:<poll>:<choice>[:a|r] a worker's tap
RESULT = "plr"  # plr:<poll> a worker asking for the result
ORG = "pc"  # organizer's composing and management buttons
MAX_QUESTION = 300
MAX_CHOICE = 60
DIMENSIONS = ("province", "channel", "language")
CLOSE_CHOICES = (1, 3, 7)  # days, offered as buttons


def _now() -> datetime:
    return datetime.now(UTC)


def _tz(ctx: Ctx) -> ZoneInfo:
    return ZoneInfo(ctx.settings.timezone)


# -- the message workers get -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PollMessage:
    text: str
    buttons: list[list[Button]]


def choice_buttons(poll: Poll, lang: str, mask: int = 0) -> list[list[Button]]:
    rows = []
    for i, choice in enumerate(poll.choices):
        chosen = bool(mask >> i & 1)
        label = choice.label(lang)
        if poll.multi:
            mark = "✅" if chosen else "▫️"
            rows.append([Button(f"{mark} {label}", payload(VOTE, poll.id, i, "r" if chosen else "a"))])
        else:
            rows.append([Button(f"✅ {label}" if chosen else label, payload(VOTE, poll.id, i))])
    return rows


def poll_body(catalog: Catalog, lang: str, poll: Poll, tz: ZoneInfo, *, numbered: bool) -> str:
    t = catalog.t
    lines = [t(lang, "listening.poll.header", id=poll.id), poll.question(lang), ""]
    lines.append(t(lang, "listening.poll.how_multi" if poll.multi else "listening.poll.how_single"))
    if numbered:
        numbers = [str(i + 1) for i in range(len(poll.choices))]
        listed = ", ".join(numbers[:-1]) + t(lang, "listening.poll.or") + numbers[-1]
        lines.append(
            t(lang, "listening.poll.numbers_multi" if poll.multi else "listening.poll.numbers", numbers=listed)
        )
    lines.append(t(lang, "listening.poll.closes", at=format_local(poll.closes_at, tz)))
    return "\n".join(lines)


def poll_message(catalog: Catalog, lang: str, poll: Poll, timezone: str, *, numbered: bool) -> PollMessage:
    """The poll as the broadcast engine sends it (with the broadcast footer)."""
    tz = ZoneInfo(timezone)
    vi = poll_body(catalog, "vi", poll, tz, numbered=numbered)
    en = poll_body(catalog, "en", poll, tz, numbered=numbered) if poll.question_en else None
    rendered = render_message(catalog, lang, vi, en)
    return PollMessage(rendered.text, choice_buttons(poll, rendered.language))


# -- answering -------------------------------------------------------------------------
async def _province(ctx: Ctx) -> str | None:
    signup = await ctx.store.signup_of_user(ctx.user.id)
    return signup.province_id if signup is not None else None


def _chosen_labels(poll: Poll, mask: int, lang: str) -> str:
    return ", ".join(c.label(lang) for i, c in enumerate(poll.choices) if mask >> i & 1)


async def _closed_reply(ctx: Ctx, poll: Poll) -> Reply:
    intro = ctx.t("listening.answer.closed", at=format_local(poll.ended_at(), _tz(ctx)))
    result = await _overall_text(ctx, poll)
    return Reply(f"{intro}\n\n{result}", buttons=[ctx.back_button()])


async def _overall_text(ctx: Ctx, poll: Poll) -> str:
    tally = await ctx.store.poll_tally(poll.id)
    status = ctx.t("listening.results.closed", at=format_local(poll.ended_at(), _tz(ctx)))
    return results_text(
        ctx.services.catalog, ctx.lang, poll, tally, options(ctx).min_group, status=status, by=[], overall_only=True
    )


async def record_answer(ctx: Ctx, poll_id: int, picks: list[int], mode: str, *, tapped: bool) -> Reply:
    """Record picks (0-based) for the person; every refusal says why, nothing is counted twice."""
    poll = await ctx.store.get_poll(poll_id)
    if poll is None or not await ctx.store.poll_received(poll_id, ctx.user.id):
        # Never sent to this person (another province's poll, a forged button): say so
        # without telling whether such a poll exists.
        return ctx.reply("listening.answer.not_yours")
    now = _now()
    if not poll.is_open(now):
        return await _closed_reply(ctx, poll)
    n = len(poll.choices)
    if not picks or any(not 0 <= p < n for p in picks):
        return Reply(ctx.t("listening.answer.out_of_range", last=n), buttons=choice_buttons(poll, ctx.lang))
    if not poll.multi and len(picks) > 1:
        return Reply(ctx.t("listening.answer.only_one"), buttons=choice_buttons(poll, ctx.lang))
    mask = 0
    for p in picks:
        mask |= 1 << p
    outcome = await ctx.store.answer_poll(
        poll.id,
        ctx.user.id,
        mask=mask,
        mode=mode,
        now=now,
        province=await _province(ctx),
        channel=ctx.user.channel,
        language=ctx.user.language,
    )
    if not outcome.recorded:  # closed between the check and the write
        return await _closed_reply(ctx, poll)
    tz = _tz(ctx)
    if outcome.mask:
        thanks = ctx.t(
            "listening.answer.thanks",
            choices=_chosen_labels(poll, outcome.mask, ctx.lang),
            at=format_local(poll.closes_at, tz),
        )
    else:
        thanks = ctx.t("listening.answer.cleared")
    rows = choice_buttons(poll, ctx.lang, outcome.mask)
    rows.append([Button(ctx.t("listening.answer.result_button"), payload(RESULT, poll.id))])
    if tapped:
        # Replace the poll message itself (Telegram), showing the choice ticked.
        body = poll_body(ctx.services.catalog, ctx.lang, poll, tz, numbered=False)
        return Reply(f"{body}\n\n{thanks}", buttons=rows, edit=True)
    return Reply(thanks, buttons=rows)


async def on_vote(ctx: Ctx) -> Reply:
    """A worker's answer to a poll; answering again changes the answer."""
    args = ctx.args
    if len(args) < 2 or not args[0].isdigit() or not args[1].isdigit():
        return ctx.reply("listening.answer.not_yours")
    mode = {"a": "add", "r": "remove"}.get(args[2] if len(args) > 2 else "", "set")
    return await record_answer(ctx, int(args[0]), [int(args[1])], mode, tapped=True)


async def on_result(ctx: Ctx) -> Reply:
    """A poll's results, shown only once enough people answered to keep them anonymous."""
    if not ctx.args or not ctx.args[0].isdigit():
        return ctx.reply("listening.answer.not_yours")
    poll = await ctx.store.get_poll(int(ctx.args[0]))
    if poll is None or not await ctx.store.poll_received(poll.id, ctx.user.id):
        return ctx.reply("listening.answer.not_yours")
    if poll.is_open(_now()):
        return ctx.reply("listening.answer.result_later", at=format_local(poll.closes_at, _tz(ctx)))
    return Reply(await _overall_text(ctx, poll), buttons=[ctx.back_button()])


async def typed_answer(ctx: Ctx) -> Reply | None:
    """An answer typed as text to an open poll the person received ("2", "1, 3", "có",
    "dong y"); None when the text is not one (it goes on to the rights Q&A)."""
    text = ctx.inbound.text
    if not text or text.strip().startswith("/") or len(text) > 80:
        return None
    numbers = parse_numbers(text)
    folded = fold(text)
    if numbers is None and len(folded) < 2:
        return None
    polls = await ctx.store.open_polls_received(ctx.user.id, now=_now(), limit=3)
    if not polls:
        return None
    poll = polls[0]
    if numbers is not None:
        return await record_answer(ctx, poll.id, [n - 1 for n in numbers], "set", tapped=False)
    for candidate in polls:  # words: the newest poll whose choice they name
        labels = [c.label(lang) for c in candidate.choices for lang in LANGUAGES]
        index = match_choice(text, labels)
        if index is not None:
            return await record_answer(
                ctx, candidate.id, [index // len(LANGUAGES)], "set" if not candidate.multi else "add", tapped=False
            )
    return None


# -- organizers: compose ---------------------------------------------------------------
class Step(StrEnum):
    """Where a poll draft is; stored as text, so a draft survives a restart."""

    QUESTION_VI = "q_vi"  # typing the Vietnamese question
    QUESTION_EN = "q_en"  # typing the English question, or skipping it
    CHOICES = "choices"  # typing the choices, one a line
    KIND = "kind"  # one answer or several
    AUDIENCE = "audience"  # toggling topics or everyone, narrowing to provinces
    PROVINCES = "provinces"  # typing provinces (an organizer: within their own)
    CLOSES = "closes"  # when it closes: a button, or a typed date and time
    CONFIRM = "confirm"  # looking at the preview


# The draft in the conversation state (handlers/forms.py): one per organizer, so its
# buttons carry no form id, and no expiry beyond the retention of conversation states.
DRAFT = FormFlow(FLOW)


def _cancel_row(ctx: Ctx) -> list[Button]:
    return [Button(ctx.t("listening.compose.cancel_button"), payload(ORG, "cancel"))]


async def _save(ctx: Ctx, step: Step, data: dict[str, Any]) -> None:
    await DRAFT.save(ctx, step, data)


def poll_in_scope(scope: frozenset[str] | None, poll: Poll) -> bool:
    return scope is None or (bool(poll.provinces) and set(poll.provinces) <= scope)


async def poll_menu(ctx: Ctx) -> Reply:
    """/poll: start a new poll, or open one of the recent ones."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    polls = await ctx.store.list_polls(limit=8, within_provinces=scope)
    rows = [[Button(ctx.t("listening.compose.new_button"), payload(ORG, "new"))]]
    now = _now()
    for p in polls:
        mark = "🟢" if p.is_open(now) else "⚪"
        rows.append([Button(f"{mark} #{p.id} {p.question(ctx.lang)[:40]}", payload(ORG, "show", p.id))])
    rows.append(ctx.back_button())
    text = ctx.t("listening.compose.menu") if polls else ctx.t("listening.compose.menu_empty")
    return Reply(text, buttons=rows)


# Each step's screen: what the organizer is asked there, with its buttons.
Screen = Callable[[Ctx, dict[str, Any]], Reply]


def _ask_question(ctx: Ctx, data: dict[str, Any]) -> Reply:
    return Reply(ctx.t("listening.compose.ask_question", limit=MAX_QUESTION), buttons=[_cancel_row(ctx)])


def _ask_question_en(ctx: Ctx, data: dict[str, Any]) -> Reply:
    skip = Button(ctx.t("listening.compose.skip_button"), payload(ORG, "skip_en"))
    return Reply(ctx.t("listening.compose.ask_question_en"), buttons=[[skip], _cancel_row(ctx)])


def _ask_choices(ctx: Ctx, data: dict[str, Any]) -> Reply:
    text = ctx.t("listening.compose.ask_choices", max=MAX_CHOICES, limit=MAX_CHOICE)
    return Reply(text, buttons=[_cancel_row(ctx)])


def _ask_kind(ctx: Ctx, data: dict[str, Any]) -> Reply:
    return Reply(
        ctx.t("listening.compose.ask_kind"),
        buttons=[
            [Button(ctx.t("listening.compose.single_button"), payload(ORG, "kind", "1"))],
            [Button(ctx.t("listening.compose.multi_button"), payload(ORG, "kind", "n"))],
            _cancel_row(ctx),
        ],
    )


def _ask_audience(ctx: Ctx, data: dict[str, Any]) -> Reply:
    topics = set(data.get("topics") or [])
    rows = [
        [Button(f"{'✅' if tp.id in topics else '▫️'} {tp.name(ctx.lang)}", payload(ORG, "t", tp.id))]
        for tp in broadcast_options(ctx).topics
    ]
    everyone = f"{'✅' if data.get('everyone') else '▫️'} {ctx.t('listening.compose.everyone_button')}"
    rows.append([Button(everyone, payload(ORG, "all"))])
    provinces = list(data.get("provinces") or [])
    rows.append([Button(ctx.t("listening.compose.provinces_button", count=len(provinces)), payload(ORG, "prov"))])
    rows.append([Button(ctx.t("listening.compose.next_button"), payload(ORG, "aud_ok"))])
    rows.append(_cancel_row(ctx))
    text = ctx.t("listening.compose.ask_audience")
    if provinces:
        names = ", ".join(province_name(p, ctx.lang) for p in provinces)
        text += "\n" + ctx.t("listening.compose.provinces_now", names=names)
    return Reply(text, buttons=rows)


def _ask_provinces(ctx: Ctx, data: dict[str, Any]) -> Reply:
    return Reply(ctx.t("listening.compose.ask_provinces"), buttons=[_cancel_row(ctx)])


def _ask_closes(ctx: Ctx, data: dict[str, Any]) -> Reply:
    rows = [
        [Button(ctx.t("listening.compose.days_button", days=d), payload(ORG, "days", d)) for d in CLOSE_CHOICES],
        _cancel_row(ctx),
    ]
    return Reply(ctx.t("listening.compose.ask_closes"), buttons=rows)


def _use_buttons(ctx: Ctx, data: dict[str, Any]) -> Reply:
    return Reply(ctx.t("listening.compose.use_buttons"), buttons=[_cancel_row(ctx)])


_SCREENS: dict[str, Screen] = {
    Step.QUESTION_VI: _ask_question,
    Step.QUESTION_EN: _ask_question_en,
    Step.CHOICES: _ask_choices,
    Step.KIND: _ask_kind,
    Step.AUDIENCE: _ask_audience,
    Step.PROVINCES: _ask_provinces,
    Step.CLOSES: _ask_closes,
}


def _ask(ctx: Ctx, step: str, data: dict[str, Any], intro: str | None = None) -> Reply:
    """The step's screen (the preview is sent by `_preview`), after `intro` if given."""
    reply = _SCREENS.get(step, _use_buttons)(ctx, data)
    if intro:
        reply.text = f"{intro}\n\n{reply.text}"
    return reply


def parse_choices(text: str) -> list[PollChoice] | str:
    """One choice per line, "Vietnamese | English"; an error key when unusable."""
    choices = []
    for line in text.splitlines():
        line = line.strip().lstrip("-•*").strip()
        if not line:
            continue
        vi, _, en = line.partition("|")
        vi, en = " ".join(vi.split()), " ".join(en.split())
        if not vi or len(vi) > MAX_CHOICE or len(en) > MAX_CHOICE:
            return "listening.compose.bad_choice"
        choices.append(PollChoice(vi, en or None))
    if not 2 <= len(choices) <= MAX_CHOICES:
        return "listening.compose.choice_count"
    if len({fold(c.vi) for c in choices}) != len(choices):
        return "listening.compose.choice_twice"
    return choices


# Typed answers, one handler per step that takes text: (ctx, draft data, stripped text).
TypedStep = Callable[[Ctx, dict[str, Any], str], Awaitable[Reply | list[Reply]]]


async def _question(ctx: Ctx, data: dict[str, Any], text: str, step: Step, nxt: Step) -> Reply:
    if len(text) > MAX_QUESTION:
        return _ask(ctx, step, data, ctx.t("listening.compose.too_long", limit=MAX_QUESTION, length=len(text)))
    data[str(step)] = text
    await _save(ctx, nxt, data)
    return _ask(ctx, nxt, data)


async def _typed_question_vi(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    return await _question(ctx, data, text, Step.QUESTION_VI, Step.QUESTION_EN)


async def _typed_question_en(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    return await _question(ctx, data, text, Step.QUESTION_EN, Step.CHOICES)


async def _typed_choices(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    parsed = parse_choices(ctx.inbound.text)
    if isinstance(parsed, str):
        return _ask(ctx, Step.CHOICES, data, ctx.t(parsed, max=MAX_CHOICES, limit=MAX_CHOICE))
    data["choices"] = [[c.vi, c.en] for c in parsed]
    await _save(ctx, Step.KIND, data)
    return _ask(ctx, Step.KIND, data)


async def _typed_closes(ctx: Ctx, data: dict[str, Any], text: str) -> Reply | list[Reply]:
    at = parse_local_datetime(text, _tz(ctx), _now())
    if at is None:
        return _ask(ctx, Step.CLOSES, data, ctx.t("listening.compose.bad_datetime"))
    if at <= _now() + timedelta(minutes=5):
        return _ask(ctx, Step.CLOSES, data, ctx.t("listening.compose.in_the_past"))
    if too_far(at, _now()):
        return _ask(ctx, Step.CLOSES, data, ctx.t("listening.compose.too_far"))
    data["closes"] = at.astimezone(UTC).isoformat()
    await _save(ctx, Step.CONFIRM, data)
    return await _preview(ctx, data)


async def _typed_provinces(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    """The provinces the poll goes to, as the broadcast composer takes them."""
    found = await typed_provinces(ctx, text)
    if isinstance(found, str):  # an unknown name, or one outside the organizer's provinces
        return Reply(found, buttons=[_cancel_row(ctx)])
    data["provinces"] = found
    await _save(ctx, Step.AUDIENCE, data)
    return _ask(ctx, Step.AUDIENCE, data)


_TYPED: dict[str, TypedStep] = {
    Step.QUESTION_VI: _typed_question_vi,
    Step.QUESTION_EN: _typed_question_en,
    Step.CHOICES: _typed_choices,
    Step.PROVINCES: _typed_provinces,
    Step.CLOSES: _typed_closes,
}


async def on_compose_text(ctx: Ctx) -> Reply | list[Reply]:
    """Text typed while writing a poll: its question and options."""
    state = await DRAFT.load(ctx)
    if state is None:  # cancelled elsewhere while this message was on its way
        return ctx.reply("listening.compose.cancelled")
    data, step = dict(state.data), state.step
    text = ctx.inbound.text.strip()
    if not text:
        return _ask(ctx, step, data, ctx.t("listening.compose.text_only"))
    typed = _TYPED.get(step)
    if typed is None:  # a step answered with buttons
        return _ask(ctx, step, data, ctx.t("listening.compose.use_buttons"))
    return await typed(ctx, data, text)


def _draft_poll(data: dict[str, Any]) -> Poll:
    return Poll(
        id=0,
        broadcast_id=None,
        created_by=None,
        created_at=_now(),
        question_vi=data["q_vi"],
        question_en=data.get("q_en"),
        choices=tuple(PollChoice(vi, en) for vi, en in data["choices"]),
        multi=bool(data.get("multi")),
        provinces=(),
        closes_at=datetime.fromisoformat(data["closes"]),
        closed_at=None,
        aggregated_at=None,
    )


async def _audience(ctx: Ctx, data: dict[str, Any]) -> Audience:
    scope = await province_scope(ctx)
    chosen = Audience(
        topics=tuple(data.get("topics") or ()),
        everyone=bool(data.get("everyone")),
        provinces=tuple(data.get("provinces") or ()),
    )
    return own_audience(scope, chosen)


async def _preview(ctx: Ctx, data: dict[str, Any]) -> list[Reply]:
    poll = _draft_poll(data)
    message = poll_message(ctx.services.catalog, ctx.lang, poll, ctx.settings.timezone, numbered=False)
    audience = await _audience(ctx, data)
    size = await ctx.store.count_audience(audience)
    summary = ctx.t(
        "listening.compose.summary",
        size=size,
        at=format_local(poll.closes_at, _tz(ctx)),
        kind=ctx.t("listening.compose.multi_button" if poll.multi else "listening.compose.single_button"),
    )
    return [
        Reply(ctx.t("listening.compose.preview_intro")),
        Reply(message.text.replace("#0", "#…"), buttons=message.buttons),
        Reply(
            summary,
            buttons=[[Button(ctx.t("listening.compose.confirm_button"), payload(ORG, "confirm"))], _cancel_row(ctx)],
        ),
    ]


# -- organizers: buttons ---------------------------------------------------------------
OrgAction = Callable[[Ctx, list[str]], Awaitable[Reply | list[Reply]]]
# `pc:<action>[:<args>]`: the organizer's poll buttons, one line each.
ACTIONS: Actions[OrgAction] = Actions(ORG)


# `pc:<code>[:<arg>]`, a button of the draft valid at some steps only: pressed on an
# older screen, it shows the step the draft is really at.
_draft_button = step_buttons(
    DRAFT, ACTIONS, lambda ctx, step, data: _ask(ctx, step, data, ctx.t("listening.compose.use_buttons"))
)


async def on_org_button(ctx: Ctx) -> Reply | list[Reply]:
    """The organizer's poll buttons: composing a draft, its results, closing it."""
    code, *args = ctx.args or [""]
    action = ACTIONS.get(code)
    if action is not None:
        return await action(ctx, args)
    state = await DRAFT.load(ctx)
    if state is None:
        return ctx.reply("fallback.button_expired")
    return _ask(ctx, state.step, dict(state.data), ctx.t("listening.compose.use_buttons"))


@ACTIONS.on("new")
async def _new(ctx: Ctx, args: list[str]) -> Reply:
    """A fresh draft: the organizer is asked for the question."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    await _save(ctx, Step.QUESTION_VI, {})
    return _ask(ctx, Step.QUESTION_VI, {})


@ACTIONS.on("show")
async def _show(ctx: Ctx, args: list[str]) -> Reply | list[Reply]:
    """A poll's results: counts, response rate and a chart (small groups hidden)."""
    return await show_results(ctx, args[0] if args else "", "")


@ACTIONS.on("by")
async def _by(ctx: Ctx, args: list[str]) -> Reply | list[Reply]:
    """The results broken down by province, channel or language."""
    return await show_results(ctx, args[0] if args else "", args[1] if len(args) > 1 else "")


@ACTIONS.on("end")
async def _end(ctx: Ctx, args: list[str]) -> Reply | list[Reply]:
    """Asks before closing: a poll closed cannot be opened again, and one tap did it
    (found trying the bot as an organizer)."""
    found = await _scoped_poll(ctx, args[0] if args else "")
    if isinstance(found, Reply):
        return found
    return Reply(
        ctx.t("listening.compose.close_sure", id=found.id),
        buttons=[
            [Button(ctx.t("listening.compose.close_yes"), payload(ORG, "endok", found.id))],
            [Button(ctx.t("listening.compose.close_no"), payload(ORG, "show", found.id))],
        ],
    )


@ACTIONS.on("endok")
async def _end_confirmed(ctx: Ctx, args: list[str]) -> Reply | list[Reply]:
    """Closes the poll now, then shows its results."""
    return await _close_now(ctx, args[0] if args else "")


@ACTIONS.on("cancel")
async def _cancel(ctx: Ctx, args: list[str]) -> Reply:
    """Drops the draft; nothing is sent."""
    if await DRAFT.load(ctx) is not None:
        await ctx.store.clear_state(ctx.user.id)
    return Reply(ctx.t("listening.compose.cancelled"), buttons=[ctx.back_button()], edit=True)


@_draft_button("skip_en", Step.QUESTION_EN)
async def _skip_english(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """No English question: workers who chose English get the Vietnamese one."""
    data["q_en"] = None
    await _save(ctx, Step.CHOICES, data)
    return _ask(ctx, Step.CHOICES, data)


@_draft_button("kind", Step.KIND)
async def _kind(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """One answer per person, or several; then the audience."""
    data["multi"] = arg == "n"
    await _save(ctx, Step.AUDIENCE, data)
    return _ask(ctx, Step.AUDIENCE, data)


async def _audience_changed(ctx: Ctx, data: dict[str, Any]) -> Reply:
    await _save(ctx, Step.AUDIENCE, data)
    reply = _ask(ctx, Step.AUDIENCE, data)
    reply.edit = True
    return reply


@_draft_button("t", Step.AUDIENCE)
async def _toggle_topic(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Adds or removes one topic's subscribers from the audience."""
    if broadcast_options(ctx).topic(arg) is not None:
        data["topics"] = sorted(set(data.get("topics") or []) ^ {arg})
    return await _audience_changed(ctx, data)


@_draft_button("all", Step.AUDIENCE)
async def _toggle_everyone(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Everyone who gets the union's messages (an organizer: in their provinces)."""
    data["everyone"] = not data.get("everyone")
    return await _audience_changed(ctx, data)


@_draft_button("prov", Step.AUDIENCE)
async def _choose_provinces(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Asks which provinces (an organizer: within their own) the poll goes to."""
    await _save(ctx, Step.PROVINCES, data)
    return _ask(ctx, Step.PROVINCES, data)


@_draft_button("aud_ok", Step.AUDIENCE)
async def _audience_done(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """The audience is chosen: on to when the poll closes (refused while it is empty)."""
    if not (data.get("everyone") or data.get("topics")):
        return _ask(ctx, Step.AUDIENCE, data, ctx.t("listening.compose.audience_required"))
    await _save(ctx, Step.CLOSES, data)
    return _ask(ctx, Step.CLOSES, data)


@_draft_button("days", Step.CLOSES)
async def _closes_in(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply | list[Reply]:
    """Closes in 1, 3 or 7 days; then the preview."""
    if not (arg.isdigit() and int(arg) in CLOSE_CHOICES):
        return _ask(ctx, Step.CLOSES, data, ctx.t("listening.compose.use_buttons"))
    data["closes"] = (_now() + timedelta(days=int(arg))).isoformat()
    await _save(ctx, Step.CONFIRM, data)
    return await _preview(ctx, data)


@_draft_button("confirm", Step.CONFIRM)
async def _confirmed(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Creates the poll and its broadcast, re-checking the scope and the audience first."""
    return await _create(ctx, data)


async def _create(ctx: Ctx, data: dict[str, Any]) -> Reply:
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        await ctx.store.clear_state(ctx.user.id)
        return no_province_yet(ctx)
    audience = await _audience(ctx, data)
    if not audience_in_scope(scope, audience):  # the organizer's provinces changed meanwhile
        data["provinces"] = []
        await _save(ctx, Step.AUDIENCE, data)
        outside = ", ".join(province_name(p, ctx.lang) for p in audience.provinces if scope and p not in scope)
        allowed = scope_names(scope or frozenset(), ctx.lang)
        intro = ctx.t("broadcasts.compose.provinces_out_of_scope", names=outside, allowed=allowed)
        return _ask(ctx, Step.AUDIENCE, data, intro)
    if not audience.valid:
        await _save(ctx, Step.AUDIENCE, data)
        return _ask(ctx, "audience", data, ctx.t("listening.compose.audience_required"))
    closes = datetime.fromisoformat(data["closes"])
    if closes <= _now():
        await _save(ctx, Step.CLOSES, data)
        return _ask(ctx, "closes", data, ctx.t("listening.compose.in_the_past"))
    poll, broadcast = await create_poll(
        ctx.store,
        NewPoll(
            question_vi=data["q_vi"],
            question_en=data.get("q_en") or None,
            choices=tuple(PollChoice(vi, en) for vi, en in data["choices"]),
            multi=bool(data.get("multi")),
            closes_at=closes,
            created_by=ctx.user.id,
        ),
        audience,
    )
    await ctx.store.clear_state(ctx.user.id)
    await notify_changed(ctx, broadcast.id)
    return Reply(
        ctx.t("listening.compose.created", id=poll.id, broadcast=broadcast.id),
        buttons=[[Button(ctx.t("listening.compose.results_button"), payload(ORG, "show", poll.id))], ctx.back_button()],
    )


async def create_poll(
    store: Store, new: NewPoll, audience: Audience, *, run_at: datetime | None = None
) -> tuple[Poll, Broadcast]:
    """The poll and its broadcast (sent now, or at `run_at`), audited; for chat and CLI."""
    poll, broadcast = await store.create_poll(
        new,
        NewBroadcast(
            text_vi=new.question_vi,
            text_en=new.question_en,
            audience=audience,
            run_at=run_at or _now(),
            created_by=new.created_by,
        ),
    )
    await store.audit(
        new.created_by,
        "poll.create",
        f"poll:{poll.id}",
        {
            "broadcast": broadcast.id,
            "audience": audience.to_json(),
            "choices": len(new.choices),
            "multi": new.multi,
            "closes_at": new.closes_at.isoformat(),
        },
    )
    logger.info("poll %s created (broadcast %s)", poll.id, broadcast.id)
    return poll, broadcast


async def _scoped_poll(ctx: Ctx, arg: str) -> Poll | Reply:
    poll = await ctx.store.get_poll(int(arg)) if arg.isdigit() else None
    if poll is None or not poll_in_scope(await province_scope(ctx), poll):
        return ctx.reply("listening.compose.not_found")
    return poll


def status_line(ctx: Ctx, poll: Poll) -> str:
    tz = _tz(ctx)
    if poll.is_open(_now()):
        return ctx.t("listening.results.open", at=format_local(poll.closes_at, tz))
    return ctx.t("listening.results.closed", at=format_local(poll.ended_at(), tz))


async def show_results(ctx: Ctx, arg: str, dimension: str) -> Reply | list[Reply]:
    found = await _scoped_poll(ctx, arg)
    if isinstance(found, Reply):
        return found
    poll = found
    k = options(ctx).min_group
    tally = await ctx.store.poll_tally(poll.id)
    by = [dimension] if dimension in DIMENSIONS else []
    text = results_text(ctx.services.catalog, ctx.lang, poll, tally, k, status=status_line(ctx, poll), by=by)
    rows = [[Button(ctx.t(f"listening.results.by_{d}_button"), payload(ORG, "by", poll.id, d)) for d in DIMENSIONS]]
    if poll.is_open(_now()):
        rows.append([Button(ctx.t("listening.compose.close_button"), payload(ORG, "end", poll.id))])
    rows.append(ctx.back_button())
    # matplotlib holds the GIL for a few hundred ms: drawn in the export worker process,
    # as /targets draws its chart (handlers/join/organizer.py), not on the bot's loop.
    exporter: Exporter = ctx.services.exporter or InProcessExporter(ctx.store, ctx.services.catalog)
    png = await exporter.call(functools.partial(chart_png, poll, tally, ctx.lang, k))
    if png is None:
        return Reply(text, buttons=rows)
    return [Reply(photo=Photo(png, filename=f"poll-{poll.id}.png")), Reply(text, buttons=rows)]


async def _close_now(ctx: Ctx, arg: str) -> Reply | list[Reply]:
    found = await _scoped_poll(ctx, arg)
    if isinstance(found, Reply):
        return found
    if await ctx.store.close_poll(found.id, _now()):
        await ctx.store.audit(ctx.user.id, "poll.close", f"poll:{found.id}")
    return await show_results(ctx, arg, "")


def register(router: Router) -> None:
    router.command("poll", "polls", min_role=Role.ORGANIZER, describe="listening.cmd.poll")(poll_menu)
    router.flow(FLOW, min_role=Role.ORGANIZER)(on_compose_text)
    router.button(ORG, min_role=Role.ORGANIZER, actions=ACTIONS)(on_org_button)
    router.button(VOTE)(on_vote)
    router.button(RESULT)(on_result)
