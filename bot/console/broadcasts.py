"""The console's broadcasts page: list with live delivery counts, compose with preview,
pause/resume/cancel/resend. One engine, two front ends: broadcasts are created and
changed in the store exactly as the chat does (handlers/broadcasts/compose.py and
manage.py), and the delivery service is told through the same BroadcastControl.
"""

from __future__ import annotations

import asyncio
import base64
import io
import secrets
import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from handlers.broadcasts import manage
from handlers.broadcasts.compose import ROLE_CYCLE
from handlers.broadcasts.options import BroadcastOptions

# MAX_TEXT: the chat's limit; the console cut longer text to 3,000 characters without a
# word (found trying the console as an organizer).
from handlers.broadcasts.render import (
    MAX_TEXT,
    describe_audience,
    describe_when,
    render_message,
    stats_text,
)
from handlers.broadcasts.render import status_label as broadcast_status
from handlers.broadcasts.schedule import end_of_day, format_local, next_weekly, weekly_cron
from handlers.i18n import LANGUAGES
from handlers.scope import audience_in_scope, own_audience
from storage.broadcasts import Audience, Broadcast, BroadcastStatus, NewBroadcast

if TYPE_CHECKING:
    from bot.console.app import Console, Viewer

MAX_IMAGE_BYTES = 5 * 1024 * 1024
DRAFT_TTL = 3600.0
_DONE = frozenset({"created", "pause", "resume", "cancel", "resend"})
WHEN = ("now", "at", "weekly")  # the compose form's choices
# The roles an audience may be narrowed to: the chat's choices (handlers/broadcasts/compose.py).
ROLES = tuple(r[0] for r in ROLE_CYCLE if r)


class NotFoundError(Exception):
    pass


@dataclass(slots=True)
class _Image:
    owner: int
    data: bytes
    name: str
    expires: float


