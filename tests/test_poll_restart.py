"""One answer per person per poll, also across a bot restart (issue 11): a worker taps,
the bot stops and starts again on the same database (a new store, dispatcher and every
in-memory cache gone), the worker taps again (the same update redelivered, or another
choice), and the poll still counts one respondent. On each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from handlers.context import Services, Settings
from handlers.dispatcher import Dispatcher
from handlers.i18n import load_catalog
from handlers.rights.chat import RightsService
from handlers.routes import build_router
from storage import Store, open_store
from tests.conftest import BACKENDS, ChatDriver, postgres_database
from tests.test_listening import make_poll


@asynccontextmanager
async def database_url(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield str(tmp_path / "restart.sqlite3")
        return
    async with postgres_database() as url:
        yield url


@asynccontextmanager
async def bot_run(url: str, rights: RightsService) -> AsyncIterator[tuple[Store, Dispatcher]]:
    """One run of the bot's handlers: its own store connection and dispatcher."""
    async with open_store(url) as store:
        settings = Settings(admins=frozenset({("test", "admin")}), flood_messages=1000)
        yield store, Dispatcher(Services(store, load_catalog(), settings, rights=rights), build_router())


@pytest.mark.parametrize("kind", BACKENDS)
async def test_an_answer_counts_once_across_a_restart(kind: str, tmp_path: Path, rights_service) -> None:  # type: ignore[no-untyped-def]
    async with database_url(kind, tmp_path) as url:
        async with bot_run(url, rights_service) as (store, dispatcher):
            poll = await make_poll(store, ["a", "b"])
            await ChatDriver(dispatcher, "a").press(f"pv:{poll.id}:1")
            before = await store.poll_tally(poll.id)
            assert before.overall.respondents == 1 and before.overall.counts == [0, 1, 0]

        async with bot_run(url, rights_service) as (store, dispatcher):
            a = ChatDriver(dispatcher, "a")
            await a.press(f"pv:{poll.id}:1")  # the same tap, redelivered after the restart
            tally = await store.poll_tally(poll.id)
            assert tally.overall.respondents == 1 and tally.overall.counts == [0, 1, 0]
            await a.press(f"pv:{poll.id}:2")  # a change of mind after the restart
            tally = await store.poll_tally(poll.id)
            assert tally.overall.respondents == 1 and tally.overall.counts == [0, 0, 1]
            assert tally.delivered == 2
