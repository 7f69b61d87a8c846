"""The organizer's guided composer: text, audience, time, preview, confirm.

Each step is stored (flow "bc_compose", a `Step`) so a draft survives a restart, and
every step, typed or pressed, is checked against the organizer role by the router.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from handlers.broadcasts.options import notify_changed, options
from handlers.broadcasts.render import MAX_TEXT, describe_audience, describe_cron
from handlers.broadcasts.schedule import (
    end_of_day,
    format_local,
    next_weekly,
    parse_local_datetime,
    parse_period,
    parse_time_of_day,
    weekly_cron,
)
from handlers.broadcasts.textsteps import (
    ask_en,
    ask_vi,
    en_choices,
    english_after,
    languages,
    preview_messages,
    step_button,
    take_new_text,
    text_problem,
)
from handlers.context import Ctx
from handlers.forms import FormFlow
from handlers.i18n import LANGUAGES
from handlers.join.common import province_name, province_scope
from handlers.menu import main_menu
from handlers.router import Actions, Router, payload
from handlers.scope import audience_in_scope, no_province_yet, own_audience, scope_names, typed_provinces
from handlers.types import Button, InboundKind, Reply
from storage import Role
from storage.broadcasts import Audience, NewBroadcast

logger = logging.getLogger(__name__)

FLOW = "bc_compose"
LANGUAGE_CYCLE = (None, *LANGUAGES)  # everyone, then each language alone
ROLE_CYCLE: tuple[tuple[str, ...], ...] = ((), ("worker",), ("volunteer",), ("organizer",))


class Step(StrEnum):
    TEXT_VI = "text_vi"  # typing the Vietnamese text
    TEXT_EN = "text_en"  # typing the English text, or skipping it
    PHOTO = "photo"  # sending a photo, or skipping it
    AUDIENCE = "audience"  # toggling topics, language, role
    PROVINCES = "provinces"  # typing provinces
    WHEN = "when"  # now, at a time, or recurring
    AT = "at"  # typing a date and time
    DAY = "day"  # recurring: which day
    TIME = "time"  # recurring: typing the time
    PERIOD = "period"  # recurring: typing until when
    CONFIRM = "confirm"  # looking at the preview
    EDIT_VI = "edit_vi"  # from the preview: typing a new Vietnamese text
    EDIT_EN = "edit_en"  # from the preview: a new English text, or keeping or removing it


def _now() -> datetime:
    return datetime.now(UTC)


def _tz(ctx: Ctx) -> ZoneInfo:
    return ZoneInfo(options(ctx).timezone)


def _cancel_row(ctx: Ctx) -> list[Button]:
    # Typing the label never cancels a half-written broadcast; its number still does.
    return [Button(ctx.t("broadcasts.compose.cancel_button"), payload("bcc", "cancel"), typed=False)]


# The draft in the conversation state (handlers/forms.py): no id on its buttons (one
# draft per organizer) and no expiry beyond the retention of conversation states.
DRAFT = FormFlow(FLOW)
# `bcc:draft`: the open draft shown again at its step, for other screens to lead back to it.
DRAFT_BUTTON = "draft"
# The draft's texts as they were when "Edit text" was pressed, kept while that edit is
# open for /cancel to put back.
_UNEDITED = "unedited"


async def _save(ctx: Ctx, step: Step, data: dict[str, Any]) -> None:
    await DRAFT.save(ctx, step, data)


def audience_of(data: dict[str, Any]) -> Audience:
    return Audience.from_dict(data)


# -- screens -------------------------------------------------------------------
async def start(ctx: Ctx) -> Reply:
    """A fresh draft: the organizer is asked for the Vietnamese text."""
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        return no_province_yet(ctx)
    await _save(ctx, Step.TEXT_VI, {})
    return Reply(ctx.t("broadcasts.compose.ask_vi", limit=MAX_TEXT), buttons=[_cancel_row(ctx)])


def _ask_en(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("broadcasts.compose.ask_en"),
        buttons=[
            [Button(ctx.t("broadcasts.compose.skip_en"), payload("bcc", "skip_en"))],
            _cancel_row(ctx),
        ],
    )


def _ask_photo(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("broadcasts.compose.ask_photo"),
        buttons=[
            [Button(ctx.t("broadcasts.compose.skip_photo"), payload("bcc", "skip_photo"))],
            _cancel_row(ctx),
        ],
    )


async def _audience_screen(ctx: Ctx, data: dict[str, Any], *, intro: str | None = None, edit: bool = False) -> Reply:
    opts = options(ctx)
    scope = await province_scope(ctx)
    # What the organizer will really reach: "everyone" is everyone in their provinces.
    audience = own_audience(scope, audience_of(data))
    lines = [intro] if intro else []
    lines.append(ctx.t("broadcasts.compose.ask_audience"))
    if scope is not None:
        lines.append(ctx.t("scope.everyone_means", names=scope_names(scope, ctx.lang)))
    if audience.valid:
        size = await ctx.store.count_audience(audience)
        lines.append(
            ctx.t(
                "broadcasts.compose.audience_now",
                audience=describe_audience(ctx.services.catalog, ctx.lang, audience, opts),
                size=size,
            )
        )
    else:
        lines.append(ctx.t("broadcasts.compose.audience_empty"))
    rows = [
        [Button(f"{'✅' if t.id in audience.topics else '▫️'} {t.name(ctx.lang)}", payload("bcc", "t", t.id))]
        for t in opts.topics
    ]
    rows.append(
        [
            Button(
                f"{'✅' if audience.everyone else '▫️'} {ctx.t('broadcasts.compose.everyone_button')}",
                payload("bcc", "all"),
            )
        ]
    )
    language = ctx.t(f"broadcasts.lang.{audience.language or 'any'}")
    role = ctx.t(f"roles.{audience.roles[0]}") if audience.roles else ctx.t("broadcasts.compose.any_role")
    rows.append(
        [
            Button(ctx.t("broadcasts.compose.language_button", language=language), payload("bcc", "lang")),
            Button(ctx.t("broadcasts.compose.role_button", role=role), payload("bcc", "role")),
        ]
    )
    rows.append(
        [
            Button(
                ctx.t("broadcasts.compose.provinces_button", count=len(audience.provinces)),
                payload("bcc", "prov"),
            )
        ]
    )
    rows.append([Button(ctx.t("broadcasts.compose.next_button"), payload("bcc", "aud_ok"))])
    rows.append(_cancel_row(ctx))
    return Reply("\n".join(lines), buttons=rows, edit=edit)


def _when_screen(ctx: Ctx, *, intro: str | None = None) -> Reply:
    quiet = options(ctx).quiet
    text = ctx.t(
        "broadcasts.compose.ask_when", quiet_start=quiet.start.strftime("%H:%M"), quiet_end=quiet.end.strftime("%H:%M")
    )
    return Reply(
        f"{intro}\n\n{text}" if intro else text,
        buttons=[
            [Button(ctx.t("broadcasts.compose.now_button"), payload("bcc", "now"))],
            [Button(ctx.t("broadcasts.compose.at_button"), payload("bcc", "at"))],
            [Button(ctx.t("broadcasts.compose.every_button"), payload("bcc", "every"))],
            _cancel_row(ctx),
        ],
    )


def _day_screen(ctx: Ctx) -> Reply:
    days = [Button(ctx.t(f"broadcasts.day.{i}"), payload("bcc", "day", i)) for i in range(7)]
    return Reply(
        ctx.t("broadcasts.compose.ask_day"),
        buttons=[
            days[:4],
            days[4:],
            [Button(ctx.t("broadcasts.compose.daily_button"), payload("bcc", "day", "all"))],
            _cancel_row(ctx),
        ],
    )


Schedule = tuple[datetime, str | None, datetime | None, datetime | None]


def _schedule(ctx: Ctx, data: dict[str, Any], now: datetime) -> Schedule:
    """(first send, cron, starts_at, until) of the draft."""
    tz = _tz(ctx)
    when = data.get("when")
    if when == "at":
        return datetime.fromisoformat(data["at"]), None, None, None
    if when == "every":
        weekday = data.get("weekday")
        at = time.fromisoformat(data["time"])
        starts = None
        if data.get("start"):
            starts = datetime.combine(date.fromisoformat(data["start"]), time(0, 0), tzinfo=tz)
        until = end_of_day(date.fromisoformat(data["until"]), tz)
        after = max(now, starts) if starts else now
        first = next_weekly(after, weekday, at, tz)
        return first, weekly_cron(weekday, at), starts, until
    return now, None, None, None


async def _confirm_screen(ctx: Ctx, data: dict[str, Any]) -> list[Reply]:
    """The message exactly as workers will get it, then what, to whom, when."""
    catalog, opts, tz = ctx.services.catalog, options(ctx), _tz(ctx)
    audience = own_audience(await province_scope(ctx), audience_of(data))
    now = _now()
    first, cron, _starts, until = _schedule(ctx, data, now)
    replies = [Reply(ctx.t("broadcasts.compose.preview_intro"))]
    langs = languages(data.get("text_en"))
    # The photo goes with each message exactly as the sender plans it (as the caption,
    # or first when the text is too long for one); only the channel it came from has it.
    photo_ref = data.get("photo_ref") if data.get("photo_channel") == ctx.inbound.channel else None
    replies += preview_messages(ctx, data["text_vi"], data.get("text_en"), photo_ref=photo_ref)
    if cron:
        when = (
            describe_cron(catalog, ctx.lang, cron)
            + " "
            + ctx.t(
                "broadcasts.when.until",
                until=until.astimezone(tz).strftime("%d/%m/%Y") if until else "-",
            )
            + "\n"
            + ctx.t("broadcasts.compose.first_run", at=format_local(first, tz))
        )
    elif data.get("when") == "at":
        when = ctx.t("broadcasts.when.at", at=format_local(first, tz))
    else:
        when = ctx.t("broadcasts.when.now")
    notes = []
    if data.get("photo_ref"):
        notes.append(ctx.t("broadcasts.compose.photo_note"))
    if opts.quiet.is_quiet(first):
        notes.append(ctx.t("broadcasts.compose.quiet_note", at=format_local(opts.quiet.ends_after(first), tz)))
    size = await ctx.store.count_audience(audience)
    from handlers.broadcasts.render import reach_note  # here: another change is editing the imports

    if reach := await reach_note(ctx.store, catalog, ctx.lang, audience, opts, now):
        notes.append(reach)
    if size == 0:
        notes.append(ctx.t("broadcasts.compose.nobody_note"))
    summary = ctx.t(
        "broadcasts.compose.summary",
        audience=describe_audience(catalog, ctx.lang, audience, opts),
        size=size,
        when=when,
        languages=", ".join(ctx.t(f"broadcasts.lang.{lang}") for lang in langs),
    )
    replies.append(
        Reply(
            "\n".join([summary, *notes]),
            buttons=[
                [Button(ctx.t("broadcasts.compose.confirm_button"), payload("bcc", "confirm"))],
                [Button(ctx.t("broadcasts.edit.button"), payload("bcc", "edit"))],
                _cancel_row(ctx),
            ],
        )
    )
    return replies


async def show_step(ctx: Ctx, step: Step, data: dict[str, Any], *, intro: str | None = None) -> Reply | list[Reply]:
    """Show the current step again (after a stray message or a stale button)."""

    def with_intro(reply: Reply) -> Reply:
        if intro:
            reply.text = f"{intro}\n\n{reply.text}"
        return reply

    if step is Step.TEXT_VI:
        return with_intro(Reply(ctx.t("broadcasts.compose.ask_vi", limit=MAX_TEXT), buttons=[_cancel_row(ctx)]))
    if step is Step.TEXT_EN:
        return with_intro(_ask_en(ctx))
    if step is Step.PHOTO:
        return with_intro(_ask_photo(ctx))
    if step is Step.AUDIENCE:
        return await _audience_screen(ctx, data, intro=intro)
    if step is Step.PROVINCES:
        return with_intro(Reply(ctx.t("broadcasts.compose.ask_provinces"), buttons=[_cancel_row(ctx)]))
    if step is Step.WHEN:
        return _when_screen(ctx, intro=intro)
    if step is Step.AT:
        return with_intro(Reply(ctx.t("broadcasts.compose.ask_at"), buttons=[_cancel_row(ctx)]))
    if step is Step.DAY:
        return with_intro(_day_screen(ctx))
    if step is Step.TIME:
        return with_intro(Reply(ctx.t("broadcasts.compose.ask_time"), buttons=[_cancel_row(ctx)]))
    if step is Step.PERIOD:
        return with_intro(Reply(ctx.t("broadcasts.compose.ask_period"), buttons=[_cancel_row(ctx)]))
    if step is Step.EDIT_VI:
        return ask_vi(ctx, _edit_vi_buttons(ctx), intro=intro)
    if step is Step.EDIT_EN:
        has_en = bool(data.get("text_en"))
        return ask_en(ctx, _edit_en_buttons(ctx, has_en), has_en=has_en, intro=intro)
    replies = await _confirm_screen(ctx, data)
    if intro:
        replies.insert(0, Reply(intro))
    return replies


# -- typed input ---------------------------------------------------------------
async def on_text(ctx: Ctx) -> Reply | list[Reply]:
    """Text typed while composing a broadcast: the step's answer (texts, provinces, time)."""
    state = await DRAFT.load(ctx)
    if state is None:  # the draft was cancelled elsewhere while this message was in flight
        return ctx.reply("broadcasts.compose.expired")
    try:
        step = Step(state.step)
    except ValueError:  # a step from an older version of the flow
        return await start(ctx)
    data = dict(state.data)
    if step is Step.PHOTO:
        return await _on_photo(ctx, data)
    if step in (Step.EDIT_VI, Step.EDIT_EN):
        return await _on_new_text(ctx, step, data)
    if ctx.inbound.kind is InboundKind.UNSUPPORTED:
        return await show_step(ctx, step, data, intro=ctx.t("broadcasts.compose.text_only"))
    text = ctx.inbound.text.strip()
    t = ctx.t

    if step in (Step.TEXT_VI, Step.TEXT_EN):
        if problem := text_problem(ctx, text):
            return await show_step(ctx, step, data, intro=problem)
        if step is Step.TEXT_VI:
            data["text_vi"] = text
            await _save(ctx, Step.TEXT_EN, data)
            return _ask_en(ctx)
        data["text_en"] = text
        await _save(ctx, Step.PHOTO, data)
        return _ask_photo(ctx)

    if step is Step.PROVINCES:
        return await _on_provinces(ctx, data, text)

    tz, now = _tz(ctx), _now()
    if step is Step.AT:
        at = parse_local_datetime(text, tz, now)
        if at is None:
            return await show_step(ctx, step, data, intro=t("broadcasts.compose.bad_datetime"))
        if at <= now:
            return await show_step(ctx, step, data, intro=t("broadcasts.compose.in_the_past"))
        data["at"] = at.isoformat()
        await _save(ctx, Step.CONFIRM, data)
        return await _confirm_screen(ctx, data)

    if step is Step.TIME:
        at_time = parse_time_of_day(text)
        if at_time is None:
            return await show_step(ctx, step, data, intro=t("broadcasts.compose.bad_time"))
        data["time"] = at_time.strftime("%H:%M")
        await _save(ctx, Step.PERIOD, data)
        return Reply(t("broadcasts.compose.ask_period"), buttons=[_cancel_row(ctx)])

    if step is Step.PERIOD:
        period = parse_period(text, tz, now)
        if period is None:
            return await show_step(ctx, step, data, intro=t("broadcasts.compose.bad_period"))
        start_day, until = period
        data["start"] = start_day.isoformat() if start_day else None
        data["until"] = until.isoformat()
        first, _, _, until_dt = _schedule(ctx, data, now)
        if until_dt is None or first > until_dt:
            return await show_step(ctx, step, data, intro=t("broadcasts.compose.no_occurrence"))
        await _save(ctx, Step.CONFIRM, data)
        return await _confirm_screen(ctx, data)

    return await show_step(ctx, step, data, intro=t("broadcasts.compose.use_buttons"))


