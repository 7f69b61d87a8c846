"""Sign-up search on 2,000,000 rows on PostgreSQL (issue 12): target p95 <= 50 ms.

A fresh PostgreSQL database (tests.conftest.postgres_database) gets N sign-ups written
set-based in one INSERT ... SELECT generate_series, with the product's indexes in place:
Vietnamese names (surnames by their real frequency, Nguyễn about 38%; middle and given
names by sex, 60% women as in garment and footwear), distinct mobile numbers on the
carriers' prefixes, workplaces skewed towards a few large employers (Pouyuen, Samsung,
...) over 3,000 smaller ones, each workplace in a home province (the 34 provinces
weighted towards the industrial ones) where nine in ten of its workers live, two years
of dates. Then VACUUM ANALYZE, as autovacuum would have done on a live server
(this machine's server runs with autovacuum off).

Searches go through the organizers' console exactly: the console's own `_query` turns
the search box into a SignupQuery (a whole mobile number becomes an exact number
lookup; anything else, a phone fragment included, is matched against name and
workplace), then the page's two store calls, `search_signups(limit=51)` and
`count_signups(cap=5000)`. Each search runs as an admin (every province) and as an
organizer of one province (the number's province for a phone; the company's home
province four times in five; any province for a name). Kinds: name fragments, whole
phone numbers, phone fragments, company names. p50/p95/max per kind, for the search
call and for the page's two calls.

    python3 dev.py bench bench/bench_pg_signup_search.py [--rows 2000000] [--searches 300]
        [--keep URL]   # seed into (or reuse) this database instead of a fresh one
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.console.app import COUNT_CAP, PAGE_SIZE, Console  # noqa: E402
from storage.postgres import PostgresStore  # noqa: E402
from tests.conftest import postgres_database  # noqa: E402

TARGET_MS = 50.0
PROVINCES = json.loads((ROOT / "handlers/join/data/provinces.json").read_text(encoding="utf-8"))["provinces"]
PROVINCE_WEIGHT = {  # industrial provinces hold most sign-ups; the rest weigh 1
    "ho_chi_minh": 14,
    "dong_nai": 9,
    "bac_ninh": 8,
    "ha_noi": 8,
    "hai_phong": 6,
    "tay_ninh": 5,
    "thai_nguyen": 4,
    "hung_yen": 4,
    "phu_tho": 3,
    "quang_ninh": 3,
    "da_nang": 3,
    "thanh_hoa": 3,
    "nghe_an": 2,
    "can_tho": 2,
    "vinh_long": 2,
    "an_giang": 2,
}
SURNAMES = {  # per mille, roughly as in Vietnam
    "Nguyễn": 380,
    "Trần": 110,
    "Lê": 95,
    "Phạm": 70,
    "Hoàng": 30,
    "Huỳnh": 21,
    "Phan": 45,
    "Vũ": 20,
    "Võ": 19,
    "Đặng": 21,
    "Bùi": 20,
    "Đỗ": 14,
    "Hồ": 13,
    "Ngô": 13,
    "Dương": 10,
    "Lý": 5,
    **dict.fromkeys("Đinh Trương Lâm Mai Tô Hà Tạ Cao Lương Lưu Đào Châu Đoàn Vương Trịnh Kiều Thái Lại".split(), 6),
}
MIDDLE_F = "Thị Thị Thị Thị Thị Ngọc Thu Thanh Kim Thúy Minh Hồng Phương Bảo Mỹ Khánh Thị_Thu Thị_Ngọc Thị_Kim".split()
MIDDLE_M = "Văn Văn Văn Văn Hữu Đức Minh Quốc Công Thanh Xuân Ngọc Anh Tuấn Hoàng Trọng Quang Đình Văn_Minh".split()
GIVEN_F = (
    "Anh Chi Diệp Dung Duyên Giang Hà Hạnh Hằng Hiền Hoa Hồng Huệ Hương Huyền Lan Liên Linh Loan Ly Mai My Nga"
    " Ngân Ngọc Nhung Nhi Oanh Phương Quyên Quỳnh Tâm Thảo Thơ Thu Thủy Trang Trinh Tuyết Vân Xuân Yến Nhàn Lụa"
).split()
GIVEN_M = (
    "An Bình Cường Dũng Duy Đạt Đức Hải Hiếu Hoàng Hùng Huy Khánh Khoa Kiên Lâm Long Mạnh Minh Nam Nghĩa Phong"
    " Phúc Quân Quang Sơn Tài Thắng Thành Thịnh Toàn Trung Tuấn Tùng Việt Vinh Vũ Lực Tiến"
).split()
PREFIXES = "32 33 34 35 36 37 38 39 70 76 77 78 79 81 82 83 84 85 86 88 90 91 93 94 96 97 98".split()
BIG_EMPLOYERS = {  # name: its home province
    "Công ty TNHH Pouyuen Việt Nam": "ho_chi_minh",
    "Công ty TNHH Samsung Electronics Việt Nam": "bac_ninh",
    "Công ty TNHH Samsung Electronics Việt Nam Thái Nguyên": "thai_nguyen",
    "Công ty TNHH Khoa học Kỹ thuật Hồng Hải (Foxconn)": "bac_ninh",
    "Công ty TNHH Canon Việt Nam": "ha_noi",
    "Công ty TNHH Changshin Việt Nam": "dong_nai",
    "Công ty TNHH Hansae Việt Nam": "tay_ninh",
    "Công ty TNHH LG Display Việt Nam Hải Phòng": "hai_phong",
    "Công ty TNHH Freetrend Industrial Việt Nam": "ho_chi_minh",
    "Công ty TNHH Taekwang Vina Industrial": "dong_nai",
    "Công ty CP May Việt Tiến": "ho_chi_minh",
    "Tổng Công ty May 10 - CTCP": "ha_noi",
    "Công ty CP Giày Thượng Đình": "ha_noi",
    "Công ty TNHH Nidec Việt Nam": "ho_chi_minh",
    "Công ty TNHH Luxshare-ICT Việt Nam": "bac_ninh",
    "Công ty TNHH Regina Miracle International Việt Nam": "hai_phong",
    "Công ty TNHH Scavi Huế": "hue",
    "Công ty TNHH Intel Products Việt Nam": "ho_chi_minh",
}
KINDS = ["Công ty TNHH", "Công ty CP", "Công ty TNHH MTV", "Xí nghiệp", "Nhà máy"]
TRADES = (
    "May mặc;May;Giày da;Điện tử;Linh kiện điện tử;Cơ khí;Thực phẩm;Chế biến thủy sản;Dệt;Sợi;Gỗ;Nội thất;Nhựa;"
    "Bao bì;Thép;Xây dựng;Vận tải;Logistics;Dược phẩm;Hóa chất"
).split(";")
BRANDS = (
    "Hưng Phát;Thành Công;Phú Thịnh;Tân Đức;An Phước;Hòa Bình;Minh Anh;Việt Hưng;Đại Phát;Thiên Long;Trường Sơn;"
    "Sao Mai;Hoàng Gia;Phúc An;Kim Long;Đông Á;Nam Việt;Bắc Hà;Hồng Hà;Quang Minh;Tiến Thành;Vạn Xuân;Hải Âu;"
    "Ánh Dương;Bình Minh;Toàn Thắng;Hữu Nghị;Thăng Long;Sông Hồng;Cửu Long"
).split(";")
COMPANY_QUERIES = [
    "Pouyuen",
    "Samsung",
    "samsung thái nguyên",
    "Canon",
    "Foxconn",
    "Hồng Hải",
    "Changshin",
    "May Việt Tiến",
    "May 10",
    "Giày Thượng Đình",
    "Taekwang",
    "Luxshare",
    "giày da",
    "thủy sản",
    "May Hưng Phát",
    "TNHH Phú Thịnh",
    "Điện tử Sao Mai",
    "Xí nghiệp Gỗ",
    "Nhà máy Thép Thăng Long",
    "Dược phẩm Hữu Nghị",
    "Logistics Đông Á",
    "cơ khí",
    "Bao bì Ánh Dương",
    "Nội thất Cửu Long",
    "Công ty CP Dệt Bình Minh",
]


def weighted(weights: dict[str, int]) -> list[str]:
    """An array in which each value appears `weight` times: a weighted pick in SQL is
    then an index of a uniform random number."""
    return [value for value, weight in weights.items() for _ in range(weight)]


def workplaces() -> tuple[list[str], list[str]]:
    """(workplaces, the home province of each): the big employers first (the seed's skewed
    pick favours low indexes), then 3,000 more, each in a province drawn by weight."""
    rnd = random.Random(7)
    rest = [f"{k} {t} {b}" for k in KINDS for t in TRADES for b in BRANDS]
    rnd.shuffle(rest)
    provinces = weighted({p["id"]: PROVINCE_WEIGHT.get(p["id"], 1) for p in PROVINCES})
    homes = list(BIG_EMPLOYERS.values()) + [rnd.choice(provinces) for _ in rest]
    return list(BIG_EMPLOYERS) + rest, homes


def phone_of(g: int) -> str:
    """Row g's number, as the seed writes it: unique per row (7919 is prime to 10^7)."""
    prefix = PREFIXES[g % len(PREFIXES)]
    return f"+84{prefix}{(g // len(PREFIXES) * 7919 + 1234567) % 10_000_000:07d}"


