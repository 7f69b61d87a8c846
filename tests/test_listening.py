"""Polls and workplace reports against the real dispatcher and store: answers, bad
input, k-anonymity, retention, company matching, personal data in descriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.config import ConfigError, load_config
from bot.listening import purge_listening
from handlers.listening.polls import create_poll
from handlers.listening.results import suppress
from handlers.listening.text import (
    company_key,
    has_person_name,
    has_phone,
    match_choice,
    match_company,
    parse_numbers,
)
from storage import Store
from storage.broadcasts import Audience, DeliveryResult, DeliveryStatus
from storage.listening import NewPoll, PollChoice, Tally
from storage.signups import SignupDraft, SignupSource
from tests.console_support import person
from tests.harness import local_today

K = 5


@pytest.fixture
def settings():  # type: ignore[no-untyped-def]
    """The usual settings, with room for the many messages of several report forms
    (the flood guard is tested elsewhere; here the daily limit must do the refusing)."""
    from handlers.context import Settings

    return Settings(admins=frozenset({("test", "admin")}), flood_messages=1000)


async def deliver(store: Store, broadcast_id: int) -> None:
    """What the engine does: rows for the audience, claimed, then sent."""
    await store.materialize_audience(broadcast_id)
    targets = await store.queued_deliveries(broadcast_id, after_id=0, limit=1000)
    ids = [t.delivery_id for t in targets]
    await store.journal_deliveries(broadcast_id, ids, [])
    await store.journal_deliveries(broadcast_id, [], [DeliveryResult(i, DeliveryStatus.SENT) for i in ids])


async def make_poll(
    store: Store,
    users: list[str],
    *,
    multi: bool = False,
    days: float = 3,
    choices: tuple[str, ...] = ("Đã trả", "Chưa trả", "Trả thiếu"),
):  # type: ignore[no-untyped-def]
    for u in users:
        user = await store.touch_user("test", u, language="vi")
        await store.subscribe(user.id, ["union_news"])
    poll, b = await create_poll(
        store,
        NewPoll(
            question_vi="Công ty đã trả lương chưa?",
            choices=tuple(PollChoice(c) for c in choices),
            multi=multi,
            closes_at=datetime.now(UTC) + timedelta(days=days),
        ),
        Audience(topics=("union_news",)),
    )
    await deliver(store, b.id)
    return poll


# -- answering -------------------------------------------------------------------------
async def test_tap_change_and_redelivery_count_once(store, make_chat) -> None:
    poll = await make_poll(store, ["a", "b"])
    a = make_chat("a")
    await a.press(f"pv:{poll.id}:1")
    assert "Chưa trả" in a.text() and a.last[0].edit
    await a.press(f"pv:{poll.id}:0")
    await a.press(f"pv:{poll.id}:0")  # the same tap again (a redelivered update)
    tally = await store.poll_tally(poll.id)
    assert tally.overall.respondents == 1 and tally.overall.counts == [1, 0, 0]
    assert tally.delivered == 2


async def test_typed_answers_by_number_and_words(store, make_chat) -> None:
    poll = await make_poll(store, ["a", "b", "c"])
    await make_chat("a").say("2")
    await make_chat("b").say("tra thieu")
    c = make_chat("c")
    await c.say("luong toi thieu vung 1")  # a question, not an answer: goes to the rights Q&A
    assert "Cảm ơn" not in c.text()
    tally = await store.poll_tally(poll.id)
    assert tally.overall.counts == [0, 1, 1]


async def test_bad_answers_are_refused_clearly(store, make_chat) -> None:
    poll = await make_poll(store, ["a"])
    outsider = make_chat("outsider")
    await outsider.say("/start")
    await outsider.press(f"pv:{poll.id}:0")  # never received: a forged button
    assert "không được gửi tới bạn" in outsider.text()
    await outsider.press("pv:999:0")
    assert "không được gửi tới bạn" in outsider.text()
    a = make_chat("a")
    await a.press(f"pv:{poll.id}:7")
    assert "từ 1 đến 3" in a.text()
    await a.say("9")
    assert "từ 1 đến 3" in a.text()
    await a.say("1, 2")
    assert "chỉ chọn một" in a.text()
    await a.press(f"pv:{poll.id}:x")
    assert (await store.poll_tally(poll.id)).overall.respondents == 0
    await store.close_poll(poll.id, datetime.now(UTC))
    await a.press(f"pv:{poll.id}:0")
    assert "đã kết thúc" in a.text()
    assert (await store.poll_tally(poll.id)).overall.respondents == 0


async def test_multi_choice_toggles_are_idempotent(store, make_chat) -> None:
    poll = await make_poll(store, ["a", "b"], multi=True)
    a = make_chat("a")
    for _ in range(2):  # twice: a redelivery adds nothing more
        await a.press(f"pv:{poll.id}:0:a")
        await a.press(f"pv:{poll.id}:2:a")
    assert "✅ Đã trả" in a.labels() and "✅ Trả thiếu" in a.labels()
    await a.press(f"pv:{poll.id}:0:r")
    await a.press(f"pv:{poll.id}:0:r")
    await make_chat("b").say("1, 3")
    tally = await store.poll_tally(poll.id)
    assert tally.overall.respondents == 2 and tally.overall.counts == [1, 0, 2]


async def test_result_after_close_and_answers_folded_after_retention(store, make_chat) -> None:
    users = [f"u{i}" for i in range(6)]
    poll = await make_poll(store, users)
    for i, u in enumerate(users):
        await make_chat(u).press(f"pv:{poll.id}:{0 if i < 5 else 1}")
    u0 = make_chat("u0")
    await u0.press(f"plr:{poll.id}")
    assert "sau khi bình chọn kết thúc" in u0.text()
    await u0.say("/mydata")
    assert "Công ty đã trả lương chưa?" in u0.text()
    await store.close_poll(poll.id, datetime.now(UTC))
    await u0.press(f"plr:{poll.id}")
    assert "Đã trả: 5" in u0.text()
    admin = make_chat("admin")
    await admin.press(f"pc:show:{poll.id}")
    assert admin.last[0].photo is not None and admin.last[0].photo.data.startswith(b"\x89PNG")
    assert "Đã gửi tới 6 người, 6 người trả lời (tỷ lệ trả lời 100%)" in admin.text()
    await admin.press(f"pc:by:{poll.id}:province")
    assert "Chưa rõ (6): 1: 5 · 2: < 5 · 3: < 5" in admin.text()  # one group: nothing more to derive
    before = await store.poll_tally(poll.id)
    # Not yet past retention: still per person.
    assert await purge_listening(store, 30) == (0, 0)
    assert await purge_listening(store, 30, now=datetime.now(UTC) + timedelta(days=31)) == (1, 0)
    after = await store.poll_tally(poll.id)
    assert after.overall == before.overall and after.breakdowns == before.breakdowns
    user = await store.find_user("test", "u0")
    assert await store.poll_answers_of(user.id) == []
    await u0.say("/mydata")
    assert "Công ty đã trả lương chưa?" not in u0.text()


async def test_organizer_sees_only_polls_of_their_provinces(store, make_chat) -> None:
    org = make_chat("org")
    await org.say("/start")
    user = await store.find_user("test", "org")
    from storage import Role

    await store.set_role(user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(user.id, ["ha_noi"], None)
    poll = await make_poll(store, ["a"])  # no province filter: national, admins only
    await org.press(f"pc:show:{poll.id}")
    assert "Không tìm thấy" in org.text()
    admin = make_chat("admin")
    await admin.press(f"pc:show:{poll.id}")
    assert "Bình chọn #" in admin.text()


async def test_poll_draft_buttons_only_act_on_their_own_step(store, make_chat) -> None:
    admin = make_chat("admin")
    await admin.press("pc:kind:1")  # no draft at all
    assert "không còn dùng được" in admin.text()
    await admin.press("pc:new")
    await admin.press("pc:kind:n")  # a button of a later step: the question is asked again
    assert "Hãy dùng các nút" in admin.text()
    assert (await store.get_state((await store.find_user("test", "admin")).id)).step == "q_vi"
    await admin.say("Bạn có muốn thành lập công đoàn cơ sở?")
    await admin.press("pc:skip_en")
    await admin.say("Có\nKhông")
    await admin.press("pc:nonsense")
    assert "Hãy dùng các nút" in admin.text()
    await admin.press("pc:kind:n")
    await admin.press("pc:t:no_such_topic")  # unknown topic: the screen again, unchanged
    assert admin.last[0].edit and "✅" not in " ".join(admin.labels())
    await admin.press("pc:days:2")  # not one of the offered days, and not this step
    assert "Hãy dùng các nút" in admin.text()
    await admin.press("pc:cancel")
    assert "Đã hủy" in admin.text()
    assert await store.get_state((await store.find_user("test", "admin")).id) is None


async def test_report_buttons_only_act_on_their_own_step(store, make_chat) -> None:
    w = make_chat("w")
    await w.press("rp:send:anon")  # no draft
    assert "không còn dùng được" in w.text()
    await w.press("rp:start")
    await w.press("rp:w:5")  # a later step's button
    assert "Hãy dùng các nút" in w.text()
    await w.press("rp:cat:wages")
    await w.say("Công ty May Hưng Phát")
    await w.say("Hà Nội")
    await w.press("rp:w:7")  # not one of the offered numbers
    assert "Hãy dùng các nút" in w.text()
    await w.press("rp:w:5")
    await w.press("rp:skip")
    await w.press("rp:send:maybe")
    assert "Hãy dùng các nút" in w.text()
    await w.press("rp:cancel")
    assert "không có gì được lưu" in w.text()
    assert await store.report_clusters(provinces=None, since=local_today() - timedelta(days=1)) == []


async def signed_up(store: Store, external_id: str, province: str, n: int) -> int:
    user = await store.touch_user("test", external_id, language="vi")
    await store.submit_signup(
        SignupDraft(
            full_name=f"Người {n}",
            phone_e164=f"+8491200{n:04d}",
            workplace="X",
            province_id=province,
            commune=None,
            source=SignupSource.SELF,
            volunteer_id=None,
            consent_version="t",
            consent_lang="vi",
            consent_channel="test",
            owner_id=user.id,
        )
    )
    await store.subscribe(user.id, ["union_news"])
    return user.id


async def compose_to_provinces(chat, provinces: str) -> str:  # type: ignore[no-untyped-def]
    """Writes a poll up to the province step and types `provinces`; the reply's text."""
    await chat.say("/poll")
    await chat.press("pc:new")
    await chat.say("Công ty có trả lương đúng hạn không?")
    await chat.press("pc:skip_en")
    await chat.say("Có\nKhông")
    await chat.press("pc:kind:1")
    await chat.press("pc:all")
    await chat.press("pc:prov")
    assert "Gõ tên tỉnh/thành" in chat.text()
    await chat.say(provinces)
    return chat.text()


