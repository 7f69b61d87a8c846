"""Multi-step forms kept between messages: what every form repeats, in one place.

A form lives in the user's conversation state (one per user: opening a form replaces
whatever was open), so it survives a restart of the bot and a user who walks away.
Every form needs the same four things, and each used to write them its own way:

- load the open form, and only its own flow's: the state may belong to another feature;
- refuse a button from an older copy of the form, by the id its buttons carry;
- drop a form left unanswered too long: a late message is more likely meant for
  something else, and answers held without consent must not linger;
- save the step the user is at, which also restarts the clock.

`FormFlow` describes one kind of form (its flow names, the data key of its id, how long it
waits); the steps and the answers stay the feature's own.

A short step opened over an unfinished form (the province question of /programs over the
sign-up form) would replace it, and what the user typed into the form would be lost. A
form whose flow has a resumer (`Router.flow(..., on_resume=...)`) is held instead by a
step declared `FormFlow(..., interrupts=True)`, under HELD in the step's own state; the
step's `end` puts it back and asks its question again, and /cancel in the step does too
(handlers/core.py). The form's own command or buttons reach it while it is held, and take
it back.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from handlers.context import Ctx
from handlers.router import Actions, as_replies
from handlers.text import fold
from handlers.types import Reply
from storage import ConversationState

StepAction = Callable[[Ctx, dict[str, Any], str], Awaitable[Reply | list[Reply]]]
ButtonAction = Callable[[Ctx, list[str]], Awaitable[Reply | list[Reply]]]


class Dated(Protocol):
    """Anything that knows when its form last moved: a stored state or a feature's form."""

    @property
    def updated_at(self) -> datetime | None: ...


# Typed at a question, these mean "I want to stop", not an answer (folded, see
# handlers.text.fold). Every form shares them; a form adds the phrases of its own verb.
_QUIT_COMMON = frozenset({"huy", "huy bo", "thoi", "dung", "dung lai", "stop", "cancel", "quit", "exit"})
# No person's name: at a name step "Huy" and "Dũng" ("dung") are answers, these never are.
_QUIT_NOT_NAMES = frozenset({"stop", "cancel", "quit", "exit"})


class QuitWords:
    """The words that mean "I want to stop" in one form: the common ones and `phrases`,
    the form's own ("thôi không đăng ký nữa"). A typed word never cancels a form (issue 9:
    "Huy" is a name); the form shows the way out and asks its question again, so a quit
    word is never stored as the answer (found by outside testers, as a company)."""

    __slots__ = ("anywhere", "at_name")

    def __init__(self, *phrases: str) -> None:
        self.anywhere = _QUIT_COMMON | {fold(p) for p in phrases}
        # Only phrases of several words are never a name ("thôi không đăng ký nữa").
        self.at_name = frozenset({w for w in self.anywhere if " " in w} | _QUIT_NOT_NAMES)

    def typed(self, text: str, *, name: bool = False) -> bool:
        """Whether `text` means "I want to stop". `name`: the answer may be a person's name."""
        return fold(text) in (self.at_name if name else self.anywhere)


# Where a step keeps the form it was opened over: {"flow", "step", "data", "at"}. The key
# and shape are /forget's too (handlers/join/privacy.py), which storage's erasure by phone
# already searches (`$.resume.flow`, `$.resume.data.phone`): a number typed into a held
# sign-up form is erased with the others. Stored in the database: never rename.
HELD = "resume"
# The flow of the rights Q&A's memory (the last question, the choices offered;
# handlers/rights/chat.py), where the menu's rights button parks a held form too.
QA_FLOW = "qa"
# A held form is gone this long after it last moved, however busy the state holding it is
# (the Q&A rewrites its row with every question): the sign-up form's own limit on answers
# kept without consent (handlers/join/form.FORM_TTL; a test keeps them equal). Storage's
# daily purge of states drops a row whose held form is this old (`purge_states`).
HELD_TTL = timedelta(days=7)


def hold(state: ConversationState) -> dict[str, Any]:
    """`state` in the shape a step holds it under HELD."""
    return {"flow": state.flow, "step": state.step, "data": dict(state.data), "at": state.updated_at.isoformat()}


