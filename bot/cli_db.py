"""`unionbot db copy`: move a federation's data between SQLite and PostgreSQL (issue 12).

Only table names, counts and masked database locations are printed: never a row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.config import Config
from storage import Store, StoreError, open_store, safe_location
from storage.copy import DEFAULT_BATCH, TargetNotEmptyError, copy_database


def register(db_sub: Any, common: argparse.ArgumentParser) -> None:
    copy = db_sub.add_parser(
        "copy",
        parents=[common],
        help="copy every table from one database to another (SQLite <-> PostgreSQL)",
        description="Stop the bot first: rows written to the source during the copy may be missed.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="sqlite:///path or postgresql://...")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="sqlite:///path or postgresql://...")
    copy.add_argument(
        "--force", action="store_true", help="empty a non-empty target first (e.g. after an interrupted copy)"
    )
    copy.add_argument(
        "--batch", type=_positive, default=DEFAULT_BATCH, metavar="N", help="rows per batch (default 1000)"
    )
    copy.set_defaults(func=_copy)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text[:20]!r}") from None
    if not 1 <= n <= 1_000_000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000000")
    return n


class ProgressBar:
    """`signups  12000/200000` on stderr: redrawn in place on a terminal, one line per
    finished table otherwise (logs and CI stay short)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()

    def __call__(self, table: str, done: int, total: int) -> None:
        line = f"{table:<22} {done}/{total}"
        if self.tty:
            end = "\n" if done >= total else ""
            self.out.write(f"\r{line}{end}")
            self.out.flush()
        elif done >= total:
            self.out.write(line + "\n")


def _is_file(url: str) -> bool:
    return Path(url.removeprefix("sqlite:///")).is_file()


def _open(url: str) -> Store:
    """The store for a URL; a bad URL raises StoreError naming only the masked URL."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise StoreError(f"unsupported database URL {safe_location(url)} (use sqlite:///path or postgresql://...)")
    return open_store(url)


async def _copy(args: argparse.Namespace, config: Config) -> int:
    names = f"{safe_location(args.source)} -> {safe_location(args.target)}"
    try:
        source, target = _open(args.source), _open(args.target)
    except StoreError as e:
        print(f"unionbot: db copy: {e}", file=sys.stderr)
        return 2
    if args.source.startswith("sqlite:///") and not _is_file(args.source):
        # opening it would create an empty database and copy nothing
        print(f"unionbot: db copy: no database file at {safe_location(args.source)}", file=sys.stderr)
        return 2
    if args.source == args.target:
        print("unionbot: db copy: the source and the target are the same database", file=sys.stderr)
        return 2
    try:
        await source.open()
    except StoreError as e:
        print(f"unionbot: db copy: {e}", file=sys.stderr)
        return 2
    try:
        try:
            await target.open()
        except StoreError as e:
            print(f"unionbot: db copy: {e}", file=sys.stderr)
            return 2
        try:
            results = await copy_database(
                source, target, force=args.force, batch=args.batch, progress=ProgressBar(sys.stderr)
            )
        except TargetNotEmptyError as e:
            print(f"unionbot: db copy: {e}", file=sys.stderr)
            return 2
        except StoreError as e:
            print(f"unionbot: db copy ({names}): {e}", file=sys.stderr)
            return 1
        finally:
            await target.close()
    finally:
        await source.close()
    differ = [r for r in results if r.source_rows != r.target_rows]
    for r in differ:
        print(
            f"unionbot: db copy: table {r.name}: {r.source_rows} rows in the source, {r.target_rows} in the target",
            file=sys.stderr,
        )
    if differ:
        print(f"unionbot: db copy: row counts differ in {', '.join(r.name for r in differ)}", file=sys.stderr)
        return 1
    rows = sum(r.target_rows for r in results)
    print(f"copied {rows} rows in {len(results)} tables ({names}); row counts verified")
    return 0
