-- Each journaled update names the store instance (process) that received it, so a
-- restart adopts what its previous run left and nothing else. One process serves a
-- SQLite file, so every row of another instance is a previous run's.
ALTER TABLE inbound_journal ADD COLUMN owner TEXT NOT NULL DEFAULT '';
