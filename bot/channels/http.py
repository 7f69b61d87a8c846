"""HTTP client settings shared by the channel adapters.

A pooled keep-alive connection that the platform closes at the very moment we reuse
it fails with a read error after the request may or may not have arrived, and a send
that fails that way is retried only later (or, for a reply, not at all). Servers close
idle connections after a few seconds (uvicorn and many proxies: 5 s; httpx keeps them
5 s too, so the two race). Closing ours first avoids the race at the cost of an
occasional new connection.
"""

from __future__ import annotations

import httpx

KEEPALIVE_EXPIRY = 3.0


def limits(max_connections: int | None = 100) -> httpx.Limits:
    return httpx.Limits(max_connections=max_connections, keepalive_expiry=KEEPALIVE_EXPIRY)


def client() -> httpx.AsyncClient:
    """The client a Zalo adapter talks to its platform with."""
    return httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=10.0), limits=limits())
