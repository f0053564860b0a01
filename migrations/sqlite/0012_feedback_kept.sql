-- Feedback answers, like registration answers, say whether they are kept for the reports
-- (SPEC §14, docs/database.md "Questions, registrations, feedback"): rows not `kept` (free text,
-- and choices the help line does not mark `statistics`) are deleted with the transcript's
-- bodies after `transcripts.keep_days`. Rows written before this column keep the default.
ALTER TABLE feedback ADD COLUMN kept INTEGER NOT NULL DEFAULT 1 CHECK (kept IN (0, 1));
CREATE INDEX feedback_unkept ON feedback (created_at) WHERE kept = 0;
-- The staff member's ended chats without a registration are looked up by their JID.
CREATE INDEX rooms_staff_jid ON rooms (staff_jid, busy_at);
