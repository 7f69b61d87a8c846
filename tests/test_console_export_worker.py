"""The console's export is written by the bot's export worker process, not on the event
loop: pages keep answering while a large XLSX is being written, and writing an export in
this process is made impossible for the test, so the file can only come from the worker."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import openpyxl
import pytest

from bench.scale_seed import seed_rows
from bot.console import app as console_module
from bot.console.security import RateLimit
from bot.export_worker import ProcessExporter
from handlers.context import Services
from handlers.join import export as export_module
from storage import Role, Store
from tests.console_support import client_for, console_app, person, sign_in

ROWS = 30_000


@pytest.fixture(autouse=True)
def fresh_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_module, "SIGNIN_LIMIT", RateLimit(limit=10, window=60.0))


async def test_a_large_export_runs_in_the_worker_process_while_pages_keep_answering(
    services: Services, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(seed_rows, Path(store.path), ROWS, 50)  # type: ignore[attr-defined]
    admin = await person(store, "1", Role.ADMIN)
    worker_process = ProcessExporter(store.path)  # type: ignore[attr-defined]
    services.exporter = worker_process

    async def not_here(*args: object, **kwargs: object) -> int:
        raise AssertionError("the export was written in the bot's own process")

    # The spawned worker imports its own copy of the module; only this process is patched.
    monkeypatch.setattr(export_module, "write_export_file", not_here)
    # This client asks for pages as fast as it can, as no person does: the per-session
    # request limit (tested in test_console_security.py) is lifted so it measures speed.
    monkeypatch.setattr(console_module, "SESSION_REQUESTS_PER_MINUTE", 1_000_000)
    try:
        async with client_for(console_app(services)) as client:
            csrf = await sign_in(client, store, admin)
            export = asyncio.create_task(client.post("/console/signups/export", data={"csrf": csrf, "fmt": "xlsx"}))
            answered_meanwhile = 0
            while not export.done():
                # A real request through the whole console stack (session, store, template).
                reply = await client.get("/console/questions")
                assert reply.status_code == 200
                if not export.done():
                    answered_meanwhile += 1
            response = await export
    finally:
        worker_process.close()
    assert response.status_code == 200, response.text[:500]
    assert "attachment" in response.headers["content-disposition"]
    # Spawning the worker and writing 30,000 rows take seconds; a page takes milliseconds.
    assert answered_meanwhile >= 3, answered_meanwhile
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sum(1 for _ in sheet.iter_rows(min_row=2, max_col=1)) == ROWS
    [entry] = await store.list_audit(action="signups.export")
    assert entry.actor_id == admin.id and entry.details["rows"] == ROWS and entry.details["via"] == "console"


async def test_the_worker_reports_rows_written_while_the_chat_export_runs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chat's "⏳" message is edited from these figures (handlers/join/organizer.py)."""
    from bot import export_worker
    from handlers.join.export import ExportJob

    await asyncio.to_thread(seed_rows, Path(store.path), 20_000, 50)  # type: ignore[attr-defined]
    monkeypatch.setattr(export_worker, "POLL_EVERY", 0.02)
    seen: list[int] = []
    worker = ProcessExporter(store.path)  # type: ignore[attr-defined]
    try:
        job = ExportJob("xlsx", None, "vi", "Asia/Ho_Chi_Minh", filename="dang-ky", max_bytes=50 * 1024 * 1024)
        result = await worker.export(job, progress=seen.append)
    finally:
        worker.close()
    assert result.rows == 20_000 and result.data is not None
    assert seen == sorted(seen), "rows written only grow"
    assert any(0 < rows < 20_000 for rows in seen), seen[:20]