async def test_a_chat_poll_goes_to_chosen_provinces_within_the_organizers_own(store, make_chat) -> None:
    from storage import Role

    for n, (who, province) in enumerate([("hn1", "ha_noi"), ("hn2", "ha_noi"), ("bn1", "bac_ninh")]):
        await signed_up(store, who, province, n)
    org = make_chat("org")
    await org.say("/start")
    org_user = await store.find_user("test", "org")
    await store.set_role(org_user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(org_user.id, ["ha_noi", "hai_phong"], None)

    # Another province's workers: refused, naming what the organizer covers.
    assert "Ngoài phạm vi: Bắc Ninh" in await compose_to_provinces(org, "Bắc Ninh")
    await org.say("Atlantis")
    assert "không nhận ra: Atlantis" in org.text()
    await org.say("Hà Nội")
    assert "Chỉ gửi tới người đăng ký ở: Hà Nội" in org.text() and "📍 Tỉnh/thành (1)" in org.labels()
    await org.press("pc:aud_ok")
    await org.press("pc:days:3")
    assert "Gửi tới 2 người" in org.text()
    await org.press("pc:confirm")
    (poll,) = await store.list_polls()
    assert poll.provinces == ("ha_noi",)

    # An admin may choose any province; "-" drops the filter again.
    admin = make_chat("admin")
    await compose_to_provinces(admin, "Bắc Ninh, Hà Nội")
    await admin.press("pc:prov")
    await admin.say("-")
    assert "📍 Tỉnh/thành (0)" in admin.labels()
    await admin.press("pc:prov")
    await admin.say("bac ninh")
    await admin.press("pc:aud_ok")
    await admin.press("pc:days:1")
    assert "Gửi tới 1 người" in admin.text()
    await admin.press("pc:confirm")
    newest = (await store.list_polls())[0]
    assert newest.provinces == ("bac_ninh",)


async def test_a_draft_whose_provinces_left_the_organizers_scope_is_not_sent(store, make_chat) -> None:
    from storage import Role

    await signed_up(store, "hn1", "ha_noi", 1)
    org = make_chat("org")
    await org.say("/start")
    org_user = await store.find_user("test", "org")
    await store.set_role(org_user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(org_user.id, ["ha_noi", "hai_phong"], None)
    await compose_to_provinces(org, "Hà Nội")
    await org.press("pc:aud_ok")
    await org.press("pc:days:3")
    await store.remove_organizer_provinces(org_user.id, ["ha_noi"])
    await org.press("pc:confirm")
    assert "Ngoài phạm vi: Hà Nội" in org.text()
    assert await store.list_polls() == []


async def test_the_results_chart_is_drawn_by_the_export_worker(store, services, make_chat) -> None:
    """As /targets does: the bot's process hands the drawing to services.exporter, whose
    job must cross to the worker process (picklable), and never draws it itself."""
    import pickle

    from handlers.join.export import InProcessExporter

    class WorkerStandIn:
        def __init__(self) -> None:
            self.jobs: list[object] = []

        async def call(self, job):  # type: ignore[no-untyped-def]
            self.jobs.append(job)
            return await InProcessExporter(store, services.catalog).call(pickle.loads(pickle.dumps(job)))

    worker = WorkerStandIn()
    services.exporter = worker  # type: ignore[assignment]
    users = [f"u{i}" for i in range(5)]
    poll = await make_poll(store, users)
    for u in users:
        await make_chat(u).press(f"pv:{poll.id}:0")
    admin = make_chat("admin")
    await admin.press(f"pc:show:{poll.id}")
    assert admin.last[0].photo is not None and admin.last[0].photo.data.startswith(b"\x89PNG")
    assert len(worker.jobs) == 1


# -- k-anonymity -------------------------------------------------------------------------
def test_small_cells_and_their_complements_are_hidden() -> None:
    rows = suppress({"ha_noi": Tally(7, [5, 2]), "bac_ninh": Tally(5, [2, 3])}, K, 2)
    assert [(r.group, r.respondents, r.cells) for r in rows] == [
        ("ha_noi", 7, [None, None]),
        ("bac_ninh", 5, [None, None]),
    ]
    rows = suppress({"a": Tally(20, [12, 8]), "b": Tally(15, [9, 6]), "c": Tally(2, [1, 1])}, K, 2)
    # c (2 people) is merged with the smallest shown group, b: 17 people.
    assert [(r.group, r.respondents, r.cells) for r in rows] == [("a", 20, [12, 8]), ("*other", 17, [10, 7])]


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), min_size=3, max_size=3), min_size=1, max_size=6))
def test_no_hidden_cell_can_be_worked_out(table: list[list[int]]) -> None:
    groups = {f"g{i}": Tally(sum(r), list(r)) for i, r in enumerate(table)}
    rows = suppress(groups, K, 3)
    for r in rows:
        assert all(c is None or c >= K for c in r.cells)
        assert r.respondents is None or r.respondents >= K
        if r.respondents is not None:
            assert sum(c is None for c in r.cells) != 1
    if len(rows) > 1:
        for c in range(3):
            assert sum(r.cells[c] is None for r in rows) != 1
    assert sum(r.respondents or 0 for r in rows) <= sum(map(sum, table))


