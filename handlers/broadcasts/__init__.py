"""Campaign broadcasts, the chat side: workers' subscriptions and opt-out, the
organizers' composer and management screens. Delivery itself lives in `bot.broadcast`.

Wiring, in `handlers/routes.py`:

    broadcasts.register(router)               # commands, buttons, the composer flow
    router.menu_entry("news", "news")         # the main menu's announcements button
    ...every feature that calls router.text(...)...
    broadcasts.register_opt_out_words(router)  # last: opt-out words before free text
"""

from __future__ import annotations

from handlers.broadcasts import compose, manage, subscriptions
from handlers.broadcasts.options import BroadcastControl, BroadcastOptions, Topic
from handlers.broadcasts.subscriptions import register_opt_out_words
from handlers.router import Router

__all__ = [
    "BroadcastControl",
    "BroadcastOptions",
    "Topic",
    "register",
    "register_opt_out_words",
]


def register(router: Router) -> None:
    subscriptions.register(router)
    compose.register(router)
    manage.register(router)
