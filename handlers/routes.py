"""The route table: every feature wired in one visible place, and its listing
(`unionbot routes`).

Order matters only where noted: a feature that claims free text (the rights Q&A)
registers last so that forms keep their own text input.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers import broadcasts, care, console, core, listening, roles, shortcuts
from handlers.i18n import Catalog
from handlers.join import form, organizer, privacy, volunteer
from handlers.rights import chat as qa
from handlers.rights import inbox
from handlers.router import Router
from storage import Role


def build_router() -> Router:
    router = Router()
    core.register(router)
    roles.register(router)
    # Sign-ups: the form, volunteers, organizers' follow-up, /mydata and /forget.
    form.register(router)
    volunteer.register(router)
    organizer.register(router)
    privacy.register(router)
    router.menu_entry("join", "join")
    broadcasts.register(router)
    router.menu_entry("news", "news")
    # Quick polls and anonymous workplace reports (menu entry "report").
    listening.register(router)
    # Member care: benefits, programs with limited places, hardship support (menu entries inside).
    care.register(router)
    # Rights Q&A takes free text outside forms; questions it cannot answer go to the inbox.
    inbox.register(router)
    console.register(router)
    qa.register(router)
    # Free text outside forms is offered, in this order, to: a whole message "dừng" /
    # "stop" (unsubscribes), a typed answer to an open poll the person received ("2",
    # "1, 3", "đồng ý"), a short message naming a feature ("ưu đãi", "vé của tôi"); then
    # the rights Q&A (above) answers the rest.
    router.text_first(broadcasts.opt_out_words)
    router.text_first(listening.typed_answer)
    router.text_first(shortcuts.typed_feature)
    return router


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One line of `unionbot routes`: what the user sends, who may, what answers, and why."""

    kind: str  # command, button, action, menu, flow, text
    trigger: str  # "/join", "bcm:", "bcm:pause", "menu:join", "flow jf", "free text"
    min_role: Role | None
    handler: str  # module.function
    help: str  # the command menu's text, or the handler's first docstring line


def describe_routes(router: Router, catalog: Catalog, lang: str = "en") -> list[RouteInfo]:
    """Every route the router holds, read from the router itself (nothing listed by hand)."""
    rows: list[RouteInfo] = []
    first: dict[Any, str] = {}  # handler -> the command it was first registered as
    for name, route in router.commands.items():
        if route.describe:
            text = catalog.t(lang, route.describe)
        elif route.handler in first:
            text = f"the same as /{first[route.handler]}"
        else:
            text = _doc(route.handler)
        first.setdefault(route.handler, name)
        rows.append(RouteInfo("command", f"/{name}", route.min_role, _name(route.handler), text))
    for choice, command in router.menu_actions.items():
        target = router.commands.get(command)
        rows.append(
            RouteInfo(
                "menu",
                f"menu:{choice}",
                target.min_role if target else None,
                _name(target.handler) if target else "?",
                f"runs /{command}",
            )
        )
    for prefix, route in router.buttons.items():
        rows.append(RouteInfo("button", f"{prefix}:", route.min_role, _name(route.handler), _doc(route.handler)))
        for code, fn in route.actions.items():
            rows.append(RouteInfo("action", f"{prefix}:{code}", route.min_role, _name(fn), _doc(fn)))
    for flow, route in router.flows.items():
        rows.append(RouteInfo("flow", f"flow {flow}", route.min_role, _name(route.handler), _doc(route.handler)))
    for fn in [*router.text_filters, *([router.text_handler] if router.text_handler else [])]:
        rows.append(RouteInfo("text", "free text", Role.WORKER, _name(fn), _doc(fn)))
    return rows


def _name(fn: Callable[..., Any]) -> str:
    inner = getattr(fn, "__wrapped__", fn)
    return f"{inner.__module__}.{inner.__qualname__}"


def _doc(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(getattr(fn, "__wrapped__", fn)) or inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
