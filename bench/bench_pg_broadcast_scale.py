"""A broadcast to 1,000,000 recipients on PostgreSQL, rate limit off (issue 12).

For each size (default 100,000 then 1,000,000 recipients), on a fresh PostgreSQL
database (tests.conftest.postgres_database):

1. seed: users and subscriptions written set-based in SQL (INSERT ... SELECT
   generate_series), half the users on `workers_month`, half on `osh_month`, one in ten
   in English; then ANALYZE, as autovacuum would have done on a live server;
2. audience selection and delivery rows as the product does them: the compose preview's
   `audience_by_channel`, then `materialize_audience` (one transaction selecting the
   audience and inserting a queued row per recipient) for a broadcast to both topics
   (all recipients) and for one broadcast per topic (half each);
3. one process: `DeliveryEngine.run` of the whole-audience broadcast in a child process
   with the real python-telegram-bot client (16 lanes, one send in flight on each, as
   bench_broadcast_throughput.py) against the fake Bot API in its own process(es);
4. two processes at once, same total: each child runs one of the per-topic broadcasts
   (an engine holds a broadcast's lease, so two processes share the work as two
   broadcasts, e.g. the leader's and a `send-due` from cron).

Each child reports its own wall time, CPU (getrusage, all threads), peak RSS
(ru_maxrss) and the CPU of its PostgreSQL backends (/proc, found by application_name);
the parent reads the fake's CPU from /proc and the machine's from /proc/stat, so the
output says where the time went. Exit 1 if a delivery is missing or doubled, or if a
process's peak RSS grows by more than 20% from the smallest to the largest size.

    python3 dev.py bench bench/bench_pg_broadcast_scale.py [--recipients 100000,1000000]
        [--fakes 1]   # fake Bot API processes (the lanes are spread over them)
        [--modes one,two]   # which runs: one process, two processes, or both
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_broadcast_common import TEXT_EN, TEXT_VI, Usage, bench_engine, fake_args, peak_rss_mb
from telegram import Bot

from bot.broadcast.limits import ChannelLimits
from bot.broadcast.senders import TelegramSender
from storage import open_store
from storage.broadcasts import Audience, Broadcast, NewBroadcast
from storage.postgres import PostgresStore
from tests.conftest import postgres_database
from tests.fakes.telegram_api import FakeTelegramProcess

LANES = 16  # as bench_broadcast_throughput.py and `unionbot`'s paid broadcasts
TOPICS = ("workers_month", "osh_month")
RSS_GROWTH_LIMIT = 1.20
REGISTER_CHUNK = 100_000
TICK = os.sysconf("SC_CLK_TCK")


# -- /proc -----------------------------------------------------------------------------
def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_of(pid: int) -> float:
    """A live process's peak RSS in MB (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK, sum(values[:8]) / TICK


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


# -- the child: one bot process running one broadcast ------------------------------------
async def child(url: str, base_urls: list[str], token: str, broadcast_id: int) -> None:
    store = open_store(url)  # the product's store and default pool (10 connections)
    await store.open()
    bots = [Bot(token, base_url=base_urls[i % len(base_urls)]) for i in range(LANES)]
    async with bots[0]:
        sender = TelegramSender(bots[0], ChannelLimits(rate=None), store=store, extra_lanes=bots[1:], sends_per_lane=1)
        await sender.start()
        engine = bench_engine(store, {"telegram": sender})
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # "go": both processes start together
        started = time.time()
        before = Usage.now()
        report = await engine.run(broadcast_id)
        after = Usage.now()
        ended = time.time()
        await sender.stop()
    pg_cpu = await backend_cpu(store)
    await store.close()
    assert report.stats is not None
    result = {
        "outcome": str(report.outcome),
        "sent": report.stats.sent,
        "failed": report.stats.failed,
        "in_doubt": report.stats.in_doubt,
        "wall": after.wall - before.wall,
        "cpu": after.cpu - before.cpu,
        "started": started,
        "ended": ended,
        "rss_mb": peak_rss_mb(),
        "pg_cpu": pg_cpu,
        "commits": engine.journal_commits,
    }
    print(json.dumps(result), flush=True)


async def backend_cpu(store: Any) -> float:
    """CPU seconds of this process's PostgreSQL backends (its pool's connections)."""
    rows = await store.db.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = current_setting('application_name')"
    )
    total = 0.0
    for row in rows:
        try:
            total += cpu_of(row[0])
        except OSError:  # a server on another machine: not measurable here
            return float("nan")
    return total


# -- the parent --------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    results: list[dict[str, Any]]
    wall: float  # first start to last end
    fake_cpu: float
    machine_cpu: float
    fake_delivered: int
    fake_duplicates: int
    fakes: int

    @property
    def sent(self) -> int:
        return sum(r["sent"] for r in self.results)


@dataclass
class SizeResult:
    recipients: int
    seed_s: float
    preview_s: float
    materialize_all_s: float
    materialize_half_s: list[float]
    runs: list[Run] = field(default_factory=list)
    fake_rss_mb: float = 0.0
    checks_ok: bool = True


