-- unionbot: rebuilds a table
-- A phone number no longer makes a registration unique in its program: refusing a second
-- account's registration with a number already registered told anyone who typed a
-- worker's number that this worker had registered (an employer's HR office knows every
-- number; in a review-mode program such as hardship gifts, that is who applied). A
-- registration belongs to an account: the same account may not register one number
-- twice (storage/sqlite/care.py, in the seat's write transaction), and max_per_person
-- holds per account. A registration sharing its number with another is accepted and
-- flagged to the officers, who look it up through the new (program_id, phone_e164) index.
-- The UNIQUE is a table constraint: the table is rebuilt by SQLite's documented procedure
-- (nothing links to it), keeping its ids and its AUTOINCREMENT counter, so no
-- registration number is ever handed out twice.
CREATE TABLE care_registrations_new (
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
    checked_in_at TEXT
);
INSERT INTO care_registrations_new (
    id, program_id, user_id, phone_e164, full_name, seats, answers, status, code, reason, created_at, decided_at,
    checked_in_at
)
    SELECT id, program_id, user_id, phone_e164, full_name, seats, answers, status, code, reason, created_at,
        decided_at, checked_in_at
    FROM care_registrations;
-- The old counter, which may be past the largest id left (a cancelled newest registration).
DELETE FROM sqlite_sequence WHERE name = 'care_registrations_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'care_registrations_new', seq FROM sqlite_sequence WHERE name = 'care_registrations';
DROP TABLE care_registrations;
ALTER TABLE care_registrations_new RENAME TO care_registrations;
CREATE INDEX care_registrations_by_program ON care_registrations(program_id, status, id);
CREATE INDEX care_registrations_by_user ON care_registrations(user_id);
CREATE INDEX care_registrations_by_phone ON care_registrations(program_id, phone_e164);