async def _on_new_text(ctx: Ctx, step: Step, data: dict[str, Any]) -> Reply | list[Reply]:
    """A new text typed after "Edit text" at the preview: checked as when composing (a
    refused one changes nothing), then back to the preview with the rest of the draft."""
    english = step is Step.EDIT_EN
    if refused := take_new_text(ctx, data, english=english):
        return await show_step(ctx, step, data, intro=refused)
    if asked := english_after(ctx, data, english=english, buttons=_edit_en_buttons(ctx, True)):
        await _save(ctx, Step.EDIT_EN, data)
        return asked
    return await _back_to_preview(ctx, data)


async def on_cancel(ctx: Ctx) -> Reply:
    """`/cancel` while composing. At the text edit opened from the preview it undoes that
    edit only: the draft's discard button is hidden there, so /cancel must not throw the
    whole draft away either. Anywhere else the draft is discarded, as any form's is."""
    state = await DRAFT.load(ctx)
    if state is None or state.step not in (Step.EDIT_VI, Step.EDIT_EN):
        await ctx.store.clear_state(ctx.user.id)
        return main_menu(ctx, intro=f"{ctx.t('cancel.done')}\n\n{ctx.t('menu.title')}")
    data = dict(state.data)
    # At the English step the new Vietnamese text is already in the draft: back to both
    # texts as they were when the edit opened.
    data.update(data.get(_UNEDITED) or {})
    replies = await _back_to_preview(ctx, data)
    # /cancel answers with one message (handlers/core.py): the preview's summary and its
    # buttons; the messages as workers will get them are those shown before the edit.
    summary = replies[-1]
    summary.text = f"{ctx.t('broadcasts.edit.unchanged')}\n\n{summary.text}"
    return summary


