"""OA token refresh: once under concurrency, persisted before use, never reusing a refresh token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from bot.channels.zalo.errors import TokenRefreshError, ZaloAuthError, ZaloNetworkError
from bot.channels.zalo.oa_client import SEND_CS_PATH, ZaloOAClient
from bot.channels.zalo.tokens import MemoryTokenStore, TokenManager, TokenPair
from tests.fakes.zalo_servers import FakeZaloOA


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class SpyStore(MemoryTokenStore):
    """Remembers how many requests the fake had seen when each save completed."""

    def __init__(self, pair: TokenPair, zalo: FakeZaloOA) -> None:
        super().__init__(pair)
        self.zalo = zalo
        self.log_size_at_save: list[int] = []
        self.during_save: Callable[[], Awaitable[object]] | None = None
        self.background: list[asyncio.Task[object]] = []

    async def save(self, pair: TokenPair) -> None:
        if self.during_save is not None:
            # A send that starts while the disk is busy must not get the unsaved token.
            self.background.append(asyncio.create_task(self.during_save()))
        await asyncio.sleep(0.05)  # a slow disk
        await super().save(pair)
        self.log_size_at_save.append(len(self.zalo.log))


@pytest.fixture
async def zalo():
    async with FakeZaloOA(refresh_delay=0.02) as server:
        yield server


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def _seed(zalo: FakeZaloOA, clock: Clock) -> TokenPair:
    issued = zalo.issue_tokens()
    return TokenPair(issued.access_token, issued.refresh_token, clock() + issued.expires_in)


def _manager(zalo, store, http, clock, **kw) -> TokenManager:
    return TokenManager(zalo.app_id, zalo.app_secret, zalo.oauth_base_url, store, http, clock=clock, **kw)


async def test_twenty_concurrent_sends_after_expiry_cause_one_refresh_and_lose_nothing(zalo, http):
    clock = Clock()
    store = SpyStore(_seed(zalo, clock), zalo)
    tokens = _manager(zalo, store, http, clock)
    client = ZaloOAClient(zalo.app_id, zalo.openapi_base_url, tokens, http)
    old = await tokens.access_token()
    zalo.expire_access_token()

    results = await asyncio.gather(*(client.send_text(f"user-{i}", f"tin nhắn {i}") for i in range(20)))

    assert zalo.refresh_count == 1 == tokens.refresh_count
    assert len(store.saved) == 1
    assert sorted(m.text for m in zalo.delivered) == sorted(f"tin nhắn {i}" for i in range(20))
    assert all(len(r) == 1 and r[0].message_id for r in results)
    new = store.saved[0].access_token
    assert new != old and all(m.access_token == new for m in zalo.delivered)
    assert len(zalo.requests_to(SEND_CS_PATH)) == 40  # each send: one rejection, one retry
    assert zalo.rejected_refresh_tokens == []


async def test_new_pair_is_persisted_before_the_new_access_token_is_used(zalo, http):
    clock = Clock()
    store = SpyStore(_seed(zalo, clock), zalo)
    tokens = _manager(zalo, store, http, clock)
    client = ZaloOAClient(zalo.app_id, zalo.openapi_base_url, tokens, http)
    await tokens.access_token()
    zalo.expire_access_token(-220)
    store.during_save = lambda: client.send_text("u2", "late")

    await asyncio.gather(*(client.send_text("u1", f"m{i}") for i in range(5)))
    await asyncio.gather(*store.background)

    new = store.pair.access_token
    first_use = min(r.seq for r in zalo.log if r.headers.get("access_token") == new)
    (saved_at,) = store.log_size_at_save
    # Every request carrying the new token reached Zalo after the save had completed.
    assert first_use >= saved_at
    assert len(zalo.delivered) == 6


async def test_refresh_tokens_are_never_presented_twice(zalo, http):
    clock = Clock()
    store = MemoryTokenStore(_seed(zalo, clock))
    tokens = _manager(zalo, store, http, clock)
    client = ZaloOAClient(zalo.app_id, zalo.openapi_base_url, tokens, http)

    for round_ in range(3):
        zalo.expire_access_token()
        await asyncio.gather(*(client.send_text("u1", f"r{round_}-{i}") for i in range(5)))

    assert zalo.refresh_count == 3
    assert len(zalo.refresh_tokens_presented) == len(set(zalo.refresh_tokens_presented)) == 3
    assert zalo.rejected_refresh_tokens == []
    assert len(zalo.delivered) == 15


async def test_form_body_and_secret_key_header(zalo, http):
    clock = Clock()
    seed = _seed(zalo, clock)
    tokens = _manager(zalo, MemoryTokenStore(seed), http, clock)
    await tokens.refresh_after_rejection(seed.access_token)

    (req,) = zalo.requests_to("/v4/oa/access_token")
    assert req.headers["secret_key"] == zalo.app_secret
    assert req.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert req.form == {
        "refresh_token": seed.refresh_token,
        "app_id": zalo.app_id,
        "grant_type": "refresh_token",
    }


async def test_proactive_refresh_within_margin_and_string_expires_in(zalo, http):
    clock = Clock()
    store = MemoryTokenStore(_seed(zalo, clock))
    tokens = _manager(zalo, store, http, clock, refresh_margin=600)
    first = await tokens.access_token()

    clock.now += zalo.access_ttl - 601
    assert await tokens.access_token() == first
    assert zalo.refresh_count == 0

    clock.now += 2  # now inside the margin
    fresh = await asyncio.gather(*(tokens.access_token() for _ in range(10)))
    assert zalo.refresh_count == 1
    assert set(fresh) == {store.pair.access_token} != {first}
    # "90000" arrived as a string and still set the expiry.
    assert store.pair.expires_at == pytest.approx(clock.now + zalo.access_ttl)


async def test_failed_proactive_refresh_keeps_the_still_valid_token(zalo, http):
    clock = Clock()
    seed = _seed(zalo, clock)
    tokens = TokenManager(
        zalo.app_id,
        "wrong-secret",
        zalo.oauth_base_url,
        MemoryTokenStore(seed),
        http,
        clock=clock,
        refresh_margin=600,
    )
    clock.now += zalo.access_ttl - 100
    assert await tokens.access_token() == seed.access_token
    assert await tokens.access_token() == seed.access_token  # paused: no second attempt
    assert len(zalo.requests_to("/v4/oa/access_token")) == 1

    clock.now += 200  # really expired now
    with pytest.raises(TokenRefreshError) as info:
        await tokens.access_token()
    assert info.value.code is not None


async def test_reused_refresh_token_is_refused_by_the_fake_and_reported(zalo, http):
    clock = Clock()
    seed = _seed(zalo, clock)
    a = _manager(zalo, MemoryTokenStore(seed), http, clock)
    b = _manager(zalo, MemoryTokenStore(seed), http, clock)  # a second store: a stale copy
    await a.refresh_after_rejection(seed.access_token)

    with pytest.raises(TokenRefreshError):
        await b.refresh_after_rejection(seed.access_token)
    assert zalo.rejected_refresh_tokens == [seed.refresh_token]


async def test_a_pair_saved_by_another_process_is_adopted_not_refreshed_again(zalo, http):
    clock = Clock()
    store = MemoryTokenStore(_seed(zalo, clock))
    a = _manager(zalo, store, http, clock)
    b = _manager(zalo, store, http, clock)
    stale = await b.access_token()
    await a.refresh_after_rejection(await a.access_token())

    assert await b.refresh_after_rejection(stale) == store.pair.access_token
    assert zalo.refresh_count == 1


async def test_store_failure_keeps_the_new_pair_and_saves_it_on_the_next_call(zalo, http):
    clock = Clock()

    class FlakyStore(MemoryTokenStore):
        fail = True

        async def save(self, pair: TokenPair) -> None:
            if self.fail:
                self.fail = False
                raise OSError("disk full")
            await super().save(pair)

    seed = _seed(zalo, clock)
    store = FlakyStore(seed)
    tokens = _manager(zalo, store, http, clock)
    with pytest.raises(OSError, match="disk full"):
        await tokens.refresh_after_rejection(seed.access_token)
    assert store.pair == seed  # nothing handed out, nothing half-saved

    token = await tokens.access_token()
    assert store.saved and store.pair.access_token == token != seed.access_token
    assert zalo.refresh_count == 1  # the spent refresh token was not presented again


async def test_no_stored_token_is_an_auth_error(zalo, http):
    tokens = _manager(zalo, MemoryTokenStore(), http, Clock())
    with pytest.raises(ZaloAuthError):
        await tokens.access_token()


async def test_network_failure_during_refresh_is_transient(http):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    clock = Clock()
    seed = TokenPair("a", "r", clock() + 10)
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as offline:
        tokens = TokenManager("app", "s", "http://oauth.invalid", MemoryTokenStore(seed), offline, clock=clock)
        with pytest.raises(ZaloNetworkError):
            await tokens.refresh_after_rejection("a")


def test_token_pair_repr_hides_tokens():
    assert "secret" not in repr(TokenPair("secret-a", "secret-r", 1.0))


@pytest.mark.parametrize("shape", ["string", "number", "nested"])
async def test_every_real_shape_of_the_refresh_answer_is_read(http, shape: str) -> None:
    """expires_in as a string (Zalo's example), a number, or the pair nested in `data`."""
    async with FakeZaloOA(token_answer=shape) as zalo:
        clock = Clock()
        store = MemoryTokenStore(_seed(zalo, clock))
        tokens = _manager(zalo, store, http, clock, refresh_margin=600)
        first = await tokens.access_token()
        clock.now += zalo.access_ttl - 10
        assert await tokens.access_token() != first
        assert zalo.refresh_count == 1
        assert store.pair.expires_at == pytest.approx(clock.now + zalo.access_ttl)
