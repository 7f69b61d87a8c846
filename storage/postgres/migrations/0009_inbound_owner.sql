-- Several processes share the inbound journal: each row names the process that received
-- it (its store instance, whose liveness is a session advisory lock), so a process adopts
-- only rows of processes that are gone. `inbound_turns` holds, per user, the update being
-- handled: one user's updates are handled one at a time and in arrival order whichever
-- process received them. A turn of a dead process lapses at `until` or on adoption.
ALTER TABLE inbound_journal ADD COLUMN owner TEXT NOT NULL DEFAULT '';
DROP INDEX inbound_journal_user;
CREATE INDEX inbound_journal_user ON inbound_journal(channel, user_ref, id);

CREATE TABLE inbound_turns (
    channel  TEXT NOT NULL,
    user_ref TEXT NOT NULL,
    key      TEXT NOT NULL,
    owner    TEXT NOT NULL,
    until    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, user_ref)
);