def _edit_vi_buttons(ctx: Ctx) -> list[list[Button]]:
    # No discard button while editing: a typo fix should not leave the whole draft one tap
    # from being thrown away; the way out is back to the preview, where it still is.
    return [
        [step_button(ctx.t("broadcasts.edit.en_button"), payload("bcc", "ed_en"))],
        [step_button(ctx.t("broadcasts.edit.back_button"), payload("bcc", "ed_back"))],
    ]


def _edit_en_buttons(ctx: Ctx, has_en: bool) -> list[list[Button]]:
    return en_choices(ctx, has_en, payload("bcc", "ed_keep"), payload("bcc", "ed_drop"))


async def _back_to_preview(ctx: Ctx, data: dict[str, Any], *, intro: str | None = None) -> list[Reply]:
    data.pop(_UNEDITED, None)
    await _save(ctx, Step.CONFIRM, data)
    replies = await _confirm_screen(ctx, data)
    if intro:
        replies.insert(0, Reply(intro))
    return replies


async def _on_photo(ctx: Ctx, data: dict[str, Any]) -> Reply | list[Reply]:
    """A photo sent in the chat is kept by the channel's file reference (the bytes stay
    with the platform); anything else is asked again."""
    photo = ctx.inbound.photo
    if photo is None or not photo.file_ref:
        return await show_step(ctx, Step.PHOTO, data, intro=ctx.t("broadcasts.compose.photo_expected"))
    data["photo_ref"] = photo.file_ref
    data["photo_channel"] = ctx.inbound.channel
    await _save(ctx, Step.AUDIENCE, data)
    return await _audience_screen(ctx, data, intro=ctx.t("broadcasts.compose.photo_added"))


