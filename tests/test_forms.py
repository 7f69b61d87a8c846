"""The form helper every multi-step form loads and saves through, against a real store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from handlers.context import Ctx, Services
from handlers.forms import FormFlow, new_form_id
from handlers.types import Inbound, InboundKind
from storage import Role, Store

TTL = timedelta(days=7)
FORM = FormFlow("join", "collect", ttl=TTL, id_key="fid")


@pytest.fixture
async def ctx(store: Store, services: Services) -> Ctx:
    user = await store.touch_user("test", "u1", language="vi")
    return Ctx(services, Inbound("test", "u1", InboundKind.TEXT, text="hi"), user, Role.WORKER)


async def test_save_then_load_gives_the_step_and_data(ctx: Ctx) -> None:
    await FORM.save(ctx, "phone", {"fid": "abc123", "name": "Lan"}, flow="collect")
    state = await FORM.load(ctx)
    assert state is not None
    assert (state.flow, state.step, state.data) == ("collect", "phone", {"fid": "abc123", "name": "Lan"})


async def test_save_needs_a_flow_of_its_own(ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="which"):
        await FORM.save(ctx, "name", {"fid": "x"})  # two variants: which one?
    with pytest.raises(ValueError, match="not one of"):
        await FORM.save(ctx, "name", {"fid": "x"}, flow="forget")
    assert await ctx.store.get_state(ctx.user.id) is None
    single = FormFlow("jnote")
    await single.save(ctx, "text", {"sid": 4})
    assert (await ctx.store.get_state(ctx.user.id)).flow == "jnote"  # type: ignore[union-attr]


async def test_a_button_of_the_open_copy_is_accepted(ctx: Ctx) -> None:
    await FORM.save(ctx, "name", {"fid": "abc123"}, flow="join")
    assert await FORM.load(ctx, form_id="abc123") is not None


@pytest.mark.parametrize("pressed", ["old999", "", "ABC123"])
async def test_a_button_of_another_copy_is_refused(ctx: Ctx, pressed: str) -> None:
    await FORM.save(ctx, "name", {"fid": "abc123"}, flow="join")
    assert await FORM.load(ctx, form_id=pressed) is None
    assert await ctx.store.get_state(ctx.user.id) is not None, "refusing a button leaves the form alone"


async def test_a_state_without_the_id_is_not_this_form(ctx: Ctx) -> None:
    await ctx.store.set_state(ctx.user.id, "join", "name", {})
    assert await FORM.load(ctx) is None


async def test_another_flows_state_is_ignored(ctx: Ctx) -> None:
    await ctx.store.set_state(ctx.user.id, "bc_compose", "text_vi", {"fid": "abc123"})
    assert await FORM.load(ctx) is None
    assert await FORM.load(ctx, form_id="abc123") is None
    assert await FormFlow("bc_compose").load(ctx) is not None


async def test_a_form_id_for_a_form_without_ids_is_a_mistake(ctx: Ctx) -> None:
    await FormFlow("jnote").save(ctx, "text", {})
    with pytest.raises(TypeError):
        await FormFlow("jnote").load(ctx, form_id="abc")


async def test_an_abandoned_form_is_cleared(ctx: Ctx) -> None:
    await FORM.save(ctx, "phone", {"fid": "abc123"}, flow="join")
    state = await FORM.load(ctx)
    assert state is not None
    just_in_time = state.updated_at + TTL
    assert not FORM.expired(state, now=just_in_time)
    assert not await FORM.expire(ctx, state, now=just_in_time)
    assert await FORM.load(ctx) is not None
    too_late = just_in_time + timedelta(seconds=1)
    assert FORM.expired(state, now=too_late)
    assert await FORM.expire(ctx, state, now=too_late)
    assert await ctx.store.get_state(ctx.user.id) is None


async def test_saving_restarts_the_clock(ctx: Ctx) -> None:
    await FORM.save(ctx, "name", {"fid": "abc123"}, flow="join")
    first = await FORM.load(ctx)
    await asyncio.sleep(0.01)  # two saves apart in time, whatever the clock's resolution
    await FORM.save(ctx, "phone", {"fid": "abc123"}, flow="join")
    second = await FORM.load(ctx)
    assert first is not None and second is not None
    moment = first.updated_at + TTL + timedelta(milliseconds=5)
    assert FORM.expired(first, now=moment) and not FORM.expired(second, now=moment)


async def test_without_a_ttl_a_form_waits(ctx: Ctx) -> None:
    waits = FormFlow("bc_compose")
    await waits.save(ctx, "text_vi", {})
    state = await waits.load(ctx)
    assert state is not None
    assert not await waits.expire(ctx, state, now=state.updated_at + timedelta(days=3650))
    assert await waits.load(ctx) is not None


def test_form_ids_fit_a_button_and_differ() -> None:
    ids = {new_form_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 6 and ":" not in i for i in ids)