# -- reading what people type ------------------------------------------------------------
def test_company_spellings_group_together() -> None:
    key = company_key("Cty TNHH May Hưng Phát")
    assert key == company_key("may hung phat") == company_key("Hưng Phát garment") == "hung phat"
    assert match_company(company_key("Cong ty Hung Phatt"), [key]) == key
    assert match_company(company_key("Hưng Thịnh"), [key]) is None
    assert match_company(company_key("pouchen"), [company_key("Pou Chen Việt Nam")]) == "pou chen"
    assert company_key("Tổng công ty May 10") == "10"


def test_numbers_and_choice_words() -> None:
    assert parse_numbers("2") == [2] and parse_numbers("1, 3") == [1, 3] and parse_numbers("1 và 3") == [1, 3]
    assert parse_numbers("luong 2 thang") is None
    assert match_choice("chua tra", ["Đã trả", "Chưa trả"]) == 1
    assert match_choice("tra", ["Đã trả", "Chưa trả"]) is None


@pytest.mark.parametrize(
    "text",
    [
        "gọi 0912 345 678",
        "sdt +84 912345678",
        "liên hệ 0912.345.678",
    ],
)
def test_phone_numbers_are_found(text: str) -> None:
    assert has_phone(text)


@pytest.mark.parametrize("text", ["Quản đốc Tuấn chửi công nhân", "chị Lan bị đánh", "Nguyễn Văn Nam nợ lương"])
def test_names_are_found(text: str) -> None:
    assert has_person_name(text)


