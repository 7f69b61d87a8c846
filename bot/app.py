"""The composition root: builds the store, handlers and channels, runs them, and
takes them down in reverse order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Protocol

from bot.channels.base import Channel, ChannelRegistry
from bot.config import Config
from bot.web import WebServer, build_web_app
from handlers.context import Services, Settings
from handlers.dispatcher import Dispatcher
from handlers.i18n import load_catalog
from handlers.router import Router
from handlers.routes import build_router
from storage import Store, open_store

logger = logging.getLogger(__name__)


def build_settings(config: Config, *, bot_username: str | None = None) -> Settings:
    return Settings(
        default_language=config.bot.default_language,
        timezone=config.bot.timezone,
        admins=frozenset(("telegram", str(a)) for a in config.telegram.admins),
        hotline=config.union.hotline,
        office=config.union.office,
        bot_username=bot_username,
        flood_messages=config.limits.flood_messages,
        flood_window_seconds=config.limits.flood_window_seconds,
    )


class Service(Protocol):
    """A long-running part of the bot beside the channels (scheduler, delivery engine)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Runtime:
    """Owns the store and the handler services for one run of the program."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Store = open_store(config.storage.path)
        self.router: Router = build_router()
        self.services = Services(self.store, load_catalog(), build_settings(config))
        self.dispatcher = Dispatcher(self.services, self.router)
        self.registry = ChannelRegistry()

    async def __aenter__(self) -> Runtime:
        await self.store.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.store.close()

    def set_bot_username(self, username: str | None) -> None:
        self.services.settings = dataclasses.replace(self.services.settings, bot_username=username)

    def build_channels(self) -> list[Channel]:
        channels: list[Channel] = []
        if self.config.telegram.enabled:
            from bot.channels.telegram import TelegramChannel

            channels.append(TelegramChannel(
                self.config.telegram, self.dispatcher, self.router, self.services.catalog,
                self.store, self.registry,
            ))
        for channel in channels:
            self.registry.add(channel)
        return channels

    def build_services(self, channels: list[Channel]) -> list[Service]:
        """Background services, started after the channels and stopped before them."""
        return []

    async def health(self) -> dict:
        return {"schema": await self.store.schema_version()}


async def serve(runtime: Runtime, channels: list[Channel], stop: asyncio.Event) -> None:
    """Run the channels (and the web server if one needs it) until `stop` is set."""
    async with AsyncExitStack() as stack:
        routes = [r for ch in channels for r in ch.web_routes()]
        if routes or runtime.config.needs_web_server:
            web = WebServer(
                build_web_app(routes, runtime.health),
                runtime.config.server.host, runtime.config.server.port,
            )
            await web.start()
            stack.push_async_callback(web.stop)
        for channel in channels:
            await channel.start()
            stack.push_async_callback(channel.stop)
            username = getattr(channel, "username", None)
            if username:
                runtime.set_bot_username(username)
        for service in runtime.build_services(channels):
            await service.start()
            stack.push_async_callback(service.stop)
        logger.info("unionbot running: %s", ", ".join(c.name for c in channels))
        await stop.wait()
        logger.info("shutting down")


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
