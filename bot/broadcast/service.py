"""Schedules broadcasts with APScheduler 3; the store stays the source of truth.

APScheduler only holds timers (in memory). At start-up, and every `sync_seconds` after
(to see broadcasts created or cancelled from the command line), the service reads every
scheduled and running broadcast from the store and re-arms it:

* due, and late by at most `missed_limit`: sent now (quiet hours permitting);
* late by more: skipped, with the reason, and the organizer is told;
* a series creates one occurrence per firing (unique per time, so a timer re-armed
  after a restart cannot send an occurrence twice) and stores its next firing.

`send_due` does the same once, without timers, for `unionbot broadcast send-due` from cron.

Several processes on one database: only the leader (bot/leadership.py) runs the
schedules (`lead`): timers, the periodic sync, series occurrences, skipping missed sends.
Every process starts its senders and may run a broadcast an organizer just started from
its chat (`changed`), and each keeps finishing the runs it has; the broadcast's lease
(`claim_broadcast`), the unique occurrence per series and time, and status-conditional
updates keep two processes from sending anything twice, also while leadership changes
hands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.broadcast.cron import CronError, cron_trigger, next_fire
from bot.broadcast.engine import DeliveryEngine, RunOutcome, RunReport
from handlers.broadcasts.schedule import format_local
from storage import Store
from storage.broadcasts import ACTIVE_STATUSES, Broadcast, BroadcastStatus

logger = logging.getLogger(__name__)

MAX_CATCH_UP = 500  # occurrences of one series handled per sync: a bound, not a goal


class BroadcastService:
    def __init__(
        self,
        store: Store,
        engine: DeliveryEngine,
        *,
        timezone: str,
        missed_limit: timedelta,
        sync_seconds: float = 30.0,
        use_timers: bool = True,
        lead_at_start: bool = True,
        help_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.engine = engine
        self.tz = ZoneInfo(timezone)
        self.missed_limit = missed_limit
        self.sync_seconds = sync_seconds
        self.scheduler: AsyncIOScheduler | None = AsyncIOScheduler(timezone=self.tz) if use_timers else None
        self.tasks: dict[int, asyncio.Task[RunReport]] = {}
        self.reports: list[RunReport] = []  # runs of `send_due`
        self._sync_lock = asyncio.Lock()
        self.syncs = 0  # rounds of `sync` finished (tests wait on it instead of sleeping)
        # Whether this process runs the schedules; a follower arms no timer and creates no
        # occurrence. `lead_at_start=False` leaves the choice to a Leadership service.
        # Without timers (`send-due` from cron) the operator asked for a round: it leads.
        self.leading = self.scheduler is None
        self._scheduling = False  # lead() ran and follow() has not since
        self._lead_at_start = lead_at_start
        # Several processes on one database: how often this one looks for broadcasts
        # another process is sending, to help (DeliveryEngine.help).
        self.help_seconds = help_seconds
        self._helping: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        for sender in self.engine.senders.values():
            await sender.start()
        if self._lead_at_start:
            await self.lead()
        if self.store.shared_by_processes and self.scheduler is not None:
            self._helping = asyncio.create_task(self._help_loop(), name="broadcast-help")
        logger.info("broadcast service started (%d runs)", len(self.tasks))

    async def lead(self) -> None:
        """Run the schedules from now on: arm everything and catch up on what came due."""
        if self._scheduling:
            return
        self.leading = self._scheduling = True
        if self.scheduler is not None:
            if not self.scheduler.running:
                self.scheduler.start()
            else:
                self.scheduler.resume()  # a former leader that had stepped down
            self.scheduler.add_job(
                self.sync,
                IntervalTrigger(seconds=self.sync_seconds, timezone=self.tz),
                id="broadcast-sync",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
                replace_existing=True,
            )
        await self.sync()
        logger.info("broadcast schedules: this process fires them")

    async def follow(self) -> None:
        """Stop firing schedules (another process leads now). Runs in flight go on: they
        hold their broadcast's lease, so nobody else sends those rows meanwhile."""
        if not self._scheduling:
            return
        self.leading = self._scheduling = False
        if self.scheduler is not None and self.scheduler.running:
            # Dropped, not kept: if this process leads again, `sync` re-arms from the
            # store, which by then knows what the other leader fired.
            self.scheduler.remove_all_jobs()
            self.scheduler.pause()
        logger.info("broadcast schedules: another process fires them")

    async def stop(self) -> None:
        if self._helping is not None:
            self._helping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._helping
            self._helping = None
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        # Runs finish the messages in flight, record them and release their leases;
        # their queued rows go out at the next start.
        self.engine.stop_all(RunOutcome.SHUTDOWN)
        tasks = [t for t in self.tasks.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        for task in tasks:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for sender in self.engine.senders.values():
            await sender.stop()

    # -- control (handlers call this through BroadcastControl) -----------------
    async def changed(self, broadcast_id: int) -> None:
        b = await self.store.get_broadcast(broadcast_id)
        if b is None:
            return
        if b.status in ACTIVE_STATUSES:
            await self._arm(b, self.engine.clock.now())
            return
        self._disarm(b.id)
        reason = "paused" if b.status is BroadcastStatus.PAUSED else "cancelled"
        self.engine.stop(b.id, reason)

    async def send_due(self) -> list[RunReport]:
        """Send everything due now and wait for it (command line, cron)."""
        for sender in self.engine.senders.values():
            await sender.start()
        # Asked for by the operator (cron): fire what is due like a leader would. A leader
        # running meanwhile is no danger: leases and unique occurrences stop doubles.
        self.leading = True
        try:
            await self.sync()
            while self.tasks:
                pending = [t for t in self.tasks.values() if not t.done()]
                if not pending:
                    break
                await asyncio.wait(pending)
        finally:
            for sender in self.engine.senders.values():
                await sender.stop()
        return self.reports

    # -- arming ------------------------------------------------------------------
    async def sync(self) -> None:
        async with self._sync_lock:
            now = self.engine.clock.now()
            for b in reversed(await self.store.list_broadcasts(ACTIVE_STATUSES, limit=100_000)):
                try:
                    await self._arm(b, now)
                except Exception:
                    logger.exception("broadcast %s: could not arm", b.id)
            self.syncs += 1

    async def _arm(self, b: Broadcast, now: datetime) -> None:
        if b.is_series:
            await self._arm_series(b, now)
            return
        if b.status is BroadcastStatus.RUNNING:
            self._launch(b.id)
            return
        if b.status is not BroadcastStatus.SCHEDULED:
            return
        run_at = b.run_at or now
        if run_at > now:
            self._timer(b.id, run_at, self._due)
            return
        late = now - run_at
        if late > self.missed_limit:
            await self._skip_missed(b, run_at, late)
            return
        self._launch(b.id)

    async def _due(self, broadcast_id: int) -> None:
        b = await self.store.get_broadcast(broadcast_id)
        if b is not None and b.status in ACTIVE_STATUSES:
            await self._arm(b, self.engine.clock.now())

    async def _skip_missed(self, b: Broadcast, run_at: datetime, late: timedelta) -> None:
        reason = f"missed: due {format_local(run_at, self.tz)}, {late.total_seconds() / 3600:.1f} h late"
        if await self.store.set_broadcast_status(
            b.id,
            BroadcastStatus.SKIPPED,
            reason=reason,
            expect=[BroadcastStatus.SCHEDULED],
        ):
            logger.warning("broadcast %s skipped: %s", b.id, reason)
            await self.engine.send_summary(b.id)

    async def _arm_series(self, s: Broadcast, now: datetime) -> None:
        if not self.leading:
            return  # occurrences are the leader's to create
        if s.status is not BroadcastStatus.SCHEDULED or not s.cron:
            return
        try:
            trigger = cron_trigger(s.cron, self.tz)
        except CronError as e:
            logger.error("series %s: bad schedule (%s); cancelled", s.id, e)
            await self.store.set_broadcast_status(s.id, BroadcastStatus.CANCELLED, reason=f"bad_schedule: {e}")
            return
        next_at = s.run_at
        if next_at is None:
            # New, or resumed after a pause: the next firing from now, not the ones missed.
            start = max(now, s.starts_at) if s.starts_at else now
            next_at = next_fire(trigger, start - timedelta(microseconds=1))
            next_at = self._within(s, next_at)
            await self.store.set_next_run(s.id, next_at)
        for _ in range(MAX_CATCH_UP):
            if next_at is None or next_at > now:
                break
            late = now - next_at
            if late > self.missed_limit:
                reason = f"missed: due {format_local(next_at, self.tz)}, {late.total_seconds() / 3600:.1f} h late"
                if await self.store.create_occurrence(s, next_at, status=BroadcastStatus.SKIPPED, reason=reason):
                    logger.warning("series %s: occurrence at %s skipped: %s", s.id, next_at.isoformat(), reason)
            else:
                occurrence = await self.store.create_occurrence(s, next_at)
                if occurrence is not None:
                    logger.info("series %s: occurrence %s due", s.id, occurrence.id)
                    self._launch(occurrence.id)
            next_at = self._within(s, next_fire(trigger, next_at))
            await self.store.set_next_run(s.id, next_at)
        if next_at is not None:
            self._timer(s.id, next_at, self._due)

    @staticmethod
    def _within(s: Broadcast, at: datetime | None) -> datetime | None:
        return None if at is None or (s.until is not None and at > s.until) else at

    def _timer(self, broadcast_id: int, when: datetime, callback: Callable[[int], Awaitable[None]]) -> None:
        if self.scheduler is None:
            return  # one-shot mode: a later `send-due` will find it
        if not self.leading:
            return  # the leader's next sync arms it
        self.scheduler.add_job(
            callback,
            DateTrigger(run_date=when, timezone=self.tz),
            args=[broadcast_id],
            id=f"broadcast-{broadcast_id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _disarm(self, broadcast_id: int) -> None:
        if self.scheduler is not None:
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(f"broadcast-{broadcast_id}")

    def _launch(self, broadcast_id: int) -> None:
        task = self.tasks.get(broadcast_id)
        if task is not None and not task.done():
            return
        self._disarm(broadcast_id)
        self.tasks = {k: t for k, t in self.tasks.items() if not t.done()}
        task = asyncio.create_task(self._run(broadcast_id), name=f"broadcast:{broadcast_id}")
        self.tasks[broadcast_id] = task

    async def _help_loop(self) -> None:
        """Join every broadcast another process is sending: each process on the database
        sends a share, so one broadcast goes out as fast as all of them can send."""
        while True:
            await asyncio.sleep(self.help_seconds)
            try:
                running = await self.store.list_broadcasts([BroadcastStatus.RUNNING], limit=100)
            except Exception:
                continue  # the database is away; the next round asks again
            self.tasks = {k: t for k, t in self.tasks.items() if not t.done()}
            for b in running:
                if b.id in self.tasks or b.id in self.engine.runs or b.lease_owner in (None, self.engine.owner):
                    continue
                self.tasks[b.id] = asyncio.create_task(self._help(b.id), name=f"broadcast-help:{b.id}")

    async def _help(self, broadcast_id: int) -> RunReport:
        try:
            return await self.engine.help(broadcast_id)
        except Exception:
            logger.exception("broadcast %s: helping failed; the next round tries again", broadcast_id)
            return RunReport(broadcast_id, RunOutcome.ERROR)

    async def _run(self, broadcast_id: int) -> RunReport:
        try:
            report = await self.engine.run(broadcast_id)
        except Exception:
            logger.exception("broadcast %s: run failed; it resumes at the next sync", broadcast_id)
            report = RunReport(broadcast_id, RunOutcome.ERROR)
        if self.scheduler is None:
            self.reports.append(report)  # one-shot mode reports every run; the bot only logs
        return report