@pytest.mark.parametrize(
    "text",
    [
        "Công ty nợ lương hai tháng nay",
        "Tổ trưởng chửi công nhân",
        "Xưởng B nóng 40 độ, không có quạt",
        "Nợ lương tháng 5 và tháng 6 năm 2025",
        "Ca đêm bị ép làm 12 tiếng",
    ],
)
def test_plain_descriptions_pass(text: str) -> None:
    assert not has_phone(text) and not has_person_name(text)


# -- workplace reports -------------------------------------------------------------------
async def start_report(chat, company: str) -> None:  # type: ignore[no-untyped-def]
    await chat.say("/report")
    await chat.press("rp:cat:wages")
    await chat.say(company)


async def test_report_bad_input(store, make_chat) -> None:
    w = make_chat("w")
    await w.say("/report")
    assert "ẩn danh" in w.text()
    await w.press("rp:cat:nonsense")
    assert "nút" in w.text()
    await w.press("rp:cat:wages")
    for bad in ("A", "x" * 500):
        await w.say(bad)
        assert "từ 2 đến 120 ký tự" in w.text()
    await w.say("😀😀😀")
    assert "biểu tượng cảm xúc" in w.text()
    await w.say("Cty TNHH May Hưng Phát - 0912 345 678")  # the sender's own number, maybe
    assert "số điện thoại" in w.text() and "ẩn danh" in w.text()
    state = await store.get_state((await store.find_user("test", "w")).id)
    assert "0912" not in str(state.data)  # never kept
    await w.say("Công ty Pou Chen")
    assert "tỉnh/thành nào" in w.text()  # no sign-up: asked
    await w.say("Atlantis")
    assert "không nhận ra" in w.text()
    await w.say("Đồng Nai")
    await w.say("nhiều lắm")
    assert "từ 1 đến 100000" in w.text()
    await w.say("120")
    await w.say("Ca đêm chị Hoa bị ép làm 12 tiếng")
    assert "tên người" in w.text()
    state = await store.get_state((await store.find_user("test", "w")).id)
    assert "Hoa" not in str(state.data)  # never kept
    await w.press("rp:skip")
    await w.press("rp:send:anon")
    (r,) = await store.list_reports()
    assert (r.province, r.workers, r.company, r.description) == ("dong_nai", 120, "Công ty Pou Chen", None)