def held_form(state: ConversationState | None) -> ConversationState | None:
    """The form held in `state`, with the time it last moved; None when there is none. One
    past its time is still returned, for its resumer to say it was erased (`held_expired`)."""
    return _held_in(state.data, state.user_id) if state is not None else None


def _held_in(data: Mapping[str, Any], user_id: int) -> ConversationState | None:
    held = data.get(HELD)
    if not isinstance(held, dict) or not isinstance(held.get("data"), dict):
        return None
    try:
        at = datetime.fromisoformat(str(held["at"]))
        flow, step = str(held["flow"]), str(held["step"])
    except (KeyError, ValueError):  # not a form set aside by this module or /forget
        return None
    return ConversationState(user_id, flow, step, dict(held["data"]), at)


def held_expired(held: ConversationState, *, now: datetime | None = None) -> bool:
    return held.updated_at is None or (now or datetime.now(UTC)) - held.updated_at > HELD_TTL


async def put_back(ctx: Ctx, held: ConversationState, *, note: str | None = None) -> Reply | None:
    """Put `held` back as the open form and ask its question again (after `note`), through
    its flow's resumer; None when nothing takes it (no resumer, a role the user no longer
    has, nothing answered in it yet), and the form stays dropped."""
    router = ctx.router
    resume = router.resumers.get(held.flow) if router is not None else None
    route = router.flows.get(held.flow) if router is not None else None
    if resume is None or route is None or ctx.role.rank < route.min_role.rank:
        return None
    return await resume(ctx, held, note)


async def answered_instead(ctx: Ctx, step: FormFlow, first: list[Reply] | None = None) -> list[Reply]:
    """`step` is left for the text to be answered as any other message (after `first`), and
    a form it held is put back before the answer: a step the text opens ("xe Tết về quê")
    holds it again (found in review: it found nothing to hold, and the draft was lost)."""
    assert ctx.router is not None
    held = held_form(await ctx.store.get_state(ctx.user.id))
    back = await step.end(ctx)
    answer = [*(first or []), *as_replies(await ctx.router.free_text(ctx))]
    if held is None or not back:
        return answer
    now = await ctx.store.get_state(ctx.user.id)
    if held_form(now) is not None:
        return answer  # held again by the step the text opened: put back when that ends
    if now is None or now.flow not in ctx.router.flows:
        # The Q&A keeps its memory in the one state, over the form: the form wins.
        again = await put_back(ctx, held)
        back = [again] if again is not None else []
    return [*answer, *back]


def new_form_id() -> str:
    """An id for a new copy of a form, for its buttons to carry."""
    # 6 URL-safe characters: unique enough per user, short enough for a 64-byte payload.
    return secrets.token_urlsafe(4)[:6]


