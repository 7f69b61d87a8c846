"""The console's pages doing their jobs: search, filters, paging, status and notes,
export of the current filter, and answering questions on the worker's channel."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from bot.console import app as console_module
from bot.console.security import RateLimit
from handlers.context import Services
from storage import Role, Store
from tests.console_support import RecordingRegistry, add_signup, client_for, console_app, person, sign_in
from tests.harness import local_now

ROW_IDS = re.compile(r'href="/console/signups/(\d+)" class="name"')


@pytest.fixture(autouse=True)
def fresh_rate_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_module, "SIGNIN_LIMIT", RateLimit(limit=10, window=60.0))


def ids(html: str) -> list[int]:
    return [int(x) for x in ROW_IDS.findall(html)]


async def test_search_by_phone_in_any_format_name_and_workplace(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    an = await add_signup(store, "Nguyễn Văn An", "+84912345678", workplace="Công ty May Hưng Yên")
    binh = await add_signup(store, "Trần Thị Bình", "+84987654321", workplace="Samsung Điện tử")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        for typed in ("0912 345 678", "+84 912-345-678", "0912.345.678", "84912345678"):
            page = await client.post("/console/signups", data={"csrf": csrf, "q": typed})
            assert ids(page.text) == [an], typed
        assert ids((await client.post("/console/signups", data={"csrf": csrf, "q": "Bình"})).text) == [binh]
        assert ids((await client.post("/console/signups", data={"csrf": csrf, "q": "samsung"})).text) == [binh]
        # LIKE wildcards typed by the organizer are taken literally.
        assert ids((await client.post("/console/signups", data={"csrf": csrf, "q": "%"})).text) == []


async def test_filters_sorting_and_keyset_paging(services: Services, store: Store) -> None:
    admin = await person(store, "admin", Role.ADMIN)
    made = [
        await add_signup(store, f"Người {i:03d}", f"+849123{i:05d}", "ha_noi" if i % 2 else "hue")
        for i in range(1, 121)
    ]
    await store.set_signup_status(made[0], __import__("storage.signups", fromlist=["x"]).SignupStatus.JOINED)
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, admin)
        first = await client.post("/console/signups", data={"csrf": csrf})
        assert ids(first.text) == made[::-1][:50]
        assert "120" in first.text
        second = await client.post("/console/signups", data={"csrf": csrf, "after_id": str(made[-50])})
        assert ids(second.text) == made[::-1][50:100]
        hue = await client.post("/console/signups", data={"csrf": csrf, "province": "hue", "sort": "old"})
        assert ids(hue.text) == [m for i, m in enumerate(made, 1) if i % 2 == 0][:50]
        joined = await client.post("/console/signups", data={"csrf": csrf, "status": "joined"})
        assert ids(joined.text) == [made[0]]
        by_name = await client.post(
            "/console/signups", data={"csrf": csrf, "sort": "name", "after_id": str(made[9]), "after_name": "Người 010"}
        )
        assert ids(by_name.text)[:2] == [made[10], made[11]]
        dated = await client.post("/console/signups", data={"csrf": csrf, "since": "2000-01-01", "until": "2000-12-31"})
        assert ids(dated.text) == []
        bad = await client.post("/console/signups", data={"csrf": csrf, "since": "31/12"})
        assert "YYYY-MM-DD" in bad.text or "ngày" in bad.text.lower()


async def test_status_and_notes_are_saved_and_audited(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    sid = await add_signup(store, "Nguyễn Văn An", "+84912345678")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        page = await client.post(f"/console/signups/{sid}/note", data={"csrf": csrf, "note": "Gọi lại <b>thứ Hai</b>"})
        assert "Gọi lại &lt;b&gt;thứ Hai&lt;/b&gt;" in page.text
        empty = await client.post(f"/console/signups/{sid}/note", data={"csrf": csrf, "note": "   "})
        assert "1000" in empty.text or "1,000" in empty.text
    assert [n.text for n in await store.signup_notes(sid)] == ["Gọi lại <b>thứ Hai</b>"]
    [entry] = await store.list_audit(action="signup.note")
    assert entry.details == {"length": len("Gọi lại <b>thứ Hai</b>"), "via": "console"}


async def test_export_of_the_current_filter_is_audited_and_neutralises_formulas(
    services: Services, store: Store
) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await add_signup(store, '=HYPERLINK("http://x")', "+84912345678")
    await add_signup(store, "Trần Thị Bình", "+84987654321")
    await add_signup(store, "Lê Văn Cường", "+84911111111", "hue")
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        xlsx = await client.post("/console/signups/export", data={"csrf": csrf, "fmt": "xlsx"})
        assert xlsx.status_code == 200
        assert "attachment" in xlsx.headers["content-disposition"]
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
        cells = [row[2] for row in sheet.iter_rows(min_row=2)]
        assert sorted(c.value for c in cells) == sorted(['=HYPERLINK("http://x")', "Trần Thị Bình"])  # no Huế
        assert {c.data_type for c in cells} == {"s"}  # text cells, never a formula
        csv = await client.post("/console/signups/export", data={"csrf": csrf, "fmt": "csv", "q": "Bình"})
        text = csv.content.decode("utf-8-sig")
        assert csv.content.startswith(b"\xef\xbb\xbf") and "Trần Thị Bình" in text and "HYPERLINK" not in text
    audits = await store.list_audit(action="signups.export")
    assert [(a.details["rows"], a.details["formats"], a.details["search"]) for a in audits] == [
        (1, ["csv"], True),
        (2, ["xlsx"], False),
    ]
    assert all(a.details["provinces"] == ["ha_noi"] and a.actor_id == org.id for a in audits)


async def test_answering_a_question_reaches_the_worker_on_their_channel(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    worker = await store.touch_user("zalo_bot", "w-55", language="vi")
    await store.submit_signup(
        __import__("storage.signups", fromlist=["x"]).SignupDraft(
            full_name="Nguyễn Văn An",
            phone_e164="+84912345678",
            workplace="Cty A",
            province_id="ha_noi",
            commune=None,
            source=__import__("storage.signups", fromlist=["x"]).SignupSource.SELF,
            volunteer_id=None,
            consent_version="v1",
            consent_lang="vi",
            consent_channel="zalo_bot",
            owner_id=worker.id,
        )
    )
    qid = await store.add_question(worker.id, "Công ty nợ lương 2 tháng thì làm sao?", "vi")
    elsewhere = await store.touch_user("telegram", "w-66", language="vi")
    other_q = await store.add_question(elsewhere.id, "Câu hỏi của người chưa đăng ký", "vi")
    registry = RecordingRegistry()
    async with client_for(console_app(services, registry)) as client:
        csrf = await sign_in(client, store, org)
        inbox = await client.get("/console/questions")
        assert "nợ lương" in inbox.text and "zalo_bot" in inbox.text and "912345678" not in inbox.text
        assert "chưa đăng ký" not in inbox.text.split("<main>")[1]  # the unplaced question is admins' only
        refused = await client.post(f"/console/questions/{other_q}/answer", data={"csrf": csrf, "answer": "x"})
        assert refused.status_code == 404
        done = await client.post(
            f"/console/questions/{qid}/answer", data={"csrf": csrf, "answer": "Bạn gửi đơn tới công đoàn cơ sở."}
        )
        assert done.status_code == 200 and f"#{qid}" in done.text
        twice = await client.post(f"/console/questions/{qid}/answer", data={"csrf": csrf, "answer": "Lần hai"})
        assert "đã được trả lời" in twice.text
        found = await client.post("/console/questions", data={"csrf": csrf, "status": "answered", "q": "công đoàn"})
        assert "nợ lương" in found.text and "Bạn gửi đơn" in found.text
    [(channel, user, reply)] = registry.sent
    assert (channel, user) == ("zalo_bot", "w-55") and "Bạn gửi đơn tới công đoàn cơ sở." in reply.text
    assert (await store.get_question(other_q)).status == "open"  # type: ignore[union-attr]
    [entry] = await store.list_audit(action="question.answer")
    assert entry.details == {"via": "console", "delivered": True}


async def signed_up_worker(store: Store, external_id: str, phone: str, province: str) -> int:
    from storage.signups import SignupDraft, SignupSource

    worker = await store.touch_user("telegram", external_id, language="vi")
    await store.submit_signup(
        SignupDraft(
            "Người hỏi", phone, "Cty A", province, None, SignupSource.SELF, None, "v1", "vi", "telegram", worker.id
        )
    )
    return worker.id


async def test_closing_a_question_without_an_answer(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    here = await signed_up_worker(store, "w-1", "+84912345678", "ha_noi")
    there = await signed_up_worker(store, "w-2", "+84987654321", "hue")
    dup = await store.add_question(here, "Hỏi lại lần nữa về tiền lương làm thêm", "vi")
    kept = await store.add_question(here, "Công ty không cho nghỉ phép năm", "vi")
    theirs = await store.add_question(there, "Câu hỏi ở Huế về bảo hiểm", "vi")
    registry = RecordingRegistry()
    async with client_for(console_app(services, registry)) as client:
        csrf = await sign_in(client, store, org)
        inbox = await client.get("/console/questions")
        assert f'action="/console/questions/{dup}/close"' in inbox.text
        assert (await client.post(f"/console/questions/{dup}/close", data={"reason": "spam"})).status_code == 403
        other = await client.post(f"/console/questions/{theirs}/close", data={"csrf": csrf, "reason": "spam"})
        assert other.status_code == 404
        no_reason = await client.post(f"/console/questions/{dup}/close", data={"csrf": csrf, "reason": "bored"})
        assert "Hãy chọn lý do" in no_reason.text
        assert (await store.get_question(dup)).status == "open"  # type: ignore[union-attr]
        closed = await client.post(f"/console/questions/{dup}/close", data={"csrf": csrf, "reason": "duplicate"})
        assert closed.status_code == 200 and f"Đã đóng câu hỏi #{dup}" in closed.text
        assert "tiền lương làm thêm" not in closed.text and "nghỉ phép năm" in closed.text  # the open list
        again = await client.post(f"/console/questions/{dup}/close", data={"csrf": csrf, "reason": "spam"})
        assert "đã đóng" in again.text
        late = await client.post(f"/console/questions/{dup}/answer", data={"csrf": csrf, "answer": "Muộn"})
        assert "đã đóng" in late.text
        found = await client.post("/console/questions", data={"csrf": csrf, "status": "closed", "q": "làm thêm"})
        main = found.text.split("<main>")[1]
        assert "tiền lương làm thêm" in main and "Đã đóng, không trả lời" in main and "trùng câu hỏi khác" in main
        assert "nghỉ phép năm" not in main and f"/console/questions/{dup}/answer" not in main
        handled = await client.post("/console/questions", data={"csrf": csrf, "status": "handled"})
        assert "tiền lương làm thêm" in handled.text and "nghỉ phép năm" not in handled.text.split("<main>")[1]
    assert registry.sent == []  # closing sends the worker nothing
    assert (await store.get_question(theirs)).status == "open"  # type: ignore[union-attr]
    assert [q.id for q in await store.list_open_questions(provinces={"ha_noi"})] == [kept]
    [entry] = await store.list_audit(action="question.close")
    assert (entry.actor_id, entry.target, entry.details) == (
        org.id,
        f"question:{dup}",
        {"via": "console", "reason": "duplicate"},
    )


async def test_overview_counts_per_province_in_scope(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await add_signup(store, "A", "+84912345678")
    await add_signup(store, "B", "+84987654321")
    await add_signup(store, "C", "+84911111111", "hue")
    await store.set_signup_target("ha_noi", local_now().year, 8, None)
    async with client_for(console_app(services)) as client:
        await sign_in(client, store, org)
        html = (await client.get("/console/")).text
    assert "Hà Nội" in html and "Huế" not in html.split("<main>")[1]
    assert "25.0%" in html and 'class="fill w20"' in html  # the target's bar
    assert html.count("<svg") == 1 and html.count('<rect class="col"') == 12  # one chart, a bar per week


BAR = re.compile(
    r'<rect class="col" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"'
    r' data-week="([\d-]+)" data-count="(\d+)">'
)


async def test_overview_draws_each_provinces_weeks_as_an_svg_bar_chart(services: Services, store: Store) -> None:
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from bot.console.charts import BOTTOM, HEIGHT, PLOT_HEIGHT
    from bot.console.security import CSP
    from storage.signups import SignupDraft, SignupSource

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    today = datetime.now(tz).date()
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=i) for i in range(11, -1, -1)]
    # Weeks ago -> sign-ups, dated on paper (an import keeps the date it is given).
    wanted = {"ha_noi": {0: 3, 2: 1, 5: 6}, "hue": {1: 4}}
    rows, n = [], 0
    for province, weeks in wanted.items():
        for ago, count in weeks.items():
            for _ in range(count):
                n += 1
                draft = SignupDraft(
                    f"Người {n}",
                    f"+8491234{n:04d}",
                    "Cty",
                    province,
                    None,
                    SignupSource.COLLECTED,
                    None,
                    "paper:x",
                    "vi",
                    "paper",
                    None,
                )
                rows.append((draft, datetime.combine(mondays[11 - ago], time(1, 0), tz)))
    await store.import_signups(rows)
    admin = await person(store, "1", Role.ADMIN)
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    app = console_app(services)
    async with client_for(app) as as_admin, client_for(app) as as_org:
        await sign_in(as_admin, store, admin)
        await sign_in(as_org, store, org)
        everything = (await as_admin.get("/console/")).text
        page = await as_org.get("/console/")
    html = page.text
    # The organizer sees one chart, of their province; the admin the sum and each province.
    assert html.count("<svg") == 1 and 'id="weeks-ha_noi"' in html and "weeks-hue" not in html
    assert [m for m in re.findall(r'<svg class="chart" id="([\w-]+)"', everything)] == [
        "weeks-all",
        "weeks-ha_noi",
        "weeks-hue",
    ]
    chart = html.split('id="weeks-ha_noi"')[1].split("</svg>")[0]
    assert 'role="img"' in html and '<title id="weeks-ha_noi-title">Đăng ký mỗi tuần: Hà Nội</title>' in html
    bars = BAR.findall(chart)
    assert [b[2] for b in bars] == [m.isoformat() for m in mondays]
    counts = [int(b[3]) for b in bars]
    assert counts == [0] * 6 + [6, 0, 0, 1, 0, 3]
    base = HEIGHT - BOTTOM
    for y, height, _, count in bars:  # the busiest week fills the plot; the others in proportion
        assert abs(float(height) - PLOT_HEIGHT * int(count) / 6) <= 0.1
        assert abs(float(y) + float(height) - base) <= 0.1
    labels = re.findall(r'<text class="label"[^>]*>([^<]+)</text>', chart)
    assert labels == [m.strftime("%d/%m") for m in mondays]
    assert re.findall(r'<text class="tick"[^>]*>(\d+)</text>', chart) == ["0", "3", "6"]
    assert f"Tuần từ {mondays[6].strftime('%d/%m/%Y')}: 6 đăng ký" in chart  # the data as text, for screen readers
    all_chart = everything.split('id="weeks-all"')[1].split("</svg>")[0]
    assert [int(b[3]) for b in BAR.findall(all_chart)] == [0] * 6 + [6, 0, 0, 1, 4, 3]
    # Nothing the Content-Security-Policy would block: no inline script or style.
    assert "style-src 'self'" in CSP and page.headers["content-security-policy"] == CSP
    assert "<script>" not in html and " style=" not in html and "<style" not in html


async def test_targets_are_set_within_scope_and_progress_shows_by_month_and_source(
    services: Services, store: Store
) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    await add_signup(store, "A", "+84912345678")
    year = local_now().year
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        page = await client.get("/console/targets")
        assert page.status_code == 200 and "Hà Nội" in page.text and f"Tháng {local_now().month}" in page.text
        saved = await client.post(
            "/console/targets", data={"csrf": csrf, "province": "ha_noi", "target": "1.000", "year": str(year)}
        )
        assert "Đã lưu chỉ tiêu" in saved.text and "0.1%" in saved.text
        refused = await client.post(
            "/console/targets", data={"csrf": csrf, "province": "hue", "target": "50", "year": str(year)}
        )
        assert "số nguyên dương" in refused.text
    assert await store.signup_targets(year) == {"ha_noi": 1000}
    [entry] = await store.list_audit(action="signups.target")
    assert entry.target == "province:ha_noi" and entry.details["via"] == "console"


async def test_targets_count_paper_imports_as_their_own_source(services: Services, store: Store) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from handlers.join.common import load_progress, progress, year_bounds
    from storage.signups import SignupDraft, SignupSource

    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    volunteer = await person(store, "200", Role.VOLUNTEER)
    await store.create_volunteer_code(volunteer.id, "v_hoa")
    await add_signup(store, "Tự đăng ký", "+84911000001")
    for i, source in enumerate((SignupSource.REFERRAL, SignupSource.REFERRAL, SignupSource.COLLECTED), 2):
        await store.submit_signup(
            SignupDraft(
                f"Người {i}",
                f"+8491100000{i}",
                "Cty",
                "ha_noi",
                None,
                source,
                volunteer.id,
                "v1",
                "vi",
                "telegram",
                None,
            )
        )
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y")
    sheet = "Họ tên,Số điện thoại,Nơi làm việc,Tỉnh/thành phố,Ngày đăng ký\n" + "".join(
        f"Công nhân {name},0912 000 00{i},Công ty May 10,Hà Nội,{today}\n"
        for i, name in enumerate(("An", "Bình", "Cường", "Dung"), 1)
    )
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        preview = await client.post(
            "/console/import/preview", data={"csrf": csrf}, files={"file": ("gate.csv", sheet.encode(), "text/csv")}
        )
        key = re.search(r'name="key" value="([^"]+)"', preview.text)
        assert key
        await client.post("/console/import/confirm", data={"csrf": csrf, "key": key.group(1)})
        page = (await client.get("/console/targets")).text
    sources = dict(re.findall(r'<tr id="source-(\w+)"><th>[^<]+</th><td>(\d+)</td></tr>', page))
    assert sources == {"self": "1", "referral": "2", "collected": "1", "paper": "4"}
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        # The sign-ups list filters paper imports apart from what volunteers collected,
        # and names them as such in the list.
        paper = (await client.post("/console/signups", data={"csrf": csrf, "source": "paper"})).text
        collected = (await client.post("/console/signups", data={"csrf": csrf, "source": "collected"})).text
    assert len(ids(paper)) == 4 and "Công nhân An" in paper and "Người 4" not in paper
    assert paper.count("<td>nhập từ giấy</td>") == 4
    assert ids(collected) and "Người 4" in collected and "Công nhân" not in collected
    assert '<option value="paper" selected>' in paper
    assert '<tr id="source-paper"><th>nhập từ giấy</th>' in page
    # The four paper rows are nobody's: not a volunteer who left, not v_hoa's.
    assert re.search(r"v_hoa</td><td>3</td>", page) and "Mã cộng tác viên —" not in page
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    year = datetime.now(tz).year
    counted = await load_progress(store, provinces={"ha_noi"}, year=year, tz=tz)
    assert (counted.total, counted.self_count, counted.paper_count) == (8, 1, 4)
    assert counted.by_volunteer == {"v_hoa": [2, 1]}
    # Counting in SQL and counting each sign-up agree on paper imports too.
    start, end = year_bounds(year, tz)
    facts = await store.signup_facts(provinces={"ha_noi"}, since=start, until=end)
    assert sum(f.paper for f in facts) == 4 and progress(facts, year=year, tz=tz) == counted


async def test_the_audit_log_is_for_admins_only(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    admin = await person(store, "1", Role.ADMIN)
    sid = await add_signup(store, "<b>An</b>", "+84912345678")
    app = console_app(services)
    async with client_for(app) as as_org, client_for(app) as as_admin:
        await sign_in(as_org, store, org)
        await as_org.get(f"/console/signups/{sid}")
        assert (await as_org.get("/console/audit")).status_code == 404
        await sign_in(as_admin, store, admin)
        page = await as_admin.get("/console/audit")
        assert page.status_code == 200
        assert "signup.view" in page.text and "telegram:100" in page.text and "console.signin" in page.text
        only = await as_admin.get("/console/audit", params={"action": "signup.view"})
        assert "console.signin" not in only.text.split("<tbody>")[1]


async def test_english_switch_is_a_post_and_sticks(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        switched = await client.post("/console/lang", data={"csrf": csrf, "lang": "en", "back": "/console/signups"})
        assert switched.status_code == 303 and switched.headers["location"] == "/console/signups"
        assert "Sign-ups" in (await client.get("/console/signups")).text
        away = await client.post("/console/lang", data={"csrf": csrf, "lang": "vi", "back": "https://evil.example"})
        assert away.headers["location"] == "/console/"  # never an open redirect
    assert (await store.get_user(org.id)).language == "vi"  # type: ignore[union-attr]  # the chat's language stays


QUESTION_IDS = re.compile(r'<article class="question" id="q(\d+)">')


def question_ids(html: str) -> list[int]:
    return [int(x) for x in QUESTION_IDS.findall(html)]


async def test_the_inbox_runs_oldest_first_and_pages_past_fifty(services: Services, store: Store) -> None:
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    asker = await signed_up_worker(store, "w-1", "+84912345678", "ha_noi")
    away = await signed_up_worker(store, "w-2", "+84987654321", "hue")
    made = [await store.add_question(asker, f"Câu hỏi số {i}", "vi") for i in range(120)]
    await store.add_question(away, "Câu hỏi ở Huế", "vi")  # another province: never listed
    handled = made[:55]
    for qid in handled:
        await store.answer_question(qid, org.id, "Đã trả lời")
    still_open = made[55:]
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        first = (await client.get("/console/questions")).text
        assert question_ids(first) == still_open[:50]  # whoever has waited longest first
        assert 'id="next"' in first and "Về trang đầu" not in first
        cursor = re.search(r'name="cursor" value="(\d+)"', first)
        assert cursor and int(cursor.group(1)) == still_open[49]
        second = await client.post(
            "/console/questions", data={"csrf": csrf, "status": "open", "cursor": cursor.group(1)}
        )
        assert question_ids(second.text) == still_open[50:65]
        assert 'id="next"' not in second.text and 'href="/console/questions">Về trang đầu' in second.text
        # Handled questions page too, newest first, keeping the filter and the search.
        answered = await client.post("/console/questions", data={"csrf": csrf, "status": "answered", "q": "số"})
        assert question_ids(answered.text) == handled[::-1][:50]
        assert '<input type="hidden" name="status" value="answered">' in answered.text
        assert '<input type="hidden" name="q" value="số">' in answered.text
        cursor = re.search(r'name="cursor" value="(\d+)"', answered.text)
        assert cursor and int(cursor.group(1)) == handled[5]
        rest = await client.post(
            "/console/questions", data={"csrf": csrf, "status": "answered", "q": "số", "cursor": cursor.group(1)}
        )
        assert question_ids(rest.text) == handled[4::-1]
        assert 'id="next"' not in rest.text


ROW = re.compile(
    r"<td>Hà Nội</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>.*?<td>(\d+)</td><td>([^<]*)</td>\s*</tr>", re.S
)


async def test_overview_counts_weeks_year_joined_and_questions_waiting(
    services: Services, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, date, datetime, time, timedelta

    import storage.sqlite.questions as sqlite_questions
    from storage.signups import SignupDraft, SignupSource, SignupStatus

    now = local_now()
    today = now.date()
    monday = today - timedelta(days=today.weekday())
    new_year = date(today.year, 1, 1)

    def paper(n: int, province: str = "ha_noi") -> SignupDraft:
        return SignupDraft(
            f"Người {n}",
            f"+8491234{n:04d}",
            "Cty",
            province,
            None,
            SignupSource.COLLECTED,
            None,
            "v1",
            "vi",
            "paper",
            None,
        )

    dated = [(paper(1), now), (paper(2), now), (paper(3, "hue"), now)]  # this week
    earlier_this_year = monday > new_year  # not in the first days of January, when there are none
    if earlier_this_year:
        dated.append((paper(4), datetime.combine(new_year, time(12), now.tzinfo)))
    dated.append((paper(5), datetime.combine(date(today.year - 1, 6, 1), time(12), now.tzinfo)))  # last year
    await store.import_signups(dated)
    [joined] = [s for s in await store.export_signups(provinces={"ha_noi"}) if s.full_name == "Người 2"]
    await store.set_signup_status(joined.id, SignupStatus.JOINED)
    org = await person(store, "100", Role.ORGANIZER, ("ha_noi", "hue"))
    # Two askers signed up in Hà Nội this week (they count as sign-ups too), one in Huế.
    asker = await signed_up_worker(store, "w-1", "+84911000001", "ha_noi")
    second = await signed_up_worker(store, "w-2", "+84911000002", "ha_noi")
    hue = await signed_up_worker(store, "w-3", "+84911000003", "hue")
    # The oldest question has waited three days and five hours: the store dates it then.
    asked = datetime.now(UTC) - timedelta(days=3, hours=5)
    monkeypatch.setattr(sqlite_questions, "_now", lambda: asked.isoformat(timespec="microseconds"))
    await store.add_question(asker, "Câu hỏi cũ nhất", "vi")
    monkeypatch.undo()
    await store.add_question(second, "Câu hỏi mới", "vi")
    done = await store.add_question(asker, "Câu hỏi đã trả lời", "vi")
    await store.answer_question(done, org.id, "Đã trả lời")
    await store.add_question(hue, "Câu hỏi ở Huế", "vi")
    async with client_for(console_app(services)) as client:
        await sign_in(client, store, org)
        html = (await client.get("/console/")).text
    row = ROW.search(html)
    assert row, html
    week, year, joined_count, waiting, oldest = row.groups()
    assert (int(week), int(year), int(joined_count)) == (4, 5 if earlier_this_year else 4, 1)
    assert (int(waiting), oldest) == (2, "3 ngày")
    assert re.search(r"<td>Huế</td><td>2</td><td>2</td><td>0</td>", html)
    assert re.search(r'<tfoot><tr><th>Cộng</th><td colspan="5"></td><td>3</td>', html)  # waiting in all


async def test_the_volunteer_filter_finds_exactly_that_volunteers_signups(services: Services, store: Store) -> None:
    from storage.signups import SignupDraft, SignupSource

    org = await person(store, "100", Role.ORGANIZER, ("ha_noi",))
    hoa = await person(store, "200", Role.VOLUNTEER)
    nam = await person(store, "201", Role.VOLUNTEER)
    await store.create_volunteer_code(hoa.id, "v_hoa")
    await store.create_volunteer_code(nam.id, "v_nam")
    await add_signup(store, "Tự đăng ký", "+84911000001")
    made: dict[int, list[int]] = {hoa.id: [], nam.id: []}
    for i, (volunteer, source, province) in enumerate(
        [
            (hoa, SignupSource.REFERRAL, "ha_noi"),
            (nam, SignupSource.REFERRAL, "ha_noi"),
            (hoa, SignupSource.COLLECTED, "ha_noi"),
            (hoa, SignupSource.REFERRAL, "hue"),  # hers, but outside the organizer's provinces
        ],
        2,
    ):
        result = await store.submit_signup(
            SignupDraft(
                f"Người {i}",
                f"+8491100000{i}",
                "Cty",
                province,
                None,
                source,
                volunteer.id,
                "v1",
                "vi",
                "telegram",
                None,
            )
        )
        assert result is not None
        if province == "ha_noi":
            made[volunteer.id].append(result.signup_id)
    async with client_for(console_app(services)) as client:
        csrf = await sign_in(client, store, org)
        page = (await client.post("/console/signups", data={"csrf": csrf, "volunteer": "v_hoa"})).text
        assert sorted(ids(page)) == sorted(made[hoa.id])
        assert '<input type="text" name="volunteer" value="v_hoa"' in page  # the filter is kept
        assert "2 đăng ký khớp" in page
        nam_page = (await client.post("/console/signups", data={"csrf": csrf, "volunteer": "v_nam"})).text
        assert ids(nam_page) == made[nam.id]