async def seed(store: PostgresStore, n: int) -> float:
    started = time.perf_counter()
    await store.db.execute(
        "INSERT INTO users (channel, external_id, language, created_at, last_seen_at)"
        " SELECT 'telegram', g::text, CASE WHEN g % 10 = 0 THEN 'en' ELSE 'vi' END, now(), now()"
        " FROM generate_series(1, $1::int) AS g",
        n,
    )
    await store.db.execute(
        "INSERT INTO subscriptions (user_id, topic, created_at)"
        " SELECT id, CASE WHEN id % 2 = 0 THEN $1 ELSE $2 END, now() FROM users",
        *TOPICS,
    )
    await store.db.execute("ANALYZE users, subscriptions")
    return time.perf_counter() - started


async def new_broadcast(store: PostgresStore, topics: tuple[str, ...]) -> Broadcast:
    return await store.create_broadcast(
        NewBroadcast(TEXT_VI, Audience(topics=topics), run_at=datetime.now(UTC), text_en=TEXT_EN)
    )


async def timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = await call
    return time.perf_counter() - started, value


async def spawn(
    url: str, label: str, fakes: list[FakeTelegramProcess], broadcast_id: int
) -> asyncio.subprocess.Process:
    # application_name reaches the server as a setting (asyncpg passes unknown URL query
    # parameters on), so the child can find its own backends in pg_stat_activity.
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--child",
        f"{url}?application_name=ub-bench-{label}",
        ",".join(f.base_url for f in fakes),
        fakes[0].token,
        str(broadcast_id),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def deliver(url: str, label: str, fakes: list[FakeTelegramProcess], broadcast_ids: list[int]) -> Run:
    """Run each broadcast in a child process of its own, all started at the same moment."""
    procs = [await spawn(url, f"{label}-{i}", fakes, b) for i, b in enumerate(broadcast_ids)]
    for p in procs:
        assert p.stdout is not None
        line = (await p.stdout.readline()).decode().strip()
        if line != "ready":
            raise RuntimeError(f"child did not start: {line!r}")
    fake_before = sum(cpu_of(f.process.pid) for f in fakes if f.process)
    busy_before, _ = machine_busy()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(b"go\n")
        await p.stdin.drain()
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    busy_after, _ = machine_busy()
    fake_after = sum(cpu_of(f.process.pid) for f in fakes if f.process)
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a child failed: exit codes {[p.returncode for p in procs]}")
    results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    stats = [await f.control.stats() for f in fakes if f.control]
    for f in fakes:
        assert f.control is not None
        await f.control.reset(keep_chats=True)  # frees the fake's record of the messages
    return Run(
        label,
        results,
        max(r["ended"] for r in results) - min(r["started"] for r in results),
        fake_after - fake_before,
        busy_after - busy_before,
        sum(s["sends_ok"] for s in stats),
        sum(s["duplicate_sends"] for s in stats),
        len(fakes),
    )


async def check(store: PostgresStore, broadcast_ids: list[int], n: int, run: Run) -> bool:
    rows = await store.db.fetch(
        "SELECT status, COUNT(*) FROM deliveries WHERE broadcast_id = ANY($1::bigint[]) GROUP BY status",
        broadcast_ids,
    )
    by_status = {r[0]: r[1] for r in rows}
    ok = by_status == {"sent": n} and run.fake_delivered == n and run.fake_duplicates == 0
    if not ok:
        print(f"  CHECK FAILED ({run.label}): rows {by_status}, fake delivered {run.fake_delivered}")
    return ok


async def one_size(n: int, fake_count: int, modes: tuple[str, ...]) -> SizeResult:
    async with postgres_database() as url:
        store = PostgresStore(url, max_size=2)
        await store.open()
        try:
            seed_s = await seed(store, n)
            whole = await new_broadcast(store, TOPICS)
            halves = [await new_broadcast(store, (t,)) for t in TOPICS]
            preview_s, _ = await timed(
                store.audience_by_channel(whole.audience, seen_since=datetime.now(UTC) - timedelta(days=30))
            )
            materialize_s, size = await timed(store.materialize_audience(whole.id))
            half_times = [(await timed(store.materialize_audience(b.id)))[0] for b in halves]
            assert size == n
            result = SizeResult(n, seed_s, preview_s, materialize_s, half_times)
            fakes = [FakeTelegramProcess(args=fake_args()) for _ in range(fake_count)]
            try:
                for f in fakes:
                    await f.start()
                    assert f.control is not None
                    for first in range(1, n + 1, REGISTER_CHUNK):
                        await f.control.register_chats(range(first, min(n, first + REGISTER_CHUNK - 1) + 1))
                if "one" in modes:
                    one = await deliver(url, "one", fakes, [whole.id])
                    result.checks_ok &= await check(store, [whole.id], n, one)
                    result.runs.append(one)
                if "two" in modes:
                    two = await deliver(url, "two", fakes, [b.id for b in halves])
                    result.checks_ok &= await check(store, [b.id for b in halves], n, two)
                    result.runs.append(two)
                result.fake_rss_mb = max(peak_rss_of(f.process.pid) for f in fakes if f.process)
            finally:
                for f in fakes:
                    await f.stop()
        finally:
            await store.close()
    return result


