"""The web console's sign-ups page at a federation's size: 200,000 sign-ups, 20,000 questions.

Measures server time (ASGI in process, httpx.ASGITransport: no sockets, no browser) for
the sign-ups page with a search and a filter, as an admin (all 34 provinces) and as an
organizer of 3 provinces, against a bare baseline in the same run: the console's static
stylesheet (routing, middleware, security headers, no session, no query). Also the export
of about 50,000 rows of the current filter through the export worker process (as the bot
runs it; the first export includes starting that process), with the bot process's peak
memory before and after.

    python3 dev.py bench bench/bench_console.py [SIGNUPS] [REPEATS]

Target (issue 10): p95 <= 150 ms for the page with a search and a filter at 200,000.
"""

from __future__ import annotations

import asyncio
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale_seed import seed_rows  # noqa: E402
from bot.console import app as console_app_module  # noqa: E402
from bot.console.app import console_mount  # noqa: E402
from bot.export_worker import ProcessExporter  # noqa: E402
from handlers.console import issue_link  # noqa: E402
from handlers.context import Services, Settings  # noqa: E402
from handlers.i18n import load_catalog  # noqa: E402
from storage import Role  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def add_questions_and_statuses(path: Path, questions: int) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE signups SET status = 'contacted' WHERE id % 5 = 0")
        db.execute("UPDATE signups SET status = 'joined' WHERE id % 13 = 0")
        now = datetime.now(UTC)
        db.executemany(
            "INSERT INTO users (id, channel, external_id, language, created_at, last_seen_at)"
            " VALUES (?, 'telegram', ?, 'vi', ?, ?)",
            [(5_000_000 + i, str(5_000_000 + i), now.isoformat(), now.isoformat()) for i in range(questions)],
        )
        db.executemany(
            "INSERT INTO questions (user_id, lang, text, status, created_at) VALUES (?, 'vi', ?, ?, ?)",
            [
                (
                    5_000_000 + i,
                    f"Câu hỏi số {i} về lương và bảo hiểm xã hội",
                    "open" if i % 4 == 0 else "answered",
                    (now - timedelta(minutes=i)).isoformat(),
                )
                for i in range(questions)
            ],
        )
    db.close()


async def sign_in(
    client: httpx.AsyncClient, store: SQLiteStore, external_id: str, role: Role, provinces: tuple[str, ...]
) -> str:
    user = await store.touch_user("telegram", external_id, language="vi")
    await store.set_role(user.id, role)
    if provinces:
        await store.add_organizer_provinces(user.id, provinces, granted_by=None)
    fresh = await store.get_user(user.id)
    assert fresh is not None
    token = await issue_link(store, fresh)
    page = await client.get(f"/console/login/{token}")
    m = CSRF.search(page.text)
    assert m
    r = await client.post("/console/login", data={"csrf": m.group(1), "token": token})
    assert r.status_code == 303, r.text
    m = CSRF.search((await client.get("/console/signups")).text)
    assert m
    return m.group(1)


async def timed(
    client: httpx.AsyncClient, repeats: int, method: str, url: str, data: dict[str, str] | None = None
) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = await (client.post(url, data=data) if method == "POST" else client.get(url))
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return times


def line(name: str, times: list[float], base: float) -> str:
    p50 = statistics.median(times)
    p95 = sorted(times)[max(int(len(times) * 0.95) - 1, 0)]
    return f"  {name:<58} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({p95 / base:5.1f}x baseline p95)"