async def report_state(store: Store, external_id: str):  # type: ignore[no-untyped-def]
    return await store.get_state((await store.find_user("test", external_id)).id)


@pytest.mark.parametrize("typed", ["hủy", "Huy", "thôi", "cancel", "STOP", "không báo nữa", "Hủy báo cáo!"])
async def test_a_quit_word_is_never_the_company_or_the_description(store, make_chat, typed) -> None:
    # Found by an outside tester: "cancel" at the company step was stored as the company.
    # As in the sign-up form, a typed word never cancels: the way out is shown instead.
    w = make_chat("wq")
    await start_report(w, typed)
    state = await report_state(store, "wq")
    assert (state.step, "company" in state.data) == ("company", False)
    assert "Muốn dừng báo cáo?" in w.text() and '"❌ Hủy báo cáo"' in w.text() and "/cancel" in w.text()
    assert "Tên công ty?" in w.text() and "rp:cancel" in w.payloads()  # the question again, and the way out
    await w.say("Công ty Pou Chen")
    await w.say("Đồng Nai")
    await w.say(typed)  # at the workers step: not a number either, but the way out is what is meant
    assert "Muốn dừng báo cáo?" in w.text() and (await report_state(store, "wq")).step == "workers"
    await w.press("rp:w:30")
    await w.say(typed)  # "thôi" is no description
    state = await report_state(store, "wq")
    assert (state.step, "description" in state.data) == ("description", False)
    assert "Muốn dừng báo cáo?" in w.text() and "rp:skip" in w.payloads()
    await w.say("/cancel")
    assert await report_state(store, "wq") is None and await store.list_reports() == []


