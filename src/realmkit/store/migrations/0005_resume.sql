-- Resuming after a gateway died: the client holds a resume token, the
-- assignment keeps only its SHA-256. The hash is replaced on every entry
-- (a token resumes once) and cleared when the character goes offline.
ALTER TABLE characters.player_assignments ADD COLUMN resume_hash bytea
    CHECK (resume_hash IS NULL OR length(resume_hash) = 32);
CREATE UNIQUE INDEX player_assignments_resume_idx ON characters.player_assignments (resume_hash)
    WHERE resume_hash IS NOT NULL;
