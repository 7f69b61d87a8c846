"""Two real `unionbot run` processes on one PostgreSQL database share one broadcast, and
`kill -9` of the one sending it costs at most its in-flight sends (issue 12).

The scenario is bench/bench_pg_two_process_crash.py's, at 2,000 recipients: both bots up
(Telegram webhook mode, paid broadcasts at 1,000/s, quiet hours off), the process holding
the broadcast's lease killed with SIGKILL at 40% delivered, the survivor stopped for the
moment the killed process's last writes take to settle (so the rows counted 'sending'
are exactly its in-flight sends), then left to finish.

Who sent what: the fake Bot API cannot tell the two processes' requests apart, but one
process at a time holds the broadcast's lease (its owner names the process id) and only
the holder sends; the killed process held it from the first delivery to the kill, and
after the kill only the survivor is alive. Each bot's own log says which runs it did.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_pg_two_process_crash import CrashRun, report, two_process_crash

RECIPIENTS = 2000


# A backstop only: every wait inside fails after 90 s without progress. On PostgreSQL a
# process sends a paid broadcast at only 20-170/s on 2 cores shared with other work
# (each claim is a commit in the pacer's turn).
@pytest.mark.timeout(600)
async def test_two_processes_share_a_broadcast_and_a_killed_one_leaves_only_its_sends_in_flight_in_doubt(
    tmp_path: Path,
) -> None:
    run: CrashRun = await two_process_crash(RECIPIENTS, kill_at=0.4, workdir=tmp_path, timeout=90)
    report(run)  # shown if an assertion fails
    killed_log, survivor_log = run.logs[run.killed], run.logs[run.survivor]
    bid = run.broadcast_id

    # Both processes sent part of the one broadcast: the killed one everything before the
    # kill (it alone held the lease), the survivor everything after.
    assert len(run.lease_owners_before_kill) == 1, run.lease_owners_before_kill
    assert f"broadcast {bid}: running for {RECIPIENTS} recipients" in killed_log
    assert run.delivered_at_kill >= RECIPIENTS * 0.4
    assert run.survivor_delivered > 0
    assert f"broadcast {bid}: running for {RECIPIENTS} recipients" in survivor_log
    assert f"broadcast {bid}: done" in survivor_log

    # At the kill: nothing in doubt yet; its rows in flight are the killed process's.
    assert "in_doubt" not in run.at_kill.values()
    assert len(run.at_kill) == RECIPIENTS
    assert len(run.in_flight) <= 256, "at most the paid mode's sends in flight"

    # The end: one row per recipient, sent or in doubt, and the in-doubt ones are among
    # the rows in flight at the kill.
    assert len(run.final) == RECIPIENTS
    assert set(run.final.values()) <= {"sent", "in_doubt"}, set(run.final.values())
    assert run.count("sent") + len(run.in_doubt) == RECIPIENTS
    assert run.in_doubt <= run.in_flight
    if run.in_doubt:
        assert f"broadcast {bid}: {len(run.in_doubt)} deliveries were in flight at a crash" in survivor_log

    # The fake Bot API: no chat got the broadcast twice, every sent row arrived, and the
    # only other deliveries are in-doubt rows whose send had reached it before the kill.
    assert run.fake["duplicate_sends"] == 0
    assert run.fake["sends_ok"] == run.count("sent") + run.in_doubt_delivered
    assert run.targets_met
