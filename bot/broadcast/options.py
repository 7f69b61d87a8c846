"""The broadcast handlers' view of the configuration (light: no network libraries)."""

from __future__ import annotations

from bot.config import Config
from handlers.broadcasts import BroadcastOptions, Topic


def broadcast_options(config: Config) -> BroadcastOptions:
    section = config.broadcast
    return BroadcastOptions(
        topics=tuple(Topic(t.id, t.name_vi, t.name_en, t.description_vi, t.description_en) for t in section.topics),
        timezone=config.bot.timezone,
        quiet_start=section.quiet_start,
        quiet_end=section.quiet_end,
        zalo_window_days=config.zalo.oa_window_days,
    )
