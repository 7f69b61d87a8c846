"""The OA token pair in the store: atomic replace, and adopting a configured pair once."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.zalo.adapter_oa import StoreTokenStore
from bot.channels.zalo.tokens import TokenPair
from storage import Store
from storage.zalo_tokens import ZaloTokens


@pytest.fixture
def store(backend: Store) -> Store:
    """The Zalo token part of the store contract, run against every backend."""
    return backend


async def test_save_and_load_per_app(store: Store) -> None:
    assert await store.load_zalo_tokens("app") is None
    await store.save_zalo_tokens("app", ZaloTokens("AT1", "RT1", 100.5))
    await store.save_zalo_tokens("other", ZaloTokens("X", "Y", 1.0))
    await store.save_zalo_tokens("app", ZaloTokens("AT2", "RT2", 200.25))
    saved = await store.load_zalo_tokens("app")
    assert saved == ZaloTokens("AT2", "RT2", 200.25)
    assert "AT2" not in repr(saved) and "RT2" not in repr(saved)


async def test_a_configured_pair_is_adopted_once(store: Store) -> None:
    first = await store.seed_zalo_tokens("app", ZaloTokens("AT0", "RT0", 10.0), seed="s0")
    assert first.access_token == "AT0"
    await store.save_zalo_tokens("app", ZaloTokens("AT1", "RT1", 20.0))  # a refresh rotated it
    again = await store.seed_zalo_tokens("app", ZaloTokens("AT0", "RT0", 10.0), seed="s0")
    assert again.access_token == "AT1"  # the spent configured pair does not come back
    renewed = await store.seed_zalo_tokens("app", ZaloTokens("AT9", "RT9", 30.0), seed="s9")
    assert renewed.access_token == "AT9" and (await store.load_zalo_tokens("app")) == renewed


async def test_concurrent_saves_leave_one_whole_pair(store: Store) -> None:
    pairs = [ZaloTokens(f"AT{i}", f"RT{i}", float(i)) for i in range(20)]
    await asyncio.gather(*(store.save_zalo_tokens("app", p) for p in pairs))
    saved = await store.load_zalo_tokens("app")
    assert saved in pairs  # never one pair's access token with another's refresh token


async def test_the_token_manager_store_adapter(store: Store) -> None:
    tokens = StoreTokenStore(store, "app")
    assert await tokens.load() is None
    await tokens.seed("AT", "RT", now=1000.0)
    loaded = await tokens.load()
    assert loaded is not None and (loaded.access_token, loaded.refresh_token) == ("AT", "RT")
    assert loaded.expires_at == 1000.0 + 90000
    await tokens.save(TokenPair("AT2", "RT2", 5.0))
    await tokens.seed("AT", "RT", now=2000.0)  # same configured pair: ignored
    assert await tokens.load() == TokenPair("AT2", "RT2", 5.0)
