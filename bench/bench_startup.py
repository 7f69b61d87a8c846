"""Start-up time: `unionbot run` from process start to its first getUpdates.

The fake Bot API runs in its own process; `python -m bot run` is started on a database
seeded by bulk SQL (bench/scale_seed.py) and the time until the fake sees the first
getUpdates is measured (best of a few starts; each is a fresh process, the first one
also pays for a cold page cache).

    python3 dev.py bench bench/bench_startup.py [--signups 1000000] [--starts 3]

Target (issue 17): <= 2 s on a file with 1,000,000 sign-ups.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale_seed import seed  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramProcess  # noqa: E402


async def startup_seconds(db: Path, starts: int = 3) -> list[float]:
    """Seconds from spawning `python -m bot run` on `db` to its first getUpdates, per start."""
    times = []
    async with FakeTelegramProcess(args=["--log-level", "WARNING"]) as fake:
        ctl = fake.control
        assert ctl is not None
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "bench.toml"
            config.write_text('[bot]\nlog_level = "WARNING"\n')
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))},
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url,
                "UNIONBOT_DB": str(db),
                "UNIONBOT_CONFIG": str(config),
                "PYTHONPATH": str(ROOT),
            }
            for _ in range(starts):
                since = await ctl.mark()
                started = time.perf_counter()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "bot", "run"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                try:
                    try:
                        await ctl.wait_for(method="getUpdates", since=since, timeout=120)
                    except Exception as e:
                        proc.kill()
                        err = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
                        raise SystemExit(f"unionbot did not start polling:\n{err}") from e
                    times.append(time.perf_counter() - started)
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=1_000_000)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "startup.sqlite3"
        t0 = time.perf_counter()
        seed(db, args.signups)
        print(f"{args.signups:,} sign-ups seeded in {time.perf_counter() - t0:.1f} s")
        times = asyncio.run(startup_seconds(db, args.starts))
    print("starts to first getUpdates: " + ", ".join(f"{t:.2f} s" for t in times))
    best = min(times)
    print(f"start-up (best of {len(times)}): {best:.2f} s (target <= 2 s): {'met' if best <= 2 else 'MISSED'}")
    return 0 if best <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
