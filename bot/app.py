"""The composition root: builds the store, handlers and channels, runs them, and
takes them down in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Protocol

from bot.broadcast.options import broadcast_options
from bot.channels.base import ChannelAdapter, ChannelRegistry
from bot.config import Config
from bot.web import WebServer, build_web_app
from handlers.context import Services, Settings
from handlers.dispatcher import Dispatcher
from handlers.i18n import load_catalog
from handlers.rights import chat as qa
from handlers.router import Router
from handlers.routes import build_router
from storage import Channel, Store, open_store

logger = logging.getLogger(__name__)


def build_settings(config: Config, *, bot_username: str | None = None) -> Settings:
    return Settings(
        default_language=config.bot.default_language,
        timezone=config.bot.timezone,
        admins=frozenset((Channel.TELEGRAM, str(a)) for a in config.telegram.admins),
        hotline=config.union.hotline,
        office=config.union.office,
        bot_username=bot_username,
        flood_messages=config.limits.flood_messages,
        flood_window_seconds=config.limits.flood_window_seconds,
        answer_within_hours=config.rights.answer_within_hours,
        join_retention_months=config.join.retention_months,
        join_alert_chats=tuple((p, tuple(c)) for p, c in sorted(config.join.alert_chats.items())),
        rights_extra_dir=config.rights.extra_dir or None,
    )


class Service(Protocol):
    """A long-running part of the bot beside the channels (scheduler, delivery engine)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Runtime:
    """Owns the store and the handler services for one run of the program."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: Store = open_store(config.storage.path, pool_size=config.storage.pool_size)
        self.router: Router = build_router()
        self.services = Services(self.store, load_catalog(), build_settings(config))
        self.dispatcher = Dispatcher(self.services, self.router)
        self.registry = ChannelRegistry()
        # Topics and quiet hours for the broadcast screens, in every mode (also the local chat).
        self.services.broadcast_options = broadcast_options(config)
        # Polls' k-anonymity and retention, reports' limits and early-warning thresholds.
        from bot.listening import listening_options

        self.services.listening_options = listening_options(config)
        # Exports run in a worker process that opens the database itself; progress notes
        # reach the organizer through the channel registry.
        from bot.export_worker import ProcessExporter

        self.exporter = ProcessExporter(config.storage.path)
        self.services.exporter = self.exporter
        self.services.deliver = self.registry.deliver
        self.services.open_status = self.registry.open_status
        # Set when something the bot cannot run without failed after start (serve() raises it).
        self.failed: BaseException | None = None
        # Set by serve() once every channel and service is up (tests and health wait on it).
        self.started = False
        self.web_port: int | None = None
        # The background services serve() started (health checks and tests look at them).
        self.services_running: list[Service] = []

    async def __aenter__(self) -> Runtime:
        await self.store.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.exporter.close()
        await self.store.close()

    def set_bot_username(self, username: str | None) -> None:
        self.services.settings = dataclasses.replace(self.services.settings, bot_username=username)

    def build_channels(self) -> list[ChannelAdapter]:

        channels: list[ChannelAdapter] = []
        if self.config.telegram.enabled:
            from bot.broadcast.wiring import telegram_limiter
            from bot.channels.telegram import TelegramChannel

            # One pacer per bot token: replies and broadcasts share it (replies first),
            # and on PostgreSQL every process's pacer shares the token's send slots.
            channels.append(
                TelegramChannel(
                    self.config.telegram,
                    self.dispatcher,
                    self.router,
                    self.services.catalog,
                    self.store,
                    self.registry,
                    limiter=telegram_limiter(self.config, self.store),
                )
            )
        zalo = self.config.zalo
        if zalo.bot_enabled:
            from bot.channels.zalo.adapter_bot import ZaloBotChannel

            channels.append(
                ZaloBotChannel(
                    zalo,
                    self.dispatcher,
                    self.store,
                    self.services.catalog,
                    self.registry,
                )
            )
        if zalo.oa_enabled:
            from bot.channels.zalo.adapter_oa import ZaloOAChannel

            channels.append(
                ZaloOAChannel(
                    zalo,
                    self.dispatcher,
                    self.store,
                    self.services.catalog,
                    self.registry,
                )
            )
        if zalo.bot_enabled or zalo.oa_enabled:
            from bot.broadcast.wiring import zalo_limiter
            from bot.channels.zalo.adapter_common import ZaloChannelBase

            for channel in channels:
                if isinstance(channel, ZaloChannelBase):
                    channel.limiter = zalo_limiter(self.config, self.store, channel.name)
        for channel in channels:
            self.registry.add(channel)
        return channels

    def build_services(self, channels: list[ChannelAdapter]) -> list[Service]:
        """Background services, started after the channels and stopped before them."""
        from bot.broadcast.senders import Sender
        from bot.broadcast.wiring import build_service, registry_notify, telegram_sender
        from bot.channels.telegram import TelegramChannel

        senders: dict[str, Sender] = {}
        for channel in channels:
            if isinstance(channel, TelegramChannel):
                # Broadcasts share the channel's bot (and its connection pool) but pace
                # themselves and use at most 16 of its 256 connections.
                senders[channel.name] = telegram_sender(
                    self.config,
                    channel.application.bot,
                    self.store,
                    limiter=channel.limiter,
                )
        if self.config.zalo.bot_enabled or self.config.zalo.oa_enabled:
            from bot.broadcast.zalo_sender import zalo_senders

            senders.update(zalo_senders(self.config, list(channels)))  # Zalo OA and Bot, when they run
        service = build_service(
            self.config,
            self.store,
            self.services.catalog,
            senders,
            notify=registry_notify(self.registry, self.services.catalog),
            # Schedules are fired by the leader only (below): several bot processes
            # may share one PostgreSQL database.
            lead_at_start=False,
        )
        self.services.broadcast_control = service
        from bot.care_outbox import CareOutbox
        from bot.listening import ListeningRetention

        if not self.config.listening.report_salt:
            # Said when the bot starts its services, not on every command-line call.
            logger.info("listening: UNIONBOT_REPORT_SALT not set; report limits start over at each restart")
        from bot.signup_retention import SignupRetention
        from handlers.broadcasts.schedule import QuietHours

        b = self.config.broadcast
        care = CareOutbox(
            self.store,
            self.services.catalog,
            self.registry.deliver,
            timezone=self.config.bot.timezone,
            quiet=QuietHours.parse(b.quiet_start, b.quiet_end, self.config.bot.timezone),
            retention_months=self.config.join.retention_months,
            started=service.changed,
        )
        care.purging = False  # until this process leads
        from bot.leadership import Leadership

        # Every process delivers (broadcast runs, care notices); the leader alone fires
        # schedules and runs the daily purges. Started after the senders and stopped
        # before them: a process shutting down hands leadership over while it can still
        # finish its runs; before the outbox, so a lone process purges in its first round.
        leadership = Leadership(
            self.store,
            [
                service,
                SignupRetention(self.store, self.config.join.retention_months),
                ListeningRetention(
                    self.store,
                    self.config.listening.answer_retention_days,
                    limit_days=self.config.listening.report_hash_days,
                ),
                care,
            ],
        )
        running: list[Service] = [service, leadership, care]
        if self.store.shared_by_processes:
            from bot.channels.journal import Adopting, InboundAdoption

            # Started after the channels (their start-up already took over what was left).
            adopting = [c for c in channels if isinstance(c, Adopting)]
            if adopting:
                running.append(InboundAdoption(adopting))
        return running

    async def health(self) -> dict:
        report: dict = {"schema": await self.store.schema_version()}
        # With several processes on one database, which one runs the scheduler.
        for service in self.services_running:
            if getattr(service, "name", None) == "leadership":
                report["leading"] = bool(getattr(service, "leading", False))
        return report


async def serve(
    runtime: Runtime, channels: list[ChannelAdapter], stop: asyncio.Event, *, web_server: bool = False
) -> None:
    """Run the channels (and the web server if one needs it, or `web_server`) until `stop` is set.

    Whenever the web server runs, it also serves the organizers' console under /console."""
    async with AsyncExitStack() as stack:
        routes = [r for ch in channels for r in ch.web_routes()]
        if routes or web_server or runtime.config.needs_web_server:
            from bot.console.app import CONSOLE_MAX_BODY, CONSOLE_PREFIX, console_mount

            routes.append(console_mount(runtime.services, runtime.registry))
            web = WebServer(
                build_web_app(
                    routes,
                    runtime.health,
                    max_body=runtime.config.server.max_body_bytes,
                    streamed={CONSOLE_PREFIX: CONSOLE_MAX_BODY},
                ),
                runtime.config.server.host,
                runtime.config.server.port,
            )
            await web.start()
            stack.push_async_callback(web.stop)
            runtime.web_port = web.port
            server = runtime.config.server
            runtime.services.console_url = server.public_url or f"http://{server.host}:{web.port}"
        # The knowledge base and its search index take a few seconds to build: a thread
        # builds them while the channels start, so the bot polls at once and answers
        # everything else meanwhile; the rights handlers wait for it (qa.ready). A CLI
        # command that never answers a question skips it.
        loading = asyncio.ensure_future(
            asyncio.to_thread(qa.RightsService.load, runtime.config.rights.extra_dir or None)
        )
        loading.add_done_callback(lambda task: _rights_built(task, runtime, stop))
        runtime.services.rights_loading = loading
        stack.push_async_callback(_settle_rights, loading)
        for channel in channels:
            await channel.start()
            stack.push_async_callback(channel.stop)
            username = getattr(channel, "username", None)
            if username:
                runtime.set_bot_username(username)
        for service in runtime.build_services(channels):
            await service.start()
            stack.push_async_callback(service.stop)
            runtime.services_running.append(service)
        logger.info("unionbot running: %s", ", ".join(c.name for c in channels))
        runtime.started = True
        try:
            await stop.wait()
        finally:
            runtime.started = False
        logger.info("shutting down")
        if runtime.failed is not None:
            raise runtime.failed


def _rights_built(task: asyncio.Future[qa.RightsService], runtime: Runtime, stop: asyncio.Event) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is None:
        runtime.services.rights = task.result()
        return
    # A knowledge base that does not load is a broken install, as it was when start-up
    # waited for it: say so and stop rather than fail every question.
    logger.critical("the rights knowledge base did not load: %s", error)
    runtime.failed = error
    stop.set()


async def _settle_rights(task: asyncio.Future[qa.RightsService]) -> None:
    """On the way out: the build's thread cannot be cancelled; let it end quietly."""
    with contextlib.suppress(Exception):
        await task


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-Unix: no signal handlers
            loop.add_signal_handler(sig, stop.set)
