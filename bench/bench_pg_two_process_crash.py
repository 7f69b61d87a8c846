"""Two `unionbot run` processes on one PostgreSQL database, one broadcast, and `kill -9`
of the process sending it (issue 12).

Both bots are real `unionbot run` processes (Telegram in webhook mode, as several
processes behind a load balancer run; two pollers on one token would only take each
other's getUpdates with 409s) against one fake Bot API in a process of its own. Paid
mode (1,000/s), quiet hours off. The broadcast is held (a row lock on it) until both
bots are up, so the kill lands while both run.

At `--kill-at` of the recipients delivered, the process holding the broadcast's lease
is killed with SIGKILL. The survivor is stopped (SIGSTOP) for the moment it takes the
killed process's last writes to settle, so the rows counted 'sending' at the kill are
exactly the killed process's in-flight sends; then it goes on (SIGCONT) and is timed
from there until the broadcast is done.

Targets: every recipient ends with exactly one delivery row, sent or in doubt (sent +
in doubt == recipients); the fake counts no duplicate; in doubt <= the rows in flight
at the kill.

    python3 dev.py bench bench/bench_pg_two_process_crash.py [--recipients 100000]
        [--kill-at 0.5] [--hosts same|separate]

`--hosts separate` runs each bot in a UTS namespace of its own (`unshare -u`, root
only) with its own host name, as on two machines: the survivor cannot tell that the
lease holder died and waits for the lease to expire.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench.bench_broadcast_common import PAID_BROADCAST_CONFIG, fake_args, seed_store  # noqa: E402
from storage.broadcasts import BroadcastStatus  # noqa: E402
from storage.postgres import PostgresStore  # noqa: E402
from tests.conftest import postgres_database  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramControl, FakeTelegramProcess  # noqa: E402

CONFIG = """
[telegram]
mode = "webhook"
# Never called: the test pushes no updates; each bot registers it at start.
webhook_url = "https://bot.example.invalid/telegram/webhook"
"""
CONFIG += PAID_BROADCAST_CONFIG
WEBHOOK_SECRET = "two-processes-one-database"
READY = "unionbot running:"  # logged by serve() once channels and services are up


class ScenarioError(RuntimeError):
    """The scenario could not be played (a bot died, a wait timed out); carries log tails."""


@dataclass
class Bot:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} (pid {self.pid}) log tail ---\n{self.text()[-chars:]}"


@dataclass
class CrashRun:
    recipients: int
    broadcast_id: int
    killed: str  # the bot killed: the lease holder at the kill
    survivor: str
    lease_owners_before_kill: set[str]  # every lease owner seen while waiting for the kill
    survivor_ran_before_kill: bool  # whether the survivor's log shows it running the broadcast
    delivered_at_kill: int  # sends the fake had delivered once the kill settled
    at_kill: dict[str, str]  # Telegram chat id -> delivery status at the kill
    before_kill_s: float  # both bots up -> the kill
    resumed_after_kill_s: float  # kill -> survivor continued (the settle pause)
    takeover_s: float  # survivor continued -> its first delivery
    finish_s: float  # survivor continued -> broadcast done
    final: dict[str, str]  # chat id -> delivery status at the end
    in_doubt_delivered: int  # in-doubt rows whose message the fake did receive
    fake: dict  # the fake's stats at the end
    logs: dict[str, str] = field(default_factory=dict)  # bot name -> its whole log

    @property
    def in_flight(self) -> set[str]:
        return {chat for chat, s in self.at_kill.items() if s == "sending"}

    def count(self, status: str, rows: dict[str, str] | None = None) -> int:
        return sum(1 for s in (self.final if rows is None else rows).values() if s == status)

    @property
    def in_doubt(self) -> set[str]:
        return {chat for chat, s in self.final.items() if s == "in_doubt"}

    @property
    def other(self) -> int:
        return len(self.final) - self.count("sent") - len(self.in_doubt)

    @property
    def survivor_delivered(self) -> int:
        return int(self.fake["sends_ok"]) - self.delivered_at_kill

    @property
    def targets_met(self) -> bool:
        return (
            len(self.final) == self.recipients
            and self.other == 0
            and self.count("sent") + len(self.in_doubt) == self.recipients
            and self.fake["duplicate_sends"] == 0
            and len(self.in_doubt) <= len(self.in_flight)
        )


def _bot_command(host: str | None) -> list[str]:
    command = [sys.executable, "-m", "bot", "run"]
    if host is None:
        return command
    # A UTS namespace of its own: the bot's gethostname() is `host`. unshare and sh exec
    # into python, so the Popen pid is the bot's pid (the one in its lease owner).
    return ["unshare", "-u", "sh", "-c", 'hostname "$0" && exec "$@"', host, *command]


def _start_bot(name: str, env: dict[str, str], workdir: Path, host: str | None) -> Bot:
    log = workdir / f"bot-{name}.log"
    with log.open("ab") as stderr:  # the child has its own copy of the descriptor
        process = subprocess.Popen(
            _bot_command(host),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return Bot(name, process, log)


async def _wait(
    what: str,
    ready: Callable[[], Awaitable[bool]],
    bots: list[Bot],
    timeout: float,
    *,
    every: float = 0.02,
    since: Callable[[], float] | None = None,
) -> None:
    """Poll `ready` until it is true; fail with the bots' logs if one of them exits, or
    `timeout` seconds after `since()` (default: the start; a moving `since`, the last
    progress, lets a long run go on as long as it progresses)."""
    started = time.monotonic()
    while not await ready():
        for bot in bots:
            if bot.process.poll() is not None:
                raise ScenarioError(f"{bot.name} exited ({bot.process.returncode}) waiting for {what}\n{bot.tail()}")
        if time.monotonic() - (since() if since is not None else started) > timeout:
            tails = "\n".join(b.tail() for b in bots)
            raise ScenarioError(f"no progress for {timeout:.0f} s waiting for {what}\n{tails}")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def _held(url: str, broadcast_id: int) -> AsyncIterator[None]:
    """A row lock on the broadcast: a claim of it waits until the block ends."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM broadcasts WHERE id = $1 FOR UPDATE", broadcast_id)
            yield
    finally:
        await conn.close()


