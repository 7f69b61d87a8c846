"""One user's backlog must not delay everyone (issue 14, item 9).

The real `unionbot run` (its own process) against the fake Bot API (its own process)
on 127.0.0.1. One user sends 3,000 messages at once; once the bot has taken them
all (the backlog is inside the bot), 50 other users write, one message every 50 ms (20/s, within the 30/s limit),
while the backlog drains. Prints the other users' reply latency (push to the reply
arriving at the fake): target p95 < 100 ms. With --baseline-root (a checkout of the
code before the change, e.g. /work/main) the same run on that code is printed beside.

    python3 dev.py bench bench/bench_user_flood.py [--flood 3000] [--others 50] [--baseline-root DIR]
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

FLOODER = 900_001
OTHERS_FROM = 910_000
GAP = 0.05  # seconds between two other users' messages: 20/s, within Telegram's 30/s


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


async def measure(code_root: Path, flood: int, others: int, rounds: int) -> dict[str, float]:
    async with FakeTelegramProcess(args=["--log-level", "WARNING"]) as fake:
        ctl = fake.control
        assert ctl is not None
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url,
                "UNIONBOT_DB": str(Path(tmp) / "bench.sqlite3"),
                "UNIONBOT_CONFIG": str(Path(tmp) / "bench.toml"),
                "PYTHONPATH": str(code_root),
            }
            Path(env["UNIONBOT_CONFIG"]).write_text('[bot]\nlog_level = "WARNING"\n')
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=code_root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                try:
                    await ctl.wait_for(method="getUpdates", timeout=60)
                except Exception as e:
                    proc.kill()
                    err = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
                    raise SystemExit(f"the bot in {code_root} did not start polling:\n{err}") from e
                await asyncio.sleep(0.5)
                # Idle figure first: the same 50 users, no flood.
                idle = await _others(ctl, others, 1, OTHERS_FROM + 500_000)
                t0 = time.monotonic()
                await ctl.push_updates([{"factory": "user_message", "user_id": FLOODER, "text": "xin chào"}] * flood)
                while (await ctl.stats())["pending_updates"] > 0:
                    await asyncio.sleep(0.01)
                intake = time.monotonic() - t0
                loaded = await _others(ctl, others, rounds, OTHERS_FROM)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return {
        "idle_p50": percentile(idle, 50) * 1000,
        "idle_p95": percentile(idle, 95) * 1000,
        "p50": percentile(loaded, 50) * 1000,
        "p95": percentile(loaded, 95) * 1000,
        "max": max(loaded) * 1000,
        "intake_s": intake,
        "samples": len(loaded),
    }


async def _others(ctl, users: int, rounds: int, first_id: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Each of `users` writes once per round, GAP apart; latency per message in seconds."""
    since = await ctl.mark()
    pushed: list[tuple[int, float]] = []
    for _ in range(rounds):
        for u in range(users):
            chat = first_id + u
            pushed.append((chat, time.time()))
            await ctl.push_updates([{"factory": "user_message", "user_id": chat, "text": "/help"}])
            await asyncio.sleep(GAP)
    deadline = time.monotonic() + 120
    while True:
        sent = [r for r in await ctl.requests("sendMessage", since=since) if r["status"] == 200]
        by_chat: dict[int, list[float]] = {}
        for r in sent:
            by_chat.setdefault(int(r["params"]["chat_id"]), []).append(r["time"])
        if all(len(by_chat.get(c, [])) >= rounds for c in range(first_id, first_id + users)):
            break
        if time.monotonic() > deadline:
            raise SystemExit("replies to the other users did not all arrive within 120 s")
        await asyncio.sleep(0.2)
    latencies = []
    seen: dict[int, int] = {}
    for chat, t in pushed:
        k = seen.get(chat, 0)
        seen[chat] = k + 1
        latencies.append(sorted(by_chat[chat])[k] - t)
    return latencies


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flood", type=int, default=3000)
    ap.add_argument("--others", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--baseline-root",
        type=Path,
        default=None,
        help="a checkout of the code before the change, measured the same way",
    )
    args = ap.parse_args()
    runs = {"this code": await measure(ROOT, args.flood, args.others, args.rounds)}
    if args.baseline_root:
        runs["baseline"] = await measure(args.baseline_root.resolve(), args.flood, args.others, args.rounds)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"load: one user sends {args.flood} messages at once; then {args.others} other users write "
        f"{args.rounds}x each, one message every {GAP * 1000:.0f} ms, while the backlog drains"
    )
    names = list(runs)
    print(f"{'':34}" + "".join(f"{n:>14}" for n in names))
    for key, label in (
        ("idle_p50", "others' p50 ms, no flood"),
        ("idle_p95", "others' p95 ms, no flood"),
        ("p50", "others' p50 ms, during flood"),
        ("p95", "others' p95 ms, during flood"),
        ("max", "others' max ms, during flood"),
        ("intake_s", "flood taken in by the bot, s"),
    ):
        print(f"{label:34}" + "".join(f"{runs[n][key]:14.1f}" for n in names))
    ours = runs["this code"]
    print(f"ratio p95 during flood / idle p95 (this code): {ours['p95'] / ours['idle_p95']:.2f}")
    ok = ours["p95"] < 100
    print(f"target: others' p95 < 100 ms during the flood: {'met' if ok else 'NOT met'} ({ours['p95']:.1f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
