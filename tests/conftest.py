"""Shared fixtures: a real SQLite store in a temp dir and a driver that chats with the
real dispatcher the way a channel adapter does."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# PTB 22 warns on every RetryAfter unless this opt-in is set, and the suite turns
# warnings into errors; the code reads retry_after in both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from handlers.context import Services, Settings
from handlers.dispatcher import Dispatcher
from handlers.i18n import load_catalog
from handlers.rights.chat import RightsService, default_service
from handlers.routes import build_router
from handlers.types import Inbound, InboundKind, Reply
from storage import Store
from storage.sqlite import SQLiteStore

if TYPE_CHECKING:
    from storage.postgres import PostgresStore as PostgresStoreT

# Every storage backend the store tests run against. PostgreSQL runs on every machine
# (127.0.0.1:5432, trust auth); each test gets a database of its own, dropped after.
PG_ADMIN_URL = os.environ.get("UNIONBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS: tuple[str, ...] = ("sqlite", "postgres")


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database's URL; dropped when the block ends."""
    import secrets

    import asyncpg

    name = f"ub_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def postgres_processes(count: int = 2) -> AsyncIterator[list[PostgresStoreT]]:
    """`count` open stores on one fresh PostgreSQL database, each standing for one bot
    process (its own pool, instance and locks); closed at the end, even one a test killed."""
    import contextlib

    from storage.postgres import PostgresStore

    async with postgres_database() as url:
        stores = [PostgresStore(url) for _ in range(count)]
        try:
            for store in stores:
                await store.open()
            yield stores
        finally:
            for store in reversed(stores):
                with contextlib.suppress(Exception):
                    await store.close()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An open store of each backend in turn: the contract and feature store tests."""
    if request.param == "sqlite":
        store: Store = SQLiteStore(tmp_path / "contract.sqlite3")
        await store.open()
        try:
            yield store
        finally:
            await store.close()
        return
    from storage.postgres import PostgresStore

    async with postgres_database() as url:
        store = PostgresStore(url)
        await store.open()
        try:
            yield store
        finally:
            await store.close()


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The database URL of each backend in turn, for end-to-end tests that run the whole
    bot (`config_for(..., db=db_url)`): a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "bot.sqlite3")
        return
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = SQLiteStore(tmp_path / "test.sqlite3")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(admins=frozenset({("test", "admin")}), hotline="1900 0000", office="Số 1 Đường A")


@pytest.fixture(scope="session")
def rights_service() -> RightsService:
    # Building the search index takes ~0.2 s: once per test session is enough.
    return default_service()


@pytest.fixture
def services(store: Store, settings: Settings, rights_service: RightsService) -> Services:
    return Services(store, load_catalog(), settings, rights=rights_service)


@pytest.fixture
def dispatcher(services: Services) -> Dispatcher:
    return Dispatcher(services, build_router())


class ChatDriver:
    """Plays one user on the fake 'test' channel against the real dispatcher."""

    def __init__(self, dispatcher: Dispatcher, user_id: str = "u1", channel: str = "test") -> None:
        self.dispatcher = dispatcher
        self.user_id = user_id
        self.channel = channel
        self.last: list[Reply] = []

    async def say(self, text: str) -> list[Reply]:
        self.last = await self.dispatcher.handle(Inbound.parse_text(self.channel, self.user_id, text))
        return self.last

    async def press(self, payload: str) -> list[Reply]:
        self.last = await self.dispatcher.handle(
            Inbound(self.channel, self.user_id, InboundKind.BUTTON, payload=payload)
        )
        return self.last

    async def press_label(self, label_part: str) -> list[Reply]:
        """Press the button whose label contains `label_part` in the last replies."""
        for reply in reversed(self.last):
            for row in reply.buttons:
                for b in row:
                    if label_part.lower() in b.label.lower():
                        return await self.press(b.payload)
        raise AssertionError(f"no button with {label_part!r} in {self.labels()}")

    async def send_sticker(self) -> list[Reply]:
        self.last = await self.dispatcher.handle(Inbound(self.channel, self.user_id, InboundKind.UNSUPPORTED))
        return self.last

    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    def labels(self) -> list[str]:
        return [b.label for r in self.last for row in r.buttons for b in row]

    def payloads(self) -> list[str]:
        return [b.payload for r in self.last for row in r.buttons for b in row]


@pytest.fixture
def chat(dispatcher: Dispatcher) -> ChatDriver:
    return ChatDriver(dispatcher)


@pytest.fixture
def make_chat(dispatcher: Dispatcher):  # type: ignore[no-untyped-def]
    return lambda user_id, channel="test": ChatDriver(dispatcher, user_id, channel)
