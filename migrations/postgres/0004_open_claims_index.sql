-- The bot reads the open claims every `database.poll_interval`. Without this index the read
-- visits every `available` room (30 ms at 100,000 rooms on SQLite, five times a second in the
-- tests): the bot spent CPU while nothing happened. The index holds only the claimed rooms.
CREATE INDEX rooms_open_claims ON rooms (status)
    WHERE staff_claimed_at IS NOT NULL OR client_claimed_at IS NOT NULL;
