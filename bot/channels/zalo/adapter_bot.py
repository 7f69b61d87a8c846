"""The Zalo Bot platform channel ("zalo_bot"): updates in, neutral replies out.

Long polling by default: `getUpdates` hands out one update per call and forgets it,
so the loop goes straight back to polling and leaves the handling to background
tasks, one user's messages in order. In webhook mode Zalo posts each update to
/zalo/bot/webhook with the shared secret in X-Bot-Api-Secret-Token; the endpoint
answers at once and the same background handling follows.

Zalo may deliver an update twice; the store remembers `event_name:message_id` and
the second is dropped. Images arrive as links the bot does not read: they are
answered like a sticker on Telegram. Buttons become numbered choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Coroutine
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels import http as channel_http
from bot.channels.base import ChannelRegistry
from bot.channels.journal import Pending
from bot.channels.zalo.adapter_common import (
    MAX_WEBHOOK_BODY,
    STOP_TIMEOUT,
    ZaloChannelBase,
    from_journal,
    journal_payload,
)
from bot.channels.zalo.bot_client import (
    BOT_SECRET_HEADER,
    BotIdentity,
    BotUpdateKind,
    ZaloBotClient,
    ZaloBotUpdate,
    parse_bot_update,
    verify_bot_webhook_secret,
)
from bot.channels.zalo.errors import (
    MalformedPayload,
    RateLimited,
    ZaloAuthError,
    ZaloError,
    ZaloTransientError,
)
from bot.config import ZaloSection
from handlers.dispatcher import Dispatcher
from handlers.i18n import Catalog
from handlers.types import Channel, Inbound, InboundKind
from storage import Store

logger = logging.getLogger(__name__)

NAME = Channel.ZALO_BOT
WEBHOOK_PATH = "/zalo/bot/webhook"


class ZaloBotChannel(ZaloChannelBase):
    name: str = NAME
    # Poll loop backoff after a failed getUpdates: doubles from the first value up to
    # the second, with jitter so several bots do not retry in step.
    poll_backoff: tuple[float, float] = (1.0, 60.0)

    def __init__(
        self,
        config: ZaloSection,
        dispatcher: Dispatcher,
        store: Store,
        catalog: Catalog,
        registry: ChannelRegistry | None = None,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(dispatcher, store, catalog, registry)
        self.config = config
        self._http = http
        self._owns_http = http is None
        self.client: ZaloBotClient | None = None
        self.identity: BotIdentity | None = None
        self._poller: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        if self._http is None:
            self._http = channel_http.client()
        self.client = ZaloBotClient(self.config.bot_token or "", self.config.bot_api_base_url, self._http)
        self.identity = await self.client.get_me()
        # What the last run left unfinished goes first (bot/channels/journal.py).
        await self.adopt(running=False)
        if self.config.bot_mode == "webhook":
            await self.client.set_webhook(self.config.bot_webhook_url, self.config.bot_webhook_secret or "")
            logger.info("zalo bot: webhook mode as bot %s", self.identity.id)
        else:
            # getUpdates fails while a webhook is set (Zalo's rule).
            await self.client.delete_webhook()
            self._poller = asyncio.create_task(self._poll(), name="zalo-bot-poll")
            logger.info("zalo bot: polling as bot %s", self.identity.id)

    def _replay(self, pending: Pending) -> tuple[str, Coroutine[Any, Any, None]]:
        update = from_journal(ZaloBotUpdate, pending.payload)
        return update.user_id, self._on_update(update)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self.background.drain(STOP_TIMEOUT)
        await self.detached.drain(STOP_TIMEOUT)  # what the handling above detached
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- receiving ---------------------------------------------------------
    async def _poll(self) -> None:
        assert self.client is not None
        failures = 0
        while True:
            try:
                update = await self.client.get_updates(timeout=self.config.bot_poll_timeout)
            except asyncio.CancelledError:
                raise
            except RateLimited as exc:
                failures += 1
                delay = exc.retry_after or self._backoff(failures)
                logger.warning("zalo bot: rate limited while polling, waiting %.0f s", delay)
            except ZaloTransientError as exc:
                failures += 1
                delay = self._backoff(failures)
                logger.warning("zalo bot: polling failed (%s), retrying in %.0f s", exc, delay)
            except ZaloAuthError as exc:
                failures += 1
                delay = self.poll_backoff[1]
                logger.error("zalo bot: the token was refused (%s): check ZALO_BOT_TOKEN", exc.code)
            except ZaloError as exc:
                failures += 1
                delay = self._backoff(failures)
                logger.error("zalo bot: polling refused (%s), retrying in %.0f s", exc, delay)
            except Exception:
                # The loop is the channel: it must outlive any surprise.
                failures += 1
                delay = self._backoff(failures)
                logger.exception("zalo bot: unexpected error while polling")
            else:
                failures = 0
                if update is not None:
                    # Zalo forgets a polled update once handed out: wait for the store.
                    await self._accept(update, patient=True)
                continue
            await asyncio.sleep(delay)

    def _backoff(self, failures: int) -> float:
        first, cap = self.poll_backoff
        delay = min(cap, first * 2 ** (failures - 1))
        return delay * random.uniform(0.8, 1.2)

    def web_routes(self) -> list[BaseRoute]:
        if self.config.bot_mode != "webhook":
            return []
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        secret = request.headers.get(BOT_SECRET_HEADER)
        if not verify_bot_webhook_secret(secret, self.config.bot_webhook_secret or ""):
            logger.warning("zalo bot: webhook call with a wrong or missing secret")
            return Response(status_code=401)
        raw = await request.body()
        if len(raw) > MAX_WEBHOOK_BODY:
            return Response(status_code=413)
        try:
            update = parse_bot_update(raw)
        except MalformedPayload as exc:
            # Zalo would only send the same body again: take it and drop it.
            logger.warning("zalo bot: dropped an unreadable webhook body: %s", exc)
            return JSONResponse({"ok": True})
        if self.client is None or not await self._accept(update):
            return Response(status_code=503)  # not started, or stopping: Zalo retries later
        return JSONResponse({"ok": True})

    async def _accept(self, update: ZaloBotUpdate, *, patient: bool = False) -> bool:
        """Journal the update (before it is acknowledged), then hand it to the background.

        False when stopping or when the store is out of reach, before anything is
        written: the webhook answers 503 and Zalo retries. A redelivery is dropped here
        and acknowledged. `patient` (polling) waits for the store instead.
        """
        if self.background.closed:
            return False
        key = update.dedup_key
        entry = (key, update.user_id, journal_payload(update))
        if patient:
            fresh = (await self.journal.receive_patiently([entry]))[0]
        else:
            try:
                fresh = await self.journal.receive(*entry)
            except Exception:
                self.journal.outage.failed()  # not written down: the 503 makes Zalo retry
                return False
            self.journal.outage.recovered()
        if not fresh:
            logger.info("zalo bot: ignored a repeated update %s", update.message_id)
            return True
        # Closed meanwhile: the row stays and the next start handles it.
        self.background.submit(update.user_id, self.journaled(key, self._on_update(update, key)))
        return True

    async def _on_update(self, update: ZaloBotUpdate, key: str | None = None) -> None:
        key = key or update.dedup_key
        inbound = self.to_inbound(update)
        if inbound is None:
            return
        if inbound.kind is not InboundKind.UNSUPPORTED:
            await self._typing(inbound.chat_id or inbound.user_id)
        await self.handle(inbound, journal_key=key)

    def to_inbound(self, update: ZaloBotUpdate) -> Inbound | None:
        """The neutral form of an update, or None for updates the bot does not act on."""
        if update.is_bot or update.chat_type.upper() != "PRIVATE":
            # Groups are beta on Zalo and basic bots cannot join them; take no input there.
            return None
        if update.kind is BotUpdateKind.TEXT:
            return self.text_inbound(update.user_id, update.text, chat_id=update.chat_id)
        return Inbound(NAME, update.user_id, InboundKind.UNSUPPORTED, chat_id=update.chat_id)

    async def _typing(self, chat_id: str) -> None:
        assert self.client is not None
        try:
            await self.client.send_chat_action(chat_id, "typing")
        except ZaloError as exc:
            logger.info("zalo bot: typing indicator failed (%s)", exc.code)

    # -- sending -----------------------------------------------------------
    async def _send_text(self, to: str, text: str) -> object:
        if self.client is None:
            raise ZaloAuthError("the Zalo Bot channel is not started", method="sendMessage")
        return await self.client.send_message(to, text)

    # Photos: the Bot API takes an https URL only, and the bot's images (QR codes,
    # broadcast photos) are bytes with no public address, so `_photo_step` stays None
    # and the worker gets the text with a note instead.
