-- Every housekeeping delete by age reads an index, at any size (issue 17, item 7).
-- conversation_state(updated_at) and inbound_journal(received_at) exist already (0001, 0003).
-- The same expressions as the purges' WHERE clauses, so the planner can use them.
CREATE INDEX questions_purge ON questions((COALESCE(answered_at, closed_at, created_at)));
CREATE INDEX care_programs_purge ON care_programs((COALESCE(event_at, closes_at)));
CREATE INDEX care_cases_updated ON care_cases(updated_at);
CREATE INDEX care_outbox_created ON care_outbox(created_at);
CREATE INDEX report_limits_day ON report_limits(day);
