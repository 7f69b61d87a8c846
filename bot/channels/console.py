"""A terminal chat with the real handlers and the real store.

Buttons are shown as numbered choices and typing the number (or the label) presses the
button (see `bot/channels/numbered.py`), so anyone can try the bot without Telegram.
Reads one message per line, from a person or from a pipe, which makes it scriptable.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from starlette.routing import BaseRoute

from bot.channels.base import ChannelRegistry
from bot.channels.numbered import NumberedChoices, choice_mark
from handlers.dispatcher import Dispatcher
from handlers.types import Channel, Inbound, InboundKind, Reply

logger = logging.getLogger(__name__)

NAME = Channel.CONSOLE
QUIT_WORDS = {"/quit", "/exit"}


class ConsoleChannel:
    name: str = NAME

    def __init__(
        self,
        dispatcher: Dispatcher,
        user_id: str,
        *,
        out: TextIO | None = None,
        files_dir: Path = Path("data/console-files"),
        language: str | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.user_id = user_id
        self.out = out or sys.stdout
        self.files_dir = files_dir
        self.language = language
        self.registry: ChannelRegistry | None = None
        self.choices = NumberedChoices()
        # Replies addressed to other console users (an organizer answering a worker):
        # shown inline so a single terminal can play both sides.
        self.delivered: list[tuple[str, Reply]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def web_routes(self) -> list[BaseRoute]:
        return []

    async def send(self, user_id: str, reply: Reply) -> None:
        self.delivered.append((user_id, reply))
        self._print(f"[→ {NAME}:{user_id}]")
        self._show(reply, remember_buttons=user_id == self.user_id)

    def to_inbound(self, line: str) -> Inbound:
        text = line.rstrip("\r\n")
        picked = self.choices.match(self.user_id, text)
        if picked is not None:
            return Inbound(NAME, self.user_id, InboundKind.BUTTON, payload=picked, language=self.language)
        return Inbound.parse_text(NAME, self.user_id, text, language=self.language)

    async def handle_line(self, line: str) -> list[Reply]:
        replies = await self.dispatcher.handle(self.to_inbound(line))
        # Detached replies (handlers/types.py) after the sender's own; inline, as nobody
        # can read anything from a terminal's timing.
        for reply in sorted(replies, key=lambda r: r.sent_detached):
            channel = reply.to_channel or NAME
            if reply.to_user is not None and not (channel == NAME and reply.to_user == self.user_id):
                if channel == NAME:
                    # Another console user: one terminal plays both sides, so show it here.
                    self._print(f"[→ {channel}:{reply.to_user}]")
                    self._show(reply, remember_buttons=False)
                    self.delivered.append((reply.to_user, reply))
                elif (
                    (self.registry is None or not await self.registry.deliver(channel, reply.to_user, reply))
                    and reply.on_failure is not None
                    and not reply.detached  # never told its fate (see Reply.detached)
                ):
                    self._show(reply.on_failure)
                continue
            self._show(reply)
        return replies

    async def run(self, read_line: Callable[[], str] | None = None, *, prompt: bool = False) -> None:
        """Read lines until end of input or /quit."""
        loop = asyncio.get_running_loop()
        read = read_line or sys.stdin.readline
        while True:
            if prompt:
                self.out.write("> ")
                self.out.flush()
            line = await loop.run_in_executor(None, read)
            if not line or line.strip().lower() in QUIT_WORDS:
                break
            try:
                await self.handle_line(line)
            except Exception:
                # Like the Telegram error handler: log it, apologise, keep the chat open.
                logger.exception("console: error while handling a message")
                self._show(await self.dispatcher.apology(NAME, self.user_id))

    # -- rendering ---------------------------------------------------------
    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _show(self, reply: Reply, *, remember_buttons: bool = True) -> None:
        if reply.photo is not None:
            self._print(f"[image saved: {self._save(reply.photo.filename, reply.photo.data)}]")
        if reply.document is not None:
            self._print(f"[file saved: {self._save(reply.document.filename, reply.document.data)}]")
        if reply.text:
            self._print(reply.text)
        flat = [b for row in reply.buttons for b in row]
        for i, b in enumerate(flat, 1):
            self._print(f"  {choice_mark(i, reply.numbers_typed)}) {b.label}")
        if remember_buttons and flat:
            self.choices.offer(self.user_id, flat, fresh=True, lettered=reply.numbers_typed)
        self._print("")

    def _save(self, filename: str, data: bytes) -> Path:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / Path(filename).name
        path.write_bytes(data)
        return path
