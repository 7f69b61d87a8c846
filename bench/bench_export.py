"""Sign-up export at a federation's size: unionbot's streamed export vs bare loops.

For each size, a database is seeded by bulk SQL (bench/scale_seed.py), then measured in
separate processes, side by side in one run: `unionbot signups export` (XLSX and CSV)
and the floor, a bare loop over the same rows with XlsxWriter in constant-memory mode
and with the csv module. Peak RSS is each process's own (os.wait4).

    python3 dev.py bench bench/bench_export.py [--sizes 200000,1000000]

Targets (issue 17): peak RSS <= 150 MB at every size for both formats; XLSX wall time
<= 1.3x the bare XlsxWriter loop, CSV <= 2.5x the bare csv loop.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale_seed import seed  # noqa: E402

BARE_XLSX = r"""
import sqlite3, sys, xlsxwriter
db = sqlite3.connect(sys.argv[1])
book = xlsxwriter.Workbook(sys.argv[2], {"constant_memory": True})
sheet = book.add_worksheet()
rows = db.execute("SELECT s.id, s.created_at, s.full_name, s.phone_e164, s.workplace, s.province_id, s.commune,"
                  " s.source, v.code, s.status, (SELECT group_concat(text, char(10)) FROM signup_notes n"
                  " WHERE n.signup_id = s.id) FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
                  " ORDER BY s.id")
for r, row in enumerate(rows, start=1):
    for c, value in enumerate(row):
        if value is not None:
            sheet.write(r, c, value)
book.close()
"""

BARE_CSV = r"""
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT s.id, s.created_at, s.full_name, s.phone_e164, s.workplace, s.province_id, s.commune,"
                  " s.source, v.code, s.status, (SELECT group_concat(text, char(10)) FROM signup_notes n"
                  " WHERE n.signup_id = s.id) FROM signups s LEFT JOIN volunteer_codes v ON v.user_id = s.volunteer_id"
                  " ORDER BY s.id")
with open(sys.argv[2], "w", encoding="utf-8-sig", newline="") as f:
    w = csv.writer(f)
    for row in rows:
        w.writerow(row)
"""


# On Linux a child's ru_maxrss starts at the parent's peak (kept across fork and exec),
# so a command spawned by this bench, whose process grew while seeding, would report at
# least this process's peak. The command runs under a small wrapper instead, and the
# wrapper's wait4 reports the command's own peak.
_PEAK = r"""
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK, *cmd], env=env, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    code, maxrss = (int(x) for x in proc.stdout.split())
    if code != 0:
        raise SystemExit(f"{cmd[:4]} failed: {proc.stderr}")
    return elapsed, maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            db = Path(tmp) / f"s{size}.sqlite3"
            t0 = time.perf_counter()
            seed(db, size)
            print(f"\n{size:,} sign-ups (seeded in {time.perf_counter() - t0:.1f} s)")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
            env["UNIONBOT_DB"] = str(db)
            results = {}
            for fmt, bare in (("xlsx", BARE_XLSX), ("csv", BARE_CSV)):
                out = Path(tmp) / f"out.{fmt}"
                results[(fmt, "bare")] = measure([sys.executable, "-c", bare, str(db), str(out)], env)
                results[(fmt, "unionbot")] = measure(
                    [sys.executable, "-m", "bot", "signups", "export", "--format", fmt, "--out", str(out)], env
                )
            print(f"  {'':<22}{'wall s':>9}{'peak RSS MB':>13}")
            for (fmt, who), (wall, rss) in results.items():
                print(f"  {fmt + ' ' + who:<22}{wall:>9.1f}{rss:>13.0f}")
            for fmt, limit in (("xlsx", 1.3), ("csv", 2.5)):
                ratio = results[(fmt, "unionbot")][0] / results[(fmt, "bare")][0]
                rss = results[(fmt, "unionbot")][1]
                met = ratio <= limit and rss <= 150
                ok &= met
                print(
                    f"  {fmt}: unionbot/bare {ratio:.2f} (target <= {limit}), peak RSS {rss:.0f} MB "
                    f"(target <= 150): {'met' if met else 'MISSED'}"
                )
    print("\ntargets " + ("met" if ok else "missed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
