"""The listening part of the store contract (polls and anonymous workplace reports),
run against every backend through the interface only. The chat flows on top of it are
in tests/test_listening.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import pytest

from storage import Store
from storage.broadcasts import Audience, DeliveryResult, DeliveryStatus, NewBroadcast
from storage.listening import AnswerOutcome, NewPoll, NewReport, Poll, PollChoice

NOW = datetime(2025, 5, 1, 1, 0, tzinfo=UTC)
DAY = date(2025, 5, 1)
T = TypeVar("T")


@pytest.fixture
def store(backend: Store) -> Store:
    return backend


async def make_poll(
    store: Store, *, choices: tuple[str, ...] = ("a", "b", "c"), provinces: tuple[str, ...] = (), multi: bool = False
) -> Poll:
    poll, b = await store.create_poll(
        NewPoll(
            question_vi="Công ty đã trả lương chưa?",
            question_en="Has the company paid?",
            choices=tuple(PollChoice(c, c.upper()) for c in choices),
            closes_at=NOW + timedelta(days=3),
            multi=multi,
        ),
        NewBroadcast(text_vi="Bình chọn", audience=Audience(everyone=True, provinces=provinces), run_at=NOW),
    )
    assert poll.broadcast_id == b.id
    return poll


async def answer(
    store: Store,
    poll: Poll,
    user_id: int,
    mask: int,
    mode: str = "set",
    *,
    now: datetime = NOW + timedelta(hours=1),
    province: str | None = "ha_noi",
    channel: str = "telegram",
    language: str = "vi",
) -> AnswerOutcome:
    return await store.answer_poll(
        poll.id, user_id, mask=mask, mode=mode, now=now, province=province, channel=channel, language=language
    )


async def test_create_get_and_list_polls(store: Store) -> None:
    national = await make_poll(store)
    hanoi = await make_poll(store, provinces=("ha_noi",))
    both = await make_poll(store, provinces=("ha_noi", "bac_ninh"))
    got = await store.get_poll(national.id)
    assert got == national and got.choices[1] == PollChoice("b", "B") and not got.multi
    assert got.closes_at == NOW + timedelta(days=3) and got.closed_at is None and got.aggregated_at is None
    assert got.question("en") == "Has the company paid?"
    assert await store.poll_of_broadcast(national.broadcast_id or 0) == national
    assert await store.get_poll(999) is None and await store.poll_of_broadcast(999) is None
    assert both.provinces == ("bac_ninh", "ha_noi")
    assert [p.id for p in await store.list_polls()] == [both.id, hanoi.id, national.id]
    assert [p.id for p in await store.list_polls(limit=1)] == [both.id]
    assert [p.id for p in await store.list_polls(within_provinces=["ha_noi"])] == [hanoi.id]
    assert [p.id for p in await store.list_polls(within_provinces={"ha_noi", "bac_ninh", "x"})] == [both.id, hanoi.id]
    assert await store.list_polls(within_provinces=[]) == []


async def test_answers_set_add_remove_and_close(store: Store) -> None:
    poll = await make_poll(store, multi=True)
    a = await store.touch_user("test", "a", language="vi")
    assert await store.poll_answer_mask(poll.id, a.id) == 0
    assert await answer(store, poll, a.id, 0b010, "remove") == AnswerOutcome(True, 0)
    assert (await answer(store, poll, a.id, 0b001, "add")).mask == 0b001
    assert (await answer(store, poll, a.id, 0b100, "add")).mask == 0b101
    assert (await answer(store, poll, a.id, 0b100, "add")).mask == 0b101, "a redelivered tap changes nothing"
    assert (await answer(store, poll, a.id, 0b001, "remove")).mask == 0b100
    assert (await answer(store, poll, a.id, 0b011, "set")).mask == 0b011
    assert await store.poll_answer_mask(poll.id, a.id) == 0b011
    with pytest.raises(ValueError, match="unknown answer mode"):
        await answer(store, poll, a.id, 1, "toggle")
    # After closes_at nothing changes, whatever the mode.
    late = NOW + timedelta(days=4)
    outcome = await answer(store, poll, a.id, 0b100, now=late)
    assert not outcome.recorded and outcome.mask == 0b011
    b = await store.touch_user("test", "b", language="vi")
    assert await answer(store, poll, b.id, 1, now=late) == AnswerOutcome(False, 0)
    # Closing early: once, and not after it ended by itself.
    assert await store.close_poll(poll.id, NOW + timedelta(hours=2))
    assert not await store.close_poll(poll.id, NOW + timedelta(hours=3))
    closed = await store.get_poll(poll.id)
    assert closed is not None and closed.closed_at == NOW + timedelta(hours=2)
    assert not closed.is_open(NOW + timedelta(hours=1)) and closed.ended_at() == NOW + timedelta(hours=2)
    assert await answer(store, poll, b.id, 1) == AnswerOutcome(False, 0)
    other = await make_poll(store)
    assert not await store.close_poll(other.id, NOW + timedelta(days=5))
    assert not await store.close_poll(999, NOW)


async def test_tally_breakdowns_and_what_a_person_answered(store: Store) -> None:
    poll = await make_poll(store, multi=True)
    users = [await store.touch_user("test", f"u{i}", language="vi") for i in range(5)]
    await answer(store, poll, users[0].id, 0b001)
    await answer(store, poll, users[1].id, 0b011, province=None, channel="zalo_bot", language="en")
    await answer(store, poll, users[2].id, 0b010, province="bac_ninh")
    await answer(store, poll, users[3].id, 0b001)
    await answer(store, poll, users[4].id, 0b001, "remove")  # answered nothing: not a respondent
    tally = await store.poll_tally(poll.id)
    assert tally.overall.respondents == 4 and tally.overall.counts == [3, 2, 0]
    assert tally.delivered == 0
    assert list(tally.breakdowns) == ["province", "channel", "language"]
    province = tally.breakdowns["province"]
    assert list(province) == ["", "bac_ninh", "ha_noi"]
    assert (province["ha_noi"].respondents, province["ha_noi"].counts) == (2, [2, 0, 0])
    assert (province[""].respondents, province[""].counts) == (1, [1, 1, 0])
    assert tally.breakdowns["channel"]["zalo_bot"].respondents == 1
    assert tally.breakdowns["language"]["vi"].counts == [2, 1, 0]
    (mine,) = await store.poll_answers_of(users[1].id)
    assert (mine.poll_id, mine.choices, mine.answered_at) == (poll.id, ("a", "b"), NOW + timedelta(hours=1))
    assert await store.poll_answers_of(users[4].id) == []
    empty = await store.poll_tally(999)
    assert empty.overall.respondents == 0 and empty.breakdowns == {} and empty.delivered == 0
    # /forget takes the person's answers with them.
    await store.forget_user(users[0].id)
    assert (await store.poll_tally(poll.id)).overall.counts == [2, 2, 0]


async def test_answers_are_folded_into_counts_after_the_poll_ended(store: Store) -> None:
    poll = await make_poll(store)
    open_poll = await make_poll(store)
    users = [await store.touch_user("test", f"u{i}", language="vi") for i in range(3)]
    for i, user in enumerate(users):
        await answer(store, poll, user.id, 1 << (i % 2), province=["ha_noi", "bac_ninh", None][i])
        await answer(store, open_poll, user.id, 1)
    before = await store.poll_tally(poll.id)
    await store.close_poll(poll.id, NOW + timedelta(days=1))
    assert await store.aggregate_polls(ended_before=NOW + timedelta(days=1)) == 0
    assert await store.aggregate_polls(ended_before=NOW + timedelta(days=2)) == 1
    assert await store.aggregate_polls(ended_before=NOW + timedelta(days=2)) == 0, "once"
    folded = await store.get_poll(poll.id)
    assert folded is not None and folded.aggregated_at is not None
    after = await store.poll_tally(poll.id)
    assert after.overall == before.overall and after.breakdowns == before.breakdowns
    assert list(after.breakdowns["province"]) == list(before.breakdowns["province"])
    assert await store.poll_answer_mask(poll.id, users[0].id) == 0
    assert [a.poll_id for a in await store.poll_answers_of(users[0].id)] == [open_poll.id]
    # A poll that ended by itself (closes_at) is folded too; answers after that are refused.
    assert await store.aggregate_polls(ended_before=NOW + timedelta(days=4)) == 1
    assert (await store.poll_tally(open_poll.id)).overall.respondents == 3
    assert await store.poll_answers_of(users[0].id) == []


async def test_who_received_a_poll(store: Store) -> None:
    a = await store.touch_user("test", "a", language="vi")
    b = await store.touch_user("test", "b", language="vi")
    poll = await make_poll(store)
    assert poll.broadcast_id is not None
    assert not await store.poll_received(poll.id, a.id)
    await store.materialize_audience(poll.broadcast_id)
    assert not await store.poll_received(poll.id, a.id), "queued is not received"
    targets = {t.user_id: t.delivery_id for t in await store.queued_deliveries(poll.broadcast_id, after_id=0, limit=10)}
    await store.journal_deliveries(poll.broadcast_id, [targets[a.id], targets[b.id]], [])
    assert await store.poll_received(poll.id, a.id), "sending may have reached them"
    await store.journal_deliveries(poll.broadcast_id, [], [DeliveryResult(targets[a.id], DeliveryStatus.SENT)])
    assert await store.poll_received(poll.id, a.id)
    assert (await store.poll_tally(poll.id)).delivered == 1
    later = await make_poll(store)
    assert later.broadcast_id is not None
    await store.materialize_audience(later.broadcast_id)
    (ta,) = [t for t in await store.queued_deliveries(later.broadcast_id, after_id=0, limit=10) if t.user_id == a.id]
    await store.journal_deliveries(later.broadcast_id, [ta.delivery_id], [])
    now = NOW + timedelta(hours=1)
    assert [p.id for p in await store.open_polls_received(a.id, now=now)] == [later.id, poll.id]
    assert [p.id for p in await store.open_polls_received(a.id, now=now, limit=1)] == [later.id]
    assert [p.id for p in await store.open_polls_received(b.id, now=now)] == [poll.id]
    await store.close_poll(later.id, now)
    assert [p.id for p in await store.open_polls_received(a.id, now=now)] == [poll.id]
    assert await store.open_polls_received(a.id, now=NOW + timedelta(days=3)) == []


async def test_report_rate_limit(store: Store) -> None:
    assert [await store.count_report("h1", DAY, limit=3) for _ in range(5)] == [True, True, True, False, False]
    assert await store.reports_today("h1", DAY) == 3
    assert await store.reports_today("h1", DAY + timedelta(days=1)) == 0
    assert await store.count_report("h1", DAY + timedelta(days=1), limit=3)
    assert await store.count_report("h2", DAY, limit=3)
    assert await store.purge_report_limits(before=DAY) == 0
    assert await store.purge_report_limits(before=DAY + timedelta(days=1)) == 2
    assert await store.reports_today("h1", DAY) == 0 and await store.reports_today("h1", DAY + timedelta(days=1)) == 1


def report(
    day: date, company: str, key: str, *, province: str = "bac_ninh", category: str = "wages", workers: int = 10
) -> NewReport:
    return NewReport(day, province, category, company, key, workers, description="nợ lương")


async def test_reports_filters_and_company_keys(store: Store) -> None:
    first = await store.add_report(report(DAY, "May Hưng Phát", "hung phat"))
    second = await store.add_report(report(DAY + timedelta(days=2), "may hung phat", "hung phat", workers=40))
    hanoi = await store.add_report(report(DAY + timedelta(days=1), "Cty A", "cty a", province="ha_noi"))
    got = await store.get_report(first)
    assert got is not None and (got.created_on, got.company, got.workers) == (DAY, "May Hưng Phát", 10)
    assert got.description == "nợ lương" and got.contact_question_id is None
    assert await store.get_report(999) is None
    assert [r.id for r in await store.list_reports()] == [hanoi, second, first]
    assert [r.id for r in await store.list_reports(limit=2)] == [hanoi, second]
    assert [r.id for r in await store.list_reports(provinces=["bac_ninh"])] == [second, first]
    assert await store.list_reports(provinces=[]) == []
    assert [r.id for r in await store.list_reports(since=DAY + timedelta(days=1))] == [hanoi, second]
    assert [r.id for r in await store.list_reports(provinces={"bac_ninh"}, since=DAY + timedelta(days=1))] == [second]
    assert [r.id for r in await store.list_reports(cluster=("bac_ninh", "hung phat", "wages"))] == [second, first]
    assert await store.list_reports(cluster=("bac_ninh", "hung phat", "safety")) == []
    assert await store.company_keys("bac_ninh") == {"hung phat": "may hung phat"}
    assert await store.company_keys("nowhere") == {}


async def test_clusters_windows_and_alerts(store: Store) -> None:
    for day, workers in ((DAY, 30), (DAY + timedelta(days=6), 12)):
        await store.add_report(report(day, "Hưng Phát", "hung phat", workers=workers))
    latest = await store.add_report(report(DAY + timedelta(days=8), "HUNG PHAT", "hung phat", workers=20))
    safety = await store.add_report(report(DAY, "Hưng Phát", "hung phat", category="safety"))
    other = await store.add_report(report(DAY + timedelta(days=1), "Cty A", "cty a", province="ha_noi"))
    clusters = await store.report_clusters()
    assert [(c.province, c.company_key, c.category, c.reports) for c in clusters] == [
        ("bac_ninh", "hung phat", "wages", 3),
        ("ha_noi", "cty a", "wages", 1),
        ("bac_ninh", "hung phat", "safety", 1),
    ], "largest first, then the latest"
    top = clusters[0]
    assert (top.company, top.workers, top.first_on, top.last_on, top.latest_id) == (
        "HUNG PHAT",
        30,
        DAY,
        DAY + timedelta(days=8),
        latest,
    )
    assert top.alerted_on is None and clusters[2].latest_id == safety and clusters[1].latest_id == other
    assert [c.category for c in await store.report_clusters(provinces=["bac_ninh"])] == ["wages", "safety"]
    assert await store.report_clusters(provinces=[]) == []
    assert [c.reports for c in await store.report_clusters(since=DAY + timedelta(days=2))] == [2]
    # The 7 days up to today against the 7 before.
    window = await store.cluster_window("bac_ninh", "hung phat", "wages", today=DAY + timedelta(days=8), days=7)
    assert (window.reports, window.workers, window.previous) == (2, 20, 1)
    nothing = await store.cluster_window("ha_noi", "hung phat", "wages", today=DAY, days=7)
    assert (nothing.reports, nothing.workers, nothing.previous) == (0, 0, 0)
    claim = dict(days=7, reports=3, workers=30)
    assert await store.claim_report_alert("bac_ninh", "hung phat", "wages", today=DAY + timedelta(days=8), **claim)
    assert not await store.claim_report_alert("bac_ninh", "hung phat", "wages", today=DAY + timedelta(days=8), **claim)
    assert not await store.claim_report_alert("bac_ninh", "hung phat", "wages", today=DAY + timedelta(days=14), **claim)
    assert await store.claim_report_alert("bac_ninh", "hung phat", "safety", today=DAY + timedelta(days=8), **claim)
    assert (await store.report_clusters())[0].alerted_on == DAY + timedelta(days=8)
    assert await store.claim_report_alert("bac_ninh", "hung phat", "wages", today=DAY + timedelta(days=15), **claim)
    assert (await store.report_clusters())[0].alerted_on == DAY + timedelta(days=15)


async def test_contact_link_and_the_draft_go_with_the_person(store: Store) -> None:
    worker = await store.touch_user("test", "w", language="vi")
    question = await store.add_question(worker.id, "Công ty nợ lương", "vi")
    rid = await store.add_report(NewReport(DAY, "ha_noi", "wages", "Cty A", "cty a", 5, contact_question_id=question))
    assert (await store.get_report(rid)).contact_question_id == question  # type: ignore[union-attr]
    await store.set_state(worker.id, "report", "confirm", {"company": "Cty A"})
    await store.drop_report_draft(worker.id)
    assert await store.get_state(worker.id) is None
    await store.drop_report_draft(worker.id)  # nothing left: no error
    await store.forget_user(worker.id)
    kept = await store.get_report(rid)
    assert kept is not None and kept.contact_question_id is None, "the report stays, unlinked"


async def test_concurrent_taps_and_folds_lose_nothing(store: Store) -> None:
    """On PostgreSQL these run on several pooled connections at once, as from several
    bot processes; SQLite serializes them."""
    import asyncio

    poll = await make_poll(store, choices=("a", "b", "c", "d", "e", "f"), multi=True)
    a = await store.touch_user("test", "a", language="vi")
    b = await store.touch_user("test", "b", language="vi")
    await asyncio.gather(*(answer(store, poll, a.id, 1 << i, "add") for i in range(6)))
    await asyncio.gather(*(answer(store, poll, b.id, 0b1) for _ in range(5)))
    assert await store.poll_answer_mask(poll.id, a.id) == 0b111111
    before = await store.poll_tally(poll.id)
    assert before.overall.respondents == 2 and before.overall.counts == [2, 1, 1, 1, 1, 1]
    folded = await asyncio.gather(*(store.aggregate_polls(ended_before=NOW + timedelta(days=4)) for _ in range(3)))
    assert sum(folded) == 1, "one process folds the poll, the others find it done"
    after = await store.poll_tally(poll.id)
    assert after.overall == before.overall and after.breakdowns == before.breakdowns
