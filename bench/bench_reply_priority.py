"""Replies first, within one limit: a broadcast at full speed and workers writing (issue 14, item 11).

The real `unionbot run` (its own process) against the fake Bot API (its own process,
counting 429s at Telegram's 30 messages/s in any sliding second). A broadcast to 900
subscribers runs at full speed (about 30 s); meanwhile 50 workers write one message
each, spread over the broadcast. Targets: the workers' replies p95 <= 1.5 s, zero 429
answers, and the busiest one-second window at the fake <= 30 sends (replies and
broadcast together). With --baseline-root (a checkout of the code before the change,
e.g. /work/main) the same run on that code is printed beside.

    python3 dev.py bench bench/bench_reply_priority.py [--recipients 900] [--workers 50] [--baseline-root DIR]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import FakeTelegramProcess  # noqa: E402

WORKERS_FROM = 700_001
LIMIT = 30
SEED = """
import asyncio, sys
sys.path.insert(0, "bench")
from bench_broadcast_common import seed
async def main():
    store, _ = await seed(sys.argv[1], int(sys.argv[2]))
    await store.close()
asyncio.run(main())
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def measure(code_root: Path, recipients: int, workers: int, spread: float) -> dict[str, float]:
    async with FakeTelegramProcess(args=["--log-level", "WARNING", "--max-log", "50000"]) as fake:
        ctl = fake.control
        assert ctl is not None
        await ctl.register_chats(range(1, recipients + 1))
        await ctl.set_flood_limit(LIMIT)
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.sqlite3"
            # The subscribers and a broadcast due now, seeded by the code under test.
            subprocess.run(
                [sys.executable, "-c", SEED, str(db), str(recipients)],
                cwd=code_root,
                check=True,
                env={**os.environ, "PYTHONPATH": str(code_root)},
            )
            config = Path(tmp) / "bench.toml"
            config.write_text('[bot]\nlog_level = "WARNING"\n[broadcast]\nquiet_start = "00:00"\nquiet_end = "00:00"\n')
            env = {
                **os.environ,
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url,
                "UNIONBOT_DB": str(db),
                "UNIONBOT_CONFIG": str(config),
                "PYTHONPATH": str(code_root),
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=code_root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                # The broadcast starts with the bot; the workers write once it is under way.
                try:
                    await ctl.wait_for(method="sendMessage", chat_id=1, timeout=60)
                except Exception as e:
                    proc.kill()
                    err = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
                    raise SystemExit(f"the bot in {code_root} did not start broadcasting:\n{err}") from e
                since = await ctl.mark()
                pushed: dict[int, float] = {}
                for w in range(workers):
                    chat = WORKERS_FROM + w
                    pushed[chat] = time.time()
                    await ctl.push_updates([{"factory": "user_message", "user_id": chat, "text": "/help"}])
                    await asyncio.sleep(spread / workers)
                deadline = time.monotonic() + 180
                while True:
                    sends = await ctl.requests("sendMessage", since=since)
                    first_reply: dict[int, float] = {}
                    for r in sends:
                        chat = int(r["params"]["chat_id"])
                        if chat in pushed and r["status"] == 200 and chat not in first_reply:
                            first_reply[chat] = r["time"]
                    stats = await ctl.stats()
                    broadcast_done = stats["sends_ok"] >= recipients + workers
                    if len(first_reply) == workers and broadcast_done:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{code_root}: not all replies and broadcast messages arrived in 180 s")
                    await asyncio.sleep(0.5)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    latencies = [first_reply[c] - t for c, t in pushed.items()]
    return {
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "max": max(latencies),
        "429s": stats["by_status"].get("429", 0),
        "window": stats["max_sends_per_second"],
        "sent_ok": stats["sends_ok"],
    }


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipients", type=int, default=900)
    ap.add_argument("--workers", type=int, default=50)
    ap.add_argument("--spread", type=float, default=20.0, help="seconds over which the workers write")
    ap.add_argument("--baseline-root", type=Path, default=None)
    args = ap.parse_args()
    runs = {"this code": await measure(ROOT, args.recipients, args.workers, args.spread)}
    if args.baseline_root:
        runs["baseline"] = await measure(args.baseline_root.resolve(), args.recipients, args.workers, args.spread)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"load: broadcast to {args.recipients} at {LIMIT}/s; {args.workers} workers write /help, "
        f"spread over {args.spread:.0f} s during it; the fake answers 429 above {LIMIT} in any second"
    )
    names = list(runs)
    print(f"{'':32}" + "".join(f"{n:>12}" for n in names))
    for key, label, fmt in (
        ("p50", "reply p50 s", ".2f"),
        ("p95", "reply p95 s", ".2f"),
        ("max", "reply max s", ".2f"),
        ("429s", "429 answers", ".0f"),
        ("window", "busiest 1-s window, sends", ".0f"),
        ("sent_ok", "messages delivered", ".0f"),
    ):
        print(f"{label:32}" + "".join(f"{runs[n][key]:12{fmt}}" for n in names))
    ours = runs["this code"]
    ok = ours["p95"] <= 1.5 and ours["429s"] == 0 and ours["window"] <= LIMIT
    print(f"targets (p95 <= 1.5 s, no 429, busiest window <= {LIMIT}): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
