"""The console delivers detached replies (handlers/types.py) inline, after the sender's own."""

from __future__ import annotations

import io
from typing import Any

from bot.channels.console import ConsoleChannel
from handlers.types import Inbound, Reply


class _Dispatcher:
    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies

    async def handle(self, inbound: Inbound) -> list[Reply]:
        return self.replies


class _Registry:
    def __init__(self) -> None:
        self.delivered: list[tuple[str, str, str]] = []

    async def deliver(self, channel: str, user_id: str, reply: Reply) -> bool:
        self.delivered.append((channel, user_id, reply.text))
        return False  # could not be delivered: a detached reply tells nobody


async def test_detached_replies_are_shown_after_the_sender_s_own() -> None:
    replies = [
        Reply("notice to org", to_user="org", detached=True),
        Reply("elsewhere", to_channel="telegram", to_user="42", detached=True, on_failure=Reply("not delivered")),
        Reply("done"),
    ]
    out = io.StringIO()
    console: Any = ConsoleChannel(_Dispatcher(replies), "me", out=out)  # type: ignore[arg-type]
    console.registry = registry = _Registry()
    assert await console.handle_line("/forget 0912345678") == replies
    printed = out.getvalue()
    assert printed.index("done") < printed.index("notice to org")
    assert "not delivered" not in printed
    assert [(u, r.text) for u, r in console.delivered] == [("org", "notice to org")]
    assert registry.delivered == [("telegram", "42", "elsewhere")]