async def _on_provinces(ctx: Ctx, data: dict[str, Any], text: str) -> Reply:
    found = await typed_provinces(ctx, text)
    if isinstance(found, str):  # what is wrong with the names typed
        return Reply(found, buttons=[_cancel_row(ctx)])
    data["provinces"] = found
    await _save(ctx, Step.AUDIENCE, data)
    return await _audience_screen(ctx, data)


# -- buttons -------------------------------------------------------------------
_BUTTON_STEPS: dict[str, frozenset[Step]] = {
    "skip_en": frozenset({Step.TEXT_EN}),
    "skip_photo": frozenset({Step.PHOTO}),
    "t": frozenset({Step.AUDIENCE}),
    "all": frozenset({Step.AUDIENCE}),
    "lang": frozenset({Step.AUDIENCE}),
    "role": frozenset({Step.AUDIENCE}),
    "prov": frozenset({Step.AUDIENCE}),
    "aud_ok": frozenset({Step.AUDIENCE}),
    "now": frozenset({Step.WHEN}),
    "at": frozenset({Step.WHEN}),
    "every": frozenset({Step.WHEN}),
    "day": frozenset({Step.DAY}),
    "confirm": frozenset({Step.CONFIRM}),
    "edit": frozenset({Step.CONFIRM}),
    "ed_en": frozenset({Step.EDIT_VI}),
    "ed_keep": frozenset({Step.EDIT_EN}),
    "ed_drop": frozenset({Step.EDIT_EN}),
    "ed_back": frozenset({Step.EDIT_VI}),
}


