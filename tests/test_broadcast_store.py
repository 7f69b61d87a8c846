"""The broadcast part of the store contract: subscriptions, audiences, delivery rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.broadcasts.render import render_message
from handlers.i18n import load_catalog
from storage import Role, Store, StoreError
from storage.broadcasts import (
    Audience,
    Broadcast,
    BroadcastStatus,
    DeliveryResult,
    DeliveryStatus,
    NewBroadcast,
)
from storage.postgres import PostgresStore
from storage.signups import SignupDraft, SignupSource
from storage.sqlite import SQLiteStore
from tests.conftest import postgres_database
from tests.fakes.broadcast_support import RecordingSender, add_workers, make_engine

NOW = datetime(2025, 5, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def store(backend: Store) -> Store:
    """The broadcast part of the store contract, run against every backend."""
    return backend


def new(audience: Audience, **kw) -> NewBroadcast:  # type: ignore[no-untyped-def]
    return NewBroadcast(text_vi="Chào tháng 5", audience=audience, run_at=NOW, **kw)


async def test_subscribe_unsubscribe_opt_out_and_back(store: Store) -> None:
    u = await store.touch_user("telegram", "1", language="vi")
    await store.subscribe(u.id, ["workers_month", "osh_month"])
    await store.subscribe(u.id, ["workers_month"])  # twice is once
    assert await store.subscriptions(u.id) == {"workers_month", "osh_month"}
    await store.unsubscribe(u.id, ["osh_month"])
    assert await store.subscriptions(u.id) == {"workers_month"}
    assert await store.opt_out(u.id) == ["workers_month"]
    assert await store.subscriptions(u.id) == set() and await store.is_opted_out(u.id)
    assert await store.opt_out(u.id) == ["workers_month"], "a second /stop keeps what the first saved"
    assert await store.opt_back_in(u.id) == ["workers_month"]
    assert await store.subscriptions(u.id) == {"workers_month"} and not await store.is_opted_out(u.id)
    await store.opt_out(u.id)
    await store.subscribe(u.id, ["union_news"])
    assert not await store.is_opted_out(u.id), "subscribing again lifts the opt-out"


async def test_audience_selection(store: Store) -> None:
    a, b = await add_workers(store, [1, 2], topics=["workers_month"])
    (c,) = await add_workers(store, [3], topics=["osh_month"], language="en")
    (d,) = await add_workers(store, [4], topics=[])
    (e,) = await add_workers(store, [5], topics=["workers_month"])
    await store.set_reachable(e.id, False)
    await store.set_role(b.id, Role.VOLUNTEER)
    await store.opt_out(d.id)
    assert await store.count_audience(Audience(topics=("workers_month",))) == 2
    assert await store.count_audience(Audience(topics=("workers_month", "osh_month"))) == 3
    assert await store.count_audience(Audience(everyone=True)) == 3, "opted-out and unreachable are left out"
    assert await store.count_audience(Audience(everyone=True, language="en")) == 1
    assert await store.count_audience(Audience(everyone=True, roles=("volunteer",))) == 1
    with pytest.raises(StoreError):
        await store.count_audience(Audience())
    del a, c


async def test_province_audience_joins_signups(store: Store) -> None:
    users = await add_workers(store, [1, 2, 3], topics=["member_drive"])
    for user, province in zip(users[:2], ["ha_noi", "bac_ninh"], strict=True):
        await store.submit_signup(
            SignupDraft(
                full_name="Nguyễn Văn A",
                phone_e164=f"+8491234560{user.id}",
                workplace="KCN",
                province_id=province,
                commune=None,
                source=SignupSource.SELF,
                volunteer_id=None,
                consent_version="1",
                consent_lang="vi",
                consent_channel="telegram",
                owner_id=user.id,
            )
        )
    assert await store.count_audience(Audience(topics=("member_drive",), provinces=("ha_noi",))) == 1
    assert await store.count_audience(Audience(everyone=True, provinces=("ha_noi", "bac_ninh"))) == 2


async def test_materialize_once_and_claims_are_compare_and_set(store: Store) -> None:
    await add_workers(store, range(1, 6))
    b = await store.create_broadcast(new(Audience(topics=("workers_month",))))
    assert await store.materialize_audience(b.id) == 5
    await add_workers(store, [6])
    assert await store.materialize_audience(b.id) == 5, "the audience is fixed once created"
    rows = await store.queued_deliveries(b.id, after_id=0, limit=10)
    assert [r.external_id for r in rows] == ["1", "2", "3", "4", "5"]
    ids = [r.delivery_id for r in rows]
    assert await store.journal_deliveries(b.id, ids[:3], []) == set(ids[:3])
    assert await store.journal_deliveries(b.id, ids[:4], []) == {ids[3]}, "a row is claimed once"
    await store.journal_deliveries(
        b.id,
        [],
        [
            DeliveryResult(ids[0], DeliveryStatus.SENT),
            DeliveryResult(ids[1], DeliveryStatus.FAILED, "blocked"),
        ],
    )
    assert await store.recover_deliveries(b.id, resend=False) == 2
    stats = await store.delivery_stats(b.id)
    assert (stats.sent, stats.failed, stats.in_doubt, stats.queued, stats.blocked) == (1, 1, 2, 1, 1)
    assert stats.failed_by_reason == {"blocked": 1}


async def test_recover_with_resend_and_requeue_failed(store: Store) -> None:
    users = await add_workers(store, range(1, 4))
    b = await store.create_broadcast(new(Audience(topics=("workers_month",))))
    await store.materialize_audience(b.id)
    ids = [r.delivery_id for r in await store.queued_deliveries(b.id, after_id=0, limit=10)]
    await store.journal_deliveries(b.id, ids, [])
    assert await store.recover_deliveries(b.id, resend=True) == 3
    await store.journal_deliveries(b.id, ids, [])
    await store.journal_deliveries(
        b.id,
        [],
        [
            DeliveryResult(ids[0], DeliveryStatus.FAILED, "blocked"),
            DeliveryResult(ids[1], DeliveryStatus.FAILED, "network: Bad Gateway"),
            DeliveryResult(ids[2], DeliveryStatus.SENT),
        ],
    )
    await store.set_reachable(users[0].id, False)
    assert await store.requeue_failed(b.id) == 1, "not the worker who still blocks the bot"
    await store.touch_user("telegram", "1", language="vi")  # they wrote again
    assert await store.requeue_failed(b.id) == 1


async def test_any_sending_follows_the_rows_in_flight(store: Store) -> None:
    await add_workers(store, range(1, 3))
    b = await store.create_broadcast(new(Audience(topics=("workers_month",))))
    other = await store.create_broadcast(new(Audience(topics=("workers_month",))))
    await store.materialize_audience(b.id)
    await store.materialize_audience(other.id)
    assert not await store.any_sending(b.id), "queued rows are not in flight"
    ids = [r.delivery_id for r in await store.queued_deliveries(b.id, after_id=0, limit=10)]
    await store.journal_deliveries(b.id, ids, [])
    assert await store.any_sending(b.id)
    assert not await store.any_sending(other.id), "another broadcast's rows are not counted"
    await store.journal_deliveries(b.id, [], [DeliveryResult(ids[0], DeliveryStatus.SENT)])
    assert await store.any_sending(b.id), "one row is still in flight"
    await store.journal_deliveries(b.id, [], [DeliveryResult(ids[1], DeliveryStatus.FAILED, "blocked")])
    assert not await store.any_sending(b.id)


async def test_lease_is_exclusive_until_it_expires_or_its_holder_is_dead(store: Store) -> None:
    b = await store.create_broadcast(new(Audience(everyone=True)))
    later = NOW + timedelta(seconds=60)
    assert await store.claim_broadcast(b.id, "A", now=NOW, lease_until=later) is not None
    assert await store.claim_broadcast(b.id, "B", now=NOW, lease_until=later) is None
    assert await store.claim_broadcast(b.id, "B", now=NOW, lease_until=later, steal_from="A") is not None
    assert await store.claim_broadcast(b.id, "C", now=later + timedelta(seconds=1), lease_until=later) is not None
    got = await store.get_broadcast(b.id)
    assert got is not None and got.status is BroadcastStatus.RUNNING and got.lease_owner == "C"
    assert await store.set_broadcast_status(b.id, BroadcastStatus.DONE, expect=[BroadcastStatus.RUNNING])
    got = await store.get_broadcast(b.id)
    assert got is not None and got.lease_owner is None and got.finished_at is not None
    assert not await store.set_broadcast_status(b.id, BroadcastStatus.PAUSED, expect=[BroadcastStatus.RUNNING])
    assert await store.mark_summary_sent(b.id) and not await store.mark_summary_sent(b.id)


async def test_series_occurrences_are_unique_per_time(store: Store) -> None:
    s = await store.create_broadcast(new(Audience(topics=("union_news",)), cron="0 19 * * mon"))
    assert s.is_series
    first = await store.create_occurrence(s, NOW)
    assert first is not None and first.series_id == s.id and first.text_vi == s.text_vi
    assert await store.create_occurrence(s, NOW) is None
    skipped = await store.create_occurrence(s, NOW + timedelta(days=7), status=BroadcastStatus.SKIPPED, reason="x")
    assert skipped is not None and skipped.status is BroadcastStatus.SKIPPED
    await store.set_next_run(s.id, None)
    got = await store.get_broadcast(s.id)
    assert got is not None and got.status is BroadcastStatus.DONE


async def test_photo_is_stored_once_with_a_file_id_cache(store: Store) -> None:
    b = await store.create_broadcast(new(Audience(everyone=True), photo=b"\x89PNG...", photo_name="a.png"))
    assert b.photo_id is not None
    await store.set_photo_file_id(b.photo_id, "telegram", "FILE1")
    photo = await store.get_photo(b.photo_id)
    assert photo is not None and photo.data == b"\x89PNG..." and photo.telegram_file_id == "FILE1"


async def test_forget_erases_subscriptions_opt_outs_and_deliveries(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "f.sqlite3") as s:
        (u,) = await add_workers(s, ["Zzyzx"], topics=["workers_month"])
        b = await s.create_broadcast(new(Audience(topics=("workers_month",))))
        await s.materialize_audience(b.id)
        await s.opt_out(u.id)
        await s.forget_user(u.id)
        assert (await s.delivery_stats(b.id)).audience == 0
        assert await s.subscriptions(u.id) == set() and not await s.is_opted_out(u.id)
    for f in tmp_path.iterdir():
        assert b"Zzyzx" not in f.read_bytes(), f.name


async def test_forget_erases_subscriptions_opt_outs_and_deliveries_on_every_backend(store: Store) -> None:
    (u,) = await add_workers(store, ["Zzyzx"], topics=["workers_month"])
    (organizer,) = await add_workers(store, ["org"], topics=[])
    b = await store.create_broadcast(new(Audience(topics=("workers_month",)), created_by=organizer.id))
    await store.materialize_audience(b.id)
    await store.opt_out(u.id)
    await store.forget_user(u.id)
    await store.forget_user(organizer.id)
    assert (await store.delivery_stats(b.id)).audience == 0
    assert await store.subscriptions(u.id) == set() and not await store.is_opted_out(u.id)
    got = await store.get_broadcast(b.id)
    assert got is not None and got.created_by is None, "the broadcast stays, its author is cleared"


async def test_list_broadcasts_within_provinces(store: Store) -> None:
    # PostgreSQL answers with JSONB containment, SQLite with json_each: the same answers.
    only_hn = await store.create_broadcast(new(Audience(everyone=True, provinces=("ha_noi",))))
    both = await store.create_broadcast(new(Audience(everyone=True, provinces=("ha_noi", "bac_ninh"))))
    await store.create_broadcast(new(Audience(everyone=True)))
    assert [x.id for x in await store.list_broadcasts(within_provinces=["ha_noi"])] == [only_hn.id]
    assert [x.id for x in await store.list_broadcasts(within_provinces=["ha_noi", "bac_ninh"])] == [both.id, only_hn.id]
    assert await store.list_broadcasts(within_provinces=[]) == []
    assert [x.id for x in await store.list_broadcasts([BroadcastStatus.SCHEDULED], limit=1)] == [only_hn.id + 2]


async def test_edit_text_only_before_a_sender_claims_it(store: Store) -> None:
    b = await store.create_broadcast(new(Audience(everyone=True), text_en="May greetings"))
    edited = await store.edit_broadcast_text(b.id, "Chào tháng Năm", "", old_vi="Chào tháng 5", old_en="May greetings")
    assert edited is not None and (edited.text_vi, edited.text_en) == ("Chào tháng Năm", None)
    assert edited.status is BroadcastStatus.SCHEDULED and edited.run_at == b.run_at and edited.text_editable
    # Paused before it ever started: still editable.
    assert await store.set_broadcast_status(b.id, BroadcastStatus.PAUSED)
    assert await store.edit_broadcast_text(b.id, "Chào tháng 5", "Hello May", old_vi="Chào tháng Năm", old_en=None)
    assert await store.set_broadcast_status(b.id, BroadcastStatus.SCHEDULED)
    # The claim that starts sending takes the text as it is then, and ends the edits.
    claimed = await store.claim_broadcast(b.id, "A", now=NOW, lease_until=NOW + timedelta(seconds=60))
    assert claimed is not None and (claimed.text_vi, claimed.text_en) == ("Chào tháng 5", "Hello May")
    assert not claimed.text_editable
    assert await store.edit_broadcast_text(b.id, "Quá muộn", None, old_vi="Chào tháng 5", old_en="Hello May") is None
    # Paused, or its lease released, after it started: still not editable.
    await store.release_broadcast(b.id, "A")
    assert await store.set_broadcast_status(b.id, BroadcastStatus.PAUSED)
    assert await store.edit_broadcast_text(b.id, "Quá muộn", None, old_vi="Chào tháng 5", old_en="Hello May") is None
    got = await store.get_broadcast(b.id)
    assert got is not None and got.text_vi == "Chào tháng 5" and not got.text_editable

    cancelled = await store.create_broadcast(new(Audience(everyone=True)))
    assert await store.set_broadcast_status(cancelled.id, BroadcastStatus.CANCELLED)
    assert await store.edit_broadcast_text(cancelled.id, "x", None, old_vi="Chào tháng 5", old_en=None) is None
    assert await store.edit_broadcast_text(999_999, "x", None, old_vi="Chào tháng 5", old_en=None) is None

    # A series: its occurrences to come copy the new text.
    series = await store.create_broadcast(new(Audience(everyone=True), cron="0 19 * * mon"))
    assert await store.edit_broadcast_text(series.id, "Sinh hoạt tối thứ Hai", None, old_vi="Chào tháng 5", old_en=None)
    occurrence = await store.create_occurrence(series, NOW)
    assert occurrence is not None and occurrence.text_vi == "Sinh hoạt tối thứ Hai"


async def test_an_edit_lands_only_on_the_text_it_started_from(store: Store) -> None:
    b = await store.create_broadcast(new(Audience(everyone=True), text_en="May greetings"))
    # Two organizers opened the edit on the same text; B saves a new English first.
    assert await store.edit_broadcast_text(
        b.id, "Chào tháng 5", "Hello May", old_vi="Chào tháng 5", old_en="May greetings"
    )
    # A's save, from the text as it was when A opened the edit, would undo B's: refused.
    stale = await store.edit_broadcast_text(
        b.id, "Chào tháng Năm", "May greetings", old_vi="Chào tháng 5", old_en="May greetings"
    )
    assert stale is None
    got = await store.get_broadcast(b.id)
    assert got is not None and (got.text_vi, got.text_en) == ("Chào tháng 5", "Hello May")
    # From the text as it is now, A's save lands.
    edited = await store.edit_broadcast_text(
        b.id, "Chào tháng Năm", "Hello May", old_vi="Chào tháng 5", old_en="Hello May"
    )
    assert edited is not None and (edited.text_vi, edited.text_en) == ("Chào tháng Năm", "Hello May")
    # Once the English is removed, an edit that started with it is refused; "" and None both mean none.
    assert await store.edit_broadcast_text(b.id, "Chào tháng Năm", None, old_vi="Chào tháng Năm", old_en="Hello May")
    assert await store.edit_broadcast_text(b.id, "x", None, old_vi="Chào tháng Năm", old_en="Hello May") is None
    assert await store.edit_broadcast_text(b.id, "Chào tháng 5", None, old_vi="Chào tháng Năm", old_en="") is not None

    # Saved at the same moment from the same text: exactly one lands.
    other = await store.create_broadcast(new(Audience(everyone=True)))
    results = await asyncio.gather(
        *(store.edit_broadcast_text(other.id, f"Sửa {i}", None, old_vi="Chào tháng 5", old_en=None) for i in range(2))
    )
    (landed,) = [r for r in results if r is not None]
    got = await store.get_broadcast(other.id)
    assert got is not None and got.text_vi == landed.text_vi


@pytest.mark.parametrize("claim_first", [True, False], ids=["claim_then_edit", "edit_then_claim"])
async def test_an_edit_and_a_claim_in_either_order_send_one_whole_text(store: Store, claim_first: bool) -> None:
    # Each order run on purpose: run together, one backend always ran the edit first.
    await add_workers(store, [1, 2])
    b = await store.create_broadcast(new(Audience(topics=("workers_month",)), text_en="May greetings"))
    old, edited_text = ("Chào tháng 5", "May greetings"), ("Chào tháng Năm", None)

    async def claim() -> Broadcast | None:
        return await store.claim_broadcast(b.id, "A", now=NOW, lease_until=NOW + timedelta(seconds=60))

    async def edit() -> Broadcast | None:
        return await store.edit_broadcast_text(b.id, *edited_text, old_vi=old[0], old_en=old[1])

    if claim_first:
        claimed = await claim()
        assert await edit() is None, "a claimed broadcast keeps the text it was claimed with"
    else:
        assert await edit() is not None
        claimed = await claim()
    expected = old if claim_first else edited_text
    assert claimed is not None and (claimed.text_vi, claimed.text_en) == expected
    got = await store.get_broadcast(b.id)
    assert got is not None and (got.text_vi, got.text_en) == expected

    # The sender holding the claim sends that text, to everyone.
    sender = RecordingSender()
    report = await make_engine(store, {"telegram": sender}, owner="A").run(b.id)
    assert report.outcome == "done"
    assert [text for _, text in sender.sent] == [render_message(load_catalog(), "vi", *expected).text] * 2


# -- PostgreSQL: several processes on one database --------------------------------


@pytest.fixture
async def pg() -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores on one PostgreSQL database, as two bot processes would be."""
    async with postgres_database() as url:
        first, other = PostgresStore(url), PostgresStore(url)
        await first.open()
        await other.open()
        try:
            yield first, other
        finally:
            await other.close()
            await first.close()


