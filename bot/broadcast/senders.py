"""Per-channel senders: turn a rendered broadcast into platform calls and platform
errors into the few outcomes the engine acts on.

    SendError
     ├── Throttled   the channel must pause `retry_after` s, then retry this message
     ├── RecipientGone   the user blocked the bot or is gone: mark them, never retry
     ├── Skipped       the platform will not take it for this user now (Zalo's window): skip
     ├── Rejected      permanent for this message (400): failed with the reason
     ├── Transient     timeout or server error: retry with backoff, bounded
     └── ChannelDown   the channel itself is unusable (bad token): stop, keep rows queued
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.broadcast.limits import ChannelLimiter, ChannelLimits
from bot.channels.telegram import retry_after_seconds
from handlers.text import split_message
from storage import Channel, Store
from storage.broadcasts import REASON_BLOCKED, BroadcastPhoto

logger = logging.getLogger(__name__)

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024


class SendError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Throttled(SendError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"flood: retry after {retry_after}")
        self.retry_after = retry_after


class RecipientGone(SendError):
    pass


class Skipped(SendError):
    """Not sent, by the platform's rule for this recipient (Zalo -230...): skipped with
    the reason, never retried, the user left reachable."""


class Rejected(SendError):
    pass


class Transient(SendError):
    pass


class ChannelDown(SendError):
    pass


@dataclass(frozen=True, slots=True)
class Part:
    """One platform message of a broadcast: text, or a photo with an optional caption."""

    text: str | None = None
    photo: BroadcastPhoto | None = None
    # Rows of (label, payload) choices under the message: a poll's answers. Inline
    # buttons on Telegram; numbered choices on Zalo (bot/channels/numbered.py).
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()


class Sender(Protocol):
    channel: str
    limits: ChannelLimits
    # The channel's one pacer when replies share it (bot/broadcast/limits.py); the
    # engine makes its own from `limits` when this is None.
    limiter: ChannelLimiter | None

    async def start(self) -> None:
        """Open what the sender owns (extra connections); called by the service."""

    async def stop(self) -> None: ...

    def plan(self, text: str, photo: BroadcastPhoto | None) -> list[Part]:
        """The messages one recipient gets, in order."""

    def is_group(self, chat_id: str) -> bool: ...

    async def send(self, chat_id: str, part: Part) -> None:
        """Send one part; raise a `SendError` subclass on failure."""


class TelegramSender:
    """Sends through python-telegram-bot: the channel's `application.bot`, plus optional
    extra `Bot`s with the same token ("lanes").

    Lanes exist for speed: httpx's connection pool costs CPU per request in proportion to
    the requests in flight on that pool (measured: 16 sends in flight cost 1.3 ms of CPU
    each on one pool, 0.7 ms on sixteen). At Telegram's free 30/s one lane carrying all
    sends is plenty; paid broadcasts (up to 1,000/s) give each send in flight its own
    lane. The sender owns the extra lanes and opens and closes them; the channel owns `bot`.
    """

    channel: str = Channel.TELEGRAM

    def __init__(
        self,
        bot: Bot,
        limits: ChannelLimits,
        *,
        paid_broadcast: bool = False,
        store: Store | None = None,
        extra_lanes: Sequence[Bot] = (),
        sends_per_lane: int = 16,
        limiter: ChannelLimiter | None = None,
    ) -> None:
        self.bot = bot
        self.limiter = limiter
        self.lanes = [bot, *extra_lanes]
        # One token per send a lane may carry at a time, interleaved across lanes.
        self._free: asyncio.Queue[Bot] = asyncio.Queue()
        for _ in range(sends_per_lane):
            for lane in self.lanes:
                self._free.put_nowait(lane)
        self.limits = limits
        # allow_paid_broadcast lifts the 30/s limit and bills Stars: only when configured.
        self._paid = True if paid_broadcast else None
        self.store = store
        self._file_ids: dict[int, str] = {}
        self._upload_locks: dict[int, asyncio.Lock] = {}

    async def start(self) -> None:
        for lane in self.lanes[1:]:
            await lane.initialize()

    async def stop(self) -> None:
        for lane in self.lanes[1:]:
            await lane.shutdown()

    def plan(self, text: str, photo: BroadcastPhoto | None) -> list[Part]:
        # An uploaded photo (bytes) or one an organizer sent in the chat (a file id only):
        # both go out by file id once Telegram knows it.
        if photo is not None and photo.available_on(self.channel):
            if len(text) <= TELEGRAM_CAPTION_LIMIT:
                return [Part(text=text, photo=photo)]
            # A long announcement with a photo: the photo first, then the text.
            return [Part(photo=photo), *(Part(text=c) for c in split_message(text, TELEGRAM_TEXT_LIMIT))]
        return [Part(text=c) for c in split_message(text, TELEGRAM_TEXT_LIMIT)]

    def is_group(self, chat_id: str) -> bool:
        return chat_id.startswith("-")

    async def send(self, chat_id: str, part: Part) -> None:
        try:
            if part.photo is not None:
                await self._send_photo(int(chat_id), part.photo, part.text)
            else:
                lane = await self._free.get()
                try:
                    await lane.send_message(
                        int(chat_id),
                        part.text or "",
                        allow_paid_broadcast=self._paid,
                        reply_markup=_markup(part),
                    )
                finally:
                    self._free.put_nowait(lane)
        except RetryAfter as e:
            raise Throttled(retry_after_seconds(e)) from e
        except Forbidden as e:
            # Blocked, deactivated, kicked: all mean this user cannot be reached now.
            raise RecipientGone(REASON_BLOCKED) from e
        except ChatMigrated as e:
            raise Rejected("bad_request: chat migrated") from e
        except (InvalidToken, EndPointNotFound, Conflict) as e:
            raise ChannelDown(f"channel: {e.message}") from e
        except BadRequest as e:
            raise Rejected(f"bad_request: {e.message}") from e
        except NetworkError as e:  # TimedOut and 5xx are NetworkErrors
            raise Transient(f"network: {e.message}") from e
        except TelegramError as e:
            raise Transient(f"network: {e.message}") from e

    async def _send_photo(self, chat_id: int, photo: BroadcastPhoto, caption: str | None) -> None:
        known = self._file_ids.get(photo.id) or photo.telegram_file_id
        if known:
            await self.bot.send_photo(chat_id, known, caption=caption, allow_paid_broadcast=self._paid)
            return
        if not photo.data:  # plan() leaves such a photo out; never upload an empty file
            raise Rejected("bad_request: photo has no file")
        # Upload once; every later recipient gets Telegram's file id instead of the bytes.
        lock = self._upload_locks.setdefault(photo.id, asyncio.Lock())
        async with lock:
            known = self._file_ids.get(photo.id)
            if known:
                await self.bot.send_photo(chat_id, known, caption=caption, allow_paid_broadcast=self._paid)
                return
            message: Message = await self.bot.send_photo(
                chat_id,
                InputFile(photo.data, filename=photo.filename),
                caption=caption,
                allow_paid_broadcast=self._paid,
            )
            if message.photo:
                file_id = message.photo[-1].file_id
                self._file_ids[photo.id] = file_id
                if self.store is not None:
                    await self.store.set_photo_file_id(photo.id, self.channel, file_id)


def _markup(part: Part) -> InlineKeyboardMarkup | None:
    if not part.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in part.buttons]
    )
