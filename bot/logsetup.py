"""Logging configured in one place, safe at every level, DEBUG included.

Workers' names, phone numbers, questions, notes and answers, and the secrets in the
environment, must never reach a log line. Three layers keep them out:

1. Our own code logs ids and counts only, never a text a person typed.
2. Libraries that dump whole updates, request parameters, URLs or SQL parameters
   (python-telegram-bot logs each update and each API call's parameters at DEBUG, httpx
   each URL with the bot token at INFO, aiosqlite each statement at DEBUG, ...) are capped
   at WARNING, and the handler's filter drops any record below WARNING that does not come
   from this project's packages, so a library we have not listed cannot leak either.
3. The same filter redacts what is left: every secret from the configuration (and any
   registered at run time), Telegram bot tokens and `/bot<token>/` URLs, values of
   token/secret/password fields, and Vietnamese phone numbers in any common spelling;
   the message, its arguments and any traceback alike.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from collections.abc import Iterable
from typing import IO, Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Our packages: their records pass at any level (redacted); everything else needs WARNING.
OWN_LOGGERS = ("bot", "handlers", "storage", "unionbot", "__main__")
# Capped at WARNING even when the bot runs at DEBUG (see the module docstring).
NOISY_LOGGERS = (
    "telegram",
    "telegram.ext",
    "telegram.ext.ExtBot",
    "telegram.ext.Application",
    "telegram.ext.Updater",
    "telegram.Bot",
    "telegram._bot",
    "httpx",
    "httpcore",
    "hpack",
    "h11",
    "h2",
    "aiosqlite",
    "apscheduler",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "starlette",
    "multipart",
    "PIL",
    "matplotlib",
    "openpyxl",
    "asyncio",
)
# Field names whose values are secrets wherever they appear (URLs, JSON, headers, reprs).
SECRET_FIELDS = (
    "access_token",
    "refresh_token",
    "bot_token",
    "token",
    "secret_key",
    "app_secret",
    "oa_secret_key",
    "secret",
    "secret_token",
    "webhook_secret",
    "password",
    "api_key",
    "x-telegram-bot-api-secret-token",
    "x-bot-api-secret-token",
    "authorization",
)
# Config fields holding a secret: the name says so.
_SECRET_NAME = re.compile(r"token|secret|password|api_key", re.IGNORECASE)
_MIN_SECRET = 6  # shorter "secrets" would redact ordinary words

REDACTED = "[redacted]"
PHONE = "[phone]"

_TELEGRAM_TOKEN = re.compile(r"(?<![\w])\d{4,15}:[A-Za-z0-9_-]{20,}")
_BOT_URL = re.compile(r"/bot[^/\s\"']+/")
_FIELD_NAMES = "|".join(re.escape(f) for f in sorted(SECRET_FIELDS, key=len, reverse=True))
_FIELDS = re.compile(
    rf"(?P<key>(?:{_FIELD_NAMES}))(?P<sep>[\"']?\s*(?:=|:)\s*(?:[\"']|Bearer\s+)?)(?P<value>[^\s\"'&,;}}\]]+)",
    re.IGNORECASE,
)
# Vietnamese numbers as people write them: 0912345678, 0912 345 678, 0912.345.678,
# +84 912 345 678, (+84) 912-345-678, 84912345678; any other + number of 8-15 digits.
_SEP = r"[\s.\-()]*"
_PHONE_VN = re.compile(rf"(?<![\w+])(?:\(?\+?84\)?{_SEP}(?:\(?0\)?{_SEP})?|0{_SEP})[1-9](?:{_SEP}\d){{7,9}}(?![\w])")
_PHONE_INTL = re.compile(rf"(?<![\w])\+{_SEP}\d(?:{_SEP}\d){{7,14}}(?![\w])")

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """A secret learned at run time (e.g. a refreshed access token): redact it from now on."""
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            _secrets.add(value)


def secrets_of(config: Any) -> list[str]:
    """Every secret in a configuration object: string fields named like a secret,
    found through nested dataclasses (new sections and fields are picked up too)."""
    found: list[str] = []

    def walk(obj: Any) -> None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            return
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name, None)
            if isinstance(value, str) and _SECRET_NAME.search(f.name) and value:
                found.append(value)
            elif dataclasses.is_dataclass(value):
                walk(value)

    walk(config)
    return found


def redact(text: str) -> str:
    """The text with secrets and phone numbers replaced."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _BOT_URL.sub(f"/bot{REDACTED}/", text)
    text = _TELEGRAM_TOKEN.sub(REDACTED, text)
    text = _FIELDS.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    text = _PHONE_VN.sub(PHONE, text)
    return _PHONE_INTL.sub(PHONE, text)


def _own(name: str) -> bool:
    return name == "root" or any(name == p or name.startswith(p + ".") for p in OWN_LOGGERS)


class RedactingFilter(logging.Filter):
    """On a handler: drops third-party chatter below WARNING and redacts the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING and not _own(record.name):
            return False
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template, never the arguments
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _OwnHandler(logging.StreamHandler[IO[str]]):
    """The handler setup_logging adds; a second setup replaces it instead of adding one."""


def setup_logging(level: str = "INFO", *, stream: IO[str] | None = None, secrets: Iterable[str | None] = ()) -> None:
    """Log to stderr (or `stream`) through the redacting filter.

    Like logging.basicConfig, adds its handler only when the root logger has none (or a
    stream is given); the filter goes on every root handler either way.
    """
    for secret in secrets:
        register_secret(secret)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(old)
    if stream is not None or not root.handlers:
        ours = _OwnHandler(stream)
        ours.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(ours)
        root.setLevel(level.upper())
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
