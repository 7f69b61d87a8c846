"""The web console's security rules, each tested as a browser would meet it (httpx over ASGI)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.console import app as console_module
from bot.console.security import RateLimit
from handlers.console import issue_link, token_hash
from handlers.context import Services
from storage import Role, Store
from storage.signups import SignupStatus
from tests.console_support import add_signup, client_for, console_app, csrf_of, follow_link, person, sign_in


@pytest.fixture(autouse=True)
def fresh_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # One limiter per test: sign-ins of earlier tests must not count against this one.
    monkeypatch.setattr(console_module, "SIGNIN_LIMIT", RateLimit(limit=10, window=60.0))


async def test_a_link_signs_in_once_and_stores_only_hashes(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    token = await issue_link(store, org)
    async with client_for(console_app(services)) as client:
        first = await follow_link(client, token)
        assert first.status_code == 303 and first.headers["location"] == "/console/"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert "Path=/console" in cookie and "Max-Age=28800" in cookie
        assert (await client.get("/console/signups")).status_code == 200
    async with client_for(console_app(services)) as other:
        again = await follow_link(other, token)
        assert again.status_code == 403
        assert "ub_console" not in again.headers.get("set-cookie", "")
        assert (await other.get("/console/signups")).status_code == 401
    # Neither the link token nor the session id is in the database, only their hashes.
    rows = await store.db.execute_fetchall("SELECT token_hash FROM console_links")
    assert [r[0] for r in rows] == [token_hash(token)]
    session = first.cookies.get("ub_console") or cookie.split("ub_console=")[1].split(";")[0]
    sessions = await store.db.execute_fetchall("SELECT id_hash FROM console_sessions")
    assert [r[0] for r in sessions] == [token_hash(session)]


async def test_an_expired_link_is_refused(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await store.add_console_link(token_hash("old-token"), org.id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    async with client_for(console_app(services)) as client:
        response = await follow_link(client, "old-token")
        assert response.status_code == 403
        assert "hết hạn" in response.text
        assert (await client.get("/console/")).status_code == 401


@pytest.mark.parametrize("role", [Role.WORKER, Role.VOLUNTEER])
async def test_workers_and_volunteers_cannot_sign_in(services: Services, store: Store, role: Role) -> None:
    someone = await person(store, "200", role)
    async with client_for(console_app(services)) as client:
        response = await follow_link(client, await issue_link(store, someone))
        assert response.status_code == 403
        assert "ub_console" not in response.headers.get("set-cookie", "")
        assert (await client.get("/console/signups")).status_code == 401


async def test_secure_cookie_over_https(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    async with client_for(console_app(services), https=True) as client:
        response = await follow_link(client, await issue_link(store, org))
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]


async def test_another_provinces_signup_is_404_and_own_view_is_audited(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    mine = await add_signup(store, "Nguyễn Văn An", "+84912345678", "ha_noi")
    theirs = await add_signup(store, "Trần Thị Bình", "+84987654321", "hue")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        response = await client.get(f"/console/signups/{theirs}")
        assert response.status_code == 404
        assert "Trần Thị Bình" not in response.text and "987654321" not in response.text
        # Nor can an action reach it.
        status = await client.post(f"/console/signups/{theirs}/status", data={"csrf": csrf, "status": "joined"})
        assert status.status_code == 404
        assert (await store.get_signup(theirs)).status is SignupStatus.NEW  # type: ignore[union-attr]
        # Nor a listing filtered to the other province.
        listing = await client.post("/console/signups", data={"csrf": csrf, "province": "hue"})
        assert "Trần Thị Bình" not in listing.text
        assert (await client.get(f"/console/signups/{mine}")).status_code == 200
    views = await store.list_audit(action="signup.view")
    assert [(v.actor_id, v.target) for v in views] == [(org.id, f"signup:{mine}")]


async def test_a_post_without_the_csrf_token_is_403_and_changes_nothing(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    sid = await add_signup(store, "Nguyễn Văn An", "+84912345678")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        for data in ({"status": "joined"}, {"status": "joined", "csrf": "wrong"}):
            response = await client.post(f"/console/signups/{sid}/status", data=data)
            assert response.status_code == 403
        assert (await store.get_signup(sid)).status is SignupStatus.NEW  # type: ignore[union-attr]
        assert await store.list_audit(action="signup.status") == []
        # A state change never happens on GET.
        assert (await client.get(f"/console/signups/{sid}/status")).status_code == 405
        assert (await client.get("/console/logout-all")).status_code == 405
        ok = await client.post(f"/console/signups/{sid}/status", data={"csrf": csrf, "status": "joined"})
        assert ok.status_code == 200
        assert (await store.get_signup(sid)).status is SignupStatus.JOINED  # type: ignore[union-attr]
    [entry] = await store.list_audit(action="signup.status")
    assert entry.actor_id == org.id and entry.details["to"] == "joined" and entry.details["via"] == "console"


async def test_the_signin_form_needs_its_csrf_cookie(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    token = await issue_link(store, org)
    async with client_for(console_app(services)) as client:
        response = await client.post("/console/login", data={"token": token, "csrf": "guess"})
        assert response.status_code == 403
    # The refused attempt did not use the link up.
    async with client_for(console_app(services)) as client:
        assert (await follow_link(client, token)).status_code == 303


async def test_a_script_named_signup_is_rendered_as_text(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    sid = await add_signup(store, "<script>alert(1)</script>", "+84912345678", workplace='=HYPERLINK("x")')
    async with client_for(console_app(services)) as client:
        await sign_in(client, store, org)
        for url in ("/console/signups", f"/console/signups/{sid}"):
            html = (await client.get(url)).text
            assert "<script>alert(1)</script>" not in html
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
            # The only script is the console's own file, never inline.
            assert html.lower().count("<script") == 1
            assert '<script src="/console/static/console.js" defer></script>' in html


async def test_strict_security_headers_on_every_page(services: Services, store: Store) -> None:
    async with client_for(console_app(services)) as client:
        for url in ("/console/", "/console/login/abc", "/console/static/console.css"):
            headers = (await client.get(url)).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
            assert headers["x-frame-options"] == "DENY"
            assert headers["referrer-policy"] == "no-referrer"
            assert headers["x-content-type-options"] == "nosniff"


async def test_signing_in_is_rate_limited(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    async with client_for(console_app(services)) as client:
        page = await client.get("/console/login/x")
        csrf = csrf_of(page.text)
        codes = [
            (await client.post("/console/login", data={"csrf": csrf, "token": f"guess{i}"})).status_code
            for i in range(11)
        ]
        assert codes[:10] == [403] * 10 and codes[10] == 429
        # Even a valid link waits once the address is over the limit.
        assert (await follow_link(client, await issue_link(store, org))).status_code == 429


async def test_a_revoked_role_closes_the_console_at_the_next_request(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    async with client_for(console_app(services)) as client:
        await sign_in(client, store, org)
        await store.set_role(org.id, Role.WORKER)
        assert (await client.get("/console/signups")).status_code == 401
        await store.set_role(org.id, Role.ORGANIZER)
        assert (await client.get("/console/signups")).status_code == 401  # the session ended with the role


async def test_sign_out_everywhere_ends_every_session(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    app = console_app(services)
    async with client_for(app) as laptop, client_for(app) as phone:
        csrf = await sign_in(laptop, store, org)
        await sign_in(phone, store, org)
        response = await laptop.post("/console/logout-all", data={"csrf": csrf})
        assert response.status_code == 303
        assert (await phone.get("/console/signups")).status_code == 401
        assert (await laptop.get("/console/signups")).status_code == 401
    assert (await store.list_audit(action="console.signout_all"))[0].details == {"sessions": 2}


async def test_sessions_expire_after_eight_idle_hours(backend: Store) -> None:
    org = await person(backend, "100", Role.ORGANIZER)
    await backend.add_console_session("h1", org.id, "c1")
    assert await backend.console_session("h1", idle_since=datetime.now(UTC) - timedelta(hours=8)) is not None
    # As if the last request was longer ago than the idle limit:
    assert await backend.console_session("h1", idle_since=datetime.now(UTC) + timedelta(seconds=1)) is None
    assert await backend.console_session("h1", idle_since=datetime.now(UTC) - timedelta(hours=8)) is None


async def test_search_terms_never_reach_urls_or_logs(
    services: Services, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await add_signup(store, "Nguyễn Văn An", "+84912345678")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        caplog.set_level("INFO")  # the production level (bot/logsetup.py)
        response = await client.post("/console/signups", data={"csrf": csrf, "q": "0912 345 678"})
        assert "Nguyễn Văn An" in response.text
        assert str(response.url) == "http://testserver/console/signups"
        # The page's links and forms carry no search term either.
        assert "0912" not in response.text.replace('value="0912 345 678"', "")
    assert "0912" not in caplog.text and "912345678" not in caplog.text and "Nguyễn" not in caplog.text


async def test_the_chat_gives_organizers_a_link_and_workers_nothing(services: Services, store: Store) -> None:
    from handlers.dispatcher import Dispatcher
    from handlers.routes import build_router
    from tests.conftest import ChatDriver

    dispatcher = Dispatcher(services, build_router())
    org = await person(store, "org1", Role.ORGANIZER, ("ha_noi",), channel="test")
    off = await ChatDriver(dispatcher, "org1").say("/console")
    assert "unionbot serve" in off[0].text
    services.console_url = "https://bot.example.org"
    [reply] = await ChatDriver(dispatcher, "org1").say("/console")
    assert "https://bot.example.org/console/login/" in reply.text
    token = reply.text.split("/console/login/")[1].split()[0]
    worker = await ChatDriver(dispatcher, "w1").say("/console")
    assert "/console/login/" not in worker[0].text
    async with client_for(console_app(services)) as client:
        assert (await follow_link(client, token)).status_code == 303
    assert (await store.list_audit(action="console.link"))[0].actor_id == org.id


async def test_requests_are_limited_per_session_and_guessed_sessions_per_address(
    services: Services, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_module, "SESSION_REQUESTS_PER_MINUTE", 6)
    monkeypatch.setattr(console_module, "UNKNOWN_SESSIONS_PER_MINUTE", 3)
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    sid = await add_signup(store, "Nguyễn Văn An", "+84912345678")
    app = console_app(services)
    async with client_for(app) as client, client_for(app) as colleague:
        csrf = await sign_in(client, store, org)  # its first request on the session
        for _ in range(5):
            assert (await client.get("/console/signups")).status_code == 200
        over = await client.get("/console/signups")
        assert over.status_code == 429 and over.headers["retry-after"] == "60"
        assert "Bạn thao tác quá nhanh" in over.text and "Nguyễn Văn An" not in over.text
        # Over the limit a POST changes nothing, even with its CSRF token.
        refused = await client.post(f"/console/signups/{sid}/status", data={"csrf": csrf, "status": "joined"})
        assert refused.status_code == 429
        assert (await store.get_signup(sid)).status is SignupStatus.NEW  # type: ignore[union-attr]
        # The limit is the session's: another session of the same person works on.
        await sign_in(colleague, store, org)
        assert (await colleague.get("/console/signups")).status_code == 200
    async with client_for(app) as guesser:
        for i in range(3):
            guesser.cookies.set("ub_console", f"guess-{i}", path="/console")
            assert (await guesser.get("/console/")).status_code == 401
        guesser.cookies.set("ub_console", "guess-4", path="/console")
        blocked = await guesser.get("/console/")
        assert blocked.status_code == 429 and "Bạn thao tác quá nhanh" in blocked.text


async def test_sign_in_attempts_are_limited_per_address(
    services: Services, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_module, "SIGNIN_LIMIT", RateLimit(limit=3, window=60.0))
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    async with client_for(console_app(services)) as client:
        for i in range(3):
            assert (await follow_link(client, f"wrong-{i}")).status_code == 403
        # Even a good link waits: the address has used its attempts.
        over = await follow_link(client, await issue_link(store, org))
        assert over.status_code == 429 and over.headers["retry-after"] == "60"
        assert "Quá nhiều lần thử" in over.text and "ub_console" not in over.headers.get("set-cookie", "")