async def _statuses(store: PostgresStore, broadcast_id: int) -> dict[str, str]:
    rows = await store.db.fetch(
        "SELECT u.external_id, d.status FROM deliveries d JOIN users u ON u.id = d.user_id WHERE d.broadcast_id = $1",
        broadcast_id,
    )
    return {r[0]: r[1] for r in rows}


def _owner_pid(owner: str) -> int:
    # bot.broadcast.engine.make_owner: "host:pid:random"
    return int(owner.split(":")[1])


def _stop_all(bots: list[Bot]) -> None:
    for bot in bots:
        if bot.process.poll() is None:
            bot.process.send_signal(signal.SIGCONT)  # a stopped process dies only once continued
            bot.process.kill()
            bot.process.wait()


class _Scenario:
    """One play of the scenario on a seeded database and a running fake."""

    def __init__(self, store: PostgresStore, control: FakeTelegramControl, broadcast_id: int, timeout: float) -> None:
        self.store = store
        self.control = control
        self.bid = broadcast_id
        self.timeout = timeout  # the longest wait without progress
        self.owners: set[str] = set()
        self._count = 0
        self.moved_at = time.monotonic()  # when the fake's deliveries last grew

    async def sends_ok(self) -> int:
        count = int((await self.control.stats())["sends_ok"])
        if count != self._count:
            self._count, self.moved_at = count, time.monotonic()
        return count

    async def lease_owner(self) -> str | None:
        b = await self.store.get_broadcast(self.bid)
        assert b is not None
        if b.status is BroadcastStatus.DONE:
            raise ScenarioError("the broadcast finished before the kill; lower --kill-at")
        if b.lease_owner is not None:
            self.owners.add(b.lease_owner)
        return b.lease_owner

    async def run_until(self, target: int, bots: list[Bot]) -> Bot:
        """Wait for `target` deliveries; the bot holding the broadcast's lease then."""
        looks = 0

        async def far_enough() -> bool:
            nonlocal looks
            looks += 1
            if looks % 10 == 0:  # the lease now and then; the count (cheap) every time
                await self.lease_owner()
            return await self.sends_ok() >= target

        self.moved_at = time.monotonic()
        await _wait(f"{target} deliveries", far_enough, bots, self.timeout, every=0.05, since=lambda: self.moved_at)
        owner = await self.lease_owner()
        if owner is None:
            raise ScenarioError("nobody holds the broadcast's lease while it runs")
        pid = _owner_pid(owner)
        for bot in bots:
            if bot.pid == pid:
                return bot
        raise ScenarioError(f"the lease holder {owner} is neither bot")

    async def settled(self) -> tuple[dict[str, str], int]:
        """Delivery rows and the fake's deliveries once the killed process's last writes
        have landed: its server sessions roll back what was not committed when they see
        the connection gone, and the fake answers what it had received. Settled when two
        looks a moment apart agree."""
        last = (await _statuses(self.store, self.bid), await self.sends_ok())
        while True:
            await asyncio.sleep(0.2)
            now = (await _statuses(self.store, self.bid), await self.sends_ok())
            if now == last:
                return now
            last = now

    async def finish(self, survivor: Bot, delivered_at_kill: int) -> tuple[float, float]:
        """Wait for the broadcast to be done: (seconds to the survivor's first delivery,
        seconds to done), from now."""
        started = self.moved_at = time.monotonic()
        first: list[float] = []

        async def done() -> bool:
            if await self.sends_ok() > delivered_at_kill and not first:
                first.append(time.monotonic() - started)
            b = await self.store.get_broadcast(self.bid)
            return b is not None and b.status is BroadcastStatus.DONE

        await _wait(
            "the survivor to finish the broadcast",
            done,
            [survivor],
            self.timeout,
            every=0.05,
            since=lambda: self.moved_at,
        )
        took = time.monotonic() - started
        return (first[0] if first else took), took

    async def in_doubt_delivered(self, final: dict[str, str]) -> int:
        """How many in-doubt rows' messages the fake did receive."""
        n = 0
        for chat, status in final.items():
            if status == "in_doubt" and await self.control.sent_messages(int(chat)):
                n += 1
        return n


