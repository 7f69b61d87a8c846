-- The organizers' web console (SQLite 0012): one-time sign-in links and browser
-- sessions, and the trigram indexes its sign-up search uses.
-- Only SHA-256 hashes of link tokens and session ids are stored, so a copy of the
-- database opens no session. Both go with the user (ON DELETE CASCADE).
CREATE TABLE console_links (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX console_links_expires ON console_links(expires_at);
-- Without it, deleting a user scans every link for the cascade.
CREATE INDEX console_links_user ON console_links(user_id);

CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The CSRF token of the session's forms: useless without the session cookie.
    csrf         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions(user_id);

-- The console finds sign-ups by part of the name or workplace (ILIKE '%...%'): a plain
-- B-tree cannot serve a pattern with a leading wildcard, a trigram GIN index can, so a
-- search stays an index lookup at millions of sign-ups. pg_trgm is a trusted extension
-- (PostgreSQL 13+): the database's owner may create it without being a superuser.
-- (The status/source/name paging indexes of SQLite 0012 are in 0002_signups.sql; the
-- questions' (status, id) index is in 0003_questions.sql.)
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX signups_name_trgm ON signups USING gin (full_name gin_trgm_ops);
CREATE INDEX signups_workplace_trgm ON signups USING gin (workplace gin_trgm_ops);
