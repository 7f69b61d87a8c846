"""Run the real bot (Runtime + channels + web server) against fake platform servers."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import Runtime, serve
from bot.config import load_config
from storage import Store


def local_now(timezone: str = "Asia/Ho_Chi_Minh") -> datetime:
    """The federation's wall clock (the product's default zone): tests that compare with what
    the bot dates must not use the machine's UTC date, which differs for 7 hours of every day."""
    return datetime.now(UTC).astimezone(ZoneInfo(timezone))


def local_today(timezone: str = "Asia/Ho_Chi_Minh") -> date:
    return local_now(timezone).date()


def twin(store: Store) -> Store:
    """A store on the same database as `store`, as another (or the next) process opens it."""
    from storage.postgres import PostgresStore
    from storage.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    assert isinstance(store, PostgresStore)
    return PostgresStore(store.url)


def config_for(  # type: ignore[no-untyped-def]
    tmp_path: Path, *, toml: str = "", env: dict[str, str] | None = None, db: str | None = None
):
    """The bot's config for a test. `db` is the database URL (the `db_url` fixture runs a
    test on each backend); without it, a SQLite file in `tmp_path`."""
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    full_env = {"UNIONBOT_DB": db or str(tmp_path / "bot.sqlite3"), "UNIONBOT_HTTP_PORT": "0", **(env or {})}
    return load_config(path, env=full_env)


def button_labels(message: dict) -> list[str]:
    """The labels of a sent message's inline keyboard (reply_markup as JSON or a dict)."""
    markup = message.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def telegram_env(fake) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url}


@asynccontextmanager
async def running_bot(config) -> AsyncIterator[Runtime]:  # type: ignore[no-untyped-def]
    """The bot as `unionbot run` starts it, stopped cleanly when the block ends."""
    stop = asyncio.Event()
    async with Runtime(config) as runtime:
        channels = runtime.build_channels()
        task = asyncio.create_task(serve(runtime, channels, stop))
        runtime.test_channels = channels  # type: ignore[attr-defined]
        try:
            # serve() starts every channel before it waits; poll until it is there.
            for _ in range(500):
                if task.done():
                    task.result()
                if all(getattr(c, "started", True) for c in channels) and runtime.started:
                    break
                await asyncio.sleep(0.01)
            yield runtime
        finally:
            stop.set()
            await task


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, what: str = "a condition"
) -> None:
    """Poll `predicate` (a function, or a coroutine function reading the store) until it
    holds; fail naming `what` after `timeout` seconds. The tests' one wait helper (the
    fakes' own `wait_for` waits for a request; this waits for any state)."""
    deadline = time.monotonic() + timeout
    while True:
        held = predicate()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


async def bot_idle(runtime: Runtime, timeout: float = 10.0) -> None:
    """Wait until the running bot has finished every update it received: each channel's
    inbound journal is empty once an update's replies went out. Use it before checking
    that nothing more was sent, instead of a fixed sleep."""
    deadline = time.monotonic() + timeout
    channels = [c.name for c in getattr(runtime, "test_channels", [])]
    while True:
        pending = [e for name in channels for e in await runtime.store.journal_entries(name)]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the bot still had {len(pending)} update(s) in flight after {timeout} s")
        await asyncio.sleep(0.02)


async def periodic_rounds(runtime: Runtime, name: str, rounds: int = 2, timeout: float = 30.0) -> None:
    """Wait until the background service `name` has finished `rounds` more rounds."""
    (service,) = [s for s in runtime.services_running if getattr(s, "name", None) == name]
    target = service.rounds + rounds  # type: ignore[attr-defined]
    await wait_until(lambda: service.rounds >= target, timeout, f"{rounds} rounds of {name}")  # type: ignore[attr-defined]
