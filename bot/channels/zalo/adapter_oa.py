"""The Zalo Official Account channel ("zalo_oa"): signed webhooks in, customer-service messages out.

Zalo posts every event to /zalo/oa/webhook. The endpoint checks X-ZEvent-Signature
over the raw body before reading anything (401 and nothing stored when it fails),
answers 200 at once, and handles the event in a background task, one worker's
events in order. Zalo redelivers events, so each is handled once per `msg_id`.

* user_send_text: the handlers' answer goes back through POST /v3.0/oa/message/cs.
* user_send_image and the other media (stickers, links, files, GIFs, audio, video,
  locations): any text riding on them (a caption; a link often carries the worker's
  question) is answered as text; without text the worker is told what the bot can
  read, once per conversation (until they next write text).
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
from collections.abc import Callable, Coroutine
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
    Step,
    ZaloChannelBase,
    from_journal,
    journal_payload,
)
from bot.channels.zalo.errors import MalformedPayload, ZaloAuthError, ZaloPermanentError
from bot.channels.zalo.oa_client import ZaloOAClient
from bot.channels.zalo.tokens import TokenManager, TokenPair
from bot.channels.zalo.webhook import (
    SIGNATURE_HEADER,
    OAEvent,
    OAEventKind,
    carries_event,
    load_oa_body,
    matching_signatures,
    parse_oa_event,
    verify_oa_signature,
)
from bot.config import ZaloSection
from handlers.dispatcher import Dispatcher
from handlers.i18n import Catalog
from handlers.types import Channel, Inbound, InboundKind, Photo
from storage import Store
from storage.zalo_tokens import ZaloTokens, ZaloTokenStore

logger = logging.getLogger(__name__)

NAME = Channel.ZALO_OA
WEBHOOK_PATH = "/zalo/oa/webhook"
ATTACHMENT_EXPIRED = -100
# Uploaded images are reused by content: a broadcast photo is uploaded once, not per worker.
ATTACHMENT_CACHE_SIZE = 64
# Workers already told, in this conversation, that the bot reads only text.
TOLD_MEDIA_MAX = 10_000
# Zalo's access tokens live 25 hours (expires_in 90000).
SEEDED_TOKEN_LIFETIME = 90000.0
# Seconds between two log lines diagnosing refused signatures.
SIGNATURE_DIAGNOSIS_INTERVAL = 60.0


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
    name: str = NAME

    def __init__(
        self,
        config: ZaloSection,
        dispatcher: Dispatcher,
        store: Store,
        catalog: Catalog,
        registry: ChannelRegistry | None = None,
        *,
        http: httpx.AsyncClient | None = None,
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
        self._last_diagnosis = float("-inf")
        self._told_media: OrderedDict[str, None] = OrderedDict()

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        config = self.config
        token_store = StoreTokenStore(self.store, self.app_id)
        if config.oa_access_token and config.oa_refresh_token:
            await token_store.seed(config.oa_access_token, config.oa_refresh_token, now=self._clock())
        if config.oa_setup_mode:
            # Zalo shows the OA secret key only once the webhook URL is saved, and saves
            # it only after a 200 to its check call: serve that, refuse every event.
            logger.warning(
                "zalo oa: SET-UP MODE (no ZALO_OA_SECRET_KEY): the webhook answers Zalo's URL check "
                "and refuses every event; set the key and restart to go live (docs/zalo.md)"
            )
            return
        if await token_store.load() is None:
            raise ZaloAuthError(
                "no OA token: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN once (see docs/zalo.md)"
            )
        if self._http is None:
            self._http = channel_http.client()
        self.tokens = TokenManager(
            self.app_id,
            config.oa_app_secret or "",
            config.oauth_base_url,
            token_store,
            self._http,
            clock=self._clock,
        )
        self.client = ZaloOAClient(self.app_id, config.openapi_base_url, self.tokens, self._http)
        # What the last run left unfinished goes first (bot/channels/journal.py).
        await self.adopt(running=False)
        logger.info("zalo oa: ready for app %s", self.app_id)

    def _replay(self, pending: Pending) -> tuple[str, Coroutine[Any, Any, None]] | None:
        event = from_journal(OAEvent, pending.payload)
        if not event.user_id:
            return None
        return event.user_id, self._on_event(event, pending.key)

    async def stop(self) -> None:
        await self.background.drain(STOP_TIMEOUT)
        await self.detached.drain(STOP_TIMEOUT)  # what the handling above detached
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- receiving ---------------------------------------------------------
    def web_routes(self) -> list[BaseRoute]:
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        # The web server's BodyLimit has already refused anything over the limit unread.
        raw = await request.body()
        if len(raw) > MAX_WEBHOOK_BODY:
            return Response(status_code=413)
        try:
            body = load_oa_body(raw)
        except MalformedPayload as exc:
            # Zalo's events are always JSON objects, and the signature covers fields inside
            # the object: this cannot be verified and is not Zalo's. 400, never 500; the
            # log names the problem, never the body (it may hold a worker's message).
            logger.warning("zalo oa: refused an unreadable webhook body: %s", exc)
            return Response(status_code=400)
        if not carries_event(body):
            # Zalo checks a new webhook URL with an unsigned `{}` and saves it only on 200.
            # Nothing in such a body is read, stored or acted on.
            logger.info("zalo oa: answered a call with no event (Zalo's check of the webhook URL)")
            return JSONResponse({"ok": True})
        if self.config.oa_setup_mode:
            logger.warning(
                "zalo oa: SET-UP MODE: refused an event because ZALO_OA_SECRET_KEY is not set; "
                "copy the OA secret key from the Zalo console and restart (docs/zalo.md)"
            )
            return Response(status_code=401)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not verify_oa_signature(
            raw, signature, self.app_id, self.config.oa_secret_key or "", formula=self.config.oa_signature
        ):
            logger.warning("zalo oa: rejected a webhook call with a bad or missing signature")
            self._diagnose_signature(raw, signature)
            return Response(status_code=401)
        try:
            event = parse_oa_event(body)
        except MalformedPayload as exc:
            logger.warning("zalo oa: dropped an unreadable webhook body: %s", exc)
            return JSONResponse({"ok": True})
        if not self._fresh(event):
            # 200, not an error: a late retry by Zalo itself would otherwise be retried
            # again (staler each time) until Zalo disables the webhook.
            logger.warning(
                "zalo oa: refused a %s event dated outside the %d-minute window",
                event.event_name,
                self.config.oa_event_window_minutes,
            )
            return JSONResponse({"ok": True})
        if event.kind in (OAEventKind.RECEIVED, OAEventKind.SEEN, OAEventKind.UNKNOWN) or not event.user_id:
            logger.debug("zalo oa: ignored a %s event", event.event_name)
            return JSONResponse({"ok": True})
        if self.client is None or not await self._accept(event):
            return Response(status_code=503)  # not started, or stopping: Zalo retries later
        return JSONResponse({"ok": True})

    def _fresh(self, event: OAEvent) -> bool:
        """Whether the event's own timestamp is within the window around now."""
        if event.timestamp_ms is None:
            return False
        window_ms = self.config.oa_event_window_minutes * 60_000
        return abs(self._clock() * 1000 - event.timestamp_ms) <= window_ms

    def _diagnose_signature(self, raw: bytes, signature: str | None) -> None:
        """At most once a minute, say which known formula a refused event would have matched.

        A wrong guess of Zalo's undocumented formula otherwise shuts the OA out silently.
        The event stays refused whatever this finds.
        """
        now = self._clock()
        if now - self._last_diagnosis < SIGNATURE_DIAGNOSIS_INTERVAL:
            return
        self._last_diagnosis = now
        keys = {"the OA secret key": self.config.oa_secret_key or "", "the app secret": self.config.oa_app_secret or ""}
        matches = matching_signatures(raw, signature, keys)
        if matches:
            formula, key = matches[0]
            logger.warning(
                "zalo oa: that refused event is signed with formula %r and %s; "
                "set [zalo] oa_signature = %r (and that key in ZALO_OA_SECRET_KEY) if it came from Zalo",
                formula,
                key,
                formula,
            )
        else:
            logger.warning(
                "zalo oa: that refused event matches no known signature formula "
                "(see `unionbot zalo check-signature` in docs/zalo.md)"
            )

    async def _accept(self, event: OAEvent) -> bool:
        """Journal the event before the 200, then hand it to the background; False when
        stopping or when the store is out of reach (nothing written: Zalo retries). A
        redelivery is dropped here."""
        assert event.user_id is not None
        if self.background.closed:
            return False
        key = event.dedup_key
        try:
            fresh = await self.journal.receive(key, event.user_id, journal_payload(event))
        except Exception:
            self.journal.outage.failed()  # not written down: the 503 makes Zalo retry
            return False
        self.journal.outage.recovered()
        if not fresh:
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
        if event.kind is OAEventKind.TEXT or (
            event.kind in (OAEventKind.IMAGE, OAEventKind.MEDIA) and event.text.strip()
        ):
            self._told_media.pop(event.user_id, None)  # they wrote: a new conversation
            return self.text_inbound(event.user_id, event.text)
        if event.kind in (OAEventKind.IMAGE, OAEventKind.MEDIA):
            if event.user_id in self._told_media:
                return None  # told already; more stickers get no more replies
            self._told_media[event.user_id] = None
            while len(self._told_media) > TOLD_MEDIA_MAX:
                self._told_media.popitem(last=False)
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
        self._told_media.pop(external_id, None)
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
