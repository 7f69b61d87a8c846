"""The console's guards: session cookie, CSRF, rate limits and security headers.

Three limits, all in memory and per process: sign-in attempts per address, requests per
session (a stolen or runaway session cannot read sign-ups as fast as a script would),
and unknown session cookies per address (session ids cannot be guessed by trying).

Written by hand rather than taken from starlette-csrf / itsdangerous because the state
they would keep in signed cookies lives in the store here: a session is a row (only the
id's hash stored) that carries its own CSRF token, so signing out everywhere or revoking
a role takes effect on the next request, and there is no server secret to manage.
"""

from __future__ import annotations

import hmac
import time
from collections import deque
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "ub_console"
PRE_COOKIE = "ub_pre"  # CSRF token of the sign-in form, before there is a session
LANG_COOKIE = "ub_lang"
COOKIE_PATH = "/console"

# No inline script or style anywhere: everything comes from /console/static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"x-content-type-options": b"nosniff",
    b"cache-control": b"no-store",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds the headers to every response of the wrapped app (pure ASGI: streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS.items() if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def same_token(given: object, expected: str) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())


class RateLimit:
    """At most `limit` attempts per key in a sliding `window` seconds (sign-in per address)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._hits: MutableMapping[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        if len(self._hits) > 10_000:  # a flood of addresses must not grow memory without end
            self._hits.clear()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def allow(self, key: str) -> bool:
        """Count an attempt; False (and not counted) when the key is over its limit."""
        now = time.monotonic()
        hits = self._recent(key, now)
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def full(self, key: str) -> bool:
        """Whether the key is over its limit, without counting an attempt."""
        return len(self._recent(key, time.monotonic())) >= self.limit

    def note(self, key: str) -> None:
        """Count an attempt that already happened (a failure, counted after the fact)."""
        now = time.monotonic()
        self._recent(key, now).append(now)


def cookie_args(secure: bool, *, max_age: int | None = None, samesite: str = "lax") -> dict[str, Any]:
    return {"httponly": True, "samesite": samesite, "secure": secure, "path": COOKIE_PATH, "max_age": max_age}
