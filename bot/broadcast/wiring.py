"""Puts the broadcast pieces together, in one place, for the running bot
(`Runtime.build_services`) and for `unionbot broadcast send-due`."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from telegram import Bot

from bot.broadcast.clock import Clock, SystemClock
from bot.broadcast.engine import DeliveryEngine, EngineSettings, Notify
from bot.broadcast.limits import ChannelLimiter, ChannelLimits, SharedSlots
from bot.broadcast.options import broadcast_options
from bot.broadcast.senders import Sender, TelegramSender
from bot.broadcast.service import BroadcastService
from bot.channels.base import ChannelRegistry
from bot.config import BroadcastSection, Config
from handlers.broadcasts.render import summary_text
from handlers.i18n import Catalog
from handlers.types import Channel, Reply
from storage import Store, User
from storage.broadcasts import Broadcast, BroadcastStats

__all__ = [
    "bot_notify",
    "build_service",
    "engine_settings",
    "registry_notify",
    "shared_limiter",
    "telegram_limiter",
    "telegram_limits",
    "telegram_sender",
    "token_key",
    "zalo_limiter",
]


def telegram_limits(section: BroadcastSection) -> ChannelLimits:
    return ChannelLimits(rate=section.telegram_rate)


def shared_limiter(limits: ChannelLimits, store: Store, name: str) -> ChannelLimiter:
    """The limiter for one token; on a database several processes share, its departures
    also take global slots keyed by `name` (a token's hash), so that the processes
    together stay within `limits.rate`."""
    if not store.shared_by_processes or limits.rate is None:
        return ChannelLimiter(limits)
    per_second = limits.rate / (1.0 + limits.shared_margin)

    async def reserve(count: int) -> float:
        return await store.reserve_send_slots(name, per_second, count)

    async def pause(seconds: float) -> None:
        await store.pause_send_slots(name, seconds)

    return ChannelLimiter(limits, shared=SharedSlots(reserve, per_second, pause=pause))


def token_key(channel: str, token: str) -> str:
    """The send-slot key for a token: a hash, so the database never holds the token."""
    return f"{channel}:{hashlib.sha256(token.encode()).hexdigest()[:24]}"


def zalo_limiter(config: Config, store: Store, channel: str) -> ChannelLimiter:
    """A Zalo channel's one pacer, shared like Telegram's by every process on PostgreSQL:
    keyed by the OA's app id or the Zalo bot's token (hashed), whichever sends."""
    from bot.broadcast.zalo_sender import zalo_limits

    zalo = config.zalo
    identity = zalo.bot_token if channel == Channel.ZALO_BOT else zalo.oa_app_id
    return shared_limiter(zalo_limits(config), store, token_key(channel, identity or ""))


def telegram_limiter(config: Config, store: Store) -> ChannelLimiter:
    """The bot token's one pacer: replies and broadcasts, across processes on PostgreSQL."""
    return shared_limiter(telegram_limits(config.broadcast), store, token_key("telegram", config.telegram.token or ""))


# Paid broadcasts run up to 1,000/s: more connection pools keep the CPU per message low
# enough (see TelegramSender). At 30/s the channel's bot suffices.
PAID_LANES = 16


def telegram_sender(config: Config, bot: Bot, store: Store, *, limiter: ChannelLimiter | None = None) -> TelegramSender:
    """The broadcast sender for the channel's `bot`, with extra lanes for paid broadcasts."""
    section, tg = config.broadcast, config.telegram
    extra: list[Bot] = []
    if section.paid_broadcast and section.telegram_rate > 30:
        extra = [
            Bot(tg.token or "", base_url=tg.api_base_url, base_file_url=tg.file_base_url) for _ in range(PAID_LANES - 1)
        ]
    # 16 sends per lane: enough slots for the engine's workers (15 at 30/s, 256 paid).
    return TelegramSender(
        bot,
        telegram_limits(section),
        paid_broadcast=section.paid_broadcast,
        store=store,
        extra_lanes=extra,
        # `unionbot broadcast send-due` has no channel: its own pacer still shares the
        # token's slots with the running bots.
        limiter=limiter or telegram_limiter(config, store),
    )


def engine_settings(section: BroadcastSection) -> EngineSettings:
    return EngineSettings(resend_in_doubt=section.in_doubt == "resend", max_attempts=section.max_attempts)


def registry_notify(registry: ChannelRegistry, catalog: Catalog) -> Notify:
    """Organizers' summaries go out like any reply to them, through their own channel."""

    async def notify(user: User, broadcast: Broadcast, stats: BroadcastStats) -> None:
        text = summary_text(catalog, user.language, broadcast, stats)
        await registry.deliver(user.channel, user.external_id, Reply(text))

    return notify


def bot_notify(bot: Bot, catalog: Catalog) -> Notify:
    """Summaries from `unionbot broadcast send-due`, which has a Telegram bot but no channels."""

    async def notify(user: User, broadcast: Broadcast, stats: BroadcastStats) -> None:
        if user.channel == Channel.TELEGRAM:
            await bot.send_message(int(user.external_id), summary_text(catalog, user.language, broadcast, stats))

    return notify


def build_service(
    config: Config,
    store: Store,
    catalog: Catalog,
    senders: dict[str, Sender],
    *,
    notify: Notify | None = None,
    use_timers: bool = True,
    lead_at_start: bool = True,
    clock: Clock | None = None,
    settings: EngineSettings | None = None,
) -> BroadcastService:
    options = broadcast_options(config)
    engine = DeliveryEngine(
        store,
        catalog,
        senders,
        options.quiet,
        settings=settings or engine_settings(config.broadcast),
        clock=clock or SystemClock(),
        notify=notify,
    )
    return BroadcastService(
        store,
        engine,
        timezone=config.bot.timezone,
        missed_limit=timedelta(hours=config.broadcast.missed_limit_hours),
        use_timers=use_timers,
        lead_at_start=lead_at_start,
    )