def report_size(r: SizeResult) -> None:
    n = r.recipients
    print(f"recipients: {n:,}")
    print(f"  seed (users + subscriptions, INSERT ... SELECT generate_series, ANALYZE): {r.seed_s:.1f} s")
    print(f"  audience preview (audience_by_channel): {1000 * r.preview_s:.0f} ms")
    print(
        f"  materialize_audience, all {n:,}: {r.materialize_all_s:.1f} s ({n / r.materialize_all_s:,.0f} rows/s);"
        f" two halves: {', '.join(f'{t:.1f} s' for t in r.materialize_half_s)}"
    )
    for run in r.runs:
        procs = len(run.results)
        print(
            f"  {procs} process{'es' if procs > 1 else ''}: {run.sent:,} sent in {run.wall:.1f} s ="
            f" {run.sent / run.wall:,.0f} messages/s"
        )
        for i, x in enumerate(run.results):
            pg = x["pg_cpu"] / x["sent"] * 1000 if x["sent"] else 0.0
            print(
                f"    process {i + 1}: {x['sent']:,} sent ({x['outcome']}), failed {x['failed']}, in doubt"
                f" {x['in_doubt']}, {x['sent'] / x['wall']:,.0f} msg/s over {x['wall']:.1f} s,"
                f" CPU {1000 * x['cpu'] / x['sent']:.2f} ms/msg, its PostgreSQL backends {pg:.2f} ms/msg,"
                f" peak RSS {x['rss_mb']:.0f} MB, {x['commits']:,} group commits"
            )
        ours = sum(x["cpu"] + x["pg_cpu"] for x in run.results) + run.fake_cpu
        print(
            f"    fake Bot API: delivered {run.fake_delivered:,}, duplicates {run.fake_duplicates},"
            f" CPU {1000 * run.fake_cpu / max(run.sent, 1):.2f} ms/msg"
            f" ({100 * run.fake_cpu / run.wall / run.fakes:.0f}% of one core per fake process)"
        )
        print(
            f"    machine: {100 * run.machine_cpu / run.wall / (os.cpu_count() or 1):.0f}% of"
            f" {os.cpu_count()} cores busy; bots + their backends + fake {ours:.0f} s,"
            f" everything else {run.machine_cpu - ours:.0f} s of {run.machine_cpu:.0f} s CPU"
        )
    if len(r.runs) == 2:
        one, two = r.runs
        print(f"  two processes / one process: {(two.sent / two.wall) / (one.sent / one.wall):.2f}")
    print(f"  fake Bot API peak RSS: {r.fake_rss_mb:.0f} MB")


def report_flatness(results: list[SizeResult]) -> bool:
    small, large = results[0], results[-1]
    ok = True
    print(f"peak RSS per process, {small.recipients:,} -> {large.recipients:,} recipients:")
    labels = {"one": "one process", "two": "two processes"}
    for run_small, run_large in zip(small.runs, large.runs, strict=True):
        label = labels[run_small.label]
        for j, (a, b) in enumerate(zip(run_small.results, run_large.results, strict=True)):
            growth = b["rss_mb"] / a["rss_mb"]
            ok &= growth <= RSS_GROWTH_LIMIT
            print(f"  {label}, process {j + 1}: {a['rss_mb']:.0f} -> {b['rss_mb']:.0f} MB ({growth:.2f}x)")
    print(f"target: peak RSS flat within 20%: {'met' if ok else 'NOT met'}")
    return ok


async def main(sizes: list[int], fakes: int, modes: tuple[str, ...]) -> int:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}")
    print("shared machine: other work may run meanwhile (see 'everything else' below)")
    print(f"engine: {LANES} lanes, one send in flight each, rate limit off; fake Bot API processes: {fakes}")
    results = []
    for n in sizes:
        results.append(await one_size(n, fakes, modes))
        report_size(results[-1])
    ok = all(r.checks_ok for r in results)
    if len(results) > 1:
        ok &= report_flatness(results)
    return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        url, base_urls, token, broadcast_id = sys.argv[2:6]
        asyncio.run(child(url, base_urls.split(","), token, int(broadcast_id)))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", default="100000,1000000", help="comma-separated sizes, smallest first")
    parser.add_argument("--fakes", type=int, default=1, help="fake Bot API processes")
    parser.add_argument(
        "--modes", default="one,two", help="one process, two processes or both (a million takes ~40 min per mode here)"
    )
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.recipients.split(",")]
    modes = tuple(m for m in ("one", "two") if m in args.modes.split(","))
    raise SystemExit(asyncio.run(main(sizes, args.fakes, modes)))
