"""The organizers' web console: server-rendered pages under /console on the bot's web server.

Every request re-reads the session, the person, their role and their provinces from the
store (`_viewer`), and every page and action filters through the same scope functions the
chat uses, so nothing here can show more than the chat would. A sign-up, question or
page outside the viewer's provinces is answered with 404, exactly like one that does not
exist. State changes happen only on POST, and every POST carries the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot.channels.base import ChannelRegistry
from bot.console.broadcasts import BroadcastPages, NotFoundError
from bot.console.charts import Chart, weekly_chart
from bot.console.imports import ImportPages
from bot.console.security import (
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    RateLimit,
    SecurityHeaders,
    cookie_args,
    same_token,
)
from handlers import console as access
from handlers.context import Ctx, Services
from handlers.i18n import LANGUAGES
from handlers.join.common import (
    clean_note,
    in_scope,
    load_progress,
    province_name,
    province_scope,
    source_label,
    status_label,
)
from handlers.join.export import Exporter, InProcessExporter, QueryExportJob
from handlers.join.organizer import MAX_TARGET
from handlers.join.phone import parse_vn_mobile
from handlers.join.provinces import all_provinces
from handlers.rights.inbox import CLOSE_REASONS, MAX_ANSWER_CHARS, deliver_answer
from handlers.scope import question_in_scope
from storage import Role
from storage.console import SORTS, SignupCursor, SignupQuery
from storage.questions import ANSWERED, CLOSED, OPEN
from storage.signups import PAPER_CHANNEL, Signup, SignupSource, SignupStatus

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
PAGE_SIZE = 50
COUNT_CAP = 5000  # above it the page says "more than 5,000"
SIGNIN_LIMIT = RateLimit(limit=10, window=60.0)
# Requests per session per minute: far above a person clicking (the broadcasts page's
# live reload is 20 a minute), far below a script reading sign-ups page after page.
SESSION_REQUESTS_PER_MINUTE = 120
# Requests per address per minute carrying a session cookie the store does not know
# (expired, signed out, or guessed): an expired cookie costs one, guessing costs all.
UNKNOWN_SESSIONS_PER_MINUTE = 30
RETRY_AFTER = "60"
SESSION_MAX_AGE = int(access.SESSION_IDLE.total_seconds())
# The questions page's status filter: what each choice searches.
QUESTION_FILTERS: dict[str, tuple[str, ...]] = {
    OPEN: (OPEN,),
    ANSWERED: (ANSWERED,),
    CLOSED: (CLOSED,),
    "handled": (ANSWERED, CLOSED),
}


@dataclass(slots=True)
class Viewer:
    """The signed-in person, as the store says they are on this request."""

    ctx: Ctx
    scope: frozenset[str] | None  # None: every province (an admin)
    csrf: str
    session_hash: str
    lang: str

    @property
    def is_admin(self) -> bool:
        return self.ctx.role is Role.ADMIN


# The sign-ups filter's own "source" choice for sheets imported from paper.
PAPER_SOURCE = PAPER_CHANNEL


class NotFound(Exception):
    """Answered with the 404 page: unknown, or outside the viewer's provinces."""


