"""What the two Zalo adapters share: turning replies into Zalo messages, one turn at a time.

Zalo has no buttons the bot can rely on (reference 1.3 and 4), so a reply's buttons
become numbered choices under its text (`bot/channels/numbered.py`) and the worker's
answer, a number or the option's words, comes back as the button press.

A reply becomes a list of steps (an image, then text parts of at most 2,000
characters). Replies to a worker who just wrote retry a transient failure a few
times from the step that failed; `send`, which the broadcast engine calls, tries
once and raises the platform's exception with `parts_sent` set, so the engine decides.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import enum
import logging
import typing
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from bot.broadcast.limits import ChannelLimiter, Priority
from bot.channels.base import ChannelRegistry
from bot.channels.journal import InboundJournal, Pending
from bot.channels.numbered import NumberedChoices
from bot.channels.ordering import BackgroundHandler
from bot.channels.zalo.errors import Blocked, RateLimited, ZaloError, ZaloTransientError
from bot.channels.zalo.text import split_text
from handlers.dispatcher import Dispatcher
from handlers.i18n import Catalog
from handlers.types import Inbound, InboundKind, Photo, Reply
from storage import Store

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

logger = logging.getLogger(__name__)

Step = Callable[[], Awaitable[object]]

# Webhook bodies are a few kilobytes; anything far larger is not from Zalo.
MAX_WEBHOOK_BODY = 256 * 1024
# How long `stop` waits for replies in flight (then for detached ones) before cancelling them.
STOP_TIMEOUT = 20.0

D = TypeVar("D", bound="DataclassInstance")  # a parsed update


def journal_payload(update: object) -> dict[str, Any]:
    """A parsed Zalo update (a dataclass of plain fields) as JSON for the inbound journal."""
    assert dataclasses.is_dataclass(update)
    assert not isinstance(update, type)
    return {f.name: getattr(update, f.name) for f in dataclasses.fields(update)}


def from_journal(cls: type[D], payload: dict[str, Any]) -> D:
    """The update back from `journal_payload`: enums by value, lists as tuples."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, value in payload.items():
        if name not in names:
            continue  # written by another version of the bot: ignore what it no longer has
        hint = hints.get(name)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            value = hint(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


class ZaloChannelBase(abc.ABC):
    """Rendering and turn handling; subclasses send text and images and receive updates."""

    name: str
    # Pauses before retrying a transient failure while answering a worker. A rate
    # limit waits what Zalo asks, up to MAX_RETRY_WAIT.
    retry_delays: tuple[float, ...] = (1.0, 4.0)
    MAX_RETRY_WAIT = 30.0

    def __init__(
        self,
        dispatcher: Dispatcher,
        store: Store,
        catalog: Catalog,
        registry: ChannelRegistry | None,
    ) -> None:
        self.dispatcher = dispatcher
        self.store = store
        self.catalog = catalog
        self.registry = registry
        self.choices = NumberedChoices()
        self.background = BackgroundHandler(self.name)
        # Replies marked `detached` (handlers/types.py): sent after the sender's own, in
        # background tasks kept here, in order per recipient; drained after `background`.
        self.detached = BackgroundHandler(f"{self.name} detached")
        self.journal = InboundJournal(store, self.name)
        # The app's one pacer, shared with its broadcast sender (set by the Runtime).
        self.limiter: ChannelLimiter | None = None

    # -- to implement ------------------------------------------------------
    @abc.abstractmethod
    async def _send_text(self, to: str, text: str) -> object:
        """Send one message (already within Zalo's length limit) to `to`."""

    def _photo_step(self, to: str, photo: Photo) -> Step | None:
        """A step that sends `photo`, or None where the channel cannot send image bytes."""
        return None

    # -- inbound -----------------------------------------------------------
    def text_inbound(self, user_id: str, text: str, *, chat_id: str | None = None) -> Inbound:
        """Typed text, a command, or the answer to numbered choices (a button press)."""
        picked = self.choices.match(user_id, text)
        if picked is not None:
            return Inbound(self.name, user_id, InboundKind.BUTTON, payload=picked, chat_id=chat_id)
        return Inbound.parse_text(self.name, user_id, text, chat_id=chat_id)

    async def handle(self, inbound: Inbound, *, journal_key: str | None = None) -> None:
        """Dispatch one inbound message and deliver the replies; apologise if that fails.

        With `journal_key`, the journal row is marked handled between the two (see
        bot/channels/journal.py): a crash after it never sends the replies twice.
        """
        try:
            replies = await self.dispatcher.handle(inbound)
            if journal_key is not None and replies:
                await self.journal.handled(journal_key)
            await self._render_turn(inbound, replies)
        except Blocked as exc:
            # The worker blocked the OA: no apology can reach them either.
            await self._mark_blocked(exc.user_id or inbound.chat_id or inbound.user_id, exc)
        except Exception:
            logger.exception("%s: error while handling a message from user %s", self.name, inbound.user_id)
            await self._apologise(inbound)

    async def _apologise(self, inbound: Inbound) -> None:
        to = inbound.chat_id or inbound.user_id
        try:
            apology = await self.dispatcher.apology(self.name, inbound.user_id)
            await self._run(self._plan(to, apology, await self._language(to), fresh=True), retry=False)
        except ZaloError as exc:
            logger.warning("%s: could not send the apology to user %s (%s)", self.name, inbound.user_id, exc.code)

    async def adopt_orphans(self) -> int:
        """Handle what other processes on the database acknowledged and died without
        handling (bot/channels/journal.py); how many updates were taken over."""
        if self.background.closed:
            return 0
        return await self.adopt(running=True)

    async def adopt(self, *, running: bool) -> int:
        """Queue the journal's unfinished rows that are now this process's; how many."""
        count = 0
        for pending in await self.journal.unfinished():
            try:
                replay = self._replay(pending)
            except (TypeError, ValueError, KeyError):
                logger.warning("%s: dropped an unreadable journaled update", self.name)
                replay = None
            if replay is None:
                await self.journal.finish(pending.key)
                continue
            user_id, work = replay
            self.background.submit(self.replay_key(user_id, running), self.journaled(pending.key, work))
            count += 1
        return count

    @abc.abstractmethod
    def _replay(self, pending: Pending) -> tuple[str, Coroutine[Any, Any, None]] | None:
        """The sender and the handling of a journaled update (None: nobody to answer);
        TypeError, ValueError or KeyError for a payload that cannot be read back."""

    @staticmethod
    def replay_key(user_id: str, running: bool) -> Hashable:
        # At start-up a replay goes first in its user's queue. Adopted while running, it
        # is kept in order by the database's turns instead: queued behind a newer update
        # of the same user that waits for this one's turn, it would hold that user up.
        return ("adopted", user_id) if running else user_id

    async def journaled(self, key: str, work: Awaitable[None]) -> None:
        """Run one update's handling, then delete its journal row (not when cancelled:
        a stop mid-way leaves the row for the next start). With several processes, the
        handling waits for the user's turn (bot/channels/journal.py)."""
        try:
            await self.journal.take_turn(key)
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            await self.journal.finish(key)
            raise
        await self.journal.finish(key)

    # -- outbound ----------------------------------------------------------
    async def send(self, user_id: str, reply: Reply) -> None:
        """Deliver `reply` to a worker who did not just write (hand-off answers, broadcasts).

        One attempt per message: a failure raises the Zalo exception (`Unreachable`,
        `RateLimited`, `ZaloTransientError`, ...) with `parts_sent` counting the
        messages that went out before it, so a caller that retries can skip them.
        New choices replace the worker's earlier ones only if the reply has buttons.
        """
        steps = self._plan(user_id, reply, await self._language(user_id), fresh=bool(reply.buttons))
        try:
            await self._run(steps, retry=False)
        except Blocked as exc:
            await self._mark_blocked(user_id, exc)
            raise

    async def _mark_blocked(self, external_id: str, exc: Blocked) -> None:
        """The worker blocked or restricted us: unreachable until they write again."""
        user = await self.store.find_user(self.name, external_id)
        if user is not None and user.reachable:
            await self.store.set_reachable(user.id, False)
        logger.info(
            "%s: user %s blocked or restricted the channel (%s); marked unreachable",
            self.name,
            user.id if user else "?",
            exc.code,
        )

    async def _render_turn(self, inbound: Inbound, replies: list[Reply]) -> None:
        to = inbound.chat_id or inbound.user_id
        lang = await self._language(inbound.user_id)  # after dispatch: /lang may have changed it
        fresh = True  # the turn's first reply replaces the choices offered before
        try:
            for reply in replies:
                if self._elsewhere(reply, to):
                    if reply.detached:
                        continue
                    if not await self._deliver_elsewhere(reply) and reply.on_failure is not None:
                        await self._run(self._plan(to, reply.on_failure, lang, fresh=fresh), retry=True)
                    continue
                await self._run(self._plan(to, reply, lang, fresh=fresh), retry=True)
                fresh = False
        finally:
            # Even when the sender's own replies failed: what the notices report was done.
            for reply in replies:
                if reply.detached and self._elsewhere(reply, to):
                    self._detach(reply)

    def _elsewhere(self, reply: Reply, to: str) -> bool:
        """Whether `reply` goes to someone other than `to`, the sender's chat."""
        return reply.to_user is not None and not ((reply.to_channel or self.name) == self.name and reply.to_user == to)

    def _detach(self, reply: Reply) -> None:
        assert reply.to_user is not None
        key = (reply.to_channel or self.name, reply.to_user)
        if not self.detached.submit(key, self._send_detached(reply)):
            logger.warning("%s: stopping, a detached reply to %s:%s was not sent", self.name, *key)

    async def _send_detached(self, reply: Reply) -> None:
        # Paced and retried like any reply (`_deliver_elsewhere`), which logs a failure
        # without the text. No `on_failure` (see Reply.detached).
        await self._deliver_elsewhere(reply)

    async def _deliver_elsewhere(self, reply: Reply) -> bool:
        assert reply.to_user is not None
        channel = reply.to_channel or self.name
        if channel == self.name:
            try:
                lang = await self._language(reply.to_user)
                await self._run(self._plan(reply.to_user, reply, lang, fresh=bool(reply.buttons)), retry=True)
                delivered = True
            except ZaloError:
                logger.warning("%s: could not deliver a reply to user %s", self.name, reply.to_user, exc_info=True)
                delivered = False
        else:
            delivered = self.registry is not None and await self.registry.deliver(channel, reply.to_user, reply)
        return delivered

    def _plan(self, to: str, reply: Reply, lang: str, *, fresh: bool) -> list[Step]:
        hint_key = "zalo.choose_letter_hint" if reply.numbers_typed else "zalo.choose_hint"
        hint = self.catalog.t(lang, hint_key) if reply.buttons else None
        text = self.choices.render(to, reply, fresh=fresh, hint=hint)
        notes: list[str] = []
        steps: list[Step] = []
        if reply.photo is not None:
            step = self._photo_step(to, reply.photo)
            if step is None:
                notes.append(self.catalog.t(lang, "zalo.photo_unavailable"))
            else:
                steps.append(step)
        if reply.document is not None:
            notes.append(self.catalog.t(lang, "zalo.file_unavailable", filename=reply.document.filename))
        full = "\n\n".join(part for part in (text, *notes) if part)
        steps.extend(partial(self._send_text, to, part) for part in split_text(full))
        return steps

    async def _run(self, steps: list[Step], *, retry: bool) -> None:
        """Send the steps. `retry` marks a reply to a worker who wrote: retried, and
        paced first in line (`send`, which the broadcast sender calls inside its own
        turn of the same pacer, is not paced again here)."""
        done = 0
        failures = 0
        limiter = self.limiter if retry else None
        while done < len(steps):
            if limiter is not None:
                await limiter.acquire("", priority=Priority.REPLY)
            try:
                try:
                    await steps[done]()
                finally:
                    if limiter is not None:
                        limiter.sent("")
            except ZaloTransientError as exc:
                if not retry or failures >= len(self.retry_delays):
                    exc.parts_sent = done
                    raise
                delay = self.retry_delays[failures]
                if isinstance(exc, RateLimited) and exc.retry_after:
                    delay = min(max(delay, exc.retry_after), self.MAX_RETRY_WAIT)
                if isinstance(exc, RateLimited) and limiter is not None:
                    limiter.pause(delay)  # the app's limit: broadcasts wait too
                failures += 1
                logger.info("%s: transient failure (%s), retrying in %.1f s", self.name, exc.code, delay)
                await asyncio.sleep(delay)
                continue
            except ZaloError as exc:
                exc.parts_sent = done
                raise
            done += 1
            failures = 0

    async def _language(self, external_id: str) -> str:
        user = await self.store.find_user(self.name, external_id)
        return user.language if user is not None else self.dispatcher.services.settings.default_language
