"""Every channel's HTTP pool drops idle connections before a server's usual 5-second
keep-alive ends: a CI run lost a care notice's first send to that race (ReadError on a
connection the fake Bot API's uvicorn was closing at the same moment)."""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.channels import http as channel_http
from bot.channels.telegram import TelegramChannel
from bot.config import TelegramSection
from storage.sqlite import SQLiteStore

SERVER_KEEPALIVE = 5.0  # uvicorn's default, and a common proxy setting


def _expiry(client: httpx.AsyncClient) -> float:
    return client._transport._pool._keepalive_expiry  # type: ignore[attr-defined]


def test_telegram_pools_close_idle_connections_first(tmp_path: Path) -> None:
    channel = TelegramChannel(
        TelegramSection(token="123:abc"),
        None,
        None,
        None,  # type: ignore[arg-type]
        SQLiteStore(tmp_path / "x.sqlite3"),
    )
    app = channel.application
    for request in (app.bot.request, app.bot._request[0]):  # updates poller, then everything else
        assert _expiry(request._client) < SERVER_KEEPALIVE  # type: ignore[attr-defined]
    # PTB's own pool size for ordinary calls is kept (broadcasts send many at once).
    assert app.bot.request._client._transport._pool._max_connections == 256  # type: ignore[attr-defined]


async def test_zalo_client_closes_idle_connections_first() -> None:
    async with channel_http.client() as client:
        assert _expiry(client) < SERVER_KEEPALIVE
