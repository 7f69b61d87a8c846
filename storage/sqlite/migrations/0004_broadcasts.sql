-- Campaign broadcasts: topic subscriptions, scheduled broadcasts and one delivery row
-- per recipient. Every table holding a worker's data references users(id) ON DELETE
-- CASCADE so that /forget erases it.

CREATE TABLE subscriptions (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    topic      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, topic)
) WITHOUT ROWID;
-- Audience selection walks a topic's subscribers.
CREATE INDEX subscriptions_by_topic ON subscriptions(topic, user_id);

-- A worker who said /stop: left out of "everyone" broadcasts too, until they subscribe
-- again. `topics` keeps what they had (JSON list) so "subscribe again" can restore it.
CREATE TABLE broadcast_optouts (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    topics  TEXT NOT NULL DEFAULT '[]',
    at      TEXT NOT NULL
);

-- One photo row shared by a series and its occurrences. The platform's file id is
-- cached after the first upload so that 20,000 recipients do not mean 20,000 uploads.
CREATE TABLE broadcast_photos (
    id               INTEGER PRIMARY KEY,
    filename         TEXT NOT NULL,
    data             BLOB NOT NULL,
    telegram_file_id TEXT
);

-- kind 'once' is one send; kind 'series' is a recurring schedule (cron) that creates a
-- 'once' row per occurrence (series_id set), unique per occurrence time, so a re-armed
-- timer after a restart cannot create the same occurrence twice.
-- The organizer's text is not a worker's personal data: /forget of the organizer keeps
-- the broadcast and clears created_by.
CREATE TABLE broadcasts (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('once', 'series')),
    series_id     INTEGER REFERENCES broadcasts(id) ON DELETE CASCADE,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    text_vi       TEXT NOT NULL,
    text_en       TEXT,
    photo_id      INTEGER REFERENCES broadcast_photos(id),
    audience      TEXT NOT NULL,
    cron          TEXT,
    starts_at     TEXT,
    until         TEXT,
    run_at        TEXT,
    status        TEXT NOT NULL
                  CHECK (status IN ('scheduled', 'running', 'paused', 'done', 'cancelled', 'skipped')),
    reason        TEXT,
    started_at    TEXT,
    finished_at   TEXT,
    audience_size INTEGER,
    lease_owner   TEXT,
    lease_until   TEXT,
    summary_sent  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (series_id, run_at)
);
CREATE INDEX broadcasts_by_status ON broadcasts(status, run_at);

-- queued -> sending -> sent | failed (reason) | skipped (reason) | in_doubt.
-- A row is 'sending' from just before the API call until its outcome is recorded, so a
-- row found 'sending' after a crash may or may not have reached the worker.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status       TEXT NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped', 'in_doubt')),
    reason       TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT,
    UNIQUE (broadcast_id, user_id)
);
CREATE INDEX deliveries_by_status ON deliveries(broadcast_id, status, id);
CREATE INDEX deliveries_by_user ON deliveries(user_id);
