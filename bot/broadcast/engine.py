"""The delivery engine: sends one broadcast to its audience, exactly once per recipient
as far as the platform lets anyone know, at the channel's speed limit, across restarts.

How a run goes:

1. Take the broadcast's lease (one sender per broadcast, even with the bot and
   `unionbot broadcast send-due` on the same database). A lease whose holder died on
   this machine is taken over at once rather than after it expires.
2. Rows a crashed run left 'sending' become 'in_doubt' (or 'queued' if configured): a
   row is only ever 'sending' between its claim and the recording of its outcome.
3. Create the delivery rows for the audience, once, in one transaction.
4. Workers take queued rows in id order: wait for the channel's pacer, claim the row
   in the pacer's turn (queued -> sending, committed before the API call), send,
   record the outcome. Claims and outcomes are written in group commits by one journal
   task, so the database keeps up with 1,000+ messages/s while the claim still
   precedes every call, and a crash leaves in doubt only rows actually on their way.
5. Stop taking rows at quiet hours (resume when they end), on pause or cancel (seen
   within a second even from another process), or at shutdown (resume at start-up).
6. Several processes on one database (PostgreSQL): a process that finds a broadcast
   running under another live process's lease helps it (`help`): it takes queued rows
   from the other end of the list, claims each like the holder does (a row claimed once
   is never claimed again), and leaves the broadcast's status, quiet hours and the end
   to the holder, which waits for the helpers' rows in flight before it calls it done.
   Killed, a helper leaves only its rows in flight in doubt; killed, the holder leaves
   the rest to the helpers, and its lease to whoever takes it over.
7. Per-channel rules, asked of the sender when it has them (Zalo, bot/broadcast/
   zalo_sender.py): `skip_reason(target, now)` skips a row with no call (the OA's
   window); `blackout_until(now)` holds that channel's rows while the others go on
   (Zalo's night), then waits for it to end. A channel that is down keeps its rows
   queued while the other channels finish; the next run tries it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.broadcast.clock import Clock, SystemClock
from bot.broadcast.limits import ChannelLimiter
from bot.broadcast.senders import (
    ChannelDown,
    Part,
    RecipientGone,
    Rejected,
    Sender,
    Skipped,
    Throttled,
    Transient,
)
from handlers.broadcasts.render import message_language, render_message
from handlers.broadcasts.schedule import QuietHours
from handlers.i18n import LANGUAGES, Catalog
from storage import Channel, Store, User
from storage.broadcasts import (
    REASON_BLOCKED,
    REASON_OPTED_OUT,
    REASON_UNREACHABLE,
    Broadcast,
    BroadcastPhoto,
    BroadcastStats,
    BroadcastStatus,
    DeliveryResult,
    DeliveryStatus,
    DeliveryTarget,
)

logger = logging.getLogger(__name__)


class RunOutcome(StrEnum):
    """How a run of the engine ended (RunReport.outcome); a StrEnum, so logs, the CLI and
    stored reasons read the plain word. A channel's own blackout (Zalo's night) ends a
    run with that sender's `blackout_reason` instead."""

    DONE = "done"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    STOPPED = "stopped"
    SHUTDOWN = "shutdown"
    QUIET_HOURS = "quiet_hours"
    BUSY = "busy"
    GONE = "gone"
    CHANNEL_DOWN = "channel_down"
    LOST_LEASE = "lost_lease"
    ERROR = "error"
    HELPED = "helped"  # a co-sender's share is done; the lease holder finishes the broadcast


class PumpOutcome(StrEnum):
    """How one pass of `_pump` over the queued rows ended; `_loop` decides what the run
    does next (RunOutcome is how the whole run ends)."""

    MORE = "more"  # rows are left: their channel is down or in its blackout
    EMPTY = "empty"  # no row is left: the broadcast is done (or this helper's share)
    DEADLINE = "deadline"  # quiet hours began: the loop waits them out
    STOPPED = "stopped"  # the run was stopped; run.stop_reason says why


