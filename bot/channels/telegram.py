"""Telegram channel on python-telegram-bot 22: updates in, neutral replies out.

Long polling by default; in webhook mode the shared web server feeds PTB's
`update_queue` (PTB's documented pattern for a custom ASGI server).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.broadcast.limits import ChannelLimiter, Priority
from bot.channels import http as channel_http
from bot.channels.base import ChannelRegistry
from bot.channels.journal import InboundJournal
from bot.channels.ordering import BackgroundHandler, UserQueues
from bot.config import TelegramSection
from handlers.dispatcher import Dispatcher
from handlers.i18n import LANGUAGES, Catalog
from handlers.router import Router
from handlers.text import split_message, text_length
from handlers.types import Channel, Inbound, InboundKind, InboundPhoto, Reply
from storage import Role, Store

logger = logging.getLogger(__name__)

NAME = Channel.TELEGRAM
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# How long `stop` waits for detached replies still going out before cancelling them.
STOP_TIMEOUT = 20.0


# PTB's own semaphore is taken before `do_process_update`, that is before the per-user
# queue: it is made wide enough never to bind, and `UserQueues` caps the handlers instead.
_UNBOUNDED = 2**31 - 1


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Handle one user's updates one at a time and in order; different users concurrently.

    Without this a worker who taps two buttons quickly could have the second handled
    before the first has saved its form step. A user's backlog waits in its own queue
    without taking one of the `max_concurrent_updates` slots (see bot/channels/ordering.py).
    """

    def __init__(self, max_concurrent_updates: int = 256, key: Callable[[object], object] | None = None) -> None:
        super().__init__(_UNBOUNDED)
        self._queues = UserQueues(max_concurrent_updates)
        self._key = key or _ordering_key

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await self._queues.run(self._key(update), coroutine)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _journal_entry(update: Update) -> tuple[str, str, Any]:
    user_ref = _ordering_key(update)
    return str(update.update_id), str(user_ref if isinstance(user_ref, int) else ""), update.to_dict()


class JournalingQueue(asyncio.Queue[object]):
    """PTB's update queue; every update is in the inbound journal before Telegram forgets it.

    Polling: `_JournalingPoller` writes each getUpdates batch down in one transaction as
    it arrives, before PTB puts it here and before the next getUpdates confirms it.
    Webhook: `put` writes the update down before the endpoint answers 200. Either way
    a redelivery (already journaled or handled) is dropped here, before any handler.
    """

    def __init__(self, journal: InboundJournal) -> None:
        super().__init__()
        self.journal = journal
        self._verdicts: dict[int, bool] = {}  # update_id -> fresh, for a journaled batch

    async def receive_batch(self, updates: list[Update]) -> None:
        verdicts = await self.journal.receive_patiently([_journal_entry(u) for u in updates])
        self._verdicts.update((u.update_id, fresh) for u, fresh in zip(updates, verdicts, strict=True))

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            fresh = self._verdicts.pop(item.update_id, None)
            if fresh is None:
                fresh = (await self.journal.receive_many([_journal_entry(item)]))[0]
            if not fresh:
                logger.info("telegram: ignored repeated update %s", item.update_id)
                return
        await super().put(item)

    async def replay(self, update: Update) -> None:
        """Queue an update from the journal (already written down) for handling again."""
        await super().put(update)


class _JournalingPoller:
    """The bot as PTB's Updater sees it: `get_updates` journals each batch on arrival."""

    def __init__(self, bot: Any, queue: JournalingQueue) -> None:
        self._bot = bot
        self._queue = queue

    async def get_updates(self, *args: Any, **kwargs: Any) -> Any:
        updates = await self._bot.get_updates(*args, **kwargs)
        if updates:
            await self._queue.receive_batch(list(updates))
        return updates

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bot, name)


def _ordering_key(update: object) -> object:
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return ("chat", update.effective_chat.id)
    return ("other", id(update))


