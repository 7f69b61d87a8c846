"""The console's import page: upload a CSV/XLSX of sign-ups collected on paper, see every
row's problems named, then import the good rows (handlers/join/importer.py)."""

from __future__ import annotations

import functools
import secrets
import time as clock
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from handlers.join.export import Exporter, InProcessExporter
from handlers.join.importer import MAX_BYTES, ImportPlan, plan_import, read_table

if TYPE_CHECKING:
    from bot.console.app import Console, Viewer

PLAN_TTL = 3600.0
PREVIEW_ROWS = 200


@dataclass(slots=True)
class _Pending:
    owner: int
    plan: ImportPlan
    expires: float


def _plan(data: bytes, filename: str, scope: frozenset[str] | None, tz: tzinfo, lang: str, today: date) -> ImportPlan:
    return plan_import(read_table(data, filename), scope=scope, tz=tz, lang=lang, today=today)


class ImportPages:
    def __init__(self, console: Console) -> None:
        self.c = console
        self.pending: dict[str, _Pending] = {}

    async def page(self, request: Request, viewer: Viewer, *, error: str | None = None) -> Response:
        if viewer.scope is not None and not viewer.scope:
            return self.c.render(request, viewer, "error.html", 200, message="console.error.no_scope")
        notice = None
        q = request.query_params
        if q.get("created", "").isdigit() and q.get("known", "").isdigit():
            notice = self.c.catalog.t(
                viewer.lang, "console.import.done", created=int(q["created"]), known=int(q["known"])
            )
        return self.c.render(request, viewer, "import.html", plan=None, key="", known=0, notice=notice, error=error)

    async def preview(self, request: Request, viewer: Viewer) -> Response:
        t = self.c.catalog.t
        if viewer.scope is not None and not viewer.scope:
            return self.c.render(request, viewer, "error.html", 200, message="console.error.no_scope")
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self.page(request, viewer, error=t(viewer.lang, "console.import.no_file"))
        data = await upload.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return await self.page(request, viewer, error=t(viewer.lang, "console.import.too_large"))
        today = datetime.now(self.c.tz).date()
        # openpyxl holds the GIL for seconds on a large sheet: in a thread, every worker
        # chatting meanwhile would wait. The export worker process parses it instead.
        exporter: Exporter = self.c.services.exporter or InProcessExporter(self.c.store, self.c.catalog)
        try:
            plan = await exporter.call(
                functools.partial(_plan, data, upload.filename, viewer.scope, self.c.tz, viewer.lang, today)
            )
        except Exception:  # not a CSV or XLSX we can read: say so, never a stack trace
            return await self.page(request, viewer, error=t(viewer.lang, "console.import.unreadable"))
        # Numbers signed up anywhere count as known, as the import itself will report them:
        # a preview that left out other provinces' promised imports that never happened
        # (found in review). An organizer learns a number is signed up somewhere, not
        # where; so every preview is audited like the import (counts only, no number).
        known = await self.c.store.known_phones([r.draft.phone_e164 for r in plan.rows])
        await self.c.store.audit(
            viewer.ctx.user.id,
            "signups.import_preview",
            "signups",
            {"rows": len(plan.rows), "known": len(known), "via": "console"},
        )
        now = clock.monotonic()
        for k in [k for k, v in self.pending.items() if v.expires < now]:
            del self.pending[k]
        key = secrets.token_urlsafe(16) if plan.rows else ""
        if key:
            self.pending[key] = _Pending(viewer.ctx.user.id, plan, now + PLAN_TTL)
        return self.c.render(
            request,
            viewer,
            "import.html",
            plan=plan,
            key=key,
            known=len(known),
            shown=plan.rows[:PREVIEW_ROWS],
            known_phones=known,
        )

    async def confirm(self, request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        key = str(form.get("key", ""))
        pending = self.pending.get(key)
        if pending is None or pending.owner != viewer.ctx.user.id:
            return await self.page(request, viewer, error=self.c.catalog.t(viewer.lang, "console.import.expired"))
        del self.pending[key]
        plan = pending.plan
        # The scope is checked again: it may have shrunk since the preview.
        rows = [r for r in plan.rows if viewer.scope is None or r.draft.province_id in viewer.scope]
        outcome = await self.c.store.import_signups([(r.draft, r.signed_at) for r in rows])
        await self.c.store.audit(
            viewer.ctx.user.id,
            "signups.import",
            "signups",
            {
                "created": outcome.created,
                "known": outcome.known,
                "merged": plan.merged,
                "problems": len(plan.problems),
                "via": "console",
                "provinces": sorted({r.draft.province_id for r in rows}),
            },
        )
        return RedirectResponse(f"/console/import?created={outcome.created}&known={outcome.known}", status_code=303)
