"""Logging configured in one place."""

from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO, and Telegram URLs contain the bot token;
    # aiosqlite logs every statement with its parameters (names, phone numbers) at DEBUG.
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram.ext.Updater", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
