-- Console, staff accounts and API keys (sqlite flavour; keep in step with the other one).
-- Secrets are never stored: API keys and session tokens as SHA-256 hex, passwords as
-- argon2id PHC strings.
CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    key_hash      TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);

CREATE TABLE staff_accounts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL,             -- staff | editor | admin
    password_hash  TEXT NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    locked_until   TEXT,
    created_at     TEXT NOT NULL
);

-- chat-platform staff ids (slack:U123, discord:456) linked to an account
CREATE TABLE staff_links (
    platform_id   TEXT PRIMARY KEY,
    account       TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash    TEXT PRIMARY KEY,
    account       TEXT NOT NULL,
    csrf          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