async def main(signups: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="unionbot-bench-console-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        t0 = time.perf_counter()
        async with SQLiteStore(path):  # migrate first; the seed writes by bulk SQL
            pass
        seed_rows(path, signups)
        add_questions_and_statuses(path, 20_000)
        print(f"seeded {signups:,} sign-ups and 20,000 questions in {time.perf_counter() - t0:.1f} s")
        async with SQLiteStore(path) as store:
            services = Services(store, load_catalog(), Settings())
            # As the bot runs it: exports are written by the export worker process.
            worker = ProcessExporter(str(path))
            services.exporter = worker
            from starlette.applications import Starlette

            # The bench fires requests back to back, as no person does: the per-session
            # request limit would answer 429 and the figures would time the refusal.
            console_app_module.SESSION_REQUESTS_PER_MINUTE = 10**9
            app = Starlette(routes=[console_mount(services, None)])
            transport = httpx.ASGITransport(app=app)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://bench") as admin,
                httpx.AsyncClient(transport=transport, base_url="http://bench") as org,
            ):
                a = await sign_in(admin, store, "1", Role.ADMIN, ())
                o = await sign_in(org, store, "2", Role.ORGANIZER, ("ha_noi", "hue", "quang_ninh"))
                base = await timed(admin, repeats, "GET", "/console/static/console.css")
                base_p95 = sorted(base)[max(int(len(base) * 0.95) - 1, 0)]
                print(
                    f"machine: {sys.platform} {__import__('platform').machine()}, "
                    f"{__import__('os').cpu_count()} cores; {repeats} requests each"
                )
                print(line("baseline: static stylesheet (no session, no query)", base, base_p95))
                cases = [
                    (admin, "admin: first page, no filter", {"csrf": a}),
                    (
                        admin,
                        "admin: name search 'Thị Lan' + status contacted",
                        {"csrf": a, "q": "Thị Lan", "status": "contacted"},
                    ),
                    (admin, "admin: phone '0900 012 345' (any format)", {"csrf": a, "q": "0900 012 345"}),
                    (
                        admin,
                        "admin: workplace 'samsung' + province + dates",
                        {
                            "csrf": a,
                            "q": "samsung",
                            "province": "ha_noi",
                            "since": f"{datetime.now().year}-02-01",
                            "until": f"{datetime.now().year}-06-30",
                        },
                    ),
                    (
                        admin,
                        "admin: sorted by name, page 2",
                        {"csrf": a, "sort": "name", "after_id": "100", "after_name": "Lê Thị Bình"},
                    ),
                    (
                        org,
                        "organizer (3 provinces): name search + status joined",
                        {"csrf": o, "q": "Văn Nam", "status": "joined"},
                    ),
                    (
                        org,
                        "organizer: source referral, page after id 150000",
                        {"csrf": o, "source": "referral", "after_id": "150000"},
                    ),
                ]
                worst = 0.0
                for client, name, data in cases:
                    times = await timed(client, repeats, "POST", "/console/signups", data)
                    worst = max(worst, sorted(times)[max(int(len(times) * 0.95) - 1, 0)])
                    print(line(name, times, base_p95))
                q_times = await timed(admin, repeats, "GET", "/console/questions")
                print(line("admin: questions inbox (5,000 open of 20,000)", q_times, base_p95))
                print(f"worst sign-ups page p95: {worst:.1f} ms (target <= 150 ms)")

                # Export about 50,000 rows: an organizer of 9 provinces (200,000 / 34 each).
                nine = (
                    "ha_noi",
                    "hue",
                    "quang_ninh",
                    "thanh_hoa",
                    "nghe_an",
                    "lang_son",
                    "son_la",
                    "lai_chau",
                    "dien_bien",
                )
                await store.add_organizer_provinces(
                    (await store.find_user("telegram", "2")).id,  # type: ignore[union-attr]
                    nine,
                    granted_by=None,
                )
                rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                for fmt in ("csv", "xlsx"):
                    t0 = time.perf_counter()
                    r = await org.post("/console/signups/export", data={"csrf": o, "fmt": fmt})
                    took = time.perf_counter() - t0
                    rows = (await store.list_audit(action="signups.export", limit=1))[0].details["rows"]
                    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                    print(
                        f"export {fmt}: {rows:,} rows, {len(r.content) / 1e6:.1f} MB in {took:.2f} s "
                        f"(target <= 10 s); peak RSS of the bot's process {rss0:.0f} -> {rss:.0f} MB"
                    )
            worker.close()


async def bench_import(rows: int) -> None:
    """A 10,000-row paper sheet: checked row by row (the chat form's validators), then stored."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from handlers.join.importer import plan_import, read_table

    lines = ["Họ tên,Số điện thoại,Nơi làm việc,Tỉnh/thành phố,Xã/phường/KCN,Ngày đăng ký"]
    lines += [
        f"Nguyễn Văn {chr(65 + i % 26)}{chr(97 + i // 26 % 26)},0912{i:06d},Công ty May {i % 50},Hà Nội,"
        "KCN Thăng Long,15/11/2026"
        for i in range(rows)
    ]
    data = "\n".join(lines).encode("utf-8")
    with tempfile.TemporaryDirectory(prefix="unionbot-bench-import-") as tmp:
        async with SQLiteStore(Path(tmp) / "import.sqlite3") as store:
            t0 = time.perf_counter()
            plan = plan_import(
                read_table(data, "sheet.csv"),
                scope=None,
                tz=ZoneInfo("Asia/Ho_Chi_Minh"),
                lang="vi",
                today=date(2026, 12, 3),
            )
            t1 = time.perf_counter()
            outcome = await store.import_signups([(r.draft, r.signed_at) for r in plan.rows])
            t2 = time.perf_counter()
    print(
        f"import {rows:,} rows: checked in {t1 - t0:.2f} s, stored {outcome.created:,} in {t2 - t1:.2f} s, "
        f"total {t2 - t0:.2f} s (target <= 15 s); {len(plan.problems)} problems"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, int(sys.argv[2]) if len(sys.argv) > 2 else 40))
    asyncio.run(bench_import(10_000))
