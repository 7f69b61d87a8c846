-- Send slots shared by every process on this database (issue 12): one row per bot
-- token (keyed by a hash of it, never the token itself) holding the time from which the
-- next slot may be handed out. Processes reserve slots with one atomic upsert
-- (PostgresCore.reserve_send_slots), so the sum of their sends stays under the
-- platform's per-token rate. SQLite has no twin: one process, its limiter suffices.
CREATE TABLE send_slots (
    key     TEXT PRIMARY KEY,
    next_at TIMESTAMPTZ NOT NULL
);