async def test_a_quit_word_inside_an_answer_is_an_answer(store, make_chat) -> None:
    """Only the whole answer is a quit word: a company or a description may contain one."""
    w = make_chat("wq2")
    await start_report(w, "Công ty Huy Hoàng")
    await w.say("Đồng Nai")
    await w.press("rp:w:5")
    await w.say("Thôi việc không được trả lương tháng cuối")
    await w.press("rp:send:anon")
    (r,) = await store.list_reports()
    assert (r.company, r.description) == ("Công ty Huy Hoàng", "Thôi việc không được trả lương tháng cuối")


async def test_privacy_text_gives_the_configured_limit_and_days(store, make_chat, dispatcher) -> None:
    """The promise before sending names the limits in force, not the defaults."""
    from handlers.listening.options import ListeningOptions

    dispatcher.services.listening_options = ListeningOptions(reports_per_day=5, limit_days=10)
    w = make_chat("w")
    await start_report(w, "Công ty Hưng Phát")
    await w.say("Bắc Ninh")
    await w.press("rp:w:5")
    await w.press("rp:skip")
    assert "tối đa 5 báo cáo mỗi ngày" in w.text() and "trong 10 ngày" in w.text()
    assert "tối đa 3" not in w.text() and "7 ngày" not in w.text()


async def test_ten_reports_in_a_minute_store_three(store, make_chat) -> None:
    w = make_chat("w")
    for _ in range(10):
        await start_report(w, "Công ty Hưng Phát")
        await w.say("Bắc Ninh")
        await w.press("rp:w:5")
        await w.press("rp:skip")
        await w.press("rp:send:anon")
    assert len(await store.list_reports()) == 3
    await w.say("/report")
    assert "tối đa" in w.text() and "ask:new" in w.payloads()
    # The officers are still one tap away, and what is typed next reaches them.
    await w.press("ask:new")
    await w.say("Công ty Hưng Phát bắt làm 12 tiếng mỗi ngày, em phải làm sao?")
    assert "#1" in w.text() and (await store.get_question(1)) is not None
    officer = make_chat("admin")  # an admin sees questions of workers with no province
    await officer.say("/inbox")
    assert "12 tiếng" in officer.text()
    assert await store.purge_report_limits(before=local_today() + timedelta(days=1)) == 1


async def test_contact_report_goes_to_the_inbox(store, make_chat) -> None:
    from storage import Role

    await person(store, "org_bn3", Role.ORGANIZER, ("bac_ninh",), channel="test")
    org = make_chat("org_bn3")
    w = make_chat("w")
    await start_report(w, "Samsung Display")
    await w.say("Bắc Ninh")
    await w.press("rp:w:300")
    await w.say("Nhà ăn mất vệ sinh")
    replies = await w.press("rp:send:contact")
    (q,) = await store.questions_of((await store.find_user("test", "w")).id)
    assert "Samsung Display" in q.text
    # The report's province places it for its officers, who are told (found by an
    # outside tester: from a worker not signed up it reached only the admins).
    assert q.province_id == "bac_ninh"
    assert any(r.to_user == "org_bn3" and "/inbox" in r.text for r in replies)
    await org.say("/inbox")
    assert "Samsung Display" in org.text()
    (r,) = await store.list_reports()
    assert r.contact_question_id == q.id
    # 300 workers passes alert_workers at once: one alert, recorded.
    (c,) = await store.report_clusters()
    assert c.workers == 300
    assert not await store.claim_report_alert(
        c.province, c.company_key, c.category, today=local_today(), days=7, reports=1, workers=300
    )


