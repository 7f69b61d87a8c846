"""Throughput and reply latency of `unionbot run` against a bare PTB echo bot.

200 simulated users each send 10 messages at once through a fake Bot API server
(its own process) on 127.0.0.1; the bot under test runs as its own process too.
Prints updates handled per second and p50/p99 time from a user's message to the bot's
reply for both bots, side by side, with the ratio.

    python3 dev.py bench bench/bench_telegram_throughput.py [--users 200] [--messages 10]
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

# A realistic mix for unionbot: menu commands, a button-less command, and free text.
MESSAGES = ["/start", "/help", "/whoami", "xin chào", "/lang en", "/help", "/lang vi", "/menu", "/topics", "/help"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def measure(
    command: list[str], label: str, users: int, per_user: int, extra_env: dict[str, str] | None = None
) -> dict[str, float]:
    async with FakeTelegramProcess() as fake:
        ctl = fake.control
        assert ctl is not None
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url,
                "UNIONBOT_DB": str(Path(tmp) / "bench.sqlite3"),
                "UNIONBOT_CONFIG": str(Path(tmp) / "bench.toml"),
                "PYTHONPATH": str(ROOT),
                **(extra_env or {}),
            }
            # Flood protection would (rightly) slow a user sending 10 at once only past 20.
            # Replies share the bot token's pacer (30/s by default, as Telegram allows):
            # this bench measures handling, so the pacer runs at the paid 1,000/s here;
            # bench/bench_reply_priority.py measures replies at the free 30/s.
            Path(env["UNIONBOT_CONFIG"]).write_text(
                '[bot]\nlog_level = "WARNING"\n[broadcast]\npaid_broadcast = true\ntelegram_rate = 1000\n'
            )
            proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                try:
                    await ctl.wait_for(method="getUpdates", timeout=60)
                except Exception as e:
                    proc.kill()
                    err = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
                    raise SystemExit(f"{label} did not start polling:\n{err}") from e
                await asyncio.sleep(0.5)  # let start-up finish (setMyCommands, first poll)
                start_seq = await ctl.mark()
                base = (await ctl.stats())["sends_ok"]
                updates = [
                    {"factory": "user_message", "user_id": 10_000 + u, "text": MESSAGES[i % len(MESSAGES)]}
                    for i in range(per_user)
                    for u in range(users)
                ]
                t0 = time.time()
                await ctl.push_updates(updates)
                expected = users * per_user
                deadline = time.monotonic() + 300
                # Poll a counter, not the log: fetching a growing log would load the fake.
                while (await ctl.stats())["sends_ok"] - base < expected and time.monotonic() < deadline:
                    await asyncio.sleep(0.25)
                sent = await ctl.requests(since=start_seq)
                replies = [r for r in sent if r["method"] in ("sendMessage", "editMessageText") and r["status"] == 200]
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    if len(replies) < expected:
        raise SystemExit(f"{label}: only {len(replies)} of {expected} replies arrived")
    # Per user, the k-th reply answers the k-th message; all were sent at t0.
    latencies = [r["time"] - t0 for r in replies[:expected]]
    elapsed = max(r["time"] for r in replies[:expected]) - t0
    return {
        "updates": expected,
        "seconds": elapsed,
        "per_second": expected / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--messages", type=int, default=10)
    args = ap.parse_args()
    py = sys.executable
    echo_script = [py, str(ROOT / "bench" / "echo_bot.py")]
    echo1 = await measure(echo_script, "echo", args.users, args.messages, {"ECHO_CONCURRENCY": "1"})
    echo256 = await measure(echo_script, "echo", args.users, args.messages, {"ECHO_CONCURRENCY": "256"})
    ours = await measure([py, "-m", "bot", "run"], "unionbot", args.users, args.messages)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load: {args.users} users x {args.messages} messages sent at once ({args.users * args.messages} updates)")
    print(f"{'':18}{'echo (seq.)':>12}{'echo (256)':>12}{'unionbot':>12}{'ratio*':>8}")
    best = max((echo1, echo256), key=lambda e: e["per_second"])
    for key, name in (
        ("per_second", "updates/s"),
        ("p50_ms", "p50 latency ms"),
        ("p99_ms", "p99 latency ms"),
        ("seconds", "total s"),
    ):
        ratio = ours[key] / best[key] if best[key] else float("nan")
        print(f"{name:18}{echo1[key]:12.1f}{echo256[key]:12.1f}{ours[key]:12.1f}{ratio:8.2f}")
    print("* unionbot / the faster echo configuration")
    verdict = "PASS" if ours["per_second"] >= 0.5 * best["per_second"] else "FAIL"
    print(
        f"target: unionbot >= 50% of echo throughput: {verdict} ({100 * ours['per_second'] / best['per_second']:.0f}%)"
    )
    if verdict == "FAIL":
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
