"""Memory under oversized webhook bodies: 20 concurrent 300 MB POSTs at `unionbot run`.

Starts the real `unionbot run` in its own process with the Zalo OA channel (whose
webhook once read whole bodies before checking anything), then sends CONCURRENCY
unsigned POSTs of BODY_MB each to /zalo/oa/webhook from 127.0.0.1: half declare their
Content-Length, half stream chunked with none. Each client sends until the server
answers (or the whole body is sent). It prints the server's RSS before, its peak
(sampled every 5 ms from /proc), the growth, every answer, and how many bytes the
clients managed to push. Target: growth < 50 MB.

Run from the repository root: `python3 dev.py bench bench/bench_webhook_body_limit.py`
(options: --concurrency 20 --mb 300).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHUNK = b"x" * 65536


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_of(pid)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, rss_of(self.pid))


async def post(port: int, size: int, *, declare: bool) -> tuple[int, int]:
    """(HTTP status or 0, bytes of body sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = ["POST /zalo/oa/webhook HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    head.append(f"Content-Length: {size}" if declare else "Transfer-Encoding: chunked")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    sent = 0

    async def pump() -> None:
        nonlocal sent
        try:
            while sent < size:
                piece = CHUNK[: size - sent]
                writer.write(piece if declare else b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
                await writer.drain()
            if not declare:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass

    task = asyncio.create_task(pump())
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=600)
    except (ConnectionError, OSError, TimeoutError):
        line = b""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    writer.close()
    parts = line.split()
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), sent


async def attack(port: int, n: int, size: int) -> list[tuple[int, int]]:
    return await asyncio.gather(*(post(port, size, declare=i % 2 == 0) for i in range(n)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--mb", type=int, default=300)
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "UNIONBOT_", "ZALO_"))}
        env |= {
            "UNIONBOT_DB": str(Path(tmp) / "bench.sqlite3"),
            "UNIONBOT_CONFIG": str(ROOT / "config.toml"),
            "UNIONBOT_HTTP_PORT": str(port),
            "ZALO_OA_APP_ID": "2553928453557884079",
            "ZALO_OA_APP_SECRET": "bench-app-secret",
            "ZALO_OA_SECRET_KEY": "bench-oa-secret",
            "ZALO_OA_ACCESS_TOKEN": "AT-bench",
            "ZALO_OA_REFRESH_TOKEN": "RT-bench",
            # Never called: nobody writes, so nothing is sent.
            "ZALO_OPENAPI_BASE_URL": "http://127.0.0.1:9",
            "ZALO_OAUTH_BASE_URL": "http://127.0.0.1:9",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        print("the bot did not start:", proc.stderr.read().decode()[-2000:] if proc.stderr else "")
                        return 1
                    time.sleep(0.1)
            time.sleep(0.5)  # let start-up settle before the baseline
            before = rss_of(proc.pid)
            sampler = Sampler(proc.pid)
            sampler.start()
            started = time.perf_counter()
            results = asyncio.run(attack(port, args.concurrency, args.mb * 1024 * 1024))
            elapsed = time.perf_counter() - started
            time.sleep(0.2)
            sampler.done.set()
            sampler.join()
            alive = proc.poll() is None
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    growth = sampler.peak - before
    statuses = Counter(status for status, _ in results)
    pushed = sum(sent for _, sent in results)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"{args.concurrency} concurrent POSTs of {args.mb} MB to /zalo/oa/webhook "
        f"(half Content-Length, half chunked), unsigned"
    )
    print(f"answers: {dict(statuses)}; bytes the clients pushed: {pushed / 2**20:.1f} MiB; {elapsed:.2f} s")
    print(
        f"server RSS before {before / 2**20:.1f} MiB, peak {sampler.peak / 2**20:.1f} MiB, "
        f"growth {growth / 2**20:.1f} MiB (target < 50 MB); still running: {alive}"
    )
    ok = growth < 50 * 1024 * 1024 and set(statuses) == {413} and alive
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
