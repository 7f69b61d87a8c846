"""1,000 workers signing up at the same moment, through the real handlers into SQLite.

Every worker runs the whole conversation (/start, /join, name, phone, company,
province, commune, consent, review, submit) as its own task, all started at once, the
way a campaign QR code on a factory notice board would bring them. A quarter arrive
through volunteers' deep links. Meanwhile a second connection to the same file plays
`unionbot signups export` and an organizer's status updates, which is where "database
is locked" would show up.

    .venv/bin/python bench/bench_signups.py [--workers 1000] [--db PATH]

Exits 1 unless every sign-up is stored exactly once and nothing failed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.context import Services, Settings  # noqa: E402
from handlers.dispatcher import Dispatcher  # noqa: E402
from handlers.i18n import load_catalog  # noqa: E402
from handlers.join.provinces import all_provinces  # noqa: E402
from handlers.routes import build_router  # noqa: E402
from handlers.types import Inbound, InboundKind, Reply  # noqa: E402
from storage import Role  # noqa: E402
from storage.signups import SignupStatus  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402

CHANNEL = "bench"
VOLUNTEERS = 10


class Worker:
    def __init__(self, dispatcher: Dispatcher, i: int, latencies: list[float]) -> None:
        self.dispatcher = dispatcher
        self.user_id = f"w{i}"
        self.latencies = latencies
        self.last: list[Reply] = []

    async def _handle(self, inbound: Inbound) -> list[Reply]:
        started = time.perf_counter()
        self.last = await self.dispatcher.handle(inbound)
        self.latencies.append(time.perf_counter() - started)
        return self.last

    async def say(self, text: str) -> list[Reply]:
        return await self._handle(Inbound.parse_text(CHANNEL, self.user_id, text))

    async def press(self, action: str) -> list[Reply]:
        payload = next(
            b.payload
            for r in self.last
            for row in r.buttons
            for b in row
            if b.payload.startswith("jf:") and b.payload.split(":")[2] == action
        )
        return await self._handle(Inbound(CHANNEL, self.user_id, InboundKind.BUTTON, payload=payload))

    def sees(self, *needles: str) -> bool:
        text = "\n".join(r.text for r in self.last)
        return all(n in text for n in needles)


async def sign_up(dispatcher: Dispatcher, i: int, codes: list[str], latencies: list[float]) -> None:
    w = Worker(dispatcher, i, latencies)
    provinces = all_provinces()
    referred = i % 4 == 0
    await w.say(f"/start {codes[i % len(codes)]}" if referred else "/start")
    await w.say("/join")
    for answer in (
        f"Nguyễn Văn Thợ {chr(0x41 + i % 26)}{chr(0x61 + i // 26 % 26)}",
        f"0912 {i // 1000:03d} {i % 1000:03d}",
        f"Công ty TNHH Sản xuất số {i % 50}",
        provinces[i % len(provinces)].name_vi,
        "KCN Mỹ Phước" if i % 2 else "bỏ qua",
    ):
        await w.say(answer)
    if not referred:
        await w.press("s")  # no referral code
    await w.press("a")
    await w.press("g")
    if not w.sees("#"):
        raise RuntimeError(f"worker {i}: no confirmation: {w.last[0].text[:80]!r}")


async def office(path: Path, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """A second connection, as the CLI or a second process would open: exports and writes."""
    async with SQLiteStore(path) as store:
        while not stop.is_set():
            items = await store.export_signups(provinces=None)
            counts["exports"] += 1
            if items:
                await store.set_signup_status(items[len(items) // 2].id, SignupStatus.CONTACTED)
                await store.audit(None, "signups.export", "signups", {"rows": len(items), "via": "bench"})
                counts["writes"] += 2
            await asyncio.sleep(0.05)


async def main(workers: int, db: Path | None) -> int:
    tmp = None
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-signups-")
        db = Path(tmp.name) / "bench.sqlite3"
    errors: list[BaseException] = []
    latencies: list[float] = []
    counts = {"exports": 0, "writes": 0}
    async with SQLiteStore(db) as store:
        settings = Settings(join_alert_chats=(("ho_chi_minh", (-100123,)),))
        services = Services(store, load_catalog(), settings)
        dispatcher = Dispatcher(services, build_router())
        codes = []
        for v in range(VOLUNTEERS):
            user = await store.touch_user(CHANNEL, f"v{v}", language="vi")
            await store.set_role(user.id, Role.VOLUNTEER)
            codes.append(await store.create_volunteer_code(user.id, f"v_bench{v:07d}"))

        stop = asyncio.Event()
        office_task = asyncio.create_task(office(db, stop, counts))
        started = time.perf_counter()
        results = await asyncio.gather(
            *(sign_up(dispatcher, i, codes, latencies) for i in range(workers)), return_exceptions=True
        )
        elapsed = time.perf_counter() - started
        stop.set()
        try:
            await office_task
        except Exception as e:  # a "database is locked" in the second connection counts too
            errors.append(e)
        errors += [r for r in results if isinstance(r, BaseException)]

        stored = await store.list_signups(provinces=None, limit=workers * 2)
        phones = {s.phone_e164 for s in stored}
        referred = sum(s.volunteer_id is not None for s in stored)
        leftover = [u for u in range(workers) if await _has_state(store, f"w{u}")]

    ok = not errors and len(stored) == workers and len(phones) == workers and not leftover
    ordered = sorted(latencies)
    print(f"bench_signups: {workers} concurrent sign-ups through the handlers into SQLite ({db.name}, WAL)")
    print(
        f"  time: {elapsed:.2f} s for {len(latencies)} messages "
        f"({len(latencies) / elapsed:.0f} messages/s, {workers / elapsed:.0f} sign-ups/s)"
    )
    print(
        f"  per message: median {statistics.median(ordered) * 1000:.1f} ms, "
        f"p95 {ordered[int(len(ordered) * 0.95)] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )
    print(
        f"  stored: {len(stored)}/{workers} sign-ups, {len(phones)} distinct phones, "
        f"{referred} through volunteers' links, {len(leftover)} forms left open"
    )
    print(f"  second connection meanwhile: {counts['exports']} exports, {counts['writes']} writes")
    print(f"  errors: {len(errors)}" + "".join(f"\n    {type(e).__name__}: {e}" for e in errors[:5]))
    print("  result: " + ("OK" if ok else "FAILED"))
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


async def _has_state(store: SQLiteStore, external_id: str) -> bool:
    user = await store.find_user(CHANNEL, external_id)
    return user is not None and await store.get_state(user.id) is not None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (default: a temporary one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(args.workers, args.db)))
