-- The organizers' web console: one-time sign-in links and browser sessions.
-- Only SHA-256 hashes of link tokens and session ids are stored, so a copy of the
-- database file opens no session. Both go with the user (ON DELETE CASCADE).
CREATE TABLE console_links (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) WITHOUT ROWID;
CREATE INDEX console_links_expires ON console_links(expires_at);

CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The CSRF token of the session's forms: useless without the session cookie.
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_user ON console_sessions(user_id);

-- The sign-ups table pages by id within a filter: these keep a filtered page an index
-- walk at 200,000 rows instead of a scan.
CREATE INDEX signups_status_id ON signups(status, id);
CREATE INDEX signups_source_id ON signups(source, id);
CREATE INDEX signups_name_id ON signups(full_name, id);
CREATE INDEX questions_status_id ON questions(status, id);
