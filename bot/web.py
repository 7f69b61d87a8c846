"""The one ASGI web server: Telegram webhook, Zalo webhooks and /healthz.

Every request body passes through `BodyLimit` before any route sees it: webhooks are
open to the internet, and a route that read first and checked afterwards let one
unsigned 300 MB POST take the process from 64 MB to 665 MB (issue 14).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# Webhook bodies are a few kilobytes (a Telegram update with a long message and its
# reply is well under 64 KiB); anything near this is not from a platform.
DEFAULT_MAX_BODY = 256 * 1024
# A client that trickles its body this long is holding a connection, not delivering.
BODY_READ_TIMEOUT = 30.0
# After a refusal, how long the rest of a body is read and dropped so that the client
# sees the answer (see `_refuse`), and how long a pause in it ends that early.
LINGER_SECONDS = 2.0
LINGER_IDLE = 0.2


class BodyLimit:
    """Pure ASGI middleware: at most `max_body` bytes of any request body are ever held.

    The declared Content-Length is checked first, so a large declared body is refused
    before a byte of it is read. Otherwise (chunked, or a Content-Length that lies) the
    stream is read up to the limit and the request refused at the first byte over it.
    A body within the limit is handed to the route as if read from the socket.
    uvicorn stops reading the socket while nobody consumes the body, so an unread
    remainder costs no memory: the connection is closed after the 413.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body: int = DEFAULT_MAX_BODY,
        read_timeout: float = BODY_READ_TIMEOUT,
        streamed: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.read_timeout = read_timeout
        # Path prefixes whose routes read their body as a stream (the console's uploads:
        # Starlette spools multipart parts to temporary files) get a larger limit and are
        # not buffered here; the cap still holds, counted as the body passes.
        self.streamed = dict(streamed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for prefix, limit in self.streamed.items():
            if scope["path"].startswith(prefix):
                await self._stream(scope, receive, send, limit)
                return
        declared = _content_length(scope)
        if declared == -1:
            await _refuse(receive, send, 400)
            return
        if declared is not None and declared > self.max_body:
            logger.warning("refused a %d-byte body on %s (limit %d)", declared, scope["path"], self.max_body)
            await _refuse(receive, send, 413)
            return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.read_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the client went away: nothing to answer
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        logger.warning("refused an over-long body on %s (limit %d)", scope["path"], self.max_body)
                        await _refuse(receive, send, 413)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            logger.warning("refused a body that took over %.0f s on %s", self.read_timeout, scope["path"])
            await _refuse(receive, send, 408)
            return
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only http.disconnect comes

        await self.app(scope, replay, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        declared = _content_length(scope)
        if declared == -1 or (declared is not None and declared > limit):
            logger.warning("refused a body on %s (limit %d)", scope["path"], limit)
            await _refuse(receive, send, 413 if declared != -1 else 400)
            return
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > limit:
                # The route sees the client leave; nothing past the limit is ever kept.
                logger.warning("cut an over-long body on %s (limit %d)", scope["path"], limit)
                return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent, -1 when unreadable."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else -1
    return None


async def _refuse(receive: Receive, send: Send, status: int) -> None:
    """Answer `status` and close, without the answer being lost to a reset.

    Closing a socket with unread bytes in it sends a TCP reset, and a client still
    uploading then often loses the answer too. So the headers go out first, the body
    still in flight is read and thrown away (never kept) for a short, bounded time
    until the client stops, and only then is the response finished and closed.
    """
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"0"), (b"connection", b"close")],
        }
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_SECONDS
    try:
        while (left := deadline - loop.time()) > 0:
            async with asyncio.timeout(min(LINGER_IDLE, left)):
                message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                break
    except TimeoutError:
        pass  # the client paused: it has the answer, or does not care
    await send({"type": "http.response.body", "body": b""})


def build_web_app(
    routes: list[BaseRoute],
    health: Callable[[], Awaitable[dict]],
    *,
    max_body: int = DEFAULT_MAX_BODY,
    streamed: Mapping[str, int] | None = None,
) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        try:
            return JSONResponse({"ok": True, **await health()})
        except Exception:
            logger.exception("health check failed")
            return JSONResponse({"ok": False}, status_code=503)

    return Starlette(
        routes=[Route("/healthz", healthz, methods=["GET"]), *routes],
        middleware=[Middleware(BodyLimit, max_body=max_body, streamed=streamed)],
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn takes SIGINT and SIGTERM for the length of serve() and stops itself on
        # them; the composition root owns those and stops the web server in its turn.
        yield


class WebServer:
    """uvicorn inside our own event loop, beside the bot, so both share one process."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.server = _Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", [])
        for s in servers:
            for sock in s.sockets:
                return int(sock.getsockname()[1])
        return self.server.config.port

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # re-raise the bind error, e.g. port in use
                raise RuntimeError("web server stopped during start-up")
            await asyncio.sleep(0.01)
        logger.info("web server listening on %s:%s", self.server.config.host, self.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        await self._task
        self._task = None
