"""Seed a migrated database with a federation's worth of sign-ups, by bulk SQL.

Used by the scale benchmarks: N sign-ups across the 34 provinces, V volunteers with
referral codes (a quarter of sign-ups came through one), a note on every 20th sign-up,
dates spread over the current year. Fast (about 2 s per 100,000 rows) because it writes
with executemany in one transaction rather than through the bot's store.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.sqlite import SQLiteStore  # noqa: E402

_PROVINCES = [
    p["id"] for p in json.loads((ROOT / "handlers/join/data/provinces.json").read_text(encoding="utf-8"))["provinces"]
]
_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
_GIVEN = ["Văn An", "Thị Bình", "Minh Châu", "Thị Dung", "Văn Đức", "Thu Hà", "Quốc Huy", "Thị Lan", "Văn Nam"]
_WORK = ["Công ty TNHH May Hưng Phát", "Công ty CP Giày Thượng Đình", "KCN Mỹ Phước", "Công ty Điện tử Samsung"]


def _ts(moment: datetime) -> str:
    return moment.isoformat()


def seed(path: Path, signups: int, volunteers: int = 2000, *, seed_value: int = 20261203) -> None:
    asyncio.run(_migrate(path))
    seed_rows(path, signups, volunteers, seed_value=seed_value)


def seed_rows(path: Path, signups: int, volunteers: int = 2000, *, seed_value: int = 20261203) -> None:
    """The bulk inserts alone, into an already migrated database (tests open it themselves)."""
    rnd = random.Random(seed_value)
    now = datetime.now(UTC)
    start = datetime(now.year, 1, 1, tzinfo=UTC)
    span = max(int((now - start).total_seconds()), 1)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    with db:
        first_user = (db.execute("SELECT COALESCE(MAX(id), 0) FROM users").fetchone()[0]) + 1
        db.executemany(
            "INSERT INTO users (id, channel, external_id, language, role, created_at, last_seen_at)"
            " VALUES (?, 'telegram', ?, 'vi', 'volunteer', ?, ?)",
            [(first_user + i, str(900_000_000 + i), _ts(start), _ts(start)) for i in range(volunteers)],
        )
        db.executemany(
            "INSERT INTO volunteer_codes (user_id, code, created_at) VALUES (?, ?, ?)",
            [(first_user + i, f"v_{i:010d}", _ts(start)) for i in range(volunteers)],
        )
        batch: list[tuple[object, ...]] = []
        notes: list[tuple[object, ...]] = []
        for n in range(1, signups + 1):
            at = _ts(start + timedelta(seconds=rnd.randrange(span)))
            via = rnd.random() < 0.25 and volunteers > 0
            source = ("referral" if rnd.random() < 0.6 else "collected") if via else "self"
            batch.append(
                (
                    n,
                    f"{rnd.choice(_FAMILY)} {rnd.choice(_GIVEN)}",
                    f"+849{n:08d}",
                    rnd.choice(_WORK),
                    _PROVINCES[n % len(_PROVINCES)],
                    source,
                    first_user + rnd.randrange(volunteers) if via else None,
                    at,
                    at,
                    at,
                    at,
                )
            )
            if n % 20 == 0:
                notes.append((n, at, f"Đã gọi lần {n % 7}; hẹn sau ca"))
            if len(batch) >= 20_000:
                _flush(db, batch, notes)
        _flush(db, batch, notes)
    db.close()


def _flush(db: sqlite3.Connection, batch: list[tuple[object, ...]], notes: list[tuple[object, ...]]) -> None:
    db.executemany(
        "INSERT INTO signups (id, full_name, phone_e164, workplace, province_id, source, volunteer_id,"
        " consent_version, consent_lang, consent_channel, consent_at, created_at, updated_at, last_contact_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'v1', 'vi', 'telegram', ?, ?, ?, ?)",
        batch,
    )
    db.executemany("INSERT INTO signup_notes (signup_id, at, text) VALUES (?, ?, ?)", notes)
    batch.clear()
    notes.clear()


async def _migrate(path: Path) -> None:
    async with SQLiteStore(path):
        pass


if __name__ == "__main__":
    seed(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2000)
