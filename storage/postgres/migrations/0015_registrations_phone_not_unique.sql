-- A phone number no longer makes a registration unique in its program: refusing a second
-- account's registration with a number already registered told anyone who typed a
-- worker's number that this worker had registered (an employer's HR office knows every
-- number; in a review-mode program such as hardship gifts, that is who applied). A
-- registration belongs to an account: the same account may not register one number
-- twice (storage/postgres/care.py, under the program row's lock), and max_per_person
-- holds per account. A registration sharing its number with another is accepted and
-- flagged to the officers, who look it up through the new (program_id, phone_e164) index.
-- The constraint's name is the one 0007_care.sql's UNIQUE (program_id, phone_e164) got.
ALTER TABLE care_registrations DROP CONSTRAINT care_registrations_program_id_phone_e164_key;
CREATE INDEX care_registrations_by_phone ON care_registrations(program_id, phone_e164);