SEED_SQL = """
INSERT INTO signups (full_name, phone_e164, workplace, province_id, source, consent_version, consent_lang,
                     consent_channel, consent_at, status, created_at, updated_at, last_contact_at)
SELECT name, phone, ($7::text[])[w], prov, src, 'v1', 'vi', ch, at, st, at, at, at FROM (
  SELECT
    w,
    ($1::text[])[1 + floor(r1 * cardinality($1::text[]))::int] || ' ' ||
      replace(CASE WHEN female THEN ($2::text[])[1 + floor(r2 * cardinality($2::text[]))::int]
                   ELSE ($3::text[])[1 + floor(r2 * cardinality($3::text[]))::int] END, '_', ' ') || ' ' ||
      CASE WHEN female THEN ($4::text[])[1 + floor(r3 * cardinality($4::text[]))::int]
           ELSE ($5::text[])[1 + floor(r3 * cardinality($5::text[]))::int] END AS name,
    '+84' || ($6::text[])[1 + g % cardinality($6::text[])]
          || lpad(((g / cardinality($6::text[])) * 7919 + 1234567) % 10000000 || '', 7, '0') AS phone,
    -- nine in ten work in their workplace's province
    CASE WHEN r5 < 0.9 THEN ($8::text[])[w]
         ELSE ($9::text[])[1 + floor(r8 * cardinality($9::text[]))::int] END AS prov,
    (ARRAY['self', 'self', 'self', 'referral', 'collected'])[1 + floor(r6 * 5)::int] AS src,
    CASE WHEN r6 > 0.95 THEN 'paper' ELSE (ARRAY['telegram', 'zalo'])[1 + g % 2] END AS ch,
    (ARRAY['new', 'new', 'new', 'contacted', 'joined', 'declined', 'unreachable'])[1 + floor(r2 * 7)::int] AS st,
    now() - (r7 * 730 || ' days')::interval AS at
  FROM (SELECT g, random() < 0.6 AS female, random() AS r1, random() AS r2, random() AS r3,
               -- cubed: a few large employers hold most of the workers, a long tail the rest
               1 + floor(power(random(), 3) * cardinality($7::text[]))::int AS w,
               random() AS r5, random() AS r6, random() AS r7, random() AS r8
        FROM generate_series($10::int, $11::int) AS g) AS draws
) AS rows
"""


