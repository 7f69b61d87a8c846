-- A question from someone who has not signed up carries the province they named when
-- they asked, so that province's officers see it in their inbox (issue 9: the hand-off
-- reaches the officers of the worker's province). A sign-up's province, when there is
-- one, still wins: it is the one the worker keeps up to date.
ALTER TABLE questions ADD COLUMN named_province_id TEXT;
