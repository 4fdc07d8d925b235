-- Named locks (LockStore): one row per lock taken, `holder` the taker's unique value, the lease
-- ending at `expires_ms` (Unix milliseconds of the system clock, not the emulator's).
CREATE TABLE locks (
    name TEXT COLLATE "C" PRIMARY KEY,
    holder TEXT COLLATE "C" NOT NULL,
    expires_ms BIGINT NOT NULL
);
-- The live-response library's file contents (BlobStore), in the row of their metadata: written
-- in one transaction with it and deleted with it (kept out of line by TOAST).
ALTER TABLE library_files ADD COLUMN content BYTEA;