async def test_organizer_sees_clusters_of_their_province_only(store, make_chat) -> None:
    for i, (company, prov) in enumerate(
        [("May Hưng Phát", "Bắc Ninh"), ("may hung phat", "Bắc Ninh"), ("Hưng Phát", "Hà Nội")]
    ):
        w = make_chat(f"w{i}")
        await start_report(w, company)
        await w.say(prov)
        await w.press("rp:w:5")
        await w.press("rp:skip")
        await w.press("rp:send:anon")
    org = make_chat("org")
    await org.say("/start")
    user = await store.find_user("test", "org")
    from storage import Role

    await store.set_role(user.id, Role.ORGANIZER)
    await store.add_organizer_provinces(user.id, ["bac_ninh"], None)
    await org.say("/reports")
    assert "2 báo cáo" in org.text() and "Hà Nội" not in org.text()
    hanoi = next(r for r in await store.list_reports() if r.province == "ha_noi")
    await org.press(f"rpo:cl:{hanoi.id}")
    assert "Không tìm thấy" in org.text()


# -- configuration -------------------------------------------------------------------------
def test_listening_config(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[listening]\nmin_group = 10\nalert_threshold = 4\n", encoding="utf-8")
    cfg = load_config(path, env={"UNIONBOT_REPORT_SALT": "s" * 20})
    assert cfg.listening.min_group == 10 and cfg.listening.alert_threshold == 4
    assert cfg.listening.alert_window_days == 7 and cfg.listening.report_salt == "s" * 20
    assert "ssss" not in repr(cfg.listening)
    path.write_text("[listening]\nmin_group = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="listening.min_group"):
        load_config(path, env={})
    path.write_text("[listening]\nmin_groups = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="listening.min_groups: unknown key"):
        load_config(path, env={})


async def test_signup_province_goes_with_the_answer(store, make_chat) -> None:
    poll = await make_poll(store, ["a"])
    user = await store.find_user("test", "a")
    await store.submit_signup(
        SignupDraft(
            full_name="Lan",
            phone_e164="+84912000001",
            workplace="X",
            province_id="ha_noi",
            commune=None,
            source=SignupSource.SELF,
            volunteer_id=None,
            consent_version="t",
            consent_lang="vi",
            consent_channel="test",
            owner_id=user.id,
        )
    )
    await make_chat("a").press(f"pv:{poll.id}:0")
    tally = await store.poll_tally(poll.id)
    assert tally.breakdowns["province"]["ha_noi"].respondents == 1


async def test_engine_sends_a_poll_with_buttons_or_numbers(store) -> None:
    from tests.fakes.broadcast_support import RecordingSender, make_engine

    for i in range(2):
        user = await store.touch_user("telegram", f"t{i}", language="vi")
        await store.subscribe(user.id, ["union_news"])
    zalo = await store.touch_user("zalo_bot", "z0", language="en")
    await store.subscribe(zalo.id, ["union_news"])
    poll, b = await create_poll(
        store,
        NewPoll(
            question_vi="Có làm thêm giờ không?",
            question_en="Any overtime?",
            choices=(PollChoice("Có", "Yes"), PollChoice("Không", "No")),
            closes_at=datetime.now(UTC) + timedelta(days=1),
        ),
        Audience(topics=("union_news",)),
    )
    parts: list[tuple[str, object]] = []

    async def keep(chat_id, part):  # type: ignore[no-untyped-def]
        parts.append((chat_id, part))

    tg, zb = RecordingSender(hook=keep), RecordingSender(channel="zalo_bot", hook=keep)
    report = await make_engine(store, {"telegram": tg, "zalo_bot": zb}).run(b.id)
    assert report.outcome == "done" and report.stats.sent == 3
    by_chat = dict(parts)
    assert by_chat["t0"].buttons == ((("Có", f"pv:{poll.id}:0"),), (("Không", f"pv:{poll.id}:1"),))
    assert "Có làm thêm giờ không?" in by_chat["t0"].text and "Trả lời 1" not in by_chat["t0"].text
    assert "Any overtime?" in by_chat["z0"].text and "Reply 1 or 2" in by_chat["z0"].text
    assert by_chat["z0"].buttons[0][0] == ("Yes", f"pv:{poll.id}:0")


async def test_alert_trend_compares_with_the_window_before(backend) -> None:
    """The alert's trend: reports in the window against the same number of days before it."""
    from handlers.i18n import load_catalog
    from handlers.listening.reports import alert_text
    from storage.listening import NewReport

    today = local_today()

    async def report(days_ago: int, key: str = "hung phat", workers: int = 10) -> None:
        await backend.add_report(
            NewReport(today - timedelta(days=days_ago), "bac_ninh", "wages", "Hưng Phát", key, workers)
        )

    for days_ago, workers in ((0, 10), (2, 40), (6, 25)):  # this window (7 days: today and the 6 before)
        await report(days_ago, workers=workers)
    for days_ago in (7, 13):  # the window before
        await report(days_ago, workers=500)
    await report(14, workers=900)  # older still: in neither
    await report(1, key="other company")
    window = await backend.cluster_window("bac_ninh", "hung phat", "wages", today=today, days=7)
    # Reports of one workplace describe the same people: the largest estimate, not a sum.
    assert (window.reports, window.workers, window.previous) == (3, 40, 2)

    catalog = load_catalog()
    up = alert_text(catalog, "vi", "bac_ninh", "Hưng Phát", "wages", 3, 30, 2, 7)
    assert "Tăng so với 2 báo cáo kỳ trước" in up and "3 báo cáo" in up and "Bắc Ninh" in up
    assert "Bằng kỳ trước (3)" in alert_text(catalog, "vi", "bac_ninh", "Hưng Phát", "wages", 3, 30, 3, 7)
    down = alert_text(catalog, "en", "bac_ninh", "Hưng Phát", "wages", 3, 30, 5, 7)
    assert "Down from 5 in the period before" in down


async def test_a_poll_closing_more_than_a_year_ahead_is_refused(make_chat, capsys) -> None:
    # Found by an outside tester: "2099-01-01 18:00" was accepted, which would keep the
    # answers linked to people for decades (they are unlinked 30 days after closing).
    admin = make_chat("admin")
    await compose_to_provinces(admin, "Hà Nội")
    await admin.press("pc:aud_ok")
    await admin.say("01/01/2099 18:00")
    assert "tối đa một năm" in admin.text()


async def test_without_an_alert_chat_the_early_warning_reaches_the_provinces_organizers(store, make_chat) -> None:
    # Found by an outside tester: with the default configuration (no alert chats) the
    # warning went only to the log.
    from storage import Role

    await person(store, "org_bn", Role.ORGANIZER, ("bac_ninh",), channel="test")
    await person(store, "org_hn", Role.ORGANIZER, ("ha_noi",), channel="test")
    alerts = []
    for n in range(3):
        w = make_chat(f"rw{n}")
        await start_report(w, "Công ty Hưng Phát")
        await w.say("Bắc Ninh")
        await w.press("rp:w:5")
        await w.press("rp:skip")
        replies = await w.press("rp:send:anon")
        alerts += [r for r in replies if r.to_user is not None]
    assert [(r.to_channel, r.to_user) for r in alerts] == [("test", "org_bn")]
    assert "Hưng Phát" in alerts[0].text and "3" in alerts[0].text


async def test_a_signed_up_worker_may_report_a_company_in_another_province(store, make_chat) -> None:
    # Found by an outside tester: the sign-up's province was the only one possible.
    await signed_up(store, "wbn", "bac_ninh", 77)
    w = make_chat("wbn")
    await start_report(w, "Công ty Giày Đông Phát")
    assert "Bắc Ninh" in w.text() and "rp:chprov" in w.payloads()
    await w.press("rp:chprov")
    await w.say("Hà Nội")
    assert "rp:chprov" not in w.payloads()  # asked, not from the sign-up any more
    await w.press("rp:w:30")
    await w.press("rp:skip")
    await w.press("rp:send:anon")
    (r,) = await store.list_reports()
    assert r.province == "ha_noi"


async def test_closing_a_poll_now_asks_first(store, make_chat) -> None:
    # Found by an outside tester: one tap closed it for good.
    poll = await make_poll(store, ["a"])
    admin = make_chat("admin")
    await admin.press(f"pc:end:{poll.id}")
    assert f"#{poll.id}" in admin.text() and f"pc:endok:{poll.id}" in admin.payloads()
    assert (await store.get_poll(poll.id)).closed_at is None
    await admin.press(f"pc:show:{poll.id}")  # "no, keep it open"
    assert (await store.get_poll(poll.id)).closed_at is None
    await admin.press(f"pc:endok:{poll.id}")
    assert (await store.get_poll(poll.id)).closed_at is not None
    assert [e.target for e in await store.list_audit(action="poll.close")] == [f"poll:{poll.id}"]
