"""Helpers for the web console's tests: a console app on the test store, signing in as
a person would (follow the link, press the button), and reading forms' CSRF tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette

from bot.console.app import console_mount
from handlers.console import issue_link
from handlers.context import Services
from handlers.types import Reply
from storage import Role, Store, User
from storage.signups import SignupDraft, SignupSource

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


@dataclass
class RecordingRegistry:
    """Stands in for bot.channels.base.ChannelRegistry: records what would be delivered."""

    sent: list[tuple[str, str, Reply]] = field(default_factory=list)
    fail: bool = False

    async def deliver(self, channel: str, user_id: str, reply: Reply) -> bool:
        if self.fail:
            return False
        self.sent.append((channel, user_id, reply))
        return True


def console_app(services: Services, registry: object | None = None) -> Starlette:
    return Starlette(routes=[console_mount(services, registry)])  # type: ignore[arg-type]


def client_for(app: Starlette, *, https: bool = False) -> httpx.AsyncClient:
    base = "https://testserver" if https else "http://testserver"
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


async def person(
    store: Store, external_id: str, role: Role, provinces: tuple[str, ...] = (), channel: str = "telegram"
) -> User:
    user = await store.touch_user(channel, external_id, language="vi")
    await store.set_role(user.id, role)
    if provinces:
        await store.add_organizer_provinces(user.id, provinces, granted_by=None)
    fresh = await store.get_user(user.id)
    assert fresh is not None
    return fresh


async def add_signup(
    store: Store,
    name: str,
    phone: str,
    province: str = "ha_noi",
    workplace: str = "Công ty TNHH Sợi Thế Kỷ",
    owner_id: int | None = None,
) -> int:
    result = await store.submit_signup(
        SignupDraft(
            full_name=name,
            phone_e164=phone,
            workplace=workplace,
            province_id=province,
            commune=None,
            source=SignupSource.SELF,
            volunteer_id=None,
            consent_version="v1",
            consent_lang="vi",
            consent_channel="telegram",
            owner_id=owner_id,
        )
    )
    assert result is not None
    return result.signup_id


async def follow_link(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Open the link, then press the sign-in button, as a person does."""
    page = await client.get(f"/console/login/{token}")
    assert page.status_code == 200
    return await client.post("/console/login", data={"csrf": csrf_of(page.text), "token": token})


async def sign_in(client: httpx.AsyncClient, store: Store, user: User) -> str:
    """Sign in and return the session's CSRF token (read from a page)."""
    response = await follow_link(client, await issue_link(store, user))
    assert response.status_code == 303, response.text
    page = await client.get("/console/signups")
    assert page.status_code == 200
    return csrf_of(page.text)