def to_inbound(update: Update) -> Inbound | None:
    """The neutral form of a Telegram update, or None for updates we do not act on."""
    if update.callback_query is not None:
        q = update.callback_query
        chat_id = q.message.chat.id if q.message is not None else q.from_user.id
        return Inbound(
            NAME,
            str(q.from_user.id),
            InboundKind.BUTTON,
            payload=q.data or "",
            language=q.from_user.language_code,
            chat_id=str(chat_id),
        )
    msg = update.message
    if msg is None or msg.from_user is None:
        return None
    if msg.chat.type != "private":
        # Group chats are where the bot posts organizer alerts; it takes no input there.
        return None
    common: dict[str, Any] = {
        "language": msg.from_user.language_code,
        "chat_id": str(msg.chat.id),
    }
    if msg.text is not None:
        return Inbound.parse_text(NAME, str(msg.from_user.id), msg.text, **common)
    if msg.photo:
        # Sizes come smallest first: the last is the largest.
        return Inbound(
            NAME,
            str(msg.from_user.id),
            InboundKind.UNSUPPORTED,
            photo=InboundPhoto(msg.photo[-1].file_id, caption=msg.caption or ""),
            **common,
        )
    return Inbound(NAME, str(msg.from_user.id), InboundKind.UNSUPPORTED, **common)


def _markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row] for row in reply.buttons]
    )


def retry_after_seconds(error: RetryAfter) -> float:
    # PTB 22 warns when `retry_after` is read as a number; both forms mean seconds.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# What Telegram counts against the bot's messages per second (edits and chat actions
# are not paced, as the fake Bot API and Telegram's FAQ count only sent messages).
_PACED_METHODS = frozenset({"send_message", "send_photo", "send_document"})


class _Status:
    """A progress message edited in place (editMessageText)."""

    def __init__(self, bot: Any, chat_id: int, message_id: int) -> None:
        self._bot, self._chat_id, self._message_id = bot, chat_id, message_id

    async def edit(self, text: str) -> None:
        try:
            await self._bot.edit_message_text(text, chat_id=self._chat_id, message_id=self._message_id)
        except TelegramError:
            # Progress is a courtesy: a failed edit (deleted message, flood) must not stop
            # the export whose file is what the person is waiting for.
            logger.info("telegram: could not edit a status message in chat %s", self._chat_id, exc_info=True)


