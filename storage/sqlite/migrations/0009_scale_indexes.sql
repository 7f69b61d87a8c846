-- Housekeeping deletes by age must not scan whole tables at a federation's size:
-- processed_updates grows by one row per update, conversation_state by one per user.
CREATE INDEX processed_updates_at ON processed_updates(at);
CREATE INDEX conversation_state_flow_updated ON conversation_state(flow, updated_at);
