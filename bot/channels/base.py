"""What the composition root expects of a channel adapter."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from starlette.routing import BaseRoute

from handlers.types import Reply, StatusMessage


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


@runtime_checkable
class EditingChannel(Protocol):
    """A channel that can edit a message it sent (Telegram); others send status once."""

    async def send_status(self, user_id: str, text: str) -> StatusMessage:
        """Send `text` and return a handle that edits that same message."""


class _SentOnce:
    """The status of a channel that cannot edit what it sent: later texts are not sent,
    so a long job costs the person one message, not one per progress step."""

    async def edit(self, text: str) -> None:
        return None


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

    async def open_status(self, channel: str, user_id: str, text: str) -> StatusMessage | None:
        """Send a status message that later edits replace where the channel can (see
        handlers.types.StatusMessage); None if it could not be sent."""
        target = self.channels.get(channel)
        if target is None:
            logger.warning("no channel %s to send a status to", channel)
            return None
        try:
            if isinstance(target, EditingChannel):
                return await target.send_status(user_id, text)
            await target.send(user_id, Reply(text))
        except Exception:
            logger.warning("could not send a status to %s:%s", channel, user_id, exc_info=True)
            return None
        return _SentOnce()
