-- The Zalo OA's OAuth tokens, one row per Zalo app. The refresh token is single-use and
-- rotates on every refresh, so the row is replaced whole, in one transaction, before
-- the new access token is used. `seed` fingerprints the pair an operator configured
-- (ZALO_OA_REFRESH_TOKEN), so a restart keeps the rotated pair and a newly configured
-- one is still adopted. No worker data here: nothing to erase on /forget.
CREATE TABLE zalo_oa_tokens (
    app_id        TEXT PRIMARY KEY,
    access_token  TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at    REAL NOT NULL,
    seed          TEXT,
    updated_at    TEXT NOT NULL
) WITHOUT ROWID;
