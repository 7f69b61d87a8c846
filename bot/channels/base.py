"""What the composition root expects of a channel adapter."""

from __future__ import annotations

from typing import Protocol

from starlette.routing import BaseRoute

from handlers.types import Reply


class Channel(Protocol):
    name: str

    async def start(self) -> None:
        """Connect to the platform and begin receiving updates."""

    async def stop(self) -> None:
        """Stop receiving, finish what is in flight, release connections."""

    async def send(self, user_id: str, reply: Reply) -> None:
        """Deliver a reply to a user who did not just write (hand-off answers, alerts)."""

    def web_routes(self) -> list[BaseRoute]:
        """Routes this channel needs on the shared web server (webhooks)."""


class ChannelRegistry:
    """Lets one channel's handler reach a user on another channel."""

    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}

    def add(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def deliver(self, channel: str, user_id: str, reply: Reply) -> bool:
        target = self.channels.get(channel)
        if target is None:
            return False
        await target.send(user_id, reply)
        return True
