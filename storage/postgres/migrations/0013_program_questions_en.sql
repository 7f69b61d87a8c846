-- A program's priority questions in English too, paired in order with `questions`
-- (`unionbot program create --question-en`): English-speaking workers were asked them in
-- Vietnamese (found by an outside tester). Empty: the Vietnamese ones are shown to all.
ALTER TABLE care_programs ADD COLUMN questions_en JSONB NOT NULL DEFAULT '[]';
