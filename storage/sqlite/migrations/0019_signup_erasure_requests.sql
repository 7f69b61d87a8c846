-- Erasing a sign-up by phone number needs proof (see storage/signups.py): `/forget <phone>`
-- for a sign-up the asking account does not own files a request here, and the province's
-- officers confirm it by calling the number. No number and no name: the sign-up holds
-- them. The requester's chat address is kept only for the daily limit of requests per
-- chat (and its /mydata): /forget erases the account, so requests are counted by address.
-- The requester is never told the outcome, so their language is not kept. Every
-- attempt writes one row, sign-up or not, and every row goes after 30 days (purge_signups).
-- AUTOINCREMENT: an id is never given twice, also once the purge emptied the table, so an
-- old "/erasure <id> xoa" cannot reach another worker's sign-up (as 0017 for questions).
CREATE TABLE signup_erasure_requests (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    signup_id             INTEGER REFERENCES signups(id) ON DELETE SET NULL,
    requester_channel     TEXT NOT NULL,
    requester_external_id TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('open', 'confirmed', 'rejected', 'none')),
    created_at            TEXT NOT NULL,
    decided_at            TEXT,
    decided_by            INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX signup_erasure_requests_requester
    ON signup_erasure_requests(requester_channel, requester_external_id, created_at);
CREATE INDEX signup_erasure_requests_signup ON signup_erasure_requests(signup_id);
CREATE INDEX signup_erasure_requests_created ON signup_erasure_requests(created_at);
CREATE INDEX signup_erasure_requests_decided_by ON signup_erasure_requests(decided_by);
