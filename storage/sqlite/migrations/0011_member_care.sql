-- Member care: partner benefits, programs with limited places (Tết trains, buses,
-- gifts) and hardship support cases, plus the outbox through which the running bot
-- tells workers about changes made elsewhere (the CLI, another organizer).
-- Every row holding a worker's data references users(id) ON DELETE CASCADE so that
-- /forget erases it (registrations are first released by the store so seats free up).

-- A partner's offer. Not personal data. `provinces` is a JSON list of province ids or
-- ["*"] for nationwide; `search` is the folded (diacritic-free) title and partner.
CREATE TABLE care_benefits (
    key          TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    partner      TEXT NOT NULL,
    category     TEXT NOT NULL,
    provinces    TEXT NOT NULL,
    gives        TEXT NOT NULL,
    how_to_claim TEXT NOT NULL,
    valid_from   TEXT,
    valid_until  TEXT,
    link         TEXT,
    members_only INTEGER NOT NULL DEFAULT 0,
    search       TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- The province a worker without a sign-up chose when browsing benefits and programs
-- (asked once, not again).
CREATE TABLE care_prefs (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    province_id TEXT NOT NULL
);

-- province_id '*' is nationwide. Times are UTC ISO; remind_at is the day before the
-- event at 09:00 local, reminded_at set in the same transaction that queues reminders.
CREATE TABLE care_programs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    title          TEXT NOT NULL,
    province_id    TEXT NOT NULL,
    places         INTEGER NOT NULL CHECK (places > 0),
    opens_at       TEXT NOT NULL,
    closes_at      TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('first-come', 'review')),
    max_per_person INTEGER NOT NULL CHECK (max_per_person > 0),
    event_at       TEXT,
    place          TEXT,
    questions      TEXT NOT NULL DEFAULT '[]',
    closed         INTEGER NOT NULL DEFAULT 0,
    created_by     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at     TEXT NOT NULL,
    remind_at      TEXT,
    reminded_at    TEXT
);

-- One registration per phone per program. Arrival order is the id. A cancelled
-- registration is deleted (its seats go back); a rejected one stays so that a second
-- attempt shows the decision.
CREATE TABLE care_registrations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    program_id    INTEGER NOT NULL REFERENCES care_programs(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    phone_e164    TEXT NOT NULL,
    full_name     TEXT NOT NULL,
    seats         INTEGER NOT NULL CHECK (seats > 0),
    answers       TEXT NOT NULL DEFAULT '[]',
    status        TEXT NOT NULL CHECK (status IN ('confirmed', 'waiting', 'pending', 'rejected')),
    code          TEXT UNIQUE,
    reason        TEXT,
    created_at    TEXT NOT NULL,
    decided_at    TEXT,
    checked_in_at TEXT,
    UNIQUE (program_id, phone_e164)
);
CREATE INDEX care_registrations_by_program ON care_registrations(program_id, status, id);
CREATE INDEX care_registrations_by_user ON care_registrations(user_id);

CREATE TABLE care_cases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    category    TEXT NOT NULL,
    description TEXT NOT NULL,
    phone_e164  TEXT NOT NULL,
    province_id TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('received', 'contacted', 'supported', 'closed', 'declined')),
    consent_version TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX care_cases_by_province ON care_cases(province_id, status, id);
CREATE INDEX care_cases_by_user ON care_cases(user_id);

CREATE TABLE care_case_events (
    id        INTEGER PRIMARY KEY,
    case_id   INTEGER NOT NULL REFERENCES care_cases(id) ON DELETE CASCADE,
    author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    at        TEXT NOT NULL,
    status    TEXT NOT NULL,
    note      TEXT
);
CREATE INDEX care_case_events_by_case ON care_case_events(case_id, id);

-- Messages to one worker, rendered in their language when delivered. A sender claims a
-- row (claimed_until: a lease) and marks it sent; a crashed sender's lease runs out and
-- the row is claimed again. `not_before` keeps reminders for their hour.
CREATE TABLE care_outbox (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    params        TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    not_before    TEXT NOT NULL,
    claimed_until TEXT,
    sent_at       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX care_outbox_due ON care_outbox(sent_at, not_before);
