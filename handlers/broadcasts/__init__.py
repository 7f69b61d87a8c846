"""Campaign broadcasts, the chat side: workers' subscriptions and opt-out, the
organizers' composer and management screens. Delivery itself lives in `bot.broadcast`.

Wiring, in `handlers/routes.py`:

    broadcasts.register(router)               # commands, buttons, the composer flow
    router.menu_entry("news", "news")         # the main menu's announcements button
    router.text_first(broadcasts.opt_out_words)  # opt-out words before other free text
"""

from __future__ import annotations

from handlers.broadcasts import compose, edit, manage, subscriptions
from handlers.broadcasts.options import BroadcastControl, BroadcastOptions, Topic
from handlers.broadcasts.subscriptions import opt_out_words
from handlers.router import Router

__all__ = [
    "BroadcastControl",
    "BroadcastOptions",
    "Topic",
    "opt_out_words",
    "register",
]


def register(router: Router) -> None:
    subscriptions.register(router)
    compose.register(router)
    manage.register(router)
    edit.register(router)
