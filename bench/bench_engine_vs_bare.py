"""Broadcast engine vs a bare python-telegram-bot send loop, side by side in one run.

One process is the bot, one fake Bot API runs in its own process (as in the other
broadcast benches). Both contenders send the same rendered texts to the same recipients
over 16 lanes (16 `Bot`s, one send in flight on each), with the rate limit off:

- engine: `DeliveryEngine.run` as `unionbot` runs a broadcast, from taking the lease to
  the final figures: delivery rows materialized, every row claimed (committed) before its
  send and its outcome recorded, pacer turns, per-chat spacing.
- bare: 16 tasks, each `await bot.send_message(chat, text)` over a shared iterator.

The rounds alternate (engine, bare, engine, bare, ...) so load from other work on the
machine falls on both; the ratio is of the summed rates. Prints a line
`engine/bare: 0.NN`. Target (issue 17): >= 0.85.

    python3 dev.py bench bench/bench_engine_vs_bare.py [--recipients 10000] [--rounds 3]
        [--profile engine.prof]   # cProfile the engine rounds into a file
        [--only engine|bare]      # one side only, e.g. under `py-spy record --format raw`
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import platform
import tempfile
from pathlib import Path

from bench_broadcast_common import TEXT_EN, TEXT_VI, Usage, bench_engine, fake_args, seed
from telegram import Bot

from bot.broadcast.limits import ChannelLimits
from bot.broadcast.senders import TelegramSender
from handlers.broadcasts.render import message_language, render_message
from handlers.i18n import load_catalog
from tests.fakes.telegram_api import FakeTelegramProcess

LANES = 16


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _language(i: int) -> str:
    return "en" if i % 10 == 0 else "vi"  # as bench_broadcast_common.seed


COMMITS: list[int] = []  # journal group commits per engine round


async def engine_round(
    fake: FakeTelegramProcess,
    db: Path,
    n: int,
    prof: cProfile.Profile | None,
) -> tuple[float, float]:
    store, b = await seed(db, n)
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    lanes = [Bot(fake.token, base_url=fake.base_url) for _ in range(LANES - 1)]
    async with bot:
        sender = TelegramSender(bot, ChannelLimits(rate=None), store=store, extra_lanes=lanes, sends_per_lane=1)
        await sender.start()
        engine = bench_engine(store, {"telegram": sender})
        assert engine.concurrency() == LANES
        if prof is not None:
            prof.enable()
        before = Usage.now()
        report = await engine.run(b.id)
        after = Usage.now()
        if prof is not None:
            prof.disable()
        await sender.stop()
    await store.close()
    assert report.stats is not None and report.stats.sent == n, report
    COMMITS.append(engine.journal_commits)
    return after.wall - before.wall, after.cpu - before.cpu


async def bare_round(fake: FakeTelegramProcess, n: int) -> tuple[float, float]:
    catalog = load_catalog()
    texts = {lang: render_message(catalog, lang, TEXT_VI, TEXT_EN).text for lang in ("vi", "en")}
    bots = [Bot(fake.token, base_url=fake.base_url) for _ in range(LANES)]
    for b in bots:
        await b.initialize()
    jobs = iter(range(1, n + 1))
    sent = 0

    async def lane(bot: Bot) -> None:
        nonlocal sent
        for chat in jobs:
            await bot.send_message(chat, texts[message_language(_language(chat), TEXT_EN)])
            sent += 1

    before = Usage.now()
    await asyncio.gather(*(lane(b) for b in bots))
    after = Usage.now()
    for b in bots:
        await b.shutdown()
    assert sent == n
    return after.wall - before.wall, after.cpu - before.cpu


async def main(n: int, rounds: int, profile: str | None, only: str | None) -> int:
    prof = cProfile.Profile() if profile else None
    totals = {"engine": [0.0, 0.0, 0, 0.0], "bare": [0.0, 0.0, 0, 0.0]}
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{n} recipients per round, {LANES} lanes, rate limit off"
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegramProcess(args=fake_args()) as fake:
            assert fake.control is not None
            await fake.control.register_chats(range(1, n + 1))
            # A warm-up of each side (imports, connections, caches), not counted.
            await engine_round(fake, Path(tmp) / "warm.sqlite3", min(n, 500), None)
            await bare_round(fake, min(n, 500))
            for r in range(rounds):
                for who in ("engine", "bare") if r % 2 == 0 else ("bare", "engine"):
                    if only is not None and who != only:
                        continue
                    await fake.control.reset(keep_chats=True)
                    assert fake.process is not None
                    fake_cpu = _cpu_of(fake.process.pid)
                    if who == "engine":
                        wall, cpu = await engine_round(fake, Path(tmp) / f"r{r}.sqlite3", n, prof)
                    else:
                        wall, cpu = await bare_round(fake, n)
                    fake_cpu = _cpu_of(fake.process.pid) - fake_cpu
                    stats = await fake.control.stats()
                    assert stats["sends_ok"] == n and stats["duplicate_sends"] == 0, stats
                    t = totals[who]
                    t[0] += wall
                    t[1] += cpu
                    t[2] += n
                    t[3] += fake_cpu
                    extra = f", {n / COMMITS[-1]:.1f} messages per group commit" if who == "engine" else ""
                    print(
                        f"round {r + 1} {who:<6} {n / wall:7.0f} messages/s  {1000 * cpu / n:5.2f} ms CPU/message"
                        f" (fake Bot API: {1000 * fake_cpu / n:.2f} ms{extra})"
                    )
    if only is not None:
        t = totals[only]
        print(f"{only} only: {t[2] / t[0]:.0f} messages/s, {1000 * t[1] / t[2]:.2f} ms CPU/message")
        return 0
    rate = {who: t[2] / t[0] for who, t in totals.items()}
    cpu = {who: 1000 * t[1] / t[2] for who, t in totals.items()}
    print(
        f"engine: {rate['engine']:.0f} messages/s ({cpu['engine']:.2f} ms CPU/message), "
        f"bare: {rate['bare']:.0f} messages/s ({cpu['bare']:.2f} ms CPU/message)"
    )
    ratio = rate["engine"] / rate["bare"]
    fake_cpu = {who: 1000 * t[3] / t[2] for who, t in totals.items()}
    # On a machine shared with other work the wall rates wander; the CPU each message
    # costs the bot process does not, so it is printed too: bare CPU / engine CPU.
    print(
        f"CPU per message, bare/engine: {cpu['bare'] / cpu['engine']:.2f}; the fake Bot API used "
        f"{fake_cpu['engine']:.2f} ms (engine rounds) and {fake_cpu['bare']:.2f} ms (bare rounds) per message"
    )
    print(f"engine/bare: {ratio:.2f}  (target >= 0.85: {'met' if ratio >= 0.85 else 'NOT met'})")
    if prof is not None and profile:
        prof.dump_stats(profile)
        print(f"engine profile written to {profile}")
    return 0 if ratio >= 0.85 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of the engine rounds to this file")
    parser.add_argument("--only", choices=("engine", "bare"), help="run one side only (to profile it with py-spy)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(asyncio.run(main(args.recipients, max(2, args.rounds), args.profile, args.only)))
