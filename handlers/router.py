"""The route table's machinery: commands, buttons and multi-step flows, each with the
least role allowed to use it. Roles are checked on every call: a button payload
comes back from the user's device and is never trusted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from handlers.context import Ctx
from handlers.types import Inbound, InboundKind, Reply
from storage import ConversationState, Role

HandlerResult = Reply | list[Reply] | None
Handler = Callable[[Ctx], Awaitable[HandlerResult]]
# Puts a form held by a step back as the open form and asks its question again, after the
# note given (handlers/forms.py): the reply; None when there is nothing worth putting back.
Resumer = Callable[[Ctx, ConversationState, str | None], Awaitable[Reply | None]]

# Telegram limits callback_data to 64 bytes; payloads are "prefix:arg:arg".
MAX_PAYLOAD_BYTES = 64


A = TypeVar("A", bound=Callable[..., Awaitable[Any]])


class Actions(Generic[A]):
    """A button's second-level actions, one line each: `prefix:action:args` -> handler.

    A feature declares its table at module level with `@ACTIONS.on("code")` on each
    handler (whose docstring says what the user sees), looks the pressed action up with
    `get`, and registers the table with its prefix so `unionbot routes` lists every action.
    Handlers in one table share a signature of the feature's choosing (a form's handlers
    also get the form they act on).
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._table: dict[str, A] = {}

    def on(self, *codes: str) -> Callable[[A], A]:
        def register(fn: A) -> A:
            for code in codes:
                if code in self._table:
                    raise ValueError(f"button action {self.prefix}:{code} registered twice")
                self._table[code] = fn
            return fn

        return register

    def get(self, code: str) -> A | None:
        return self._table.get(code)

    def __iter__(self) -> Iterator[tuple[str, A]]:
        return iter(self._table.items())


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    min_role: Role = Role.WORKER
    describe: str | None = None  # catalog key: listed in the platform's command menu
    # Second-level button actions (for `unionbot routes`); the handler dispatches them.
    actions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OneMessageStep:
    """A flow that takes the next message whole and unchecked as what the user means to
    send (a question for the officers, an answer to a worker, a note). Any command or
    button other than its own leaves it: otherwise a question typed after /start or
    /inbox would go out as that message. /cancel always keeps it, to say it cancelled."""

    commands: frozenset[str] = frozenset()  # besides /cancel: commands that (re)open it
    # Its own prompt's buttons: "prefix" (every action) or "prefix:action" (that one only).
    buttons: frozenset[str] = frozenset()

    def kept_by(self, inbound: Inbound) -> bool:
        if inbound.kind is InboundKind.COMMAND:
            return inbound.command == "cancel" or inbound.command in self.commands
        if inbound.kind is InboundKind.BUTTON:
            prefix, action = [*inbound.payload.split(":"), ""][:2]
            return prefix in self.buttons or f"{prefix}:{action}" in self.buttons
        return True


class Router:
    def __init__(self) -> None:
        self.commands: dict[str, Route] = {}
        self.buttons: dict[str, Route] = {}
        self.flows: dict[str, Route] = {}
        self.one_message: dict[str, OneMessageStep] = {}
        self.cancel_handlers: dict[str, Handler] = {}
        self.resumers: dict[str, Resumer] = {}
        self.text_handler: Handler | None = None
        # Tried in order on free text before text_handler; None passes the text on.
        self.text_filters: list[Handler] = []
        self.menu_actions: dict[str, str] = {}  # main-menu choice -> command it runs

    def command(
        self, *names: str, min_role: Role = Role.WORKER, describe: str | None = None
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for i, name in enumerate(names):
                if name in self.commands:
                    raise ValueError(f"command /{name} registered twice")
                # Only the first name is advertised; the others are aliases.
                self.commands[name] = Route(fn, min_role, describe if i == 0 else None)
            return fn

        return register

    def button(
        self, prefix: str, *, min_role: Role = Role.WORKER, actions: Actions[Any] | None = None
    ) -> Callable[[Handler], Handler]:
        if ":" in prefix:
            raise ValueError("a button prefix cannot contain ':'")

        def register(fn: Handler) -> Handler:
            if prefix in self.buttons:
                raise ValueError(f"button prefix {prefix!r} registered twice")
            self.buttons[prefix] = Route(fn, min_role, actions=dict(actions or ()))
            return fn

        return register

    def flow(
        self,
        name: str,
        *,
        min_role: Role = Role.WORKER,
        one_message: OneMessageStep | None = None,
        on_cancel: Handler | None = None,
        on_resume: Resumer | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the handler for text typed while the user is inside flow `name`;
        `one_message` when the flow is a OneMessageStep; `on_cancel` answers /cancel there
        when "what you were typing was erased" would not be true; `on_resume` makes the
        flow's form one that a short step opened over it holds and puts back, instead of
        replacing it (handlers/forms.py)."""

        def register(fn: Handler) -> Handler:
            self.flows[name] = Route(fn, min_role)
            if one_message is not None:
                self.one_message[name] = one_message
            if on_cancel is not None:
                self.cancel_handlers[name] = on_cancel
            if on_resume is not None:
                self.resumers[name] = on_resume
            return fn

        return register

    def text(self, fn: Handler) -> Handler:
        """Free text outside any flow (the rights Q&A once it is registered)."""
        self.text_handler = fn
        return fn

    def text_first(self, fn: Handler) -> Handler:
        """Let `fn` see free text (outside forms) before the free-text handler, in the
        order registered; it returns None for text that is not its own."""
        self.text_filters.append(fn)
        return fn

    async def free_text(self, ctx: Ctx) -> HandlerResult:
        """Free text outside forms: the text filters in order, then the free-text handler;
        None when nothing is registered to take it."""
        for text_filter in self.text_filters:
            claimed = await text_filter(ctx)
            if claimed is not None:
                return claimed
        if self.text_handler is not None:
            return await self.text_handler(ctx)
        return None

    def menu_entry(self, choice: str, command: str) -> None:
        """Make the main menu's `choice` button run `/command`."""
        self.menu_actions[choice] = command

    def advertised_commands(self) -> list[tuple[str, str, Role]]:
        """(command, catalog key of its description, least role) for setMyCommands."""
        return [(n, r.describe, r.min_role) for n, r in self.commands.items() if r.describe]


def payload(prefix: str, *parts: object) -> str:
    text = ":".join([prefix, *map(str, parts)])
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"button payload too long: {text!r}")
    return text


def as_replies(result: HandlerResult) -> list[Reply]:
    if result is None:
        return []
    if isinstance(result, Reply):
        return [result]
    return list(result)
