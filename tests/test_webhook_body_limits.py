"""Every webhook stops reading at its limit: big bodies get 413 and memory stays flat.

The bot runs as `unionbot run` builds it with all three webhooks (Telegram, Zalo Bot,
Zalo OA) on one web server; clients on 127.0.0.1 stream large bodies at it at once,
with the right secrets (the worst case), with and without a Content-Length. Each client
stops as soon as the answer arrives or after CLIENT_CAP bytes, so the test's traffic is
bounded; before the fix the server read every byte and the process grew by hundreds of
megabytes. The 20 x 300 MB measurement is bench/bench_webhook_body_limit.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from pathlib import Path

import pytest

from bot.web import DEFAULT_MAX_BODY
from tests.fakes.telegram_api import FakeTelegramServer
from tests.fakes.zalo_servers import FakeZaloBot, FakeZaloOA, oa_text_event, signed_oa_webhook
from tests.harness import config_for, running_bot
from tests.zalo_harness import BOT_SECRET, OA_SECRET, oa_env

TG_SECRET = "tg-webhook-secret_1"
CLIENT_CAP = 24 * 1024 * 1024  # bytes one client sends at most
CHUNK = b"[" * 65536  # the start of a deeply nested JSON document, for good measure
RSS_BUDGET = 50 * 1024 * 1024


class RssSampler:
    """The process's resident set size, sampled every few milliseconds in a thread."""

    def __init__(self) -> None:
        self.peak = self.start = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        return self.peak - self.start


