-- unionbot: rebuilds a table
-- An organizer may close a handed-off question without answering it (spam, a duplicate,
-- settled by phone): it leaves the open inbox and stays findable, marked closed.
-- SQLite cannot widen a CHECK constraint in place, so the table is rebuilt by SQLite's
-- documented procedure (new table, copy, drop, rename) with foreign keys off around it:
-- dropping the old table must not null workplace_reports' links to the questions.
CREATE TABLE questions_new (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lang         TEXT NOT NULL,
    text         TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
    created_at   TEXT NOT NULL,
    answered_at  TEXT,
    answered_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    answer       TEXT,
    closed_at    TEXT,
    closed_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- Why it was closed, one of handlers/rights/inbox.py CLOSE_REASONS: a code, never free text.
    close_reason TEXT
);
INSERT INTO questions_new (id, user_id, lang, text, status, created_at, answered_at, answered_by, answer)
    SELECT id, user_id, lang, text, status, created_at, answered_at, answered_by, answer FROM questions;
DROP TABLE questions;
ALTER TABLE questions_new RENAME TO questions;
-- questions_status_id (0012) duplicated questions_open; one index on (status, id) is enough.
CREATE INDEX questions_open ON questions(status, id);
CREATE INDEX questions_user ON questions(user_id);
