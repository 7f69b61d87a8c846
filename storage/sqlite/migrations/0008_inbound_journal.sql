-- Inbound updates written down before the platform is told "received", so an update
-- being handled when the process dies is handled again at the next start (issue 14, 10).
-- A row lives from receipt until its replies are out; `done` = 1 once the handlers have
-- run (the replies may still be going out). Rows hold workers' text: deleted when
-- finished, purged after the retention window, erased by /forget (channel + user_ref).
CREATE TABLE inbound_journal (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    key         TEXT NOT NULL,
    user_ref    TEXT NOT NULL,
    payload     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (channel, key)
);
CREATE INDEX inbound_journal_user ON inbound_journal(channel, user_ref);
CREATE INDEX inbound_journal_received ON inbound_journal(received_at);
