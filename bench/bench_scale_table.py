"""The scale table: what a federation's size costs, at 10k / 100k / 1M sign-ups.

For each size a database is seeded by bulk SQL (bench/scale_seed.py: the 34 provinces,
2,000 volunteers with referral codes, a note on every 20th sign-up), then measured:

- export: `unionbot signups export` per format, wall time and the process's peak RSS
  (bench/bench_export.py's `measure`, a child process each);
- `/targets` and `/signups`: time to the replies, through the dispatcher of the bot's own
  Runtime (as bench/bench_export_chat.py), as an admin (every province) and as an
  organizer of one province (Huế); the median of 3 calls, plus the replies' count and size;
- start-up: `unionbot run` to its first getUpdates at the fake Bot API (best of 2,
  bench/bench_startup.py).

    python3 dev.py bench bench/bench_scale_table.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_export import measure  # noqa: E402
from bench.bench_startup import startup_seconds  # noqa: E402
from bench.scale_seed import seed  # noqa: E402
from bot.app import Runtime  # noqa: E402
from bot.config import load_config  # noqa: E402
from handlers.types import Inbound  # noqa: E402
from storage import Role  # noqa: E402

ADMIN, ORGANIZER = "4000001", "4000002"
HUE = "hue"


async def chat_times(db: Path) -> dict[str, tuple[float, int, int]]:
    """(median ms, replies, characters) per command and who asks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env["UNIONBOT_DB"] = str(db)
    config = load_config(env=env)
    config = dataclasses.replace(
        config,
        storage=dataclasses.replace(config.storage, path=str(db)),
        telegram=dataclasses.replace(config.telegram, admins=(int(ADMIN),)),
    )
    out: dict[str, tuple[float, int, int]] = {}
    async with Runtime(config) as runtime:
        org = await runtime.store.touch_user("telegram", ORGANIZER, language="vi")
        await runtime.store.set_role(org.id, Role.ORGANIZER)
        await runtime.store.add_organizer_provinces(org.id, [HUE], None)
        await runtime.store.touch_user("telegram", ADMIN, language="vi")
        for who, user in (("admin", ADMIN), ("organizer Huế", ORGANIZER)):
            for command in ("/targets", "/signups"):
                times, replies = [], []
                for _ in range(3):
                    started = time.perf_counter()
                    replies = await runtime.dispatcher.handle(Inbound.parse_text("telegram", user, command))
                    times.append((time.perf_counter() - started) * 1000)
                chars = sum(len(r.text or "") for r in replies)
                out[f"{command} as {who}"] = (statistics.median(times), len(replies), chars)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    rows: list[tuple[str, list[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            db = Path(tmp) / f"s{size}.sqlite3"
            t0 = time.perf_counter()
            seed(db, size)
            print(f"\n{size:,} sign-ups (seeded in {time.perf_counter() - t0:.1f} s)", flush=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
            env["UNIONBOT_DB"] = str(db)
            cells: list[str] = []
            for fmt in ("xlsx", "csv"):
                out = Path(tmp) / f"out.{fmt}"
                wall, rss = measure(
                    [sys.executable, "-m", "bot", "signups", "export", "--format", fmt, "--out", str(out)], env
                )
                print(f"  export {fmt}: {wall:.1f} s, peak RSS {rss:.0f} MB", flush=True)
                cells += [f"{wall:.1f} s", f"{rss:.0f} MB"]
            chat = asyncio.run(chat_times(db))
            for name, (ms, n, chars) in chat.items():
                print(f"  {name}: {ms:.1f} ms, {n} message(s), {chars:,} characters", flush=True)
                cells.append(f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms")
            starts = asyncio.run(startup_seconds(db, 2))
            print(f"  start-up to first getUpdates: {min(starts):.2f} s (best of {len(starts)})", flush=True)
            cells.append(f"{min(starts):.2f} s")
            rows.append((f"{size:,}", cells))
    header = [
        "sign-ups",
        "xlsx time",
        "xlsx RSS",
        "csv time",
        "csv RSS",
        "/targets admin",
        "/signups admin",
        "/targets Huế",
        "/signups Huế",
        "start-up",
    ]
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size, cells in rows:
        print(f"| {size} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