async def test_postgres_province_audience_joins_signups(pg: tuple[PostgresStore, PostgresStore]) -> None:
    # Rows written by hand: the join itself, and the audience per channel, on PostgreSQL.
    store, _ = pg
    users = await add_workers(store, [1, 2, 3], topics=["member_drive"])
    for user, province in zip(users[:2], ["ha_noi", "bac_ninh"], strict=True):
        await store.db.execute(
            "INSERT INTO signups (user_id, full_name, phone_e164, workplace, province_id, source,"
            " consent_version, consent_lang, consent_channel, consent_at, created_at, updated_at, last_contact_at)"
            " VALUES ($1, 'A', $2, 'KCN', $3, 'self', '1', 'vi', 'telegram', $4, $4, $4, $4)",
            user.id,
            f"+8491234560{user.id}",
            province,
            NOW,
        )
    assert await store.count_audience(Audience(topics=("member_drive",), provinces=("ha_noi",))) == 1
    assert await store.count_audience(Audience(everyone=True, provinces=("ha_noi", "bac_ninh"))) == 2
    reach = await store.audience_by_channel(Audience(everyone=True, provinces=("ha_noi",)), seen_since=NOW)
    assert reach.by_channel == {"telegram": 1} and reach.recent == {"telegram": 1}


async def test_postgres_a_row_locked_by_another_senders_claim_is_skipped_not_waited_for(
    pg: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pg
    await add_workers(a, range(1, 5))
    bc = await a.create_broadcast(new(Audience(topics=("workers_month",))))
    await a.materialize_audience(bc.id)
    ids = [r.delivery_id for r in await a.queued_deliveries(bc.id, after_id=0, limit=10)]
    async with a.transaction():
        assert await a.journal_deliveries(bc.id, ids[:2], []) == set(ids[:2])
        # A's claim is not committed yet: B skips those rows at once and takes the rest.
        assert await asyncio.wait_for(b.journal_deliveries(bc.id, ids, []), 5) == set(ids[2:])
    assert await b.journal_deliveries(bc.id, ids, []) == set(), "every row is claimed once"
    stats = await b.delivery_stats(bc.id)
    assert stats.count(DeliveryStatus.SENDING) == 4


async def test_postgres_two_processes_sharing_a_broadcast_never_claim_a_row_twice(
    pg: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pg
    await add_workers(a, range(1, 201))
    bc = await a.create_broadcast(new(Audience(topics=("workers_month",))))
    assert await a.materialize_audience(bc.id) == 200
    ids = [r.delivery_id for r in await a.queued_deliveries(bc.id, after_id=0, limit=500)]

    async def sender(s: PostgresStore, order: list[int]) -> set[int]:
        got: set[int] = set()
        for i in range(0, len(order), 20):
            got |= await s.journal_deliveries(bc.id, order[i : i + 20], [])
        return got

    got_a, got_b = await asyncio.gather(sender(a, ids), sender(b, ids[::-1]))
    assert not got_a & got_b and got_a | got_b == set(ids)
    rows = await a.db.fetch("SELECT attempts FROM deliveries WHERE broadcast_id = $1", bc.id)
    assert {r[0] for r in rows} == {1}


async def test_postgres_an_edit_waits_for_another_processs_claim_and_then_refuses(
    pg: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pg
    first = await a.create_broadcast(new(Audience(everyone=True)))
    async with a.transaction():
        assert await a.claim_broadcast(first.id, "A", now=NOW, lease_until=NOW + timedelta(seconds=60))
        # B's edit waits for A's claim to commit, then re-checks the row as A left it.
        edit = asyncio.create_task(
            b.edit_broadcast_text(first.id, "Quá muộn", None, old_vi="Chào tháng 5", old_en=None)
        )
        await asyncio.sleep(0.2)
        assert not edit.done()
    assert await asyncio.wait_for(edit, 5) is None
    assert (await b.get_broadcast(first.id)).text_vi == "Chào tháng 5"  # type: ignore[union-attr]

    # The other way round: a claim waiting for an edit sends the edited text.
    second = await a.create_broadcast(new(Audience(everyone=True)))
    async with a.transaction():
        assert await a.edit_broadcast_text(second.id, "Đã sửa", "Edited", old_vi="Chào tháng 5", old_en=None)
        claim = asyncio.create_task(b.claim_broadcast(second.id, "B", now=NOW, lease_until=NOW + timedelta(seconds=60)))
        await asyncio.sleep(0.2)
        assert not claim.done()
    claimed = await asyncio.wait_for(claim, 5)
    assert claimed is not None and (claimed.text_vi, claimed.text_en) == ("Đã sửa", "Edited")


async def test_postgres_two_organizers_saving_from_one_text_in_two_processes_one_lands(
    pg: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = pg
    bc = await a.create_broadcast(new(Audience(everyone=True)))
    async with a.transaction():
        assert await a.edit_broadcast_text(bc.id, "A đã sửa", None, old_vi="Chào tháng 5", old_en=None)
        # B's save waits for A's to commit, then finds the row no longer holding the old text.
        other = asyncio.create_task(b.edit_broadcast_text(bc.id, "B đã sửa", None, old_vi="Chào tháng 5", old_en=None))
        await asyncio.sleep(0.2)
        assert not other.done()
    assert await asyncio.wait_for(other, 5) is None
    assert (await b.get_broadcast(bc.id)).text_vi == "A đã sửa"  # type: ignore[union-attr]


async def test_postgres_materializing_at_once_fixes_one_audience(pg: tuple[PostgresStore, PostgresStore]) -> None:
    a, b = pg
    await add_workers(a, range(1, 51))
    bc = await a.create_broadcast(new(Audience(everyone=True)))
    sizes = await asyncio.gather(a.materialize_audience(bc.id), b.materialize_audience(bc.id))
    assert sizes == [50, 50] and (await a.delivery_stats(bc.id)).audience == 50


async def test_postgres_a_journal_batch_reads_its_own_rows_not_the_whole_queue() -> None:
    # A freshly materialized broadcast has no statistics yet; given the broadcast and the
    # status beside the ids, the planner read every queued row of the broadcast through
    # deliveries_by_status for each batch of claims and outcomes, quadratic in the audience.
    async with postgres_database() as url:
        store = PostgresStore(url, max_size=1)  # one backend: its index counters are ours
        await store.open()
        try:
            await store.db.execute(
                "INSERT INTO users (channel, external_id, created_at, last_seen_at)"
                " SELECT 'telegram', g::text, now(), now() FROM generate_series(1, 5000) AS g"
            )
            await store.db.execute(
                "INSERT INTO subscriptions (user_id, topic, created_at) SELECT id, 'workers_month', now() FROM users"
            )
            bc = await store.create_broadcast(new(Audience(topics=("workers_month",))))
            assert await store.materialize_audience(bc.id) == 5000

            async def reads_through_status_index() -> int:
                await store.db.execute("SELECT pg_stat_force_next_flush()")
                return int(
                    await store.db.fetchval(
                        "SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'deliveries_by_status'"
                    )
                )

            rows = await store.queued_deliveries(bc.id, after_id=0, limit=80)
            before = await reads_through_status_index()
            done: list[DeliveryResult] = []
            for i in range(0, 80, 8):  # past the 5 custom plans, to the cached generic one
                batch = [r.delivery_id for r in rows[i : i + 8]]
                assert await store.journal_deliveries(bc.id, batch, done) == set(batch)
                done = [DeliveryResult(d, DeliveryStatus.SENT) for d in batch]
            assert await store.journal_deliveries(bc.id, [], done) == set()
            assert await reads_through_status_index() - before < 100
            assert (await store.delivery_stats(bc.id)).sent == 80
        finally:
            await store.close()
