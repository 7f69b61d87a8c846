"""The Zalo Official Account channel ("zalo_oa"): signed webhooks in, customer-service messages out.

Zalo posts every event to /zalo/oa/webhook. The endpoint checks X-ZEvent-Signature
over the raw body before reading anything (401 and nothing stored when it fails),
answers 200 at once, and handles the event in a background task, one worker's
events in order. Zalo redelivers events, so each is handled once per `msg_id`.

* user_send_text: the handlers' answer goes back through POST /v3.0/oa/message/cs.
* user_send_image: answered like a sticker on Telegram (the bot reads no images).
* follow: the welcome, exactly as if the worker had typed /start.
* unfollow: the worker is marked unreachable and taken off every broadcast.
* delivery and seen receipts: ignored.

Tokens rotate: `StoreTokenStore` keeps the pair in the bot's store, which writes a new
pair in one transaction before anyone uses it (see bot/channels/zalo/tokens.py).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.base import ChannelRegistry
from bot.channels.zalo.adapter_common import (
    MAX_WEBHOOK_BODY,
    STOP_TIMEOUT,
    Step,
    ZaloChannelBase,
    from_journal,
    journal_payload,
)
from bot.channels.zalo.errors import MalformedPayload, ZaloAuthError, ZaloPermanentError
from bot.channels.zalo.oa_client import ZaloOAClient
from bot.channels.zalo.tokens import TokenManager, TokenPair
from bot.channels.zalo.webhook import SIGNATURE_HEADER, OAEvent, OAEventKind, parse_oa_event, verify_oa_signature
from bot.config import ZaloSection
from handlers.dispatcher import Dispatcher
from handlers.i18n import Catalog
from handlers.types import Inbound, InboundKind, Photo
from storage import Store
from storage.zalo_tokens import ZaloTokens, ZaloTokenStore

logger = logging.getLogger(__name__)

NAME = "zalo_oa"
WEBHOOK_PATH = "/zalo/oa/webhook"
ATTACHMENT_EXPIRED = -100
# Uploaded images are reused by content: a broadcast photo is uploaded once, not per worker.
ATTACHMENT_CACHE_SIZE = 64
# Zalo's access tokens live 25 hours (expires_in 90000).
SEEDED_TOKEN_LIFETIME = 90000.0


class StoreTokenStore:
    """The `TokenStore` the TokenManager needs, kept in the bot's store."""

    def __init__(self, store: ZaloTokenStore, app_id: str) -> None:
        self.store = store
        self.app_id = app_id

    async def load(self) -> TokenPair | None:
        saved = await self.store.load_zalo_tokens(self.app_id)
        return TokenPair(saved.access_token, saved.refresh_token, saved.expires_at) if saved else None

    async def save(self, pair: TokenPair) -> None:
        tokens = ZaloTokens(pair.access_token, pair.refresh_token, pair.expires_at)
        await self.store.save_zalo_tokens(self.app_id, tokens)

    async def seed(self, access_token: str, refresh_token: str, *, now: float) -> None:
        """Adopt the pair from the environment the first time it is seen.

        Its age is unknown; it is taken as just issued. If it is older, the first send
        after it died gets -216 and the manager refreshes then, which is no worse.
        """
        fingerprint = hashlib.sha256(f"{self.app_id}:{refresh_token}".encode()).hexdigest()
        tokens = ZaloTokens(access_token, refresh_token, now + SEEDED_TOKEN_LIFETIME)
        await self.store.seed_zalo_tokens(self.app_id, tokens, seed=fingerprint)