class FormFlow:
    """One kind of multi-step form in the conversation state.

    `flows`: the flow names it is stored under (a form with variants, like /join and
    /collect, has several). `ttl`: how long it waits for the next answer; None waits
    until the retention worker purges it. `id_key`: the data key of the id its buttons
    carry; a state without it is not this form's. `interrupts`: a step that may open over
    an unfinished form (one with a resumer): it holds that form while it is open, and
    every way it ends calls `end`, which puts the form back.
    """

    __slots__ = ("flows", "id_key", "interrupts", "ttl")

    def __init__(
        self, *flows: str, ttl: timedelta | None = None, id_key: str | None = None, interrupts: bool = False
    ) -> None:
        if not flows:
            raise ValueError("a form needs at least one flow name")
        self.flows = flows
        self.ttl = ttl
        self.id_key = id_key
        self.interrupts = interrupts

    async def load(self, ctx: Ctx, *, form_id: str | None = None) -> ConversationState | None:
        """The user's open form of this kind, or None: nothing open, another flow's state,
        or (with `form_id`, from a pressed button) another copy of the form.

        A form of this kind held by a step opened over it is the user's open form too: it is
        taken back (the step is dropped), as the user went back to it. Its `updated_at` is
        still when it last moved, for `expired`."""
        state = await ctx.store.get_state(ctx.user.id)
        held = state is not None and state.flow not in self.flows
        if held:
            state = held_form(state)
        if state is None or state.flow not in self.flows:
            return None
        if self.id_key is not None and self.id_key not in state.data:
            return None
        if form_id is not None:
            if self.id_key is None:
                raise TypeError(f"form {self.flows[0]!r} has no id for its buttons to carry")
            # An empty id never matches: a truncated payload is not a press on this form.
            if not form_id or str(state.data[self.id_key]) != form_id:
                return None
        if held:
            await ctx.store.set_state(ctx.user.id, state.flow, state.step, state.data)
        return state

    def expired(self, form: Dated, *, now: datetime | None = None) -> bool:
        """Whether the form waited longer than its TTL for an answer."""
        if self.ttl is None or form.updated_at is None:
            return False
        return (now or datetime.now(UTC)) - form.updated_at > self.ttl

    async def expire(self, ctx: Ctx, form: Dated, *, now: datetime | None = None) -> bool:
        """Drop the form if it expired; True when it did, for the caller to say so."""
        if not self.expired(form, now=now):
            return False
        await ctx.store.clear_state(ctx.user.id)
        return True

    async def save(self, ctx: Ctx, step: str, data: Mapping[str, Any], *, flow: str | None = None) -> None:
        """Store the step the user is now at with the data so far (restarting the TTL).
        `flow` picks the variant when the form has several."""
        if flow is None:
            if len(self.flows) != 1:
                raise ValueError(f"say which of {self.flows} to save")
            flow = self.flows[0]
        elif flow not in self.flows:
            raise ValueError(f"{flow!r} is not one of {self.flows}")
        data = dict(data)
        if self.interrupts and HELD not in data:
            held = await self._to_hold(ctx)
            if held is not None:
                data[HELD] = held
        # str() of a StrEnum step is its value: what is stored, never the member's name.
        await ctx.store.set_state(ctx.user.id, flow, str(step), data)

    async def _to_hold(self, ctx: Ctx) -> dict[str, Any] | None:
        """What this step, being saved, holds: the unfinished form it opens over, or the one
        held by the state it replaces (itself, or another step: the form waits on)."""
        current = await ctx.store.get_state(ctx.user.id)
        if current is None or ctx.router is None:
            return None
        held = current.data.get(HELD)
        if isinstance(held, dict):
            return held
        if current.flow not in self.flows and current.flow in ctx.router.resumers:
            return hold(current)
        return None

    async def end(self, ctx: Ctx, data: Mapping[str, Any] | None = None) -> list[Reply]:
        """This step is over (done, sent, cancelled): its state is cleared, and the form it
        held is put back with its question asked again, the reply to send after the step's
        own. `data`: the step's data as loaded, when the store consumed the state with a
        submission. Another flow's state is left alone (nothing of this step is open)."""
        state = await ctx.store.get_state(ctx.user.id)
        if state is not None and state.flow not in self.flows:
            return []
        held = held_form(state) if state is not None else _held_in(data or {}, ctx.user.id)
        if state is not None:
            await ctx.store.clear_state(ctx.user.id)
        if held is None:
            return []
        back = await put_back(ctx, held)
        return [back] if back is not None else []


def step_buttons(
    form: FormFlow, actions: Actions[ButtonAction], misplaced: Callable[[Ctx, str, dict[str, Any]], Reply]
) -> Callable[..., Callable[[StepAction], StepAction]]:
    """`@button(code, *steps)` registers `<prefix>:<code>[:<arg>]`, a button of `form` valid
    at `steps` only. The handler gets the form's data and the argument. A press with no form
    open says the button expired; a press from an older screen gets `misplaced(ctx, step,
    data)`, which shows the step the form is really at."""

    def button(code: str, *steps: str) -> Callable[[StepAction], StepAction]:
        def register(fn: StepAction) -> StepAction:
            @functools.wraps(fn)
            async def action(ctx: Ctx, args: list[str]) -> Reply | list[Reply]:
                state = await form.load(ctx)
                if state is None:
                    return ctx.reply("fallback.button_expired")
                data = dict(state.data)
                if state.step not in steps:
                    return misplaced(ctx, state.step, data)
                return await fn(ctx, data, args[0] if args else "")

            actions.on(code)(action)
            return fn

        return register

    return button
