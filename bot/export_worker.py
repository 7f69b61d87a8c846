"""Exports in a worker process, so the bot's event loop never waits for them.

A 200,000-row XLSX takes tens of seconds of pure Python; in a thread it would hold the
GIL and every worker chatting meanwhile would wait. The worker process opens the
database itself (SQLite in WAL mode lets it read while the bot writes), streams the
rows into a temporary file and hands back only the file's path.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from handlers.join.export import (
    ExportJob,
    ExportResult,
    Progress,
    QueryExportJob,
    run_export_job,
    write_query_export,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


PROGRESS_FILE = ".progress"  # in the job's work directory: rows written so far, as text
POLL_EVERY = 0.5  # seconds between the bot's reads of that file


def _progress_writer(work_dir: str) -> Callable[[int], None]:
    """Tells the bot process how far the export got, through a file replaced whole each
    time: a pool job has no channel back but its result, and a file needs no locks."""
    target = Path(work_dir) / PROGRESS_FILE
    scratch = target.with_suffix(".tmp")

    def write(rows: int) -> None:
        scratch.write_text(str(rows))
        os.replace(scratch, target)

    return write


def read_progress(work_dir: str) -> int | None:
    try:
        return int((Path(work_dir) / PROGRESS_FILE).read_text() or 0)
    except (FileNotFoundError, ValueError):
        return None


def _export_in_child(db_path: str, job: ExportJob, work_dir: str) -> tuple[str, int, bool, bool]:
    from handlers.i18n import load_catalog
    from storage import open_store

    async def run() -> tuple[str, int, bool, bool]:
        async with open_store(db_path) as store:
            path, rows, zipped, too_large = await run_export_job(
                store, load_catalog(), job, Path(work_dir), _progress_writer(work_dir)
            )
        return str(path), rows, zipped, too_large

    return asyncio.run(run())


def _query_export_in_child(db_path: str, job: QueryExportJob, out: str) -> int:
    from handlers.i18n import load_catalog
    from storage import open_store

    async def run() -> int:
        store = open_store(db_path)
        async with store:
            return await write_query_export(store, load_catalog(), job, Path(out))

    return asyncio.run(run())


class ProcessExporter:
    """One worker process, started on the first export and kept for the next ones."""

    def __init__(self, db_url: str) -> None:
        self._db_path = db_url
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: forking a process that runs an event loop and threads
            # (aiosqlite, httpx) copies locks held by other threads.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    async def call(self, job: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor(), job)

    async def export(self, job: ExportJob, *, progress: Progress | None = None) -> ExportResult:
        self._executor()
        work_dir = await asyncio.to_thread(tempfile.mkdtemp, prefix="unionbot-export-")
        try:
            loop = asyncio.get_running_loop()
            running = loop.run_in_executor(self._pool, _export_in_child, self._db_path, job, work_dir)
            if progress is not None:
                while not (await asyncio.wait({running}, timeout=POLL_EVERY))[0]:
                    if (rows := await asyncio.to_thread(read_progress, work_dir)) is not None:
                        progress(rows)
            path, rows, zipped, too_large = await running
            data = None if too_large else await asyncio.to_thread(Path(path).read_bytes)
            return ExportResult(rows, data, Path(path).name, zipped)
        finally:
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    async def export_file(self, job: QueryExportJob, out: Path) -> int:
        """The console's export of a filter, written by the worker into `out`, which the
        console then streams to the browser from disk: neither the rows nor the file pass
        through this process's memory."""
        self._executor()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, _query_export_in_child, self._db_path, job, str(out))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