async def seed(store: PostgresStore, rows: int) -> float:
    started = time.perf_counter()
    provinces = weighted({p["id"]: PROVINCE_WEIGHT.get(p["id"], 1) for p in PROVINCES})
    works, homes = workplaces()
    arrays = (weighted(SURNAMES), MIDDLE_F, MIDDLE_M, GIVEN_F, GIVEN_M, PREFIXES, works, homes, provinces)
    await store.db.execute("SELECT setseed(0.12)")
    chunk = 250_000  # one statement per chunk, for a progress line
    for first in range(1, rows + 1, chunk):
        last = min(rows, first + chunk - 1)
        await store.db.execute(SEED_SQL, *arrays, first, last)
        print(f"  seeded {last:,} rows ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    await store.db.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


# -- the searches ------------------------------------------------------------------------
@dataclass
class Search:
    kind: str
    text: str
    phone: str | None = None  # the number searched for, for its row's province


def searches(rows: int, n: int, rnd: random.Random) -> list[Search]:
    """n searches, a third each of names, phone numbers (half whole, half fragments) and
    companies, drawn from the same distributions as the rows."""
    out: list[Search] = []
    surnames = weighted(SURNAMES)
    for i in range(n // 3):
        female = rnd.random() < 0.6
        surname = rnd.choice(surnames)
        middle = rnd.choice(MIDDLE_F if female else MIDDLE_M).replace("_", " ")
        given = rnd.choice(GIVEN_F if female else GIVEN_M)
        forms = [given, f"{middle} {given}", f"{surname} {middle} {given}", f"{surname} {given}", f"{surname} {middle}"]
        text = forms[i % len(forms)]
        out.append(Search("name", text.lower() if rnd.random() < 0.2 else text))
    for i in range(n // 3):
        local = "0" + phone_of(rnd.randrange(1, rows + 1))[3:]
        if i % 2 == 0:
            written = [local, f"{local[:4]} {local[4:7]} {local[7:]}", f"+84 {local[1:4]} {local[4:7]} {local[7:]}"]
            out.append(Search("phone, whole number", written[i % 3], "+84" + local[1:]))
        else:
            fragments = [local[-6:], local[-4:], local[:7], local[3:8]]
            out.append(Search("phone fragment", fragments[i % 4], "+84" + local[1:]))
    for i in range(n - len(out)):
        out.append(Search("company", COMPANY_QUERIES[i % len(COMPANY_QUERIES)]))
    rnd.shuffle(out)
    return out


async def organizer_province(store: PostgresStore, search: Search, rnd: random.Random) -> str:
    """Whose search it is: an organizer looks up a number of their own province, a company
    of their own province four times in five; a name, anywhere."""
    if search.phone is not None:
        found = await store.db.fetchval("SELECT province_id FROM signups WHERE phone_e164 = $1", search.phone)
        if found is not None:
            return str(found)
    if search.kind == "company" and rnd.random() < 0.8:
        works, homes = workplaces()
        for work, home in zip(works, homes, strict=True):
            if search.text.casefold() in work.casefold():
                return home
    return rnd.choice(weighted({p["id"]: PROVINCE_WEIGHT.get(p["id"], 1) for p in PROVINCES}))


@dataclass
class Timings:
    search_ms: list[float] = field(default_factory=list)
    page_ms: list[float] = field(default_factory=list)
    found: list[int] = field(default_factory=list)


def console_query(text: str, scope: frozenset[str] | None) -> Any:
    """The SignupQuery the console builds from its search box (bot/console/app.py)."""
    console = SimpleNamespace(tz=ZoneInfo("Asia/Ho_Chi_Minh"))
    viewer = SimpleNamespace(scope=scope)
    query, _, _ = Console._query(console, viewer, {"q": text})  # type: ignore[arg-type]
    return query


async def measure(store: PostgresStore, plan: list[tuple[Search, str, frozenset[str] | None]]) -> dict[str, Timings]:
    by_kind: dict[str, Timings] = {}
    for search, scope_label, scope in plan:
        query = console_query(search.text, scope)
        started = time.perf_counter()
        rows = await store.search_signups(query, limit=PAGE_SIZE + 1)
        searched = time.perf_counter()
        await store.count_signups(query, cap=COUNT_CAP)
        counted = time.perf_counter()
        for key in (f"{search.kind}|{scope_label}", f"all|{scope_label}", "all|all"):
            t = by_kind.setdefault(key, Timings())
            t.search_ms.append(1000 * (searched - started))
            t.page_ms.append(1000 * (counted - started))
            t.found.append(len(rows))
    return by_kind


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def line(label: str, t: Timings, pick: Callable[[Timings], list[float]]) -> str:
    v = pick(t)
    return f"  {label:<34} {len(v):>4} {pct(v, 50):>8.1f} {pct(v, 95):>8.1f} {max(v):>8.1f}"


def report(by_kind: dict[str, Timings]) -> bool:
    kinds = ["name", "phone, whole number", "phone fragment", "company", "all"]
    for title, pick in (
        ("search_signups (the page's rows)", lambda t: t.search_ms),
        ("search_signups + count_signups (the whole page)", lambda t: t.page_ms),
    ):
        print(f"{title}, ms:")
        print(f"  {'kind, who searches':<34} {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}")
        for kind in kinds:
            for scope in ("admin", "organizer", "all") if kind == "all" else ("admin", "organizer"):
                key = f"{kind}|{scope}"
                if key in by_kind:
                    print(line(f"{kind}, {scope}" if scope != "all" else "overall", by_kind[key], pick))
    print("rows found per search (of at most 51), mean:")
    for kind in kinds[:-1]:
        found = by_kind[f"{kind}|admin"].found + by_kind[f"{kind}|organizer"].found
        nothing = sum(1 for f in found if f == 0)
        print(f"  {kind:<22} {statistics.mean(found):5.1f}   (no row found: {nothing} of {len(found)})")
    overall = by_kind["all|all"]
    search_ok = pct(overall.search_ms, 95) <= TARGET_MS
    page_ok = pct(overall.page_ms, 95) <= TARGET_MS
    print(f"search p95 {pct(overall.search_ms, 95):.1f} ms, page p95 {pct(overall.page_ms, 95):.1f} ms")
    print(f"target p95 <= {TARGET_MS:.0f} ms (search): {'target met' if search_ok else 'target NOT met'}")
    print(f"target p95 <= {TARGET_MS:.0f} ms (whole page): {'target met' if page_ok else 'target NOT met'}")
    return search_ok


async def run(url: str, rows: int, n: int, fresh: bool) -> int:
    store = PostgresStore(url)
    await store.open()
    try:
        have = int(await store.db.fetchval("SELECT COUNT(*) FROM signups"))
        if fresh or have == 0:
            seconds = await seed(store, rows)
            print(f"seed: {rows:,} sign-ups in {seconds:.0f} s (an INSERT ... SELECT per 250,000, VACUUM ANALYZE)")
        else:
            rows = have
            print(f"reusing {rows:,} sign-ups")
        size = await store.db.fetchval("SELECT pg_size_pretty(pg_total_relation_size('signups'))")
        print(f"signups table with its indexes: {size}")
        rnd = random.Random(20261203)
        plan = []
        for s in searches(rows, n, rnd):
            plan.append((s, "admin", None))
            plan.append((s, "organizer", frozenset({await organizer_province(store, s, rnd)})))
        await measure(store, plan[:20])  # warm-up: connections, prepared statements
        by_kind = await measure(store, plan)
        print(f"{n} searches, each as an admin and as an organizer of one province: {len(plan)} pages")
        return 0 if report(by_kind) else 1
    finally:
        await store.close()


async def main(rows: int, n: int, keep: str | None) -> int:
    info = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}")
    print("shared machine: other work may run meanwhile")
    if keep:
        return await run(keep, rows, n, fresh=False)
    async with postgres_database() as url:
        return await run(url, rows, n, fresh=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--searches", type=int, default=300, help="each runs as an admin and as an organizer")
    parser.add_argument("--keep", help="a database URL to seed once and reuse (for investigating)")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.rows, args.searches, args.keep)))