ComposeAction = Callable[[Ctx, dict[str, Any], str], Awaitable[Reply | list[Reply]]]
# `bcc:<action>[:<arg>]`, each valid only on the steps _BUTTON_STEPS names.
ACTIONS: Actions[ComposeAction] = Actions("bcc")


async def on_button(ctx: Ctx) -> Reply | list[Reply]:
    """A button of the broadcast draft: checked against where the draft really is."""
    action = ctx.args[0] if ctx.args else ""
    if action == "new":
        return await start(ctx)
    state = await DRAFT.load(ctx)
    if state is None:
        return ctx.reply("broadcasts.compose.expired")
    if action == "cancel":
        await ctx.store.clear_state(ctx.user.id)
        return ctx.reply("broadcasts.compose.cancelled")
    try:
        step = Step(state.step)
    except ValueError:
        return await start(ctx)
    data = dict(state.data)
    if action == DRAFT_BUTTON:
        # From elsewhere (edit.py asks before an edit would replace the draft): the draft
        # where it is, whatever its step.
        return await show_step(ctx, step, data)
    handler = ACTIONS.get(action)
    if handler is None or step not in _BUTTON_STEPS.get(action, frozenset()):
        # A button from an earlier screen: show where the draft really is.
        return await show_step(ctx, step, data, intro=ctx.t("broadcasts.compose.stale_button"))
    return await handler(ctx, data, ctx.args[1] if len(ctx.args) > 1 else "")