class _FloodPatientBot:
    """The bot's send methods, paced by the bot's one limiter and waiting out
    Telegram's flood control instead of failing.

    Replies take the limiter's turn with priority over broadcasts (bot/broadcast/limits.py),
    so both together stay within the limit. A reply refused with 429 was not
    delivered, so sending it again after `retry_after` cannot duplicate it; the pause
    applies to the whole limiter, broadcasts included.
    """

    MAX_WAITS = 3
    MAX_WAIT_SECONDS = 30.0

    def __init__(self, bot: Any, limiter: ChannelLimiter | None = None) -> None:
        self._bot = bot
        self._limiter = limiter

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._bot, name)
        limiter = self._limiter if name in _PACED_METHODS else None

        async def patient(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(self.MAX_WAITS + 1):
                if limiter is not None:
                    chat = str(args[0] if args else kwargs.get("chat_id", ""))
                    await limiter.acquire(chat, group=chat.startswith("-"), priority=Priority.REPLY)
                try:
                    try:
                        return await method(*args, **kwargs)
                    finally:
                        if limiter is not None:
                            limiter.sent(chat)
                except RetryAfter as e:
                    wait = retry_after_seconds(e)
                    if limiter is not None:
                        limiter.pause(wait)
                    if attempt == self.MAX_WAITS or wait > self.MAX_WAIT_SECONDS:
                        raise
                    logger.info("telegram: flood control on a reply, waiting %.1f s", wait)
                    await asyncio.sleep(wait)
            raise AssertionError("unreachable")

        return patient


class TelegramChannel:
    name: str = NAME

    def __init__(
        self,
        config: TelegramSection,
        dispatcher: Dispatcher,
        router: Router,
        catalog: Catalog,
        store: Store,
        registry: ChannelRegistry | None = None,
        *,
        limiter: ChannelLimiter | None = None,
    ) -> None:
        self.config = config
        # The bot token's one pacer, shared with the broadcast sender (None: unpaced).
        self.limiter = limiter
        self.dispatcher = dispatcher
        self.router = router
        self.catalog = catalog
        self.store = store
        self.registry = registry
        self.journal = InboundJournal(store, NAME)
        self.update_queue = JournalingQueue(self.journal)
        # Updates adopted from a dead process while this one runs (see `adopt_orphans`).
        self._adopted: set[int] = set()
        # Replies marked `detached` (handlers/types.py): sent after the sender's own, in
        # background tasks kept here, in order per recipient, and drained by `stop`.
        self.detached = BackgroundHandler(f"{NAME} detached")
        builder = (
            ApplicationBuilder()
            .token(config.token or "")
            .base_url(config.api_base_url)
            .base_file_url(config.file_base_url)
            .concurrent_updates(PerUserUpdateProcessor(key=self._queue_key))
            .update_queue(self.update_queue)
            # PTB's own pool sizes, with idle connections closed before the server does.
            .request(HTTPXRequest(connection_pool_size=256, httpx_kwargs={"limits": channel_http.limits(256)}))
            .get_updates_request(HTTPXRequest(connection_pool_size=1, httpx_kwargs={"limits": channel_http.limits(1)}))
        )
        if config.mode == "webhook":
            builder = builder.updater(None)
        self.application: Application = builder.build()
        if self.application.updater is not None:
            # PTB has no hook between getUpdates and the queue: a proxy stands in for the
            # Bot, journaling get_updates and passing everything else through.
            poller = _JournalingPoller(self.application.bot, self.update_queue)
            self.application.updater.bot = poller  # type: ignore[assignment]  # duck-typed Bot
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.username: str | None = None

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        app = self.application
        await app.initialize()
        self.username = app.bot.username
        await self._set_commands()
        await app.start()
        # Before new updates: what the last run left unfinished is handled first.
        await self._replay(running=False)
        if self.config.mode == "webhook":
            await app.bot.set_webhook(
                self.config.webhook_url,
                secret_token=self.config.webhook_secret,
                allowed_updates=["message", "callback_query", "my_chat_member"],
            )
            logger.info("telegram: webhook mode as @%s", self.username)
        else:
            assert app.updater is not None
            # A leftover webhook would make getUpdates fail with Conflict.
            await app.bot.delete_webhook()
            await app.updater.start_polling(
                allowed_updates=["message", "callback_query", "my_chat_member"],
            )
            logger.info("telegram: polling as @%s", self.username)

    async def adopt_orphans(self) -> int:
        """Handle what other processes on the database acknowledged and died without
        handling (bot/channels/journal.py); how many updates were taken over."""
        if not self.application.running:
            return 0
        return await self._replay(running=True)

    async def _replay(self, *, running: bool) -> int:
        count = 0
        for pending in await self.journal.unfinished():
            try:
                update = Update.de_json(pending.payload, self.application.bot)
            except (ValueError, TypeError, KeyError):
                logger.warning("telegram: dropped an unreadable journaled update %s", pending.key)
                await self.journal.finish(pending.key)
                continue
            if running:
                self._adopted.add(update.update_id)
            await self.update_queue.replay(update)
            count += 1
        return count

    def _queue_key(self, update: object) -> object:
        key = _ordering_key(update)
        if isinstance(update, Update) and update.update_id in self._adopted:
            # Adopted while running: kept in order by the database's turns, not queued
            # behind a newer update of the same user that is waiting for this one's turn.
            return ("adopted", key)
        return key

    async def stop(self) -> None:
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()  # waits for the updates in flight, which may detach replies
        await self.detached.drain(STOP_TIMEOUT)  # before the bot's HTTP client closes
        await app.shutdown()

    async def _set_commands(self) -> None:
        """The command menu in Vietnamese (default) and English, workers' commands only."""
        public = [(c, key) for c, key, role in self.router.advertised_commands() if role is Role.WORKER]
        for lang in LANGUAGES:
            commands = [BotCommand(c, self.catalog.t(lang, key)) for c, key in public]
            code = None if lang == "vi" else lang
            await self.application.bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=code)

    # -- webhook -----------------------------------------------------------
    def web_routes(self) -> list[BaseRoute]:
        if self.config.mode != "webhook":
            return []
        return [Route(self.config.webhook_path, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        expected = self.config.webhook_secret or ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return Response(status_code=403)
        if not self.application.running:
            # Starting or stopping: a 200 now would lose the update; Telegram retries a 503.
            return Response(status_code=503)
        # Input errors get 400, never 500: Telegram retries a 5xx for ever but gives up on a
        # 4xx after a few attempts and shows it in getWebhookInfo, so the operator sees it.
        # The log line names the problem only: the body may carry a worker's message.
        try:
            data = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:
            return self._bad_update("not JSON" if isinstance(exc, ValueError) else "nested too deep")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return self._bad_update("not an update object")
        try:
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            return self._bad_update(f"unreadable update ({type(exc).__name__})")
        try:
            await self.application.update_queue.put(update)
        except Exception:
            # Not written down, so not acknowledged: Telegram sends it again later.
            self.journal.outage.failed()
            return Response(status_code=503)
        self.journal.outage.recovered()
        return Response(status_code=200)

    @staticmethod
    def _bad_update(reason: str) -> Response:
        logger.warning("telegram: refused a webhook body: %s", reason)
        return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)

    # -- updates -----------------------------------------------------------
    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Repeats were dropped on receipt (JournalingQueue); the journal's marks are
        # explained in bot/channels/journal.py.
        key = str(update.update_id)
        self._adopted.discard(update.update_id)
        try:
            await self.journal.take_turn(key)
            await self._handle_update(update, key)
        except asyncio.CancelledError:
            raise  # stopping mid-way: the row stays and the update is handled at the next start
        except Exception:
            await self.journal.finish(key)  # the error handler apologises; a replay would fail again
            raise
        await self.journal.finish(key)

    async def _handle_update(self, update: Update, key: str) -> None:
        if update.my_chat_member is not None:
            await self._on_member_change(update)
            return
        inbound = to_inbound(update)
        if inbound is None:
            return
        if update.callback_query is not None:
            # Stop the button's spinner at once; the answer follows as a message.
            try:
                await update.callback_query.answer()
            except BadRequest:
                logger.info("telegram: callback query too old to answer")
        replies = await self.dispatcher.handle(inbound)
        if replies:
            # Handled: from here a crash must not answer again (see bot/channels/journal.py).
            await self.journal.handled(key)
        message_id = (
            update.callback_query.message.message_id
            if update.callback_query is not None and update.callback_query.message is not None
            else None
        )
        try:
            for reply in replies:
                if reply.sent_detached:
                    continue
                await self._render(inbound, reply, edit_message_id=message_id)
                message_id = None  # only the first reply may replace the pressed message
        finally:
            # Even when the sender's own replies failed: what the notices report was done.
            for reply in replies:
                if reply.sent_detached:
                    self._detach(reply)

    async def _on_member_change(self, update: Update) -> None:
        change = update.my_chat_member
        assert change is not None
        if change.chat.type != "private":
            return
        user = await self.store.find_user(NAME, str(change.from_user.id))
        if user is not None:
            blocked = change.new_chat_member.status == "kicked"
            await self.store.set_reachable(user.id, not blocked)
            logger.info("telegram: user %s %s the bot", user.id, "blocked" if blocked else "unblocked")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("telegram: error while handling an update", exc_info=context.error)
        if not isinstance(update, Update) or update.effective_user is None:
            return
        user_id = str(update.effective_user.id)
        chat_id = update.effective_chat.id if update.effective_chat else update.effective_user.id
        try:
            apology = await self.dispatcher.apology(NAME, user_id)
            await self.application.bot.send_message(chat_id, apology.text)
        except TelegramError:
            logger.warning("telegram: could not send the apology to user %s", user_id)

    # -- replies -----------------------------------------------------------
    async def send(self, user_id: str, reply: Reply) -> None:
        await self._deliver(int(user_id), reply)

    async def send_status(self, user_id: str, text: str) -> _Status:
        bot = _FloodPatientBot(self.application.bot, self.limiter)
        message = await bot.send_message(int(user_id), text)
        return _Status(bot, int(user_id), message.message_id)

    async def _render(self, inbound: Inbound, reply: Reply, *, edit_message_id: int | None) -> None:
        if reply.to_user is not None:
            channel = reply.to_channel or NAME
            if channel == NAME:
                delivered = await self._send_quietly(reply.to_user, reply)
            else:
                delivered = self.registry is not None and await self.registry.deliver(channel, reply.to_user, reply)
            if not delivered and reply.on_failure is not None:
                await self._render(inbound, reply.on_failure, edit_message_id=None)
            return
        chat_id = int(inbound.chat_id or inbound.user_id)
        if (
            reply.edit
            and edit_message_id is not None
            and reply.photo is None
            and reply.photo_ref is None
            and reply.document is None
            and text_length(reply.text) <= TEXT_LIMIT
            and await self._try_edit(chat_id, edit_message_id, reply)
        ):
            return
        await self._deliver(chat_id, reply)

    def _detach(self, reply: Reply) -> None:
        assert reply.to_user is not None
        channel = reply.to_channel or NAME
        if not self.detached.submit((channel, reply.to_user), self._send_detached(channel, reply.to_user, reply)):
            logger.warning("telegram: stopping, a detached reply to %s:%s was not sent", channel, reply.to_user)

    async def _send_detached(self, channel: str, user_id: str, reply: Reply) -> None:
        # Paced and flood-patient like any reply (`_deliver`); a failure is logged where
        # it happens, without the text. No `on_failure` (see Reply.detached).
        if channel == NAME:
            await self._send_quietly(user_id, reply)
        elif self.registry is not None:
            await self.registry.deliver(channel, user_id, reply)
        else:
            logger.warning("telegram: no channel %s to deliver a detached reply to", channel)

    async def _send_quietly(self, user_id: str, reply: Reply) -> bool:
        try:
            await self._deliver(int(user_id), reply)
        except (TelegramError, ValueError):
            logger.warning("telegram: could not deliver a reply to user %s", user_id, exc_info=True)
            return False
        return True

    async def _try_edit(self, chat_id: int, message_id: int, reply: Reply) -> bool:
        try:
            await self.application.bot.edit_message_text(
                reply.text, chat_id=chat_id, message_id=message_id, reply_markup=_markup(reply)
            )
            return True
        except BadRequest as e:
            # "Not modified" is done; too old to edit, or deleted: send a fresh message instead.
            return "not modified" in str(e).lower()
        except Forbidden:
            raise
        except TelegramError:
            # Flood control or a network hiccup on the edit: the answer still goes out.
            logger.warning("telegram: could not edit a message, sending a new one", exc_info=True)
            return False

    async def _deliver(self, chat_id: int, reply: Reply) -> None:
        bot = _FloodPatientBot(self.application.bot, self.limiter)
        markup = _markup(reply)
        text = reply.text
        has_photo = reply.photo is not None or reply.photo_ref is not None
        if has_photo or reply.document is not None:
            # A caption holds 1,024 characters: a longer text starts under the media and
            # goes on in the next messages, where the buttons then go too.
            caption: str | None = text or None
            whole = caption is None or text_length(text) <= CAPTION_LIMIT
            if not whole:
                caption = split_message(text, CAPTION_LIMIT)[0]
                text = text[text.index(caption) + len(caption) :].strip()
            if has_photo:
                # A file id Telegram gave us (a photo an organizer sent) needs no upload.
                photo: InputFile | str = (
                    InputFile(reply.photo.data, filename=reply.photo.filename)
                    if reply.photo is not None
                    else reply.photo_ref or ""
                )
                await bot.send_photo(
                    chat_id,
                    photo,
                    caption=caption,
                    reply_markup=markup if whole else None,
                )
            if reply.document is not None:
                await bot.send_document(
                    chat_id,
                    InputFile(reply.document.data, filename=reply.document.filename),
                    caption=caption if not has_photo else None,
                    reply_markup=markup if whole and not has_photo else None,
                )
            if whole:
                return
        chunks = split_message(text, TEXT_LIMIT) or [""]
        for i, chunk in enumerate(chunks):
            if not chunk:
                continue
            last = i == len(chunks) - 1
            await bot.send_message(chat_id, chunk, reply_markup=markup if last else None)


__all__ = ["PerUserUpdateProcessor", "TelegramChannel", "to_inbound"]
