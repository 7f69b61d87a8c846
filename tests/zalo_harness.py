"""End-to-end harness for the Zalo adapters: the real composition root (config from the
environment, Runtime, real handlers, real SQLite store), the real web server on
127.0.0.1, and the fake Zalo servers from tests/fakes/zalo_servers.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.app import Runtime
from bot.channels.zalo.adapter_bot import ZaloBotChannel
from bot.channels.zalo.adapter_oa import ZaloOAChannel
from bot.config import load_config
from bot.web import WebServer, build_web_app
from tests.fakes.zalo_servers import (
    BotSent,
    FakeZaloBot,
    FakeZaloOA,
    bot_text_update,
    bot_webhook_request,
    signed_oa_webhook,
)
from tests.harness import wait_until

OA_SECRET = "fake-oa-secret-key"
BOT_SECRET = "fake-bot-webhook-secret"
BOT_WEBHOOK_URL = "https://bot.example.org/zalo/bot/webhook"


def oa_env(tmp_path: Path, zalo: FakeZaloOA, *, tokens: bool = True) -> dict[str, str]:
    env = {
        "UNIONBOT_DB": str(tmp_path / "bot.sqlite3"),
        "ZALO_OA_APP_ID": zalo.app_id,
        "ZALO_OA_APP_SECRET": zalo.app_secret,
        "ZALO_OA_SECRET_KEY": OA_SECRET,
        "ZALO_OPENAPI_BASE_URL": zalo.openapi_base_url,
        "ZALO_OAUTH_BASE_URL": zalo.oauth_base_url,
    }
    if tokens:
        issued = zalo.issue_tokens()
        env |= {"ZALO_OA_ACCESS_TOKEN": issued.access_token, "ZALO_OA_REFRESH_TOKEN": issued.refresh_token}
    return env


def bot_env(tmp_path: Path, bot: FakeZaloBot, *, webhook: bool = False) -> dict[str, str]:
    env = {
        "UNIONBOT_DB": str(tmp_path / "bot.sqlite3"),
        "ZALO_BOT_TOKEN": bot.token,
        "ZALO_BOT_API_BASE_URL": bot.base_url,
    }
    if webhook:
        env["ZALO_BOT_WEBHOOK_SECRET"] = BOT_SECRET
    return env


def write_config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[union]\nhotline = "1900 0000"\n' + text, encoding="utf-8")
    return path


@dataclass
class Harness:
    runtime: Runtime
    web: WebServer
    http: httpx.AsyncClient
    channels: dict[str, Any]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web.port}"

    @property
    def oa(self) -> ZaloOAChannel:
        return self.channels["zalo_oa"]

    @property
    def bot(self) -> ZaloBotChannel:
        return self.channels["zalo_bot"]

    async def post_oa(self, event: dict[str, Any], *, secret: str = OA_SECRET, **kw: Any) -> httpx.Response:
        body, headers = signed_oa_webhook(event, secret, **kw)
        return await self.http.post(self.base_url + "/zalo/oa/webhook", content=body, headers=headers)

    async def post_bot(self, update: dict[str, Any], *, secret: str = BOT_SECRET) -> httpx.Response:
        body, headers = bot_webhook_request(update, secret)
        return await self.http.post(self.base_url + "/zalo/bot/webhook", content=body, headers=headers)

    async def settle(self) -> None:
        for channel in self.channels.values():
            await channel.background.idle()


@asynccontextmanager
async def running(
    tmp_path: Path,
    env: dict[str, str],
    config_text: str = "",
    before_start: Callable[[Harness], Awaitable[None]] | None = None,
) -> AsyncIterator[Harness]:
    """The bot as `unionbot run` builds it, with its own web server on a free port."""
    config = load_config(write_config(tmp_path, config_text), env=env)
    async with Runtime(config) as runtime, httpx.AsyncClient(timeout=10) as http:
        channels = runtime.build_channels()
        for channel in channels:
            # Fast retries: the fakes answer at once and tests should not wait seconds.
            channel.retry_delays = (0.01, 0.02)
            if isinstance(channel, ZaloBotChannel):
                channel.poll_backoff = (0.01, 0.05)
        routes = [r for ch in channels for r in ch.web_routes()]
        web = WebServer(build_web_app(routes, runtime.health), "127.0.0.1", 0)
        await web.start()
        harness = Harness(runtime, web, http, {c.name: c for c in channels})
        try:
            if before_start is not None:
                await before_start(harness)
            for channel in channels:
                await channel.start()
            try:
                yield harness
            finally:
                for channel in reversed(channels):
                    await channel.stop()
        finally:
            await web.stop()


class Wrapped:
    """A dispatcher whose `handle` is replaced; everything else is the real one's."""

    def __init__(self, real: Any, handle: Callable[..., Awaitable[Any]]) -> None:
        self._real = real
        self.handle = handle

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class BotChat:
    """Plays one worker on the fake Zalo Bot, reading the replies as they are shown."""

    def __init__(self, bot: FakeZaloBot, harness: Harness, chat_id: str) -> None:
        self.bot = bot
        self.harness = harness
        self.chat_id = chat_id
        self.seen = 0

    def _messages(self) -> list[BotSent]:
        return [s for s in self.bot.sent if s.chat_id == self.chat_id and s.method == "sendMessage"]

    async def say(self, text: str, *, message_id: str | None = None) -> list[str]:
        """Send `text` and return the texts of the replies it produced."""
        self.seen = len(self._messages())
        self.bot.push_update(bot_text_update(self.chat_id, text, message_id=message_id))
        await self._settle()
        return self.last()

    async def _settle(self) -> None:
        # The poll loop picks the update up, then the background task answers it.
        await wait_until(lambda: self.harness.bot.background.pending > 0 or len(self._messages()) > self.seen)
        await self.harness.settle()

    def last(self) -> list[str]:
        return [m.text or "" for m in self._messages()[self.seen :]]

    def number_of(self, label_part: str) -> str:
        """The number of the newest listed choice whose label contains `label_part`."""
        for text in reversed(self.last()):
            for line in reversed(text.splitlines()):
                head, _, label = line.partition(". ")
                if head.isdigit() and label_part.lower() in label.lower():
                    return head
        raise AssertionError(f"no choice with {label_part!r} in {self.last()}")

    async def choose(self, label_part: str) -> list[str]:
        return await self.say(self.number_of(label_part))