class ZaloOAChannel(ZaloChannelBase):
    name = NAME

    def __init__(
        self, config: ZaloSection, dispatcher: Dispatcher, store: Store, catalog: Catalog,
        registry: ChannelRegistry | None = None, *, http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(dispatcher, store, catalog, registry)
        self.config = config
        self.app_id = config.oa_app_id or ""
        self._http = http
        self._owns_http = http is None
        self._clock = clock
        self.tokens: TokenManager | None = None
        self.client: ZaloOAClient | None = None
        self._attachments: OrderedDict[str, str] = OrderedDict()

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        config = self.config
        token_store = StoreTokenStore(self.store, self.app_id)
        if config.oa_access_token and config.oa_refresh_token:
            await token_store.seed(config.oa_access_token, config.oa_refresh_token, now=self._clock())
        if await token_store.load() is None:
            raise ZaloAuthError(
                "no OA token: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN once (see docs/zalo.md)"
            )
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=10.0))
        self.tokens = TokenManager(
            self.app_id, config.oa_app_secret or "", config.oauth_base_url, token_store, self._http, clock=self._clock,
        )
        self.client = ZaloOAClient(self.app_id, config.openapi_base_url, self.tokens, self._http)
        # What the last run left unfinished goes first (bot/channels/journal.py).
        for pending in await self.journal.unfinished():
            try:
                event = from_journal(OAEvent, pending.payload)
            except (TypeError, ValueError, KeyError):
                logger.warning("zalo oa: dropped an unreadable journaled event")
                await self.journal.finish(pending.key)
                continue
            if event.user_id:
                self.background.submit(event.user_id, self.journaled(pending.key, self._on_event(event, pending.key)))
        logger.info("zalo oa: ready for app %s", self.app_id)

    async def stop(self) -> None:
        await self.background.drain(STOP_TIMEOUT)
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- receiving ---------------------------------------------------------
    def web_routes(self) -> list[BaseRoute]:
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_WEBHOOK_BODY:
            return Response(status_code=413)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not verify_oa_signature(raw, signature, self.app_id, self.config.oa_secret_key or ""):
            logger.warning("zalo oa: rejected a webhook call with a bad or missing signature")
            return Response(status_code=401)
        try:
            event = parse_oa_event(raw)
        except MalformedPayload as exc:
            logger.warning("zalo oa: dropped an unreadable webhook body: %s", exc)
            return JSONResponse({"ok": True})
        if event.kind in (OAEventKind.RECEIVED, OAEventKind.SEEN, OAEventKind.UNKNOWN) or not event.user_id:
            logger.debug("zalo oa: ignored a %s event", event.event_name)
            return JSONResponse({"ok": True})
        if self.client is None or not await self._accept(event):
            return Response(status_code=503)  # not started, or stopping: Zalo retries later
        return JSONResponse({"ok": True})

    async def _accept(self, event: OAEvent) -> bool:
        """Journal the event before the 200, then hand it to the background; False when
        stopping (nothing written: Zalo retries). A redelivery is dropped here."""
        assert event.user_id is not None
        if self.background.closed:
            return False
        key = event.dedup_key
        if not await self.journal.receive(key, event.user_id, journal_payload(event)):
            logger.info("zalo oa: ignored a repeated %s event", event.event_name)
            return True
        # Closed meanwhile: the row stays and the next start handles it.
        self.background.submit(event.user_id, self.journaled(key, self._on_event(event, key)))
        return True

    async def _on_event(self, event: OAEvent, key: str | None = None) -> None:
        assert event.user_id is not None
        key = key or event.dedup_key
        if event.kind is OAEventKind.UNFOLLOW:
            await self._on_unfollow(event.user_id)
            return
        inbound = self.to_inbound(event)
        if inbound is not None:
            await self.handle(inbound, journal_key=key)

    def to_inbound(self, event: OAEvent) -> Inbound | None:
        """The neutral form of an event the handlers answer, or None."""
        assert event.user_id is not None
        if event.kind is OAEventKind.TEXT:
            return self.text_inbound(event.user_id, event.text)
        if event.kind is OAEventKind.IMAGE:
            return Inbound(NAME, event.user_id, InboundKind.UNSUPPORTED)
        if event.kind is OAEventKind.FOLLOW:
            # The welcome is /start's, so a follower sees what a /start on Telegram shows.
            return Inbound(NAME, event.user_id, InboundKind.COMMAND, text="/start", command="start")
        return None

    async def _on_unfollow(self, external_id: str) -> None:
        user = await self.store.find_user(NAME, external_id)
        if user is None:
            return
        await self.store.set_reachable(user.id, False)
        # Leaving the OA is the clearest "stop": off every topic and "everyone" broadcast.
        # A worker who follows again gets the welcome and subscribes again themselves.
        if not await self.store.is_opted_out(user.id):
            await self.store.opt_out(user.id)
        self.choices.forget(external_id)
        logger.info("zalo oa: user %s unfollowed; unreachable and unsubscribed", user.id)

    # -- sending -----------------------------------------------------------
    def _oa(self) -> ZaloOAClient:
        if self.client is None:
            raise ZaloAuthError("the Zalo OA channel is not started", method="send")
        return self.client

    async def _send_text(self, to: str, text: str) -> object:
        return await self._oa().send_text(to, text)

    def _photo_step(self, to: str, photo: Photo) -> Step | None:
        async def step() -> object:
            client = self._oa()
            key = hashlib.sha256(photo.data).hexdigest()
            attachment = await self._attachment(key, photo)
            try:
                return await client.send_image_attachment(to, attachment)
            except ZaloPermanentError as exc:
                if exc.code != ATTACHMENT_EXPIRED:
                    raise
            self._attachments.pop(key, None)  # Zalo forgot the upload: upload it again
            return await client.send_image_attachment(to, await self._attachment(key, photo))

        return step

    async def _attachment(self, key: str, photo: Photo) -> str:
        attachment = self._attachments.get(key)
        if attachment is None:
            attachment = await self._oa().upload_image(photo.data, photo.filename)
            self._attachments[key] = attachment
            while len(self._attachments) > ATTACHMENT_CACHE_SIZE:
                self._attachments.popitem(last=False)
        else:
            self._attachments.move_to_end(key)
        return attachment
