-- Questions the bot could not answer, handed to union officers. The text is sensitive:
-- only organizers read it, and it goes with the user on /forget.
CREATE TABLE questions (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    lang        TEXT NOT NULL,
    text        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered')),
    created_at  TEXT NOT NULL,
    answered_at TEXT,
    answered_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    answer      TEXT
);
CREATE INDEX questions_open ON questions(status, id);
CREATE INDEX questions_user ON questions(user_id);

-- "Was this answer helpful?" One vote per user and topic; the latest vote counts.
CREATE TABLE answer_feedback (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    topic_id TEXT NOT NULL,
    helpful  INTEGER NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (user_id, topic_id)
);