def _env() -> jinja2.Environment:
    # Autoescape on for every template: a sign-up named <script> is shown as text.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Console:
    def __init__(self, services: Services, registry: ChannelRegistry | None) -> None:
        self.services = services
        self.store = services.store
        self.catalog = services.catalog
        self.registry = registry
        self.tz = ZoneInfo(services.settings.timezone)
        self.templates = Jinja2Templates(env=_env())
        # One set per console app (per process): read at construction, so a test sets its own.
        self.session_limit = RateLimit(limit=SESSION_REQUESTS_PER_MINUTE, window=60.0)
        self.unknown_sessions = RateLimit(limit=UNKNOWN_SESSIONS_PER_MINUTE, window=60.0)

    # -- plumbing -----------------------------------------------------------------
    def _lang(self, request: Request, fallback: str) -> str:
        chosen = request.cookies.get(LANG_COOKIE)
        return chosen if chosen in LANGUAGES else (fallback if fallback in LANGUAGES else LANGUAGES[0])

    async def _viewer(self, request: Request) -> Viewer | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 100:
            return None
        sid = access.token_hash(token)
        session = await self.store.console_session(sid, idle_since=datetime.now(UTC) - access.SESSION_IDLE)
        if session is None:
            return None
        user = await self.store.get_user(session.user_id)
        if user is None:
            return None
        ctx = access.viewer_context(self.services, user)
        if not access.may_use_console(ctx):
            # The role was taken away since sign-in: the session ends with it.
            await self.store.end_console_session(sid)
            return None
        scope = await province_scope(ctx)
        return Viewer(ctx, scope, session.csrf, sid, self._lang(request, user.language))

    def render(self, request: Request, viewer: Viewer | None, name: str, code: int = 200, **context: Any) -> Response:
        lang = viewer.lang if viewer else self._lang(request, self.services.settings.default_language)
        catalog = self.catalog

        def t(key: str, **kw: Any) -> str:
            return catalog.t(lang, key, **kw)

        base = {
            "t": t,
            "lang": lang,
            "viewer": viewer,
            "csrf": viewer.csrf if viewer else "",
            "province_name": lambda p: province_name(p, lang),
            "status_label": lambda s: status_label(catalog, lang, s),
            "source_label": lambda s, code=None, channel=None: source_label(catalog, lang, s, code, channel),
            "local": self.local,
            "notice": None,
            "error": None,
        }
        base.update(context)
        return self.templates.TemplateResponse(request, name, base, status_code=code)

    def local(self, moment: datetime | None) -> str:
        return moment.astimezone(self.tz).strftime("%d/%m/%Y %H:%M") if moment else ""

    def page(
        self, handler: Callable[[Request, Viewer], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a page: signed-in organizers/admins only; every POST must carry the CSRF token."""

        async def endpoint(request: Request) -> Response:
            try:
                return await guarded(request)
            finally:
                await request.close()  # uploaded files' spooled temporary files

        async def guarded(request: Request) -> Response:
            address = request.client.host if request.client else "?"
            if self.unknown_sessions.full(address):
                # Refused before the store is asked: trying session ids gets nowhere.
                return self.too_many(request, None)
            viewer = await self._viewer(request)
            if viewer is None and request.cookies.get(SESSION_COOKIE):
                self.unknown_sessions.note(address)
            if viewer is not None and not self.session_limit.allow(viewer.session_hash):
                logger.info("console: user %s went over the per-session request limit", viewer.ctx.user.id)
                return self.too_many(request, viewer)
            if request.method == "POST":
                form = await request.form(max_files=1, max_fields=50, max_part_size=10 * 1024 * 1024)
                if viewer is None or not same_token(form.get("csrf"), viewer.csrf):
                    logger.info("console: refused a POST to %s without a valid CSRF token", request.url.path)
                    return self.render(request, viewer, "error.html", 403, message="console.error.forbidden")
            if viewer is None:
                return self.render(request, None, "signin.html", 401)
            try:
                return await handler(request, viewer)
            except (NotFound, NotFoundError):
                return self.render(request, viewer, "error.html", 404, message="console.error.not_found")

        return endpoint

    def too_many(self, request: Request, viewer: Viewer | None) -> Response:
        """The friendly 429 page: wait a minute; nothing was done."""
        response = self.render(request, viewer, "error.html", 429, message="console.error.too_many_requests")
        response.headers["retry-after"] = RETRY_AFTER
        return response

    # -- getting in ---------------------------------------------------------------
    async def login_page(self, request: Request) -> Response:
        """The link's page only shows a button: following a link changes nothing (a GET),
        so link previews and prefetchers cannot use the one-time token up."""
        token = request.path_params["token"]
        pre = access.new_token()
        response = self.render(request, None, "login.html", token=token, csrf=pre)
        response.set_cookie(
            PRE_COOKIE, pre, **cookie_args(request.url.scheme == "https", max_age=600, samesite="strict")
        )
        return response

    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        if not SIGNIN_LIMIT.allow(client):
            response = self.render(request, None, "error.html", 429, message="console.login.too_many")
            response.headers["retry-after"] = RETRY_AFTER
            return response
        form = await request.form(max_files=0, max_fields=5)
        pre = request.cookies.get(PRE_COOKIE, "")
        if not pre or not same_token(form.get("csrf"), pre):
            return self.render(request, None, "error.html", 403, message="console.error.forbidden")
        token = str(form.get("token", ""))[:100]
        user_id = await self.store.use_console_link(access.token_hash(token), now=datetime.now(UTC)) if token else None
        user = await self.store.get_user(user_id) if user_id is not None else None
        if user is None:
            logger.info("console: refused a sign-in with an unknown, used or expired link")
            return self.render(request, None, "error.html", 403, message="console.login.bad_link")
        ctx = access.viewer_context(self.services, user)
        if not access.may_use_console(ctx):
            logger.info("console: user %s (%s) may not sign in", user.id, ctx.role)
            return self.render(request, None, "error.html", 403, message="console.login.not_allowed")
        session, csrf = access.new_token(), access.new_token()
        await self.store.add_console_session(access.token_hash(session), user.id, csrf)
        await self.store.audit(user.id, "console.signin", f"user:{user.id}", {})
        logger.info("console: user %s signed in", user.id)
        response = RedirectResponse("/console/", status_code=303)
        secure = request.url.scheme == "https"
        response.set_cookie(SESSION_COOKIE, session, **cookie_args(secure, max_age=SESSION_MAX_AGE))
        response.delete_cookie(PRE_COOKIE, path="/console")
        return response

    async def logout(self, request: Request, viewer: Viewer) -> Response:
        await self.store.end_console_session(viewer.session_hash)
        response = RedirectResponse("/console/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    async def logout_all(self, request: Request, viewer: Viewer) -> Response:
        ended = await self.store.end_console_sessions(viewer.ctx.user.id)
        await self.store.audit(
            viewer.ctx.user.id, "console.signout_all", f"user:{viewer.ctx.user.id}", {"sessions": ended}
        )
        response = RedirectResponse("/console/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/console")
        return response

    async def set_lang(self, request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        lang = "en" if form.get("lang") == "en" else "vi"
        back = str(form.get("back", "/console/"))
        response = RedirectResponse(back if back.startswith("/console/") else "/console/", status_code=303)
        response.set_cookie(LANG_COOKIE, lang, **cookie_args(request.url.scheme == "https", max_age=365 * 86400))
        return response

    # -- sign-ups -------------------------------------------------------------------
    def _provinces_for(self, viewer: Viewer) -> list[str]:
        if viewer.scope is None:
            return [p.id for p in all_provinces()]
        return sorted(viewer.scope)

    def _query(self, viewer: Viewer, form: FormData | None) -> tuple[SignupQuery, dict[str, str], list[str]]:
        """The filter from the form, narrowed to the viewer's provinces; (query, echo, notices)."""
        f = (
            {
                k: str(form.get(k, "")).strip()[:200]
                for k in ("q", "province", "status", "source", "volunteer", "since", "until", "sort")
            }
            if form
            else {}
        )
        f = {k: f.get(k, "") for k in ("q", "province", "status", "source", "volunteer", "since", "until", "sort")}
        notices: list[str] = []
        provinces = viewer.scope
        if f["province"]:
            # A province outside the scope is ignored, never widened to: it shows nothing.
            provinces = frozenset({f["province"]}) if in_scope(viewer.scope, f["province"]) else frozenset()
        status = SignupStatus(f["status"]) if f["status"] in SignupStatus.__members__.values() else None
        # "paper" is its own choice: collected sign-ups imported from paper sheets.
        paper = True if f["source"] == PAPER_SOURCE else (False if f["source"] == SignupSource.COLLECTED else None)
        source = SignupSource(f["source"]) if f["source"] in SignupSource.__members__.values() else None
        phone = text = None
        if f["q"]:
            digits = sum(ch.isdigit() for ch in f["q"])
            parsed = parse_vn_mobile(f["q"])
            if parsed.ok:
                phone = parsed.e164
            else:
                if digits >= 6 and digits * 2 > len(f["q"].replace(" ", "")):
                    notices.append("console.signups.bad_phone")
                text = f["q"]
        since = until = None
        try:
            if f["since"]:
                since = datetime.combine(date.fromisoformat(f["since"]), time(), self.tz)
            if f["until"]:
                until = datetime.combine(date.fromisoformat(f["until"]), time(), self.tz) + timedelta(days=1)
        except ValueError:
            since = until = None
            notices.append("console.signups.bad_date")
        sort = f["sort"] if f["sort"] in SORTS else "new"
        f["sort"] = sort
        query = SignupQuery(
            provinces=provinces,
            status=status,
            source=source,
            paper=paper,
            volunteer_code=f["volunteer"] or None,
            since=since,
            until=until,
            phone_e164=phone,
            text=text,
            sort=sort,
        )
        return query, f, notices

    async def signups(self, request: Request, viewer: Viewer) -> Response:
        form = await request.form() if request.method == "POST" else None
        query, echo, notices = self._query(viewer, form)
        after = None
        if form is not None and str(form.get("after_id", "")).isdigit():
            after = SignupCursor(int(str(form["after_id"])), str(form.get("after_name", "")) or None)
        rows = await self.store.search_signups(query, after=after, limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        total = await self.store.count_signups(query, cap=COUNT_CAP)
        return self.render(
            request,
            viewer,
            "signups.html",
            rows=rows,
            more=more,
            total=total,
            cap=COUNT_CAP,
            f=echo,
            notices=notices,
            paged=after is not None,
            provinces=self._provinces_for(viewer),
            statuses=list(SignupStatus),
            sources=[(s.value, source_label(self.catalog, viewer.lang, s, None)) for s in SignupSource]
            + [(PAPER_SOURCE, self.catalog.t(viewer.lang, "join.source.paper_plain"))],
            next_cursor=(rows[-1].id, rows[-1].full_name if query.sort == "name" else "") if rows else None,
        )

    async def _signup_in_scope(self, viewer: Viewer, signup_id: int) -> Signup:
        s = await self.store.get_signup(signup_id)
        if s is None or not in_scope(viewer.scope, s.province_id):
            if s is not None:
                logger.info(
                    "console: user %s asked for sign-up %s outside their provinces", viewer.ctx.user.id, signup_id
                )
            raise NotFound
        return s

    async def signup(
        self, request: Request, viewer: Viewer, *, notice: str | None = None, error: str | None = None
    ) -> Response:
        s = await self._signup_in_scope(viewer, request.path_params["signup_id"])
        if request.method == "GET":
            await self.store.audit(viewer.ctx.user.id, "signup.view", f"signup:{s.id}", {"via": "console"})
        notes = await self.store.signup_notes(s.id)
        return self.render(
            request, viewer, "signup.html", s=s, notes=notes, statuses=list(SignupStatus), notice=notice, error=error
        )

    async def signup_status(self, request: Request, viewer: Viewer) -> Response:
        s = await self._signup_in_scope(viewer, request.path_params["signup_id"])
        form = await request.form()
        value = str(form.get("status", ""))
        if value not in SignupStatus.__members__.values():
            return await self.signup(request, viewer)
        status = SignupStatus(value)
        before = await self.store.set_signup_status(s.id, status)
        if before is None:
            raise NotFound
        await self.store.audit(
            viewer.ctx.user.id,
            "signup.status",
            f"signup:{s.id}",
            {"from": before.value, "to": status.value, "via": "console"},
        )
        logger.info("console: user %s set sign-up %s to %s", viewer.ctx.user.id, s.id, status)
        label = status_label(self.catalog, viewer.lang, status)
        return await self.signup(
            request, viewer, notice=self.catalog.t(viewer.lang, "console.signup.status_saved", status=label)
        )

    async def signup_note(self, request: Request, viewer: Viewer) -> Response:
        s = await self._signup_in_scope(viewer, request.path_params["signup_id"])
        form = await request.form()
        text = clean_note(str(form.get("note", "")))
        if text is None:
            return await self.signup(request, viewer, error="console.signup.note_invalid")
        if await self.store.add_signup_note(s.id, viewer.ctx.user.id, text) is None:
            raise NotFound
        await self.store.audit(
            viewer.ctx.user.id, "signup.note", f"signup:{s.id}", {"length": len(text), "via": "console"}
        )
        return await self.signup(request, viewer, notice=self.catalog.t(viewer.lang, "console.signup.note_saved"))

    async def export(self, request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        fmt = "csv" if form.get("fmt") == "csv" else "xlsx"
        query, _, _ = self._query(viewer, form)
        work = Path(tempfile.mkdtemp(prefix="unionbot-console-export-"))
        name = f"{self.catalog.t(viewer.lang, 'join.org.export_filename')}-{datetime.now(self.tz):%Y-%m-%d}.{fmt}"
        # The bot's export worker process writes the file (it opens the database itself), so
        # 50,000 rows of formatting hold neither this event loop nor its GIL; tests without
        # the worker write in process.
        exporter: Exporter = self.services.exporter or InProcessExporter(self.store, self.catalog)
        job = QueryExportJob(fmt, query, viewer.lang, self.services.settings.timezone)
        writing = asyncio.ensure_future(exporter.export_file(job, work / f"export.{fmt}"))
        try:
            rows = await asyncio.shield(writing)
        except asyncio.CancelledError:
            # The browser left: a worker process cannot be stopped mid-file, so the file
            # (workers' personal data) is removed once it is finished, never left behind.
            writing.add_done_callback(lambda done: _discard(done, work))
            raise
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        # The filter's kind, never its words: a searched name or number stays out of the log.
        await self.store.audit(
            viewer.ctx.user.id,
            "signups.export",
            "signups",
            {
                "rows": rows,
                "provinces": sorted(query.provinces) if query.provinces is not None else "all",
                "formats": [fmt],
                "via": "console",
                "search": bool(query.text or query.phone_e164),
                "status": query.status.value if query.status else None,
            },
        )
        logger.info("console: user %s exported %s sign-ups as %s", viewer.ctx.user.id, rows, fmt)
        media = (
            "text/csv; charset=utf-8"
            if fmt == "csv"
            else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )
        return FileResponse(
            work / f"export.{fmt}",
            media_type=media,
            filename=name,
            background=BackgroundTask(shutil.rmtree, work, True),
        )

    # -- questions ------------------------------------------------------------------
    def _age(self, lang: str, since: datetime) -> str:
        minutes = max(int((datetime.now(UTC) - since).total_seconds() // 60), 0)
        if minutes < 120:
            return self.catalog.t(lang, "console.questions.minutes", n=minutes)
        if minutes < 48 * 60:
            return self.catalog.t(lang, "console.questions.hours", n=minutes // 60)
        return self.catalog.t(lang, "console.questions.days", n=minutes // 1440)

    async def questions(
        self, request: Request, viewer: Viewer, *, notice: str | None = None, error: str | None = None
    ) -> Response:
        form = await request.form() if request.method == "POST" else None
        chosen = str(form.get("status", "")) if form is not None else ""
        status = chosen if chosen in QUESTION_FILTERS else OPEN
        text = str(form.get("q", "")).strip()[:200] if form is not None and "q" in form else ""
        if viewer.scope is not None and not viewer.scope:
            return self.render(request, viewer, "error.html", 200, message="console.error.no_scope")
        # Keyset paging, as on the sign-ups page: the next page starts after the last id
        # shown. Open questions run oldest first (ids upwards), handled ones newest first.
        raw = str(form.get("cursor", "")) if form is not None else ""
        cursor = int(raw) if raw.isdigit() and len(raw) < 12 else None
        oldest_first = QUESTION_FILTERS[status] == (OPEN,)
        items = await self.store.search_questions(
            provinces=viewer.scope,
            status=QUESTION_FILTERS[status],
            text=text or None,
            after_id=cursor if oldest_first else None,
            before_id=None if oldest_first else cursor,
            limit=PAGE_SIZE + 1,
        )
        more = len(items) > PAGE_SIZE
        items = items[:PAGE_SIZE]
        waiting = await self.store.count_open_questions(provinces=viewer.scope)
        return self.render(
            request,
            viewer,
            "questions.html",
            items=items,
            status=status,
            q=text,
            waiting=waiting,
            age=lambda d: self._age(viewer.lang, d),
            max_answer=MAX_ANSWER_CHARS,
            filters=list(QUESTION_FILTERS),
            next_cursor=items[-1].id if more and items else None,
            paged=cursor is not None,
            close_reasons=CLOSE_REASONS,
            notice=notice,
            error=error,
        )

    async def answer(self, request: Request, viewer: Viewer) -> Response:
        qid = request.path_params["question_id"]
        q = await self.store.get_question(qid)
        if q is None or not question_in_scope(viewer.scope, q):
            raise NotFound
        form = await request.form()
        text = str(form.get("answer", "")).strip()[:MAX_ANSWER_CHARS]
        t = self.catalog.t
        if not text:
            return await self.questions(request, viewer, error=t(viewer.lang, "console.questions.empty_answer"))
        answered = await self.store.answer_question(qid, viewer.ctx.user.id, text)
        if answered is None:
            return await self.questions(request, viewer, error=t(viewer.lang, "console.questions.gone", id=qid))
        delivered = False
        # The same replies /reply builds: the one addressed to the worker goes to their channel.
        for reply in await deliver_answer(viewer.ctx, answered, text, self.catalog):
            if reply.to_channel and reply.to_user and self.registry is not None:
                delivered = await self.registry.deliver(reply.to_channel, reply.to_user, reply)
        await self.store.audit(
            viewer.ctx.user.id, "question.answer", f"question:{qid}", {"via": "console", "delivered": delivered}
        )
        logger.info("console: user %s answered question %s (delivered: %s)", viewer.ctx.user.id, qid, delivered)
        if delivered:
            return await self.questions(request, viewer, notice=t(viewer.lang, "console.questions.sent", id=qid))
        return await self.questions(request, viewer, error=t(viewer.lang, "console.questions.not_delivered", id=qid))

    async def close_question(self, request: Request, viewer: Viewer) -> Response:
        """Close a question without answering it (spam, a duplicate, settled by phone): it
        leaves the open list here and in the chat's /inbox; the worker is not messaged."""
        qid = request.path_params["question_id"]
        q = await self.store.get_question(qid)
        if q is None or not question_in_scope(viewer.scope, q):
            raise NotFound
        form = await request.form()
        reason = str(form.get("reason", ""))
        t = self.catalog.t
        if reason not in CLOSE_REASONS:
            return await self.questions(request, viewer, error=t(viewer.lang, "console.questions.close_reason_missing"))
        closed = await self.store.close_question(qid, viewer.ctx.user.id, reason)
        if closed is None:
            return await self.questions(request, viewer, error=t(viewer.lang, "console.questions.gone", id=qid))
        await self.store.audit(
            viewer.ctx.user.id, "question.close", f"question:{qid}", {"via": "console", "reason": reason}
        )
        logger.info("console: user %s closed question %s (%s)", viewer.ctx.user.id, qid, reason)
        return await self.questions(request, viewer, notice=t(viewer.lang, "console.questions.closed_notice", id=qid))

    # -- overview -------------------------------------------------------------------
    async def overview(self, request: Request, viewer: Viewer) -> Response:
        if viewer.scope is not None and not viewer.scope:
            return self.render(request, viewer, "error.html", 200, message="console.error.no_scope")
        data = await access.overview_rows(self.store, viewer.scope, self.tz)
        lang, t = viewer.lang, self.catalog.t

        def tip(monday: date, n: int) -> str:
            return t(lang, "console.overview.chart_bar", week=monday.strftime("%d/%m/%Y"), count=n)

        def chart(chart_id: str, where: str, weeks: list[tuple[date, int]]) -> tuple[str, Chart]:
            title = t(lang, "console.overview.chart_title", where=where)
            return where, weekly_chart(chart_id, weeks, title=title, tip=tip)

        charts = [chart(f"weeks-{r.province_id}", province_name(r.province_id, lang), r.weeks) for r in data.rows]
        if len(charts) != 1:
            # Several provinces (or none yet): their sum first, then each one.
            charts.insert(0, chart("weeks-all", t(lang, "console.overview.chart_all"), data.weeks))
        return self.render(
            request,
            viewer,
            "overview.html",
            data=data,
            charts=charts,
            age=lambda d: self._age(viewer.lang, d) if d else "",
        )

    # -- targets --------------------------------------------------------------------
    async def targets(
        self, request: Request, viewer: Viewer, *, notice: str | None = None, error: str | None = None
    ) -> Response:
        if viewer.scope is not None and not viewer.scope:
            return self.render(request, viewer, "error.html", 200, message="console.error.no_scope")
        form = await request.form() if request.method == "POST" else None
        this_year = datetime.now(self.tz).year
        raw_year = str(form.get("year", "")) if form is not None else str(request.query_params.get("year", ""))
        year = int(raw_year) if raw_year.isdigit() and 2000 <= int(raw_year) <= 2100 else this_year
        # Counted in the database, as the chat's /targets does: a few hundred rows back.
        result = await load_progress(self.store, provinces=viewer.scope, year=year, tz=self.tz)
        goals = await self.store.signup_targets(year, provinces=viewer.scope)
        provinces = self._provinces_for(viewer)
        shown = provinces if viewer.scope is not None else sorted(set(result.by_province) | set(goals))
        lang, catalog = viewer.lang, self.catalog
        sources = [
            (source_label(catalog, lang, SignupSource.SELF, None), "self", result.self_count),
            (
                source_label(catalog, lang, SignupSource.REFERRAL, None),
                "referral",
                sum(v[0] for v in result.by_volunteer.values()),
            ),
            (
                source_label(catalog, lang, SignupSource.COLLECTED, None),
                "collected",
                sum(v[1] for v in result.by_volunteer.values()),
            ),
            (catalog.t(lang, "join.source.paper_plain"), "paper", result.paper_count),
        ]
        volunteers = sorted(result.by_volunteer.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:20]
        top = max(result.by_month.values(), default=0)
        return self.render(
            request,
            viewer,
            "targets.html",
            year=year,
            result=result,
            goals=goals,
            shown=shown,
            provinces=provinces,
            sources=sources,
            volunteers=volunteers,
            top=top,
            notice=notice,
            error=error,
        )

    async def set_target(self, request: Request, viewer: Viewer) -> Response:
        form = await request.form()
        province = str(form.get("province", ""))
        digits = str(form.get("target", "")).replace(".", "").replace(",", "").replace(" ", "")
        year_text = str(form.get("year", ""))
        t = self.catalog.t
        if (
            not province
            or not in_scope(viewer.scope, province)
            or province not in set(self._provinces_for(viewer))
            or not digits.isdigit()
            or not 1 <= int(digits) <= MAX_TARGET
            or not year_text.isdigit()
            or not 2000 <= int(year_text) <= 2100
        ):
            return await self.targets(request, viewer, error=t(viewer.lang, "console.targets.invalid"))
        year, number = int(year_text), int(digits)
        await self.store.set_signup_target(province, year, number, viewer.ctx.user.id)
        await self.store.audit(
            viewer.ctx.user.id,
            "signups.target",
            f"province:{province}",
            {"year": year, "target": number, "via": "console"},
        )
        return await self.targets(request, viewer, notice=t(viewer.lang, "console.targets.saved"))

    # -- audit log (admins) -------------------------------------------------------------
    async def audit_log(self, request: Request, viewer: Viewer) -> Response:
        if not viewer.is_admin:
            raise NotFound
        action = request.query_params.get("action") or None
        entries = await self.store.list_audit(action=action[:60] if action else None, limit=300)
        actors: dict[int, str] = {}
        for e in entries:
            if e.actor_id is not None and e.actor_id not in actors:
                u = await self.store.get_user(e.actor_id)
                actors[e.actor_id] = f"{u.channel}:{u.external_id}" if u else f"#{e.actor_id}"
        return self.render(request, viewer, "audit.html", entries=entries, actors=actors, action=action or "")


def _discard(done: asyncio.Future[int], work: Path) -> None:
    """Remove an abandoned export's folder once its writer has finished."""
    if not done.cancelled():
        done.exception()  # retrieved, so a failure is not reported as never seen
    shutil.rmtree(work, ignore_errors=True)


def build_console(services: Services, registry: ChannelRegistry | None) -> Starlette:
    """The console as an ASGI app, to mount at /console."""
    c = Console(services, registry)
    b = BroadcastPages(c)
    imports = ImportPages(c)
    routes = [
        Route("/", c.page(c.overview), methods=["GET"]),
        Route("/login/{token}", c.login_page, methods=["GET"]),
        Route("/login", c.login, methods=["POST"]),
        Route("/logout", c.page(c.logout), methods=["POST"]),
        Route("/logout-all", c.page(c.logout_all), methods=["POST"]),
        Route("/lang", c.page(c.set_lang), methods=["POST"]),
        Route("/signups", c.page(c.signups), methods=["GET", "POST"]),
        Route("/signups/export", c.page(c.export), methods=["POST"]),
        Route("/signups/{signup_id:int}", c.page(c.signup), methods=["GET"]),
        Route("/signups/{signup_id:int}/status", c.page(c.signup_status), methods=["POST"]),
        Route("/signups/{signup_id:int}/note", c.page(c.signup_note), methods=["POST"]),
        Route("/questions", c.page(c.questions), methods=["GET", "POST"]),
        Route("/questions/{question_id:int}/answer", c.page(c.answer), methods=["POST"]),
        Route("/questions/{question_id:int}/close", c.page(c.close_question), methods=["POST"]),
        Route("/targets", c.page(c.targets), methods=["GET"]),
        Route("/targets", c.page(c.set_target), methods=["POST"]),
        Route("/audit", c.page(c.audit_log), methods=["GET"]),
        Route("/import", c.page(imports.page), methods=["GET"]),
        Route("/import/preview", c.page(imports.preview), methods=["POST"]),
        Route("/import/confirm", c.page(imports.confirm), methods=["POST"]),
        Route("/broadcasts", c.page(b.list_page), methods=["GET"]),
        Route("/broadcasts/preview", c.page(b.preview), methods=["POST"]),
        Route("/broadcasts/create", c.page(b.create), methods=["POST"]),
        Route("/broadcasts/{broadcast_id:int}/{action:str}", c.page(b.act), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(SecurityHeaders)
    return app


CONSOLE_PREFIX = "/console"
# The largest console request: a 10 MB import part plus the form around it. The web
# server's webhook limit (256 KiB) would refuse every upload; console bodies are
# streamed (multipart parts spool to temporary files), so this costs no memory.
CONSOLE_MAX_BODY = 12 * 1024 * 1024


def console_mount(services: Services, registry: ChannelRegistry | None) -> Mount:
    return Mount(CONSOLE_PREFIX, app=build_console(services, registry))


__all__ = ["CONSOLE_MAX_BODY", "CONSOLE_PREFIX", "build_console", "console_mount"]
