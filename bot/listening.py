"""Listening to workers, the bot side: options from the configuration and the daily
housekeeping that keeps the feature's privacy promises.

- Poll answers are linked to people only until the poll closes plus
  `[listening] answer_retention_days`; then they are folded into counts.
- Reporters' rate-limit hashes are dropped after `[listening] report_hash_days`.

Runs at start-up and once a day beside the channels; `unionbot poll purge` does the same.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.config import Config
from bot.periodic import PeriodicService
from handlers.listening.options import ListeningOptions
from storage import Store

__all__ = ["ListeningRetention", "listening_options", "purge_listening"]

logger = logging.getLogger(__name__)


def listening_options(config: Config) -> ListeningOptions:
    section = config.listening
    options = ListeningOptions(
        min_group=section.min_group,
        answer_retention_days=section.answer_retention_days,
        alert_threshold=section.alert_threshold,
        alert_window_days=section.alert_window_days,
        alert_workers=section.alert_workers,
        reports_per_day=section.reports_per_day,
        limit_days=section.report_hash_days,
    )
    # Without a configured salt the options keep the one made for this process.
    return replace(options, salt=section.report_salt.encode()) if section.report_salt else options


async def purge_listening(
    store: Store, retention_days: int, *, now: datetime | None = None, limit_days: int = 7
) -> tuple[int, int]:
    """(polls folded into counts, rate-limit rows dropped)."""
    now = now or datetime.now(UTC)
    polls = await store.aggregate_polls(ended_before=now - timedelta(days=retention_days))
    limits = await store.purge_report_limits(before=(now - timedelta(days=limit_days)).date())
    if polls:
        await store.audit(None, "poll.aggregate", "polls", {"polls": polls})
        logger.info("retention: answers of %s closed polls folded into counts", polls)
    return polls, limits


class ListeningRetention(PeriodicService):
    """A background service (see bot.app.Service): poll answers folded into counts daily."""

    name = "listening-retention"

    def __init__(
        self, store: Store, retention_days: int, *, limit_days: int = 7, every: timedelta = timedelta(days=1)
    ) -> None:
        super().__init__(every.total_seconds())
        self.store = store
        self.retention_days, self.limit_days = retention_days, limit_days

    async def run_once(self) -> None:
        await purge_listening(self.store, self.retention_days, limit_days=self.limit_days)
