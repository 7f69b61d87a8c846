-- Sign-up search by distinct names and workplaces (issue 12: p95 <= 50 ms at 2,000,000
-- sign-ups). The console finds sign-ups whose name or workplace contains the search
-- text. With trigram indexes on signups itself (0004) a search took 188 ms at p95 at two
-- million rows, 376 ms with its capped count (bench/bench_pg_signup_search.py): a
-- pattern of common words ("Công ty", "Nguyễn Thị") makes GIN walk posting lists of
-- millions of entries, and a pattern whose trigrams all occur but not in a row
-- ("samsung thái nguyên") leaves tens of thousands of candidate rows to re-read from the
-- table and reject.
--
-- Names and workplaces repeat a great deal (two million sign-ups, some tens of thousands
-- of distinct values), so the search matches the text against the distinct values here,
-- each with the column it comes from, and then finds the sign-ups holding those exact
-- values through B-tree indexes (storage/postgres/console.py). Triggers keep the table
-- equal to the set of names and workplaces in signups: a value goes when no sign-up
-- holds it any more, so erasing a person (/forget, retention) leaves no copy of their
-- name behind.
--
-- Known gap: if the last sign-up holding a value is deleted while another transaction
-- inserts a sign-up with exactly that value, the value may go although the new sign-up
-- holds it, and that sign-up is then not found by text until the value is written again
-- (it is still found by number, province, status and in exports).
CREATE TABLE signup_terms (
    kind TEXT NOT NULL CHECK (kind IN ('name', 'workplace')),
    term TEXT NOT NULL,
    PRIMARY KEY (kind, term)
);
-- fastupdate off: new values are few once a federation's names and workplaces are in,
-- and with it on every search would read the pending list (up to 4 MB, measured at 30 ms
-- per search) until the next vacuum.
CREATE INDEX signup_terms_trgm ON signup_terms USING gin (term gin_trgm_ops) WITH (fastupdate = off);

-- The exact lookups from a value back to sign-ups, for an admin (every province) and
-- for an organizer (their provinces) alike. Names in C collation, as signups_name_id:
-- byte equality, the same as the default collation's for a deterministic collation.
CREATE INDEX signups_name_province ON signups ((full_name COLLATE "C"), province_id);
CREATE INDEX signups_workplace_province ON signups (workplace, province_id);
-- The planner estimates how many sign-ups hold the looked-up values from these columns'
-- statistics. At the default sample (30,000 rows) it took two million sign-ups to have
-- 16,000 distinct names instead of 44,000, and chose to scan the table for a few
-- thousand rows; at 300 (90,000 rows) it counts 25,000, while planning a search with a
-- thousand values stays near 12 ms (40 ms at a target of 1,000). A workplace's sign-ups are mostly
-- in one province, which the planner learns from the combined statistics.
ALTER TABLE signups ALTER COLUMN full_name SET STATISTICS 300, ALTER COLUMN workplace SET STATISTICS 300;
CREATE STATISTICS signups_workplace_province (mcv, dependencies) ON workplace, province_id FROM signups;

-- No longer searched directly; dropping them also spares every sign-up two GIN updates
-- (and the planner once chose the workplace one for an equality, at 228 ms).
DROP INDEX signups_name_trgm;
DROP INDEX signups_workplace_trgm;

CREATE FUNCTION signup_terms_drop_unused(names TEXT[], workplaces TEXT[]) RETURNS VOID LANGUAGE sql AS $$
    DELETE FROM signup_terms t
     WHERE t.kind = 'name' AND t.term = ANY(names)
       AND NOT EXISTS (SELECT 1 FROM signups s WHERE (s.full_name COLLATE "C") = t.term);
    DELETE FROM signup_terms t
     WHERE t.kind = 'workplace' AND t.term = ANY(workplaces)
       AND NOT EXISTS (SELECT 1 FROM signups s WHERE s.workplace = t.term);
$$;

-- New values are inserted in (kind, term) order: two sign-ups adding the same two new
-- values at once then wait on each other in the same order, never in a cycle (each
-- backend caches its own plan, and a UNION's output order follows that plan).
CREATE FUNCTION signup_terms_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signup_terms (kind, term)
        SELECT * FROM (SELECT 'name', full_name FROM new_rows UNION SELECT 'workplace', workplace FROM new_rows) AS v
        ORDER BY 1, 2
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION signup_terms_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only values an UPDATE changed (most updates change a status or a date).
    INSERT INTO signup_terms (kind, term)
        SELECT * FROM (
            SELECT 'name', n.full_name FROM new_rows n JOIN old_rows o USING (id) WHERE n.full_name <> o.full_name
            UNION SELECT 'workplace', n.workplace FROM new_rows n JOIN old_rows o USING (id)
             WHERE n.workplace <> o.workplace) AS v
        ORDER BY 1, 2
        ON CONFLICT DO NOTHING;
    PERFORM signup_terms_drop_unused(
        ARRAY(SELECT o.full_name FROM old_rows o JOIN new_rows n USING (id) WHERE n.full_name <> o.full_name),
        ARRAY(SELECT o.workplace FROM old_rows o JOIN new_rows n USING (id) WHERE n.workplace <> o.workplace));
    RETURN NULL;
END $$;

CREATE FUNCTION signup_terms_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM signup_terms_drop_unused(ARRAY(SELECT full_name FROM old_rows), ARRAY(SELECT workplace FROM old_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION signup_terms_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE signup_terms;
    RETURN NULL;
END $$;

-- Statement-level with transition tables: a purge or an import of thousands of rows
-- updates the terms in one statement each, not one per row.
CREATE TRIGGER signup_terms_insert AFTER INSERT ON signups
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signup_terms_inserted();
CREATE TRIGGER signup_terms_update AFTER UPDATE ON signups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signup_terms_updated();
CREATE TRIGGER signup_terms_delete AFTER DELETE ON signups
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signup_terms_deleted();
-- `unionbot db copy --force` empties a target with TRUNCATE, which fires no DELETE trigger.
CREATE TRIGGER signup_terms_truncate AFTER TRUNCATE ON signups
    FOR EACH STATEMENT EXECUTE FUNCTION signup_terms_truncated();

INSERT INTO signup_terms (kind, term)
    SELECT 'name', full_name FROM signups UNION SELECT 'workplace', workplace FROM signups
    ON CONFLICT DO NOTHING;
