"""Sign-ups are erased join.retention_months after the last contact; abandoned forms after a week."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.signup_retention import SignupRetention, purge_expired
from storage.signups import SignupStatus
from tests.test_join_organizer import add_signup


async def _age(store, table: str, column: str, age: timedelta) -> None:  # type: ignore[no-untyped-def]
    then = (datetime.now(UTC) - age).isoformat(timespec="microseconds")
    await store.db.execute(f"UPDATE {table} SET {column} = ?", (then,))


async def test_purge_keeps_recent_and_erases_expired(store) -> None:
    old = await add_signup(store, "+84912000001", "ha_noi")
    await _age(store, "signups", "last_contact_at", timedelta(days=25 * 31))
    recent = await add_signup(store, "+84912000002", "ha_noi")
    u = await store.touch_user("test", "w", language="vi")
    await store.set_state(u.id, "join", "phone", {"fid": "abcdef", "name": "Lan"})
    assert await purge_expired(store, 24) == (1, 0)
    assert await store.get_signup(old) is None and await store.get_signup(recent) is not None
    await _age(store, "conversation_state", "updated_at", timedelta(days=8))
    assert await purge_expired(store, 24) == (0, 1)
    assert (await store.list_audit(action="signups.purge"))[0].details == {"signups": 0, "forms": 1}
    assert await purge_expired(store, 24) == (0, 0)


async def test_a_status_change_restarts_the_clock(store) -> None:
    s = await add_signup(store, "+84912000001", "ha_noi")
    await _age(store, "signups", "last_contact_at", timedelta(days=25 * 31))
    await store.set_signup_status(s, SignupStatus.CONTACTED)
    assert await purge_expired(store, 24) == (0, 0)


async def test_the_service_purges_at_start_and_stops_cleanly(store) -> None:
    await add_signup(store, "+84912000001", "ha_noi")
    await _age(store, "signups", "last_contact_at", timedelta(days=400))
    service = SignupRetention(store, 12, every=timedelta(seconds=0.01))
    await service.start()
    for _ in range(1000):  # up to 10 s on a loaded CI machine; usually done at once
        if not await store.list_signups(provinces=None):
            break
        await asyncio.sleep(0.01)
    await service.stop()
    assert await store.list_signups(provinces=None) == []
