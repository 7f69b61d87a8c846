"""The one ASGI web server: Telegram webhook, Zalo webhooks and /healthz."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

logger = logging.getLogger(__name__)


def build_web_app(routes: list[BaseRoute], health: Callable[[], Awaitable[dict]]) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        try:
            return JSONResponse({"ok": True, **await health()})
        except Exception:
            logger.exception("health check failed")
            return JSONResponse({"ok": False}, status_code=503)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes])


class WebServer:
    """uvicorn inside our own event loop, beside the bot, so both share one process."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                           access_log=False)
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
        # uvicorn installs signal handlers in serve(); the composition root owns those.
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
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
