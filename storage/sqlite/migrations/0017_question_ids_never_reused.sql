-- unionbot: rebuilds a table
-- Question numbers are never given twice. Without AUTOINCREMENT, SQLite hands the largest
-- id out again once its row is gone (/forget erasing a worker's newest question), and an
-- organizer's "/reply <number>" written for that worker would reach the next asker
-- (found trying the bot as an organizer). PostgreSQL's identity column never reuses one.
-- AUTOINCREMENT cannot be added in place: the table is rebuilt by SQLite's documented
-- procedure, with foreign keys off around it (workplace_reports links to questions).
CREATE TABLE questions_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lang              TEXT NOT NULL,
    text              TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'closed')),
    created_at        TEXT NOT NULL,
    answered_at       TEXT,
    answered_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    answer            TEXT,
    closed_at         TEXT,
    closed_by         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- Why it was closed, one of handlers/rights/inbox.py CLOSE_REASONS or 'withdrawn': a code.
    close_reason      TEXT,
    named_province_id TEXT
);
INSERT INTO questions_new (
    id, user_id, lang, text, status, created_at, answered_at, answered_by, answer, closed_at, closed_by,
    close_reason, named_province_id
)
    SELECT id, user_id, lang, text, status, created_at, answered_at, answered_by, answer, closed_at, closed_by,
        close_reason, named_province_id
    FROM questions;
DROP TABLE questions;
ALTER TABLE questions_new RENAME TO questions;
CREATE INDEX questions_open ON questions(status, id);
CREATE INDEX questions_user ON questions(user_id);
CREATE INDEX questions_purge ON questions(COALESCE(answered_at, closed_at, created_at));
