"""Per-user memory stays bounded as distinct users grow (issue 17, item 7).

The figures at 1,000,000 users are in bench/bench_users_rss.py; these tests pin the
mechanisms that keep them flat."""

from __future__ import annotations

from handlers.flood import FloodGuard, Verdict


def test_flood_guard_forgets_users_whose_window_has_passed() -> None:
    now = [0.0]
    guard = FloodGuard(20, 5.0, clock=lambda: now[0])
    for wave in range(5):
        now[0] = wave * 10.0  # each wave of new users comes after the last one's window
        for u in range(10_000):
            assert guard.check(f"telegram:{wave}-{u}") is Verdict.OK
    # 50,000 distinct users seen; only the current wave can still be limited.
    assert len(guard._seen) <= 10_000


def test_flood_guard_still_limits_an_active_user_across_a_purge() -> None:
    now = [0.0]
    guard = FloodGuard(3, 5.0, clock=lambda: now[0])
    verdicts = [guard.check("telegram:busy") for _ in range(3)]
    for u in range(10_000):  # enough checks by others to run a purge
        guard.check(f"telegram:{u}")
    verdicts.append(guard.check("telegram:busy"))
    assert verdicts == [Verdict.OK, Verdict.OK, Verdict.OK, Verdict.NOTICE]
