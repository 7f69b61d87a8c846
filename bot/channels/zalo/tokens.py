"""OA access tokens: load, refresh ahead of expiry or on rejection, persist before use.

Zalo's OA refresh token is single-use and rotating: a successful refresh returns a
new pair and kills the old refresh token (and, reportedly, the old access token).
Two rules follow, and this module exists to keep them:

* One refresh at a time. Concurrent senders that all saw -216 with the same old
  token wait on one lock; the first refreshes, the others see the token has already
  changed (the generation check) and reuse the new one. Refreshing twice would
  present a dead refresh token the second time and lock the OA out.
* Persist first. The new pair goes to the `TokenStore` before anyone gets the new
  access token, so a crash can never leave the only valid refresh token in memory.

The store is also the source of truth between processes: before refreshing, the
manager re-reads it and adopts a pair another process saved, instead of spending a
refresh token that process already used. (Two processes refreshing at the very same
moment still need a lock in the store; the SQLite store should take one.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bot.channels.zalo.errors import (
    TokenRefreshError,
    ZaloAuthError,
    ZaloError,
    ZaloNetworkError,
    ZaloServerError,
    int_or_none,
)

logger = logging.getLogger(__name__)

DEFAULT_OAUTH_BASE = "https://oauth.zaloapp.com"
REFRESH_PATH = "/v4/oa/access_token"
# Access tokens live 25 h; refreshing an hour early leaves room for a failed attempt
# or two without any send ever meeting an expired token.
DEFAULT_REFRESH_MARGIN = 3600.0
# After a failed early refresh, wait this long before trying again while the old
# token still works, rather than hitting the OAuth server on every send.
RETRY_PAUSE = 60.0
# Used when the response lacks a usable expires_in: short, so the next refresh comes
# early rather than after the token has died.
FALLBACK_EXPIRES_IN = 3600


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # epoch seconds (wall clock, so it survives a restart)


class TokenStore(Protocol):
    """Durable home of the current pair. `save` must be atomic: all of the pair or none."""

    async def load(self) -> TokenPair | None: ...

    async def save(self, pair: TokenPair) -> None: ...


class MemoryTokenStore:
    """A TokenStore in memory, for tests and the console; `saved` lists every save in order."""

    def __init__(self, pair: TokenPair | None = None) -> None:
        self.pair = pair
        self.saved: list[TokenPair] = []

    async def load(self) -> TokenPair | None:
        return self.pair

    async def save(self, pair: TokenPair) -> None:
        self.pair = pair
        self.saved.append(pair)


class TokenManager:
    """Hands out a valid OA access token, refreshing it exactly once when needed."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        oauth_base_url: str,
        store: TokenStore,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._url = oauth_base_url.rstrip("/") + REFRESH_PATH
        self._store = store
        self._http = http
        self._clock = clock
        self._margin = refresh_margin
        self._lock = asyncio.Lock()
        self._pair: TokenPair | None = None
        self._unsaved: TokenPair | None = None  # refreshed, but the store refused it
        self._pause_until = 0.0
        self.generation = 0  # bumps whenever the pair in use changes
        self.refresh_count = 0

    async def access_token(self) -> str:
        """A token to call the OA API with; refreshes first when expiry is within the margin."""
        pair = self._pair
        if pair is not None and self._unsaved is None and self._fresh_enough(pair):
            return pair.access_token
        async with self._lock:
            pair = await self._current()
            if self._fresh_enough(pair):
                return pair.access_token
            try:
                pair = await self._refresh(pair)
            except ZaloError as exc:
                if self._clock() >= pair.expires_at:
                    raise
                # The old token still works for a while: keep sending with it.
                self._pause_until = self._clock() + RETRY_PAUSE
                logger.warning("zalo oa: early token refresh failed, old token kept: %s", exc)
            return pair.access_token

    async def refresh_after_rejection(self, rejected_token: str) -> str:
        """Replace a token the OA API rejected (-216/-220); returns the token to retry with.

        Only the first caller holding `rejected_token` refreshes; the others find a
        different token in place and get that one.
        """
        async with self._lock:
            pair = await self._current()
            if pair.access_token != rejected_token:
                return pair.access_token
            pair = await self._refresh(pair)
            return pair.access_token

    def _fresh_enough(self, pair: TokenPair) -> bool:
        now = self._clock()
        if now < pair.expires_at - self._margin:
            return True
        return now < self._pause_until and now < pair.expires_at

    async def _current(self) -> TokenPair:
        """The pair to use, under the lock: flush an unsaved pair, adopt a newer stored one."""
        if self._unsaved is not None:
            await self._store.save(self._unsaved)
            self._adopt(self._unsaved)
            self._unsaved = None
        stored = await self._store.load()
        if stored is not None and not _same_tokens(stored, self._pair):
            if self._pair is not None:
                logger.info("zalo oa: adopting a token pair saved elsewhere")
            self._adopt(stored)
        if self._pair is None:
            raise ZaloAuthError("no OA token stored: an admin must authorise the OA first")
        return self._pair

    async def _refresh(self, old: TokenPair) -> TokenPair:
        started = self._clock()  # before the call, so expiry is never overestimated
        try:
            response = await self._http.post(
                self._url,
                data={
                    "refresh_token": old.refresh_token,
                    "app_id": self._app_id,
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": self._app_secret},
            )
        except httpx.TransportError as exc:
            # Zalo may have consumed the refresh token without our hearing back; if the
            # next attempt is refused, the OA needs authorising again.
            logger.warning("zalo oa: token refresh got no answer (%s)", type(exc).__name__)
            raise ZaloNetworkError(f"{type(exc).__name__}: {exc}", method=REFRESH_PATH) from exc

        new = _pair_from_response(response, started)
        self.refresh_count += 1
        try:
            await self._store.save(new)
        except BaseException:
            # The old refresh token is already spent: keep the new pair so the next
            # caller can try to persist it again instead of losing access for good.
            self._unsaved = new
            logger.exception("zalo oa: could not persist the refreshed token pair")
            raise
        self._adopt(new)
        self._pause_until = 0.0
        logger.info("zalo oa: token refreshed, valid for %d s", int(new.expires_at - started))
        return new

    def _adopt(self, pair: TokenPair) -> None:
        self._pair = pair
        self.generation += 1


def _pair_from_response(response: httpx.Response, started: float) -> TokenPair:
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ZaloServerError("OAuth answer is not JSON", http_status=status, method=REFRESH_PATH)

    if isinstance(body.get("data"), dict) and "access_token" not in body:
        body = {**body["data"], "error": body.get("error")}  # some answers nest the pair
    access, refresh = body.get("access_token"), body.get("refresh_token")
    code = int_or_none(body.get("error"))
    if code in (None, 0) and status < 400 and _token(access) and _token(refresh):
        expires_in = int_or_none(body.get("expires_in"))
        if expires_in is None or expires_in <= 0:
            logger.warning("zalo oa: refresh answer has no usable expires_in")
            expires_in = FALLBACK_EXPIRES_IN
        return TokenPair(access, refresh, started + expires_in)

    # The failure shape is undocumented: CHATWOOT reads error_description; the SDK
    # reads error/message/error_name. Take whichever is there.
    description = str(
        body.get("error_description") or body.get("message") or body.get("error_name") or "refresh refused"
    )
    if status >= 500:
        raise ZaloServerError(description, code=code, http_status=status, method=REFRESH_PATH)
    raise TokenRefreshError(description, code=code, http_status=status, method=REFRESH_PATH)


def _same_tokens(a: TokenPair, b: TokenPair | None) -> bool:
    # Not `==`: a store may round expires_at, and that is not a different pair.
    return b is not None and a.access_token == b.access_token and a.refresh_token == b.refresh_token


def _token(value: Any) -> bool:
    return isinstance(value, str) and bool(value)