# Called when a run ends with the broadcast as it stands and its figures.
Notify = Callable[[User, Broadcast, BroadcastStats], Awaitable[None]]
# (broadcast id, rows done in this run, rows queued when the run started)
Progress = Callable[[int, int, int], None]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    # Rows left 'sending' by a crash: False -> in doubt (never a duplicate), True -> queued.
    resend_in_doubt: bool = False
    max_attempts: int = 5  # per message, for timeouts and server errors
    backoff_base: float = 0.5  # seconds; doubles per attempt, with jitter
    backoff_cap: float = 30.0
    max_rate_limited: int = 20  # 429s for one message before it is failed
    # Messages in flight per broadcast; None: about half a second's worth at the rate.
    concurrency: int | None = None
    lease_seconds: float = 60.0
    status_poll_seconds: float = 1.0
    # The lease holder, out of queued rows, waits this long at most for co-senders'
    # rows in flight before it calls the broadcast done (see `help`).
    settle_seconds: float = 30.0
    page_size: int = 500
    # The bot waits through quiet hours; a one-shot `send-due` stops and lets cron resume.
    wait_quiet: bool = True


@dataclass
class RunReport:
    broadcast_id: int
    outcome: str  # a RunOutcome, or a sender's blackout reason
    recovered: int = 0
    stats: BroadcastStats | None = None


@dataclass
class _Run:
    broadcast: Broadcast
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stop_reason: str | None = None
    messages: dict[str, list[Part]] = field(default_factory=dict)  # "channel:lang" -> parts
    processed: int = 0
    total: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    # channel -> when its blackout ends, for channels whose rows were held in this pump
    deferred: dict[str, datetime] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)  # channels that failed with ChannelDown
    helper: bool = False  # a co-sender beside the lease holder (see DeliveryEngine.help)

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.wake.set()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def make_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_owner(owner: str | None) -> str | None:
    """`owner` if it names a process on this machine that no longer exists."""
    if not owner:
        return None
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return None
    return None if _alive(int(pid)) else owner


class Journal:
    """Group-commits claims and outcomes: a couple of statements per batch instead of two
    per message, while every claim is still committed before its message is sent."""

    def __init__(self, store: Store, broadcast_id: int, *, gather_turns: int = 0) -> None:
        self.store = store
        self.broadcast_id = broadcast_id
        self.gather_turns = gather_turns
        self._claims: dict[int, asyncio.Future[bool]] = {}
        self._results: list[DeliveryResult] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._error: Exception | None = None
        self._task: asyncio.Task[None] | None = None
        self.commits = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"journal:{self.broadcast_id}")

    async def claim(self, delivery_id: int) -> bool:
        """Mark the row sending; True once committed, False if it was no longer queued."""
        if self._error is not None:
            raise self._error
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claims[delivery_id] = future
        self._wake.set()
        return await future

    def record(self, delivery_id: int, status: DeliveryStatus, reason: str | None = None) -> None:
        self._results.append(DeliveryResult(delivery_id, status, reason))
        self._wake.set()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            # Unpaced, a few turns of the event loop before writing: sends that finish
            # in the same moment add their claims to this batch instead of each waiting
            # for a batch of its own (fewer, larger group commits: 5 -> 8 messages per
            # commit at 16 lanes; the claim still precedes the send). Paced, claims come
            # one at a time in the pacer's turn, so waiting would only delay them.
            for _ in range(self.gather_turns):
                await asyncio.sleep(0)
            self._wake.clear()
            claims, self._claims = self._claims, {}
            results, self._results = self._results, []
            if claims or results:
                try:
                    claimed = await self.store.journal_deliveries(self.broadcast_id, list(claims), results)
                except Exception as e:
                    # Nothing of this batch is known to be written: its claims fail (those
                    # rows are not sent), its outcomes stay 'sending' and come back as in
                    # doubt at the next start. Later claims fail at once.
                    logger.exception("broadcast %s: could not write deliveries", self.broadcast_id)
                    self._error = e
                    for future in (*claims.values(), *self._claims.values()):
                        if not future.done():
                            future.set_exception(e)
                    return
                self.commits += 1
                for delivery_id, future in claims.items():
                    if not future.done():
                        future.set_result(delivery_id in claimed)
            if self._closing and not self._claims and not self._results:
                return