@ACTIONS.on("skip_en")
async def _skip_english(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """No English text: workers who chose English get the Vietnamese one."""
    data["text_en"] = None
    await _save(ctx, Step.PHOTO, data)
    return _ask_photo(ctx)


@ACTIONS.on("skip_photo")
async def _skip_photo(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """No picture: on to choosing the audience."""
    data.pop("photo_ref", None)
    data.pop("photo_channel", None)
    await _save(ctx, Step.AUDIENCE, data)
    return await _audience_screen(ctx, data)


@ACTIONS.on("t")
async def _toggle_topic(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Adds or removes one topic's subscribers from the audience."""
    if options(ctx).topic(arg) is None:
        return await _audience_screen(ctx, data, intro=ctx.t("broadcasts.compose.stale_button"))
    topics = list(data.get("topics") or [])
    data["topics"] = [x for x in topics if x != arg] if arg in topics else [*topics, arg]
    data["everyone"] = False
    return await _audience_changed(ctx, data)


@ACTIONS.on("all")
async def _toggle_everyone(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Everyone who uses the bot, or back to chosen topics."""
    data["everyone"] = not data.get("everyone")
    if data["everyone"]:
        data["topics"] = []
    return await _audience_changed(ctx, data)


@ACTIONS.on("lang")
async def _cycle_language(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Narrows the audience to one language, the other, or both."""
    i = LANGUAGE_CYCLE.index(data.get("language")) if data.get("language") in LANGUAGE_CYCLE else 0
    data["language"] = LANGUAGE_CYCLE[(i + 1) % len(LANGUAGE_CYCLE)]
    return await _audience_changed(ctx, data)


@ACTIONS.on("role")
async def _cycle_roles(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Narrows the audience by role (workers, volunteers, officers) or not at all."""
    roles = tuple(data.get("roles") or ())
    i = ROLE_CYCLE.index(roles) if roles in ROLE_CYCLE else 0
    data["roles"] = list(ROLE_CYCLE[(i + 1) % len(ROLE_CYCLE)])
    return await _audience_changed(ctx, data)


async def _audience_changed(ctx: Ctx, data: dict[str, Any]) -> Reply:
    await _save(ctx, Step.AUDIENCE, data)
    return await _audience_screen(ctx, data, edit=True)


@ACTIONS.on("prov")
async def _ask_provinces(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Asks which provinces (within the organizer's own) to narrow the audience to."""
    await _save(ctx, Step.PROVINCES, data)
    return Reply(ctx.t("broadcasts.compose.ask_provinces"), buttons=[_cancel_row(ctx)])


@ACTIONS.on("aud_ok")
async def _audience_done(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """The audience is chosen: on to when to send (refused while it is empty)."""
    if not audience_of(data).valid:
        return await _audience_screen(ctx, data, intro=ctx.t("broadcasts.compose.audience_required"))
    await _save(ctx, Step.WHEN, data)
    return _when_screen(ctx)


@ACTIONS.on("now")
async def _send_now(ctx: Ctx, data: dict[str, Any], arg: str) -> list[Reply]:
    """Send as soon as it is confirmed (quiet hours still hold it)."""
    data["when"] = "now"
    await _save(ctx, Step.CONFIRM, data)
    return await _confirm_screen(ctx, data)


@ACTIONS.on("at")
async def _send_at(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """Asks for the date and time to send at."""
    data["when"] = "at"
    await _save(ctx, Step.AT, data)
    return Reply(ctx.t("broadcasts.compose.ask_at"), buttons=[_cancel_row(ctx)])


@ACTIONS.on("every")
async def _send_every(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """A recurring broadcast: asks which day of the week."""
    data["when"] = "every"
    await _save(ctx, Step.DAY, data)
    return _day_screen(ctx)


@ACTIONS.on("day")
async def _weekday(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply:
    """The recurring broadcast's day (or every day); then asks the time."""
    if arg != "all" and arg not in {str(i) for i in range(7)}:
        return _day_screen(ctx)
    data["weekday"] = None if arg == "all" else int(arg)
    await _save(ctx, Step.TIME, data)
    return Reply(ctx.t("broadcasts.compose.ask_time"), buttons=[_cancel_row(ctx)])


@ACTIONS.on("edit")
async def _edit_text(ctx: Ctx, data: dict[str, Any], arg: str) -> list[Reply]:
    """From the preview: asks for a new text, keeping the audience, topics and time chosen."""
    data[_UNEDITED] = {"text_vi": data.get("text_vi"), "text_en": data.get("text_en")}
    await _save(ctx, Step.EDIT_VI, data)
    return ask_vi(ctx, _edit_vi_buttons(ctx), current=data.get("text_vi"))


@ACTIONS.on("ed_en")
async def _edit_english(ctx: Ctx, data: dict[str, Any], arg: str) -> list[Reply]:
    """Keeps the Vietnamese text and asks for the English one (to correct, add or remove)."""
    await _save(ctx, Step.EDIT_EN, data)
    has_en = bool(data.get("text_en"))
    return ask_en(ctx, _edit_en_buttons(ctx, has_en), has_en=has_en, current=data.get("text_en"))


@ACTIONS.on("ed_keep")
async def _keep_english(ctx: Ctx, data: dict[str, Any], arg: str) -> list[Reply]:
    """Keeps the English text as it is (or none), back to the preview."""
    return await _back_to_preview(ctx, data)


@ACTIONS.on("ed_drop")
async def _drop_english(ctx: Ctx, data: dict[str, Any], arg: str) -> list[Reply]:
    """Removes the English text (English readers get the Vietnamese), back to the preview."""
    data["text_en"] = None
    return await _back_to_preview(ctx, data)


@ACTIONS.on("ed_back")
async def _edit_back(ctx: Ctx, data: dict[str, Any], arg: str) -> list[Reply]:
    """Leaves the text as it was, back to the preview."""
    return await _back_to_preview(ctx, data, intro=ctx.t("broadcasts.edit.unchanged"))


@ACTIONS.on("confirm")
async def _confirmed(ctx: Ctx, data: dict[str, Any], arg: str) -> Reply | list[Reply]:
    """Creates the broadcast, re-checking the scope and the audience first."""
    return await _confirm(ctx, data)


async def _confirm(ctx: Ctx, data: dict[str, Any]) -> Reply | list[Reply]:
    # The scope is read again here: it may have changed since the draft was started.
    scope = await province_scope(ctx)
    if scope is not None and not scope:
        await ctx.store.clear_state(ctx.user.id)
        return no_province_yet(ctx)
    audience = own_audience(scope, audience_of(data))
    if not audience_in_scope(scope, audience):
        outside = [p for p in audience.provinces if scope is not None and p not in scope]
        data["provinces"] = []
        await _save(ctx, Step.AUDIENCE, data)
        return await _audience_screen(
            ctx,
            data,
            intro=ctx.t(
                "broadcasts.compose.provinces_out_of_scope",
                names=", ".join(province_name(p, ctx.lang) for p in outside),
                allowed=scope_names(scope or frozenset(), ctx.lang),
            ),
        )
    if not audience.valid or not data.get("text_vi"):
        await _save(ctx, Step.AUDIENCE, data)
        return await _audience_screen(ctx, data, intro=ctx.t("broadcasts.compose.audience_required"))
    now = _now()
    first, cron, starts, until = _schedule(ctx, data, now)
    if data.get("when") == "at" and first <= now:
        await _save(ctx, Step.AT, data)
        return await show_step(ctx, Step.AT, data, intro=ctx.t("broadcasts.compose.in_the_past"))
    broadcast = await ctx.store.create_broadcast(
        NewBroadcast(
            text_vi=data["text_vi"],
            text_en=data.get("text_en") or None,
            audience=audience,
            run_at=first.astimezone(UTC),
            created_by=ctx.user.id,
            cron=cron,
            starts_at=starts.astimezone(UTC) if starts else None,
            until=until.astimezone(UTC) if until else None,
            photo_ref=data.get("photo_ref") or None,
            photo_ref_channel=data.get("photo_channel") or None,
        )
    )
    await ctx.store.clear_state(ctx.user.id)
    await ctx.store.audit(
        ctx.user.id,
        "broadcast.create",
        f"broadcast:{broadcast.id}",
        {
            "kind": broadcast.kind.value,
            "audience": audience.to_json(),
            "run_at": first.isoformat(),
            "photo": broadcast.photo_id is not None,
        },
    )
    logger.info("user %s created broadcast %s (%s)", ctx.user.id, broadcast.id, broadcast.kind)
    await notify_changed(ctx, broadcast.id)
    show = Button(ctx.t("broadcasts.manage.show_button", id=broadcast.id), payload("bcm", "show", broadcast.id))
    return Reply(
        ctx.t("broadcasts.compose.created", id=broadcast.id, at=format_local(first, _tz(ctx))),
        buttons=[[show], ctx.back_button()],
    )


def register(router: Router) -> None:
    router.flow(FLOW, min_role=Role.ORGANIZER, on_cancel=on_cancel)(on_text)
    router.button("bcc", min_role=Role.ORGANIZER, actions=ACTIONS)(on_button)