def _check_image(data: bytes) -> str | None:
    """The image's format ("png", "jpeg"...) if Pillow can read it whole; None otherwise."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = (img.format or "").lower()
            img.verify()
    except Exception:
        return None
    return kind if kind in ("png", "jpeg", "webp", "gif") else None


@dataclass(slots=True)
class Draft:
    text_vi: str = ""
    text_en: str = ""
    everyone: bool = False
    topics: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    language: str = ""
    role: str = ""
    when: str = "now"
    at: str = ""
    weekday: str = ""
    time: str = ""
    until: str = ""
    image: str = ""  # key of an uploaded image kept between preview and send


class BroadcastPages:
    def __init__(self, console: Console) -> None:
        self.c = console
        self.images: dict[str, _Image] = {}

    # -- helpers ------------------------------------------------------------------
    def options(self) -> BroadcastOptions:
        return self.c.services.broadcast_options or BroadcastOptions()

    async def _in_scope(self, viewer: Viewer, broadcast_id: int) -> Broadcast:
        b = await manage.load_in_scope(viewer.ctx, broadcast_id)
        if b is None:
            raise NotFoundError
        return b

    async def _notify(self, broadcast_id: int) -> None:
        control = self.c.services.broadcast_control
        if control is not None:
            await control.changed(broadcast_id)

    def _draft(self, form: FormData) -> Draft:
        def s(key: str, n: int = 100) -> str:
            return str(form.get(key, "")).strip()[:n]

        return Draft(
            # One character over is kept, so that _problem can say the text is too long.
            text_vi=str(form.get("text_vi", "")).strip()[: MAX_TEXT + 1],
            text_en=str(form.get("text_en", "")).strip()[: MAX_TEXT + 1],
            everyone=form.get("everyone") == "1",
            topics=tuple(str(t) for t in form.getlist("topics"))[:20],
            provinces=tuple(sorted({str(p) for p in form.getlist("provinces")}))[:40],
            language=s("language") if s("language") in LANGUAGES else "",
            role=s("role") if s("role") in ROLES else "",
            when=s("when") or "now",
            at=s("at"),
            weekday=s("weekday"),
            time=s("time"),
            until=s("until"),
            image=s("image"),
        )

    def _audience(self, viewer: Viewer, d: Draft) -> Audience:
        known = {t.id for t in self.options().topics}
        return own_audience(
            viewer.scope,
            Audience(
                topics=tuple(t for t in d.topics if t in known),
                everyone=d.everyone,
                provinces=d.provinces,
                language=d.language or None,
                roles=(d.role,) if d.role else (),
            ),
        )

    def _schedule(self, d: Draft, now: datetime) -> tuple[datetime, str | None, datetime | None]:
        """(first send, cron, until); ValueError names what is wrong."""
        tz = self.c.tz
        if d.when not in WHEN:
            # Never "now" by default: a form that says something else must not send at once.
            raise ValueError("console.broadcasts.bad_time")
        if d.when == "at":
            first = datetime.fromisoformat(d.at).replace(tzinfo=tz)
            if first <= now:
                raise ValueError("console.broadcasts.in_past")
            return first, None, None
        if d.when == "weekly":
            if d.weekday and not (d.weekday.isdigit() and int(d.weekday) < 7):
                raise ValueError("console.broadcasts.bad_time")  # not silently "every day"
            weekday = int(d.weekday) if d.weekday else None
            at = time.fromisoformat(d.time)
            until = end_of_day(date.fromisoformat(d.until), tz)
            first = next_weekly(now, weekday, at, tz)
            if until <= first:
                raise ValueError("console.broadcasts.in_past")
            return first, weekly_cron(weekday, at), until
        return now, None, None

    async def _take_image(self, viewer: Viewer, form: FormData, d: Draft) -> tuple[Draft, str | None]:
        """Keep a newly uploaded image under a random key (for the send after the preview)."""
        now = clock.monotonic()
        for key in [k for k, v in self.images.items() if v.expires < now]:
            del self.images[key]
        upload = form.get("photo")
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(MAX_IMAGE_BYTES + 1)
            if len(data) > MAX_IMAGE_BYTES:
                return d, "console.broadcasts.image_too_large"
            kind = await asyncio.to_thread(_check_image, data)
            if kind is None:
                return d, "console.broadcasts.image_invalid"
            if len(self.images) > 200:
                self.images.clear()
            key = secrets.token_urlsafe(16)
            self.images[key] = _Image(viewer.ctx.user.id, data, f"photo.{kind}", now + DRAFT_TTL)
            d.image = key
        elif d.image and (d.image not in self.images or self.images[d.image].owner != viewer.ctx.user.id):
            d.image = ""
        return d, None

    # -- pages --------------------------------------------------------------------
    async def list_page(
        self,
        request: Request,
        viewer: Viewer,
        *,
        draft: Draft | None = None,
        preview: dict[str, Any] | None = None,
        notice: str | None = None,
        error: str | None = None,
    ) -> Response:
        lang, catalog = viewer.lang, self.c.catalog
        done, done_id = request.query_params.get("done", ""), request.query_params.get("id", "")
        if notice is None and done in _DONE and done_id.isdigit() and len(done_id) < 12:
            notice = catalog.t(lang, f"console.broadcasts.done_{done}", id=int(done_id))
        if viewer.scope is not None and not viewer.scope:
            return self.c.render(request, viewer, "error.html", 200, message="console.error.no_scope")
        found = await self.c.store.list_broadcasts(limit=30, within_provinces=viewer.scope)
        items = []
        for b in found:
            stats = await self.c.store.delivery_stats(b.id)
            items.append(
                {
                    "b": b,
                    "status": broadcast_status(catalog, lang, b),
                    "when": describe_when(catalog, lang, b, self.c.tz),
                    "audience": describe_audience(catalog, lang, b.audience, self.options()),
                    "stats": stats_text(catalog, lang, b, stats),
                    "failed": stats.failed,
                }
            )
        # The page reloads itself (static/console.js) while something is sending or about to.
        soon = datetime.now(UTC) + timedelta(minutes=2)
        live = (
            "/console/broadcasts#list"
            if any(
                b.status is BroadcastStatus.RUNNING
                or (b.status is BroadcastStatus.SCHEDULED and b.run_at is not None and b.run_at <= soon)
                for b in found
            )
            else ""
        )
        provinces = self.c._provinces_for(viewer)
        return self.c.render(
            request,
            viewer,
            "broadcasts.html",
            items=items,
            live=live,
            d=draft or Draft(),
            preview=preview,
            topics=self.options().topics,
            provinces=provinces,
            roles=ROLES,
            notice=notice,
            error=error,
            max_text=MAX_TEXT,
        )

    async def preview(self, request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        d, problem = await self._take_image(viewer, form, self._draft(form))
        t = self.c.catalog.t
        if problem:
            return await self.list_page(request, viewer, draft=d, error=t(viewer.lang, problem, max=MAX_TEXT))
        problem = self._problem(viewer, d)
        if problem:
            return await self.list_page(request, viewer, draft=d, error=t(viewer.lang, problem, max=MAX_TEXT))
        audience = self._audience(viewer, d)
        first, cron, until = self._schedule(d, datetime.now(self.c.tz))
        # One bubble per text the audience will actually get: narrowed to English readers,
        # the Vietnamese bubble would show a message nobody receives (and the reverse).
        shown: dict[str, str] = {}
        for reader in [audience.language] if audience.language else LANGUAGES:
            message = render_message(self.c.catalog, reader, d.text_vi, d.text_en or None)
            shown.setdefault(message.language, message.text)
        reach = await self.c.store.audience_by_channel(audience)
        image = self.images.get(d.image)
        preview = {
            "messages": list(shown.values()),
            "image": f"data:image/{image.name.split('.')[-1]};base64,{base64.b64encode(image.data).decode()}"
            if image
            else None,
            "audience": describe_audience(self.c.catalog, viewer.lang, audience, self.options()),
            "by_channel": sorted(reach.by_channel.items()),
            "total": reach.total,
            "first": format_local(first, self.c.tz),
            "until": format_local(until, self.c.tz) if until else None,
            "cron": cron,
        }
        return await self.list_page(request, viewer, draft=d, preview=preview)

    def _problem(self, viewer: Viewer, d: Draft) -> str | None:
        if not d.text_vi:
            return "console.broadcasts.text_required"
        if len(d.text_vi) > MAX_TEXT or len(d.text_en) > MAX_TEXT:
            return "console.broadcasts.text_too_long"
        if not d.everyone and not d.topics:
            return "console.broadcasts.audience_required"
        audience = self._audience(viewer, d)
        if not audience.valid:
            return "console.broadcasts.audience_required"
        if not audience_in_scope(viewer.scope, audience):
            return "console.broadcasts.out_of_scope"
        try:
            self._schedule(d, datetime.now(self.c.tz))
        except ValueError as e:
            return str(e) if str(e).startswith("console.") else "console.broadcasts.bad_time"
        return None

    async def create(self, request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        d, problem = await self._take_image(viewer, form, self._draft(form))
        t = self.c.catalog.t
        problem = problem or self._problem(viewer, d)
        if problem:
            return await self.list_page(request, viewer, draft=d, error=t(viewer.lang, problem, max=MAX_TEXT))
        audience = self._audience(viewer, d)
        first, cron, until = self._schedule(d, datetime.now(self.c.tz))
        image = self.images.pop(d.image, None) if d.image else None
        b = await self.c.store.create_broadcast(
            NewBroadcast(
                text_vi=d.text_vi,
                text_en=d.text_en or None,
                audience=audience,
                run_at=first.astimezone(UTC),
                created_by=viewer.ctx.user.id,
                photo=image.data if image else None,
                photo_name=image.name if image else "photo.jpg",
                cron=cron,
                until=until.astimezone(UTC) if until else None,
            )
        )
        await self.c.store.audit(
            viewer.ctx.user.id,
            "broadcast.create",
            f"broadcast:{b.id}",
            {
                "kind": b.kind.value,
                "audience": audience.to_json(),
                "run_at": first.isoformat(),
                "photo": b.photo_id is not None,
                "via": "console",
            },
        )
        await self._notify(b.id)
        # Post/redirect/get: reloading the list must never send the broadcast again.
        return RedirectResponse(f"/console/broadcasts?done=created&id={b.id}", status_code=303)

    async def act(self, request: Request, viewer: Viewer) -> Response:
        action = request.path_params["action"]
        b = await self._in_scope(viewer, request.path_params["broadcast_id"])
        t = self.c.catalog.t
        if action == "pause":
            ok = await manage.pause(self.c.store, b)
        elif action == "resume":
            ok = await manage.resume(self.c.store, b)
        elif action == "cancel":
            ok = await manage.cancel(self.c.store, b)
        elif action == "resend":
            ok = await manage.resend_failed(self.c.store, b) > 0
        else:
            raise NotFoundError
        if ok:
            await self.c.store.audit(viewer.ctx.user.id, f"broadcast.{action}", f"broadcast:{b.id}", {"via": "console"})
            await self._notify(b.id)
            return RedirectResponse(f"/console/broadcasts?done={action}&id={b.id}", status_code=303)
        return await self.list_page(request, viewer, error=t(viewer.lang, "console.broadcasts.not_now", id=b.id))


__all__ = ["BroadcastPages", "Draft", "NotFoundError"]