async def stream_post(port: int, path: str, headers: dict[str, str], *, declare: bool) -> int:
    """POST an endless body until the server answers; returns the HTTP status (0: none)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append(f"Content-Length: {300 * 1024 * 1024}" if declare else "Transfer-Encoding: chunked")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())

    async def pump() -> None:
        sent = 0
        try:
            while sent < CLIENT_CAP:
                if declare:
                    writer.write(CHUNK)
                else:
                    writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                sent += len(CHUNK)
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server closed the connection after answering

    pumping = asyncio.create_task(pump())
    try:
        # A server that reads everything (the bug) never answers a 300 MB promise that
        # is not kept: give up, so a regression fails in seconds instead of hanging.
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    except (ConnectionError, OSError, TimeoutError):
        status_line = b""
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping
        writer.transport.abort()  # never leave the server waiting on this connection
    parts = status_line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 0


@pytest.fixture
async def servers():  # type: ignore[no-untyped-def]
    async with FakeTelegramServer() as tg, FakeZaloOA() as oa, FakeZaloBot() as bot:
        yield tg, oa, bot


def all_webhooks_config(tmp_path: Path, tg, oa: FakeZaloOA, bot: FakeZaloBot):  # type: ignore[no-untyped-def]
    env = {
        **oa_env(tmp_path, oa),
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "ZALO_BOT_TOKEN": bot.token,
        "ZALO_BOT_API_BASE_URL": bot.base_url,
        "ZALO_BOT_WEBHOOK_SECRET": BOT_SECRET,
    }
    toml = (
        '[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.org/telegram/webhook"\n'
        '[zalo]\nbot_mode = "webhook"\nbot_webhook_url = "https://bot.example.org/zalo/bot/webhook"\n'
    )
    return config_for(tmp_path, toml=toml, env=env)


WEBHOOKS = {
    "telegram": ("/telegram/webhook", {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}),
    "zalo_bot": ("/zalo/bot/webhook", {"X-Bot-Api-Secret-Token": BOT_SECRET}),
    "zalo_oa": ("/zalo/oa/webhook", {"X-ZEvent-Signature": "mac=" + "0" * 64}),
}


async def test_concurrent_large_bodies_get_413_and_memory_stays_flat(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    tg, oa, bot = servers
    async with running_bot(all_webhooks_config(tmp_path, tg, oa, bot)) as runtime:
        port = runtime.web_port
        assert port
        jobs = [(name, declare) for name in WEBHOOKS for declare in (True, False) for _ in range(2)]
        with RssSampler() as rss:
            statuses = await asyncio.gather(
                *(stream_post(port, WEBHOOKS[name][0], WEBHOOKS[name][1], declare=declare) for name, declare in jobs)
            )
        assert statuses == [413] * len(jobs), list(zip(jobs, statuses, strict=True))
        print(f"RSS growth {rss.growth / 2**20:.1f} MiB")
        assert rss.growth < RSS_BUDGET, f"RSS grew by {rss.growth / 2**20:.0f} MiB"

        # The server is still healthy and a normal signed event still goes through.
        body, headers = signed_oa_webhook(oa_text_event("6142494823000000009", "/help", app_id=oa.app_id), OA_SECRET)
        import httpx

        async with httpx.AsyncClient() as http:
            ok = await http.post(f"http://127.0.0.1:{port}/zalo/oa/webhook", content=body, headers=headers)
        assert ok.status_code == 200


@pytest.mark.parametrize("name", list(WEBHOOKS))
async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    tmp_path: Path,
    servers,
    name: str,  # type: ignore[no-untyped-def]
) -> None:
    """Content-Length is checked first: the answer comes with the body still unsent."""
    tg, oa, bot = servers
    async with running_bot(all_webhooks_config(tmp_path, tg, oa, bot)) as runtime:
        path, headers = WEBHOOKS[name]
        reader, writer = await asyncio.open_connection("127.0.0.1", runtime.web_port)
        head = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {DEFAULT_MAX_BODY + 1}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        try:
            status_line = await asyncio.wait_for(reader.readline(), timeout=5)
        except TimeoutError:
            status_line = b"(no answer)"
        finally:
            writer.transport.abort()
        assert status_line.split()[1:2] == [b"413"], status_line


@pytest.mark.parametrize("name", list(WEBHOOKS))
async def test_a_body_just_under_the_limit_is_read(tmp_path: Path, servers, name: str) -> None:  # type: ignore[no-untyped-def]
    """The limit refuses only what is over it: a padded but valid body is not a 413."""
    import httpx

    tg, oa, bot = servers
    async with running_bot(all_webhooks_config(tmp_path, tg, oa, bot)) as runtime:
        path, headers = WEBHOOKS[name]
        body = b'{"pad": "' + b"x" * (DEFAULT_MAX_BODY - 20) + b'"}'
        assert len(body) <= DEFAULT_MAX_BODY
        async with httpx.AsyncClient() as http:
            r = await http.post(f"http://127.0.0.1:{runtime.web_port}{path}", content=body, headers=headers)
        assert r.status_code != 413 and r.status_code < 500


async def test_the_limit_follows_the_configuration(tmp_path: Path, servers) -> None:  # type: ignore[no-untyped-def]
    import httpx

    tg, oa, bot = servers
    config = all_webhooks_config(tmp_path, tg, oa, bot)
    import dataclasses

    config = dataclasses.replace(config, server=dataclasses.replace(config.server, max_body_kib=16))
    async with running_bot(config) as runtime:
        path, headers = WEBHOOKS["zalo_bot"]
        async with httpx.AsyncClient() as http:
            r = await http.post(
                f"http://127.0.0.1:{runtime.web_port}{path}", content=b"{" + b" " * 20000 + b"}", headers=headers
            )
        assert r.status_code == 413


async def test_console_uploads_get_their_own_larger_streamed_limit() -> None:
    """The console's imports (MBs) pass the web server; a webhook of that size does not."""
    import httpx
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from bot.web import build_web_app

    async def count(request: Request) -> PlainTextResponse:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return PlainTextResponse(str(size))

    async def health() -> dict:
        return {}

    app = build_web_app(
        [Route("/console/import", count, methods=["POST"]), Route("/hook", count, methods=["POST"])],
        health,
        max_body=256 * 1024,
        streamed={"/console": 3 * 1024 * 1024},
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        two_mb = b"x" * (2 * 1024 * 1024)
        ok = await client.post("/console/import", content=two_mb)
        assert (ok.status_code, ok.text) == (200, str(len(two_mb)))
        assert (await client.post("/hook", content=two_mb)).status_code == 413
        assert (await client.post("/console/import", content=two_mb * 2)).status_code == 413
