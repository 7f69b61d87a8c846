"""Where the time goes, by part, in cProfile files (e.g. bench_engine_vs_bare.py --profile).

Each function's own time (tottime) is put in one bucket by the file it lives in: the
Telegram client (python-telegram-bot, httpx, httpcore, h11, anyio), the database
(aiosqlite, sqlite3, the store, asyncpg), the broadcast engine, its pacer, the event loop
(asyncio, selectors, ssl, socket), and the rest. One column per file, so two profiles
(before and after a change) read side by side.

    python3 dev.py bench bench/profile_shares.py before.prof after.prof
"""

from __future__ import annotations

import pstats
import sys

BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PTB / httpx (sending)", ("/telegram/", "/httpx/", "/httpcore/", "/h11/", "/anyio/", "/sniffio/")),
    ("pacer", ("/bot/broadcast/limits",)),
    ("broadcast engine", ("/bot/broadcast/",)),
    ("database (store, driver)", ("/aiosqlite/", "sqlite3", "/storage/", "/asyncpg/")),
    ("event loop and sockets", ("asyncio", "selectors", "/ssl.py", "/socket.py", "<built-in method select")),
)
OTHER = "everything else"


def bucket(filename: str) -> str:
    for name, marks in BUCKETS:
        if any(mark in filename for mark in marks):
            return name
    return OTHER


def shares(path: str) -> tuple[dict[str, float], float]:
    stats = pstats.Stats(path)
    totals: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = bucket(f"{filename}:{func}")
        totals[key] = totals.get(key, 0.0) + tottime
    return totals, sum(totals.values())


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    results = [shares(p) for p in paths]
    names = [name for name, _ in BUCKETS] + [OTHER]
    print(f"{'share of profiled time':<28}" + "".join(f"{p[-24:]:>26}" for p in paths))
    for name in names:
        print(f"{name:<28}" + "".join(f"{100 * t.get(name, 0.0) / total:>25.1f}%" for t, total in results))
    print(f"{'profiled seconds':<28}" + "".join(f"{total:>26.1f}" for _, total in results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
