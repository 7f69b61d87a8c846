-- Listening to workers: quick polls and anonymous workplace reports.
--
-- Poll answers are keyed to the person (users(id) ON DELETE CASCADE, so /forget erases
-- them) only until the poll closes plus [listening] answer_retention_days; then they
-- are folded into poll_aggregates (counts only) and deleted.
--
-- Workplace reports have NO link to a user: no user id, no channel id, no exact time
-- (the day only, so a report cannot be matched to users.last_seen_at). Rate limiting
-- uses a keyed hash of the reporter in report_limits, kept 7 days.

CREATE TABLE polls (
    id            INTEGER PRIMARY KEY,
    broadcast_id  INTEGER UNIQUE REFERENCES broadcasts(id) ON DELETE SET NULL,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    question_vi   TEXT NOT NULL,
    question_en   TEXT,
    choices       TEXT NOT NULL,            -- JSON list of {"vi": ..., "en": ...}
    multi         INTEGER NOT NULL DEFAULT 0,
    provinces     TEXT NOT NULL DEFAULT '[]', -- the audience's provinces (organizer scope)
    closes_at     TEXT NOT NULL,
    closed_at     TEXT,                     -- closed early by an organizer
    aggregated_at TEXT                      -- answers folded into counts, person keys gone
);

-- One row per person and poll; `mask` holds the chosen choices as bits (choice i = 1 << i),
-- so a tap is one atomic upsert whatever the order or the number of redeliveries.
CREATE TABLE poll_answers (
    poll_id     INTEGER NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mask        INTEGER NOT NULL,
    province    TEXT,
    channel     TEXT NOT NULL,
    language    TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (poll_id, user_id)
) WITHOUT ROWID;
CREATE INDEX poll_answers_by_user ON poll_answers(user_id);
-- Results are one GROUP BY over these columns: a covering index in that order lets
-- SQLite count 100,000 answers from the index alone, without sorting.
CREATE INDEX poll_answers_tally ON poll_answers(poll_id, province, channel, language, mask);

-- dimension '' is the whole poll; choice -1 counts respondents.
CREATE TABLE poll_aggregates (
    poll_id   INTEGER NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
    dimension TEXT NOT NULL,
    value     TEXT NOT NULL,
    choice    INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (poll_id, dimension, value, choice)
) WITHOUT ROWID;

CREATE TABLE workplace_reports (
    id                  INTEGER PRIMARY KEY,
    created_on          TEXT NOT NULL,      -- local date, YYYY-MM-DD
    province            TEXT NOT NULL,
    category            TEXT NOT NULL,
    company             TEXT NOT NULL,      -- as written
    company_key         TEXT NOT NULL,      -- the cluster it was matched to
    workers             INTEGER NOT NULL,
    description         TEXT,
    -- Only when the worker chose "an officer may contact me": their question in the inbox.
    contact_question_id INTEGER REFERENCES questions(id) ON DELETE SET NULL
);
CREATE INDEX workplace_reports_cluster ON workplace_reports(province, company_key, category, created_on);
CREATE INDEX workplace_reports_day ON workplace_reports(created_on);

CREATE TABLE report_limits (
    hash  TEXT NOT NULL,
    day   TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (hash, day)
) WITHOUT ROWID;

-- One early-warning alert per company and category per window.
CREATE TABLE report_alerts (
    province    TEXT NOT NULL,
    company_key TEXT NOT NULL,
    category    TEXT NOT NULL,
    sent_on     TEXT NOT NULL,
    reports     INTEGER NOT NULL,
    workers     INTEGER NOT NULL,
    PRIMARY KEY (province, company_key, category, sent_on)
) WITHOUT ROWID;
