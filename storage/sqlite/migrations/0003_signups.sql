-- Union sign-ups, volunteers' referral codes, organizers' provinces and yearly targets.
--
-- A sign-up is one worker's personal data. One row per phone number (a second sign-up
-- with the same number updates the first) and at most one per bot account. It goes
-- with the worker's account on /forget (user_id ... ON DELETE CASCADE). A sign-up a
-- volunteer collected for a worker standing next to them has no account (user_id NULL)
-- until that worker signs up in the bot with the same number; until then the worker
-- erases it with `/forget <phone>`, or a union officer with `unionbot signups forget`.
-- AUTOINCREMENT: an erased or replaced sign-up's number is never given to another one,
-- so "#12" in an organizer's notes or an alert always means the same person.
CREATE TABLE signups (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER REFERENCES users(id) ON DELETE CASCADE,
    full_name       TEXT NOT NULL,
    phone_e164      TEXT NOT NULL UNIQUE,
    workplace       TEXT NOT NULL,
    province_id     TEXT NOT NULL,
    commune         TEXT,
    source          TEXT NOT NULL CHECK (source IN ('self', 'referral', 'collected')),
    -- The volunteer whose link brought the worker, or who collected the sign-up. The
    -- sign-up is the worker's data, not the volunteer's: it stays when the volunteer leaves.
    volunteer_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    consent_version TEXT NOT NULL,
    consent_lang    TEXT NOT NULL,
    consent_channel TEXT NOT NULL,
    consent_at      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'contacted', 'joined', 'declined', 'unreachable')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    -- Retention runs from here: join.retention_months after the last contact.
    last_contact_at TEXT NOT NULL
);
CREATE UNIQUE INDEX signups_one_per_user ON signups(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX signups_province ON signups(province_id, id);
CREATE INDEX signups_volunteer ON signups(volunteer_id);
CREATE INDEX signups_created ON signups(created_at);
CREATE INDEX signups_last_contact ON signups(last_contact_at);

-- Organizers' follow-up notes: personal data about the worker, erased with the sign-up.
CREATE TABLE signup_notes (
    id        INTEGER PRIMARY KEY,
    signup_id INTEGER NOT NULL REFERENCES signups(id) ON DELETE CASCADE,
    author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    at        TEXT NOT NULL,
    text      TEXT NOT NULL
);
CREATE INDEX signup_notes_signup ON signup_notes(signup_id, id);

CREATE TABLE volunteer_codes (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    code       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- Which provinces' sign-ups an organizer may see. Admins see all; an organizer with
-- no row here sees none.
CREATE TABLE organizer_provinces (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    province_id TEXT NOT NULL,
    granted_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    granted_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, province_id)
) WITHOUT ROWID;

-- Yearly sign-up targets per province; no personal data.
CREATE TABLE signup_targets (
    province_id TEXT NOT NULL,
    year        INTEGER NOT NULL,
    target      INTEGER NOT NULL CHECK (target > 0),
    set_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    set_at      TEXT NOT NULL,
    PRIMARY KEY (province_id, year)
) WITHOUT ROWID;
