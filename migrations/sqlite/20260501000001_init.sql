-- madoguchi store, SQLite flavour (keep in step with ../postgres/). Timestamps are
-- RFC 3339 UTC text with microseconds, so they sort as text on both backends.
CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    channel       TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    conversation  TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (channel, user_id, conversation)
);

CREATE TABLE escalations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    channel          TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    conversation     TEXT NOT NULL,
    reason           TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open',
    assignee         TEXT,
    text             TEXT NOT NULL,
    intent           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    claimed_at       TEXT,
    resolved_at      TEXT,
    note             TEXT,
    staff_ref        TEXT
);
CREATE INDEX escalations_status ON escalations (status);
CREATE INDEX escalations_conversation ON escalations (conversation_id, status);
CREATE INDEX escalations_staff_ref ON escalations (staff_ref);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    role             TEXT NOT NULL,            -- member | bot | staff
    author           TEXT,                     -- staff name for role = staff
    text             TEXT NOT NULL,            -- redacted
    intent           TEXT,
    confidence       REAL,
    urgent           INTEGER,                  -- 0 / 1
    reply_kind       TEXT,
    escalation_id    INTEGER,
    created_at       TEXT NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    escalation_id    INTEGER NOT NULL REFERENCES escalations(id),
    channel          TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    conversation     TEXT NOT NULL,
    staff            TEXT NOT NULL,
    text             TEXT NOT NULL,            -- redacted
    created_at       TEXT NOT NULL,
    delivered_at     TEXT
);
CREATE INDEX outbox_pending ON outbox (channel, delivered_at);

CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    escalation_id    INTEGER,
    actor            TEXT NOT NULL,
    action           TEXT NOT NULL,            -- claim | reply | resolve | staff_ref | spool_replay
    detail           TEXT,
    at               TEXT NOT NULL
);

-- spool records already written, so a replay never writes a turn twice
CREATE TABLE spool_applied (
    spool_key        TEXT PRIMARY KEY,
    applied_at       TEXT NOT NULL
);
