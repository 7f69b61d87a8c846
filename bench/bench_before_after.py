"""SQLite figures before and after the storage restructure, side by side in one run (issue 12).

Issue 12 reshaped storage for two backends (commit 2b33502 moved the SQLite store into
storage/sqlite/ and split it per feature) and asks that the SQLite figures of the
benchmarks of that day get no worse than 10%. This script checks that:

1. `git archive` writes the tree before the restructure (default aa735e9, the parent of
   2b33502) into a temporary directory;
2. the *before* tree's own benchmark scripts run unchanged against each tree's code:
   those scripts find the code they measure from their own location (ROOT =
   parent of their directory, put first on sys.path and given to their child
   processes), so for the *after* side a copy of them is placed in a scratch
   directory inside this working tree (`.bench_before/`, removed at the end); the
   work measured is the same and only the product code differs;
3. runs alternate before, after, after, before (`--rounds 2`), so drift in the machine's
   load falls on both sides; each figure is the median of its runs.

Each benchmark's headline figures are read from its output, plus the CPU seconds of the
whole run (this script's children: the bot, the fakes, export workers). A figure is
"worse" when it moves the wrong way by more than 10%. Exit 1 if a run fails or a figure
is worse.

    python3 dev.py bench bench/bench_before_after.py [--before aa735e9] [--rounds 2]
        [--only signups,broadcast]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 1.10


@dataclass(frozen=True)
class Figure:
    label: str
    pattern: str  # one group: the number
    higher_is_better: bool


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    args: tuple[str, ...]
    figures: tuple[Figure, ...]


BENCHES = (
    Bench(
        "signups",
        "bench_signups.py",
        ("--workers", "1000"),
        (
            Figure("sign-up messages/s", r"\((\d+) messages/s", True),
            Figure("sign-up message p95 ms", r"p95 ([\d.]+) ms", False),
        ),
    ),
    Bench(
        "broadcast",
        "bench_broadcast_throughput.py",
        ("--recipients", "20000"),
        (
            Figure("broadcast messages/s", r"throughput: (\d+) messages/s", True),
            Figure("broadcast CPU ms/message", r"CPU: ([\d.]+) ms per message", False),
            Figure("broadcast peak RSS MB", r"peak memory: (\d+) MB", False),
        ),
    ),
    Bench(
        "polls",
        "bench_poll_answers.py",
        ("--workers", "20000"),
        (
            Figure("poll answers updates/s", r"= ([\d,]+) updates/s", True),
            Figure("poll results ms", r"results with 3 breakdowns: ([\d.]+) ms", False),
        ),
    ),
    Bench(
        "programs",
        "bench_programs.py",
        (),
        (Figure("program seat allocation s", r"allocation: ([\d.]+) s", False),),
    ),
    Bench(
        "export",
        "bench_export.py",
        ("--sizes", "100000"),
        (
            Figure("export XLSX s (100k)", r"xlsx unionbot\s+([\d.]+)", False),
            Figure("export CSV s (100k)", r"csv unionbot\s+([\d.]+)", False),
            Figure("export XLSX peak RSS MB", r"xlsx unionbot\s+[\d.]+\s+(\d+)", False),
        ),
    ),
    Bench(
        "startup",
        "bench_startup.py",
        ("--signups", "200000", "--starts", "3"),
        (Figure("start-up s (200k sign-ups)", r"start-up \(best of \d+\): ([\d.]+) s", False),),
    ),
)


def extract(ref: str, into: Path) -> None:
    """The tree at `ref`, without touching the working copy or its worktrees."""
    archive = into.with_suffix(".tar")
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), ref], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()


def run_once(bench: Bench, scripts: Path, tree: Path) -> tuple[dict[str, float], float, str]:
    """One run of `bench` (the before tree's script, copied into `scripts`, a directory
    directly inside `tree`) against `tree`'s code."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, str(scripts / bench.script), *bench.args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = done.stdout + done.stderr
    values: dict[str, float] = {}
    for figure in bench.figures:
        # A bench exits 1 when its own target is missed (e.g. 1,000 messages/s on a busy
        # machine); its figures still count here. Without them the run failed.
        match = re.search(figure.pattern, out)
        if match is None:
            missing = f"{bench.name} against {tree} exited {done.returncode}, no '{figure.label}'"
            raise RuntimeError(f"{missing}:\n{out[-2000:]}")
        values[figure.label] = float(match.group(1).replace(",", ""))
    return values, cpu, out


def measure_all(
    chosen: list[Bench], rounds: int, before_tree: Path, after_scripts: Path, rows: list[tuple[str, float, float, bool]]
) -> None:
    for bench in chosen:
        samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        order = ["before", "after", "after", "before"] * ((rounds + 1) // 2)
        order = order[: 2 * rounds]
        t0 = time.perf_counter()
        for side in order:
            scripts, tree = (before_tree / "bench", before_tree) if side == "before" else (after_scripts, ROOT)
            values, cpu, _ = run_once(bench, scripts, tree)
            values[f"{bench.name} CPU s (all processes)"] = cpu
            for label, value in values.items():
                samples[side].setdefault(label, []).append(value)
        print(f"  {bench.name}: {len(order)} runs in {time.perf_counter() - t0:.0f} s", flush=True)
        higher = {f.label: f.higher_is_better for f in bench.figures}
        for label in samples["before"]:
            b = statistics.median(samples["before"][label])
            a = statistics.median(samples["after"][label])
            rows.append((label, b, a, higher.get(label, False)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="aa735e9", help="the commit before the restructure")
    parser.add_argument("--rounds", type=int, default=2, help="runs per side, alternating")
    parser.add_argument("--only", default="", help="comma-separated bench names")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"before: {args.before} (its own bench scripts), after: {head.stdout.strip()} (this working tree)")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    rows: list[tuple[str, float, float, bool]] = []
    after_scripts = ROOT / ".bench_before"
    with tempfile.TemporaryDirectory() as tmp:
        before_tree = Path(tmp) / "before"
        extract(args.before, before_tree)
        shutil.rmtree(after_scripts, ignore_errors=True)
        shutil.copytree(before_tree / "bench", after_scripts)
        try:
            measure_all(chosen, args.rounds, before_tree, after_scripts, rows)
        finally:
            shutil.rmtree(after_scripts, ignore_errors=True)
    print(f"\n{'figure':<34}{'before':>11}{'after':>11}{'after/before':>14}  verdict")
    worse = 0
    for label, b, a, higher_better in rows:
        ratio = a / b if b else float("inf")
        bad = ratio < 1 / LIMIT if higher_better else ratio > LIMIT
        worse += bad
        sign = "higher is better" if higher_better else "lower is better"
        verdict = "WORSE by more than 10%" if bad else "within 10% or better"
        print(f"{label:<34}{b:>11.2f}{a:>11.2f}{ratio:>14.2f}  {verdict} ({sign})")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(f"\n{worse} figure(s) worse by more than 10%")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
