-- Users are identified per channel: the same person on Telegram and Zalo is two rows,
-- because nothing links the two accounts without asking for more personal data.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    channel       TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    language      TEXT NOT NULL DEFAULT 'vi',
    role          TEXT NOT NULL DEFAULT 'worker'
                  CHECK (role IN ('worker', 'volunteer', 'organizer', 'admin')),
    referral_code TEXT,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    reachable     INTEGER NOT NULL DEFAULT 1,
    UNIQUE (channel, external_id)
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    details   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_action ON audit_log(action, id);

CREATE TABLE conversation_state (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    flow       TEXT NOT NULL,
    step       TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE processed_updates (
    channel TEXT NOT NULL,
    key     TEXT NOT NULL,
    at      TEXT NOT NULL,
    PRIMARY KEY (channel, key)
) WITHOUT ROWID;
