-- Several `serve` processes on one database (see README, "Replicas"): keys of Slack
-- events, commands and envelopes already taken (so a retry reaching another replica
-- is answered once), leases on staff-reply deliveries and escalation posts (so each
-- is done by one replica), and a mark on escalations whose member could not be reached.
CREATE TABLE dedup_keys (
    key      TEXT PRIMARY KEY,
    seen_at  TEXT NOT NULL
);
CREATE INDEX dedup_keys_seen ON dedup_keys (seen_at);
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
ALTER TABLE escalations ADD COLUMN post_claimed_until TEXT;
ALTER TABLE escalations ADD COLUMN member_unreached_at TEXT;