class DeliveryEngine:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        senders: dict[str, Sender],
        quiet: QuietHours,
        *,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        notify: Notify | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.senders = senders
        self.quiet = quiet
        self.settings = settings or EngineSettings()
        self.clock: Clock = clock or SystemClock()
        self.notify = notify
        self.owner = owner or make_owner()
        # A sender's own limiter is the channel's, shared with its replies.
        self.limiters = {name: getattr(s, "limiter", None) or ChannelLimiter(s.limits) for name, s in senders.items()}
        # Per-channel rules (Zalo's night, the OA's window), looked up once rather than
        # per message; most senders have none, and then no clock is read per message.
        self._rules = {
            name: (getattr(s, "blackout_until", None), getattr(s, "skip_reason", None)) for name, s in senders.items()
        }
        self.runs: dict[int, _Run] = {}
        self.progress: Progress | None = None
        self.journal_commits = 0  # batches written, for benchmarks
        tz = getattr(quiet, "tz", None)
        self.poll_timezone = str(getattr(tz, "key", None) or "Asia/Ho_Chi_Minh")  # poll closing times

    # -- control -------------------------------------------------------------
    def stop(self, broadcast_id: int, reason: str) -> None:
        run = self.runs.get(broadcast_id)
        if run is not None:
            run.stop(reason)

    def stop_all(self, reason: str) -> None:
        for run in self.runs.values():
            run.stop(reason)

    def concurrency(self) -> int:
        if self.settings.concurrency is not None:
            return self.settings.concurrency
        rates = [s.limits.rate for s in self.senders.values()]
        if any(r is None for r in rates) or not rates:
            # Unpaced (benchmarks, a local API): 16 keeps two cores busy; more only costs CPU.
            return 16
        # Enough sends in flight to keep the pace through round trips of up to half a
        # second to Telegram: 15 at 30/s, 256 for a paid broadcast at 1,000/s. Workers
        # wait for the pacer before claiming a row, so idle ones hold nothing in doubt.
        return max(4, min(256, int(max(r for r in rates if r) * 0.5)))

    # -- one run -------------------------------------------------------------
    async def run(self, broadcast_id: int) -> RunReport:
        if broadcast_id in self.runs:
            return RunReport(broadcast_id, RunOutcome.BUSY)
        b = await self.store.get_broadcast(broadcast_id)
        if b is None or b.is_series:
            return RunReport(broadcast_id, RunOutcome.GONE)
        now = self.clock.now()
        claimed = await self.store.claim_broadcast(
            broadcast_id,
            self.owner,
            now=now,
            lease_until=now + timedelta(seconds=self.settings.lease_seconds),
            steal_from=dead_owner(b.lease_owner),
        )
        if claimed is None:
            return RunReport(broadcast_id, RunOutcome.BUSY)
        run = _Run(claimed)
        self.runs[broadcast_id] = run
        keeper = asyncio.create_task(self._keep_lease(run), name=f"lease:{broadcast_id}")
        report = RunReport(broadcast_id, RunOutcome.STOPPED)
        try:
            report.recovered = await self.store.recover_deliveries(
                broadcast_id,
                resend=self.settings.resend_in_doubt,
            )
            if report.recovered:
                logger.warning(
                    "broadcast %s: %d deliveries were in flight at a crash: %s",
                    broadcast_id,
                    report.recovered,
                    "queued again" if self.settings.resend_in_doubt else "marked in doubt",
                )
            size = await self.store.materialize_audience(broadcast_id)
            logger.info("broadcast %s: running for %d recipients", broadcast_id, size)
            await self._prepare(run)
            stats = await self.store.delivery_stats(broadcast_id)
            run.total = stats.count(DeliveryStatus.QUEUED)
            self._progress(run)
            report.outcome = await self._loop(run)
            self._progress(run)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            self.runs.pop(broadcast_id, None)
            if report.outcome != RunOutcome.DONE:
                await self.store.release_broadcast(broadcast_id, self.owner)
        report.stats = await self.store.delivery_stats(broadcast_id)
        if report.outcome == RunOutcome.DONE:
            await self._finish(broadcast_id, report.stats)
        logger.info(
            "broadcast %s: %s (sent %d, failed %d, skipped %d, in doubt %d, max in flight %d)",
            broadcast_id,
            report.outcome,
            report.stats.sent,
            report.stats.failed,
            report.stats.skipped,
            report.stats.in_doubt,
            run.max_in_flight,
        )
        return report

    async def help(self, broadcast_id: int) -> RunReport:
        """Send a share of a broadcast another live process holds the lease of (several
        processes on one database); returns when no queued row is left for this process,
        or on a stop. The holder alone recovers, materializes, pauses for quiet hours and
        finishes; the claims keep any row from going out twice."""
        if broadcast_id in self.runs:
            return RunReport(broadcast_id, RunOutcome.BUSY)
        b = await self.store.get_broadcast(broadcast_id)
        if b is None or b.is_series:
            return RunReport(broadcast_id, RunOutcome.GONE)
        if b.status is not BroadcastStatus.RUNNING or b.lease_owner in (None, self.owner):
            return RunReport(broadcast_id, RunOutcome.BUSY)
        if self.quiet.is_quiet(self.clock.now()):
            return RunReport(broadcast_id, RunOutcome.QUIET_HOURS)
        run = _Run(b, helper=True)
        self.runs[broadcast_id] = run
        watcher = asyncio.create_task(self._keep_lease(run), name=f"help:{broadcast_id}")
        report = RunReport(broadcast_id, RunOutcome.STOPPED)
        try:
            await self._prepare(run)
            report.outcome = await self._loop(run)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self.runs.pop(broadcast_id, None)
        report.stats = await self.store.delivery_stats(broadcast_id)
        logger.info("broadcast %s: helped with %d rows (%s)", broadcast_id, run.processed, report.outcome)
        return report

    async def _settle(self, run: _Run) -> None:
        """Out of queued rows: wait for rows other processes have in flight, so the
        summary counts them; a helper killed meanwhile leaves its rows in doubt."""
        if not self.store.shared_by_processes:
            return
        b = run.broadcast
        deadline = asyncio.get_running_loop().time() + self.settings.settle_seconds
        while await self.store.any_sending(b.id):
            if asyncio.get_running_loop().time() >= deadline:
                left = await self.store.recover_deliveries(b.id, resend=False)
                logger.warning("broadcast %s: %d rows of another process never came back; in doubt", b.id, left)
                return
            await asyncio.sleep(min(0.2, self.settings.status_poll_seconds))

    async def _prepare(self, run: _Run) -> None:
        b = run.broadcast
        photo: BroadcastPhoto | None = await self.store.get_photo(b.photo_id) if b.photo_id else None
        if await self._prepare_poll(run):
            return
        for name, sender in self.senders.items():
            for lang in LANGUAGES:
                rendered = render_message(self.catalog, lang, b.text_vi, b.text_en)
                run.messages[f"{name}:{lang}"] = sender.plan(rendered.text, photo)

    async def _prepare_poll(self, run: _Run) -> bool:
        """A poll's broadcast: the question with one button (or number) per choice."""
        poll = await self.store.poll_of_broadcast(run.broadcast.id)
        if poll is None:
            return False
        from handlers.listening.polls import poll_message

        for name, sender in self.senders.items():
            for lang in LANGUAGES:
                message = poll_message(self.catalog, lang, poll, self.poll_timezone, numbered=name != Channel.TELEGRAM)
                parts = sender.plan(message.text, None)
                rows = tuple(tuple((b.label, b.payload) for b in row) for row in message.buttons)
                parts[-1] = dataclasses.replace(parts[-1], buttons=rows)
                run.messages[f"{name}:{lang}"] = parts
        return True

    async def _loop(self, run: _Run) -> str:
        b = run.broadcast
        while True:
            if run.stop_reason is not None:
                return run.stop_reason
            now = self.clock.now()
            if self.quiet.is_quiet(now) and run.helper:
                return RunOutcome.QUIET_HOURS  # the holder waits them out; so may we, later
            if self.quiet.is_quiet(now):
                await self.store.set_broadcast_status(
                    b.id,
                    BroadcastStatus.RUNNING,
                    reason=RunOutcome.QUIET_HOURS,
                    expect=[BroadcastStatus.RUNNING],
                )
                if not self.settings.wait_quiet:
                    return RunOutcome.QUIET_HOURS
                resume = self.quiet.ends_after(now)
                logger.info("broadcast %s: quiet hours, waiting until %s", b.id, resume.isoformat())
                await self.clock.sleep_until(resume, run.wake)
                if run.stop_reason is None:
                    await self.store.set_broadcast_status(
                        b.id,
                        BroadcastStatus.RUNNING,
                        expect=[BroadcastStatus.RUNNING],
                    )
                continue
            run.deferred.clear()
            outcome = await self._pump(run, self.quiet.next_start(now))
            if outcome is PumpOutcome.STOPPED:
                continue  # the loop's first check returns why (a channel down among them)
            if run.down and outcome is PumpOutcome.MORE:
                return RunOutcome.CHANNEL_DOWN  # its rows stay queued for the next run
            if outcome is PumpOutcome.EMPTY and run.helper:
                return RunOutcome.HELPED
            if outcome is PumpOutcome.EMPTY:
                await self._settle(run)
                return RunOutcome.DONE
            if outcome is PumpOutcome.MORE and run.deferred and run.helper:
                return RunOutcome.HELPED  # the rest waits for a channel's blackout: the holder's
            if outcome is PumpOutcome.MORE and run.deferred:
                # Only rows of channels in a blackout (Zalo's night) are left: wait it out.
                channel, resume = min(run.deferred.items(), key=lambda kv: kv[1])
                reason = getattr(self.senders[channel], "blackout_reason", "blackout")
                await self.store.set_broadcast_status(
                    b.id,
                    BroadcastStatus.RUNNING,
                    reason=reason,
                    expect=[BroadcastStatus.RUNNING],
                )
                if not self.settings.wait_quiet:
                    return reason
                logger.info("broadcast %s: %s, %s waits until %s", b.id, reason, channel, resume.isoformat())
                await self.clock.sleep_until(resume, run.wake)
                if run.stop_reason is None:
                    await self.store.set_broadcast_status(
                        b.id,
                        BroadcastStatus.RUNNING,
                        expect=[BroadcastStatus.RUNNING],
                    )

    async def _pump(self, run: _Run, deadline: datetime | None) -> PumpOutcome:
        """Send queued rows until none are left, the deadline, or a stop."""
        b, settings = run.broadcast, self.settings
        unpaced = all(s.limits.rate is None for s in self.senders.values())
        journal = Journal(self.store, b.id, gather_turns=3 if unpaced else 0)
        journal.start()
        workers_n = self.concurrency()
        queue: asyncio.Queue[DeliveryTarget | None] = asyncio.Queue(maxsize=max(settings.page_size, workers_n * 2))
        past_deadline = False

        async def feed() -> None:
            after, before = 0, 2**62  # a helper pages from the highest id down
            while True:
                if run.helper:
                    rows = await self.store.queued_deliveries(b.id, before_id=before, limit=settings.page_size)
                else:
                    rows = await self.store.queued_deliveries(b.id, after_id=after, limit=settings.page_size)
                if not rows:
                    break
                for row in rows:
                    await queue.put(row)
                after = before = rows[-1].delivery_id
            for _ in range(workers_n):
                await queue.put(None)

        async def work() -> None:
            nonlocal past_deadline
            while True:
                target = await queue.get()
                if target is None or run.stop_reason is not None:
                    return
                if deadline is not None and self.clock.now() >= deadline:
                    past_deadline = True
                    return
                await self._deliver(run, target, journal)
                run.processed += 1
                if run.processed % 50 == 0:
                    self._progress(run)

        feeder = asyncio.create_task(feed(), name=f"feed:{b.id}")
        try:
            results = await asyncio.gather(*(work() for _ in range(workers_n)), return_exceptions=True)
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
            await journal.close()
            self.journal_commits += journal.commits
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        if run.stop_reason is not None:
            return PumpOutcome.STOPPED
        if past_deadline:
            return PumpOutcome.DEADLINE
        left = await self.store.queued_deliveries(b.id, after_id=0, limit=1)
        return PumpOutcome.MORE if left else PumpOutcome.EMPTY

    async def _deliver(self, run: _Run, target: DeliveryTarget, journal: Journal) -> None:
        if not target.reachable:
            journal.record(target.delivery_id, DeliveryStatus.SKIPPED, REASON_UNREACHABLE)
            return
        # A program's reminder goes to those who took a place, /stop or not (storage.broadcasts.Audience).
        if target.opted_out and run.broadcast.audience.program is None:
            journal.record(target.delivery_id, DeliveryStatus.SKIPPED, REASON_OPTED_OUT)
            return
        sender = self.senders.get(target.channel)
        if sender is None:
            journal.record(target.delivery_id, DeliveryStatus.SKIPPED, f"no_sender: {target.channel}")
            return
        if sender.channel in run.down:
            return  # stays queued: the channel is down
        blackout, rule = self._rules[target.channel]
        if blackout is not None or rule is not None:
            now = self.clock.now()
            if blackout is not None and (until := blackout(now)) is not None:
                run.deferred[sender.channel] = until
                return  # stays queued until the channel's blackout ends
            if rule is not None and (reason := rule(target, now)) is not None:
                journal.record(target.delivery_id, DeliveryStatus.SKIPPED, reason)
                return
        # The claim happens in the pacer's turn: a row is 'sending' only once its message
        # may leave, so the rows a crash leaves in doubt are those actually on their way,
        # not a queue waiting for the pacer or a 429 pause; and the pacer counts the
        # departure after the claim, within a millisecond of the real send.
        async with self.limiters[sender.channel].turn(target.external_id, group=sender.is_group(target.external_id)):
            if run.stop_reason is not None:
                return
            claimed = await journal.claim(target.delivery_id)
        if not claimed:
            return  # cancelled or taken meanwhile: not ours to send
        run.in_flight += 1
        run.max_in_flight = max(run.max_in_flight, run.in_flight)
        try:
            status, reason = await self._send_all(run, sender, target)
        finally:
            run.in_flight -= 1
        journal.record(target.delivery_id, status, reason)

    def _progress(self, run: _Run) -> None:
        if self.progress is not None:
            self.progress(run.broadcast.id, run.processed, run.total)

    async def _send_all(self, run: _Run, sender: Sender, target: DeliveryTarget) -> tuple[DeliveryStatus, str | None]:
        settings = self.settings
        parts = run.messages[f"{sender.channel}:{message_language(target.language, run.broadcast.text_en)}"]
        limiter = self.limiters[sender.channel]
        chat, group = target.external_id, sender.is_group(target.external_id)
        index = attempts = floods = 0
        paced = True  # the first part was paced before the row was claimed
        while index < len(parts):
            if not paced:
                await limiter.acquire(chat, group=group)
            paced = False
            try:
                try:
                    await sender.send(chat, parts[index])
                finally:
                    limiter.sent(chat)  # counted in the one-second window from its answer
            except Throttled as e:
                # The whole channel waits exactly as long as asked; then this part again.
                limiter.pause(e.retry_after)
                floods += 1
                logger.info("broadcast %s: %s asked to wait %.1f s", run.broadcast.id, sender.channel, e.retry_after)
                if floods >= settings.max_rate_limited:
                    return DeliveryStatus.FAILED, "flood"
                continue
            except RecipientGone:
                await self.store.set_reachable(target.user_id, False)
                return DeliveryStatus.FAILED, REASON_BLOCKED
            except Skipped as e:
                return DeliveryStatus.SKIPPED, e.reason[:200]
            except Rejected as e:
                return DeliveryStatus.FAILED, e.reason[:200]
            except Transient as e:
                attempts += 1
                if attempts >= settings.max_attempts:
                    return DeliveryStatus.FAILED, e.reason[:200]
                await asyncio.sleep(self._backoff(attempts))
                continue
            except ChannelDown as e:
                logger.error("broadcast %s: channel %s is down (%s)", run.broadcast.id, sender.channel, e.reason)
                run.down.add(sender.channel)
                if run.down >= set(self.senders):
                    run.stop(RunOutcome.CHANNEL_DOWN)  # nothing left to send on: stop now
                if index == 0:
                    return DeliveryStatus.QUEUED, None  # nothing left us: it can go later
                return DeliveryStatus.IN_DOUBT, e.reason[:200]
            index += 1
        return DeliveryStatus.SENT, None

    def _backoff(self, attempt: int) -> float:
        """Exponential with 'equal jitter': half fixed so it grows, half random so many
        failed sends do not retry in lock-step."""
        delay = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    async def _keep_lease(self, run: _Run) -> None:
        """Renew the lease and watch the store, where another process may pause or cancel."""
        b, settings = run.broadcast, self.settings
        renew_every = max(settings.lease_seconds / 3, settings.status_poll_seconds)
        last_renew = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(settings.status_poll_seconds)
            current = await self.store.get_broadcast(b.id)
            if current is None:
                run.stop(RunOutcome.GONE)
                return
            if current.status is BroadcastStatus.PAUSED:
                run.stop(RunOutcome.PAUSED)
            elif current.status is BroadcastStatus.CANCELLED:
                run.stop(RunOutcome.CANCELLED)
            elif current.status is not BroadcastStatus.RUNNING:
                run.stop(RunOutcome.STOPPED)
            elif run.helper:
                continue  # a helper holds no lease: the status is all it watches
            elif current.lease_owner != self.owner:
                run.stop(RunOutcome.LOST_LEASE)
            loop_now = asyncio.get_running_loop().time()
            if loop_now - last_renew >= renew_every:
                last_renew = loop_now
                until = self.clock.now() + timedelta(seconds=settings.lease_seconds)
                if not await self.store.renew_lease(b.id, self.owner, until):
                    run.stop(RunOutcome.LOST_LEASE)

    async def _finish(self, broadcast_id: int, stats: BroadcastStats) -> None:
        moved = await self.store.set_broadcast_status(
            broadcast_id,
            BroadcastStatus.DONE,
            expect=[BroadcastStatus.RUNNING],
        )
        if moved:
            await self.send_summary(broadcast_id, stats)

    async def send_summary(self, broadcast_id: int, stats: BroadcastStats | None = None) -> None:
        """Tell the organizer who created the broadcast how it went, once."""
        b = await self.store.get_broadcast(broadcast_id)
        if b is None or b.created_by is None or self.notify is None:
            return
        user = await self.store.get_user(b.created_by)
        if user is None or not await self.store.mark_summary_sent(broadcast_id):
            return
        try:
            await self.notify(user, b, stats or await self.store.delivery_stats(broadcast_id))
        except Exception:
            logger.exception("broadcast %s: could not send the summary to user %s", broadcast_id, user.id)
