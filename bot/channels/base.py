"""What the composition root expects of a channel adapter."""

from __future__ import annotations

import logging
from typing import Protocol

from starlette.routing import BaseRoute

from handlers.types import Reply


class ChannelAdapter(Protocol):
    name: str

    async def start(self) -> None:
        """Connect to the platform and begin receiving updates."""

    async def stop(self) -> None:
        """Stop receiving, finish what is in flight, release connections."""

    async def send(self, user_id: str, reply: Reply) -> None:
        """Deliver a reply to a user who did not just write (hand-off answers, alerts)."""

    def web_routes(self) -> list[BaseRoute]:
        """Routes this channel needs on the shared web server (webhooks)."""


logger = logging.getLogger(__name__)


class ChannelRegistry:
    """Lets one channel's handler reach a user on another channel."""

    def __init__(self) -> None:
        self.channels: dict[str, ChannelAdapter] = {}

    def add(self, channel: ChannelAdapter) -> None:
        self.channels[channel.name] = channel

    async def deliver(self, channel: str, user_id: str, reply: Reply) -> bool:
        """Send `reply` to a user on `channel`; False if it could not be delivered."""
        target = self.channels.get(channel)
        if target is None:
            logger.warning("no channel %s to deliver a reply to", channel)
            return False
        try:
            await target.send(user_id, reply)
        except Exception:
            # The sender is told through reply.on_failure; the platform's error is ours to log.
            logger.warning("could not deliver a reply to %s:%s", channel, user_id, exc_info=True)
            return False
        return True
