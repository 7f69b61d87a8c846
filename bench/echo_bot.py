"""A bare python-telegram-bot echo bot: the baseline for bench_telegram_throughput.py.

Same PTB version and polling as unionbot, no store and no logic. ECHO_CONCURRENCY sets
PTB's concurrent_updates: 1 is PTB's default (one update at a time), 256 matches the
number of updates unionbot may handle at once.
"""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


def main() -> None:
    base = os.environ["TELEGRAM_API_BASE_URL"]
    app = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(base)
        .base_file_url(base.replace("/bot", "/file/bot"))
        .concurrent_updates(int(os.environ.get("ECHO_CONCURRENCY", "256")))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(allowed_updates=["message"])


if __name__ == "__main__":
    main()