async def two_process_crash(
    recipients: int,
    *,
    kill_at: float = 0.5,
    workdir: Path,
    separate_hosts: bool = False,
    timeout: float = 120.0,
) -> CrashRun:
    """Play the scenario once; raise ScenarioError if it cannot be played to the end."""
    (workdir / "config.toml").write_text(CONFIG, encoding="utf-8")
    async with FakeTelegramProcess(args=fake_args()) as fake, postgres_database() as url:
        assert fake.control is not None
        await fake.control.register_chats(range(1, recipients + 1))
        store = PostgresStore(url, max_size=3)
        await store.open()  # migrates, as the first bot to start would
        bots: list[Bot] = []
        try:
            bid = (await seed_store(store, recipients)).id
            play = _Scenario(store, fake.control, bid, timeout)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))},
                "UNIONBOT_CONFIG": str(workdir / "config.toml"),
                "UNIONBOT_DB": url,
                "UNIONBOT_HTTP_PORT": "0",
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url,
                "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "PTB_TIMEDELTA": "true",
            }
            async with _held(url, bid):
                for name in ("a", "b"):
                    bots.append(_start_bot(name, env, workdir, f"bot-{name}" if separate_hosts else None))

                async def started() -> bool:
                    return all(READY in b.text() for b in bots)

                await _wait("both bots to start", started, bots, timeout)
            # Released: the leader's run, blocked on its claim until now, takes the lease.
            released = time.monotonic()

            killed = await play.run_until(max(1, int(recipients * kill_at)), bots)
            survivor = next(b for b in bots if b is not killed)
            survivor.process.send_signal(signal.SIGSTOP)
            killed.process.send_signal(signal.SIGKILL)
            killed.process.wait()
            killed_at = time.monotonic()
            survivor_ran_before = f"broadcast {bid}: running for" in survivor.text()
            at_kill, delivered_at_kill = await play.settled()
            survivor.process.send_signal(signal.SIGCONT)
            paused = time.monotonic() - killed_at
            takeover, finish = await play.finish(survivor, delivered_at_kill)
            final = await _statuses(store, bid)
            stats = await fake.control.stats()
            in_doubt_delivered = await play.in_doubt_delivered(final)
            survivor.process.send_signal(signal.SIGTERM)
            try:
                survivor.process.wait(30)
            except subprocess.TimeoutExpired:
                raise ScenarioError(f"the survivor did not stop on SIGTERM\n{survivor.tail()}") from None
        finally:
            _stop_all(bots)
            await store.close()
    return CrashRun(
        recipients=recipients,
        broadcast_id=bid,
        killed=killed.name,
        survivor=survivor.name,
        lease_owners_before_kill=play.owners,
        survivor_ran_before_kill=survivor_ran_before,
        delivered_at_kill=delivered_at_kill,
        at_kill=at_kill,
        before_kill_s=killed_at - released,
        resumed_after_kill_s=paused,
        takeover_s=takeover,
        finish_s=finish,
        final=final,
        in_doubt_delivered=in_doubt_delivered,
        fake=stats,
        logs={b.name: b.text() for b in bots},
    )


def report(run: CrashRun) -> None:
    statuses = Counter(run.at_kill.values())
    print(f"recipients: {run.recipients}; two bots (a, b) on one PostgreSQL database, one fake Bot API")
    print(
        f"lease holder killed with SIGKILL: bot {run.killed}; survivor: bot {run.survivor} "
        f"(held the broadcast before the kill: {'yes' if run.survivor_ran_before_kill else 'no'}; "
        "a process that does not hold it helps send it from the other end of the queue)"
    )
    print(
        f"deliveries at the kill: {run.delivered_at_kill} (by both bots, "
        f"{run.delivered_at_kill / run.before_kill_s:.0f}/s over {run.before_kill_s:.1f} s)"
    )
    other = sum(statuses.values()) - statuses["sent"] - statuses["sending"] - statuses["queued"]
    print(
        f"at the kill: sent {statuses['sent']}, sending (in flight) {len(run.in_flight)}, "
        f"queued {statuses['queued']}, other {other}"
    )
    print(
        f"survivor: paused {run.resumed_after_kill_s:.1f} s after the kill while it settled, then "
        f"first delivery after {run.takeover_s:.1f} s, broadcast done after {run.finish_s:.1f} s "
        f"({run.survivor_delivered} deliveries after the kill, all by bot {run.survivor})"
    )
    print(f"final: rows {len(run.final)}, sent {run.count('sent')}, in doubt {len(run.in_doubt)}, other {run.other}")
    print(
        f"in doubt within the rows in flight at the kill (both bots' sends): {run.in_doubt <= run.in_flight};"
        " of them the fake had "
        f"delivered {run.in_doubt_delivered}, never received {len(run.in_doubt) - run.in_doubt_delivered}"
    )
    print(f"fake server: delivered {run.fake['sends_ok']}, duplicates {run.fake['duplicate_sends']}")
    print(
        "targets (one row each, sent or in doubt; 0 duplicates; in doubt <= in flight):",
        "met" if run.targets_met else "NOT met",
    )


async def main(recipients: int, kill_at: float, separate_hosts: bool) -> int:
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="pg-two-process-") as tmp:
        try:
            run = await two_process_crash(
                recipients, kill_at=kill_at, workdir=Path(tmp), separate_hosts=separate_hosts, timeout=300
            )
        except ScenarioError as e:
            print(f"scenario failed: {e}")
            return 1
    report(run)
    return 0 if run.targets_met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction delivered before the kill")
    parser.add_argument("--hosts", choices=("same", "separate"), default="same")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.recipients, args.kill_at, args.hosts == "separate")))
