//! Who may use madoguchi from outside: API keys for the HTTP API (only their SHA-256 is
//! stored), staff accounts for the console (argon2id passwords, lock-out after repeated
//! failures, roles), console sessions (token hashed, one CSRF token each), links from
//! chat-platform staff ids to accounts, and the audit log of account actions.

use chrono::{DateTime, Duration, FixedOffset};
use sha2::{Digest, Sha256};

use crate::store::{with_pool, Store, StoreError};

/// Failed logins in a row that lock an account.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_MINUTES: i64 = 15;
/// How long a console session lasts.
pub const SESSION_HOURS: i64 = 12;
/// Prefix of every API key (lets secret scanners recognise a leaked one).
pub const KEY_PREFIX: &str = "mdg_";

/// What an account may do in the console.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Queue, conversations, claim / reply / resolve, stats.
    Staff,
    /// Staff, plus the editor page (unplaced messages, example export).
    Editor,
    /// Everything.
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Staff => "staff",
            StaffRole::Editor => "editor",
            StaffRole::Admin => "admin",
        }
    }
    pub fn can_edit(self) -> bool {
        self >= StaffRole::Editor
    }
}

impl std::str::FromStr for StaffRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "staff" => StaffRole::Staff,
            "editor" => StaffRole::Editor,
            "admin" => StaffRole::Admin,
            o => return Err(format!("unknown role {o:?} (staff, editor, admin)")),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("名前は英数字と . _ - の 1〜64 文字にしてください: {0:?}")]
    BadName(String),
    #[error("名前に電話番号やメールアドレスは使えません（監査ログに残るため）")]
    NameHoldsContact,
    #[error("チャットの ID は slack:U0123ABCD か discord:123456789012345678 の形で指定してください: {0:?}")]
    BadPlatformId(String),
    #[error("パスワードは 10 文字以上にしてください")]
    WeakPassword,
    #[error("{0} は既に登録されています")]
    Exists(String),
    #[error("{0} は登録されていません")]
    Unknown(String),
    #[error("password hashing: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AccountError {
    fn from(e: sqlx::Error) -> Self {
        AccountError::Store(StoreError::Db(e))
    }
}

/// A stored API key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyInfo {
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A staff account as listed (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub name: String,
    pub role: StaffRole,
    pub disabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
    pub created_at: String,
    /// Linked chat-platform ids (`slack:U123`).
    pub links: Vec<String>,
}

/// Why a login failed. The console shows one message for all of them except `Locked`
/// (so a guesser learns nothing about which names exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    BadCredentials,
    Locked { until: String },
    Disabled,
}

/// A logged-in console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub account: String,
    pub role: StaffRole,
    pub csrf: String,
}

/// `n` random bytes from the operating system, hex-encoded.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).expect("the operating system's random source works");
    hex::encode(b)
}

/// Keys revoked by this process so far: a cache of valid keys made before the last
/// revocation is not trusted.
static KEY_REVOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many keys this process has revoked (see [`KEY_REVOCATIONS`]).
pub fn revocations() -> u64 {
    KEY_REVOCATIONS.load(std::sync::atomic::Ordering::Acquire)
}

/// SHA-256 hex of a secret (API keys and session tokens are high-entropy, so a plain
/// hash is enough; passwords use argon2id).
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A new API key: `mdg_` + 64 hex characters.
pub fn new_api_key() -> String {
    format!("{KEY_PREFIX}{}", random_hex(32))
}

fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(AccountError::BadName(name.to_string()));
    }
    // account names are recorded in the audit log as they are: no phone numbers
    if crate::redact::redact_contacts(name) != name {
        return Err(AccountError::NameHoldsContact);
    }
    Ok(())
}

/// A chat-platform staff id as the channels record it: `slack:` and a Slack user id,
/// or `discord:` and a Discord user id.
fn check_platform_id(platform_id: &str) -> Result<(), AccountError> {
    let ok = match platform_id.split_once(':') {
        Some(("slack", id)) => {
            (2..=20).contains(&id.len())
                && id.starts_with(['U', 'W'])
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        }
        Some(("discord", id)) => {
            (1..=20).contains(&id.len()) && id.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadPlatformId(platform_id.to_string()))
    }
}

/// argon2id PHC string of `password` with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(phc) {
        Ok(h) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so an unknown name costs
/// the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static H: once_cell::sync::Lazy<String> =
        once_cell::sync::Lazy::new(|| hash_password("not a real password").expect("hashing works"));
    &H
}

fn ts(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

const AUDIT: &str = "INSERT INTO audit_log (escalation_id, actor, action, detail, at) VALUES (NULL, $1, $2, $3, $4)";

/// API keys, accounts and sessions over the store.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
}

type AccRow = (String, String, i64, i64, Option<String>, String);

impl Accounts {
    pub fn new(store: Store) -> Accounts {
        Accounts { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Writes one audit line for an account action that concerns no escalation.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        detail: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.store.ready().await?;
        with_pool!(self.store, p => sqlx::query(AUDIT).bind(actor).bind(action).bind(detail).bind(ts(now)).execute(p).await.map(|_| ())?);
        Ok(())
    }

    // ---- API keys ----

    /// Creates a key called `name`; returns the key (shown once, stored only hashed).
    pub async fn add_api_key(
        &self,
        name: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<String, AccountError> {
        check_name(name)?;
        self.store.ready().await?;
        let key = new_api_key();
        let r = with_pool!(self.store, p => sqlx::query("INSERT INTO api_keys (name, key_hash, created_at) VALUES ($1, $2, $3)")
            .bind(name).bind(sha256_hex(&key)).bind(ts(now)).execute(p).await.map(|_| ()));
        match r {
            Ok(_) => {}
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                return Err(AccountError::Exists(name.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        self.audit("admin", "api_key_add", Some(name), now).await?;
        Ok(key)
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, AccountError> {
        self.store.ready().await?;
        let rows: Vec<(String, String, Option<String>)> = with_pool!(self.store, p => sqlx::query_as("SELECT name, created_at, revoked_at FROM api_keys ORDER BY name").fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|(name, created_at, revoked_at)| ApiKeyInfo {
                name,
                created_at,
                revoked_at,
            })
            .collect())
    }

    pub async fn revoke_api_key(
        &self,
        name: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), AccountError> {
        self.store.ready().await?;
        let n = with_pool!(self.store, p => sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
            .bind(ts(now)).bind(name).execute(p).await?.rows_affected());
        if n == 0 {
            return Err(AccountError::Unknown(name.to_string()));
        }
        KEY_REVOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Release);
        self.audit("admin", "api_key_revoke", Some(name), now)
            .await?;
        Ok(())
    }

    /// The name of the valid (not revoked) key `presented`, if it is one (always
    /// asks the database; the HTTP channel keeps a short-lived cache, see
    /// [`revocations`]).
    pub async fn api_key_name(&self, presented: &str) -> Result<Option<String>, StoreError> {
        if !presented.starts_with(KEY_PREFIX) || presented.len() > 200 {
            return Ok(None);
        }
        self.store.ready().await?;
        let row: Option<(String,)> = with_pool!(self.store, p => sqlx::query_as("SELECT name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(sha256_hex(presented)).fetch_optional(p).await?);
        Ok(row.map(|r| r.0))
    }

    // ---- staff accounts ----

    pub async fn add_account(
        &self,
        name: &str,
        role: StaffRole,
        password: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), AccountError> {
        check_name(name)?;
        if password.chars().count() < 10 {
            return Err(AccountError::WeakPassword);
        }
        let hash = hash_password(password)?;
        self.store.ready().await?;
        let r = with_pool!(self.store, p => sqlx::query("INSERT INTO staff_accounts (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(name).bind(role.as_str()).bind(&hash).bind(ts(now)).execute(p).await.map(|_| ()));
        match r {
            Ok(_) => {}
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                return Err(AccountError::Exists(name.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        self.audit(name, "account_add", Some(role.as_str()), now)
            .await?;
        Ok(())
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>, AccountError> {
        self.store.ready().await?;
        let rows: Vec<AccRow> = with_pool!(self.store, p => sqlx::query_as(
            "SELECT name, role, disabled, failed_logins, locked_until, created_at FROM staff_accounts ORDER BY name").fetch_all(p).await?);
        let links: Vec<(String, String)> = with_pool!(self.store, p => sqlx::query_as("SELECT account, platform_id FROM staff_links ORDER BY platform_id").fetch_all(p).await?);
        rows.into_iter()
            .map(
                |(name, role, disabled, failed_logins, locked_until, created_at)| {
                    let role = role
                        .parse()
                        .map_err(|e: String| AccountError::Store(StoreError::Corrupt(e)))?;
                    let l = links
                        .iter()
                        .filter(|(a, _)| *a == name)
                        .map(|(_, p)| p.clone())
                        .collect();
                    Ok(Account {
                        name,
                        role,
                        disabled: disabled != 0,
                        failed_logins,
                        locked_until,
                        created_at,
                        links: l,
                    })
                },
            )
            .collect()
    }

    pub async fn set_disabled(
        &self,
        name: &str,
        disabled: bool,
        now: DateTime<FixedOffset>,
    ) -> Result<(), AccountError> {
        self.store.ready().await?;
        let n = with_pool!(self.store, p => sqlx::query("UPDATE staff_accounts SET disabled = $1 WHERE name = $2")
            .bind(i64::from(disabled)).bind(name).execute(p).await?.rows_affected());
        if n == 0 {
            return Err(AccountError::Unknown(name.to_string()));
        }
        if disabled {
            with_pool!(self.store, p => sqlx::query("DELETE FROM staff_sessions WHERE account = $1").bind(name).execute(p).await.map(|_| ())?);
        }
        self.audit(
            name,
            if disabled {
                "account_disable"
            } else {
                "account_enable"
            },
            None,
            now,
        )
        .await?;
        Ok(())
    }

    /// Sets a new password, unlocks the account and ends its sessions.
    pub async fn set_password(
        &self,
        name: &str,
        password: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), AccountError> {
        if password.chars().count() < 10 {
            return Err(AccountError::WeakPassword);
        }
        let hash = hash_password(password)?;
        self.store.ready().await?;
        let n = with_pool!(self.store, p => sqlx::query("UPDATE staff_accounts SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE name = $2")
            .bind(&hash).bind(name).execute(p).await?.rows_affected());
        if n == 0 {
            return Err(AccountError::Unknown(name.to_string()));
        }
        with_pool!(self.store, p => sqlx::query("DELETE FROM staff_sessions WHERE account = $1").bind(name).execute(p).await.map(|_| ())?);
        self.audit(name, "account_passwd", None, now).await?;
        Ok(())
    }

    /// Links a chat-platform staff id (`slack:U123`) to an account.
    pub async fn link(
        &self,
        name: &str,
        platform_id: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), AccountError> {
        check_platform_id(platform_id)?;
        self.store.ready().await?;
        let exists: Option<(String,)> = with_pool!(self.store, p => sqlx::query_as("SELECT name FROM staff_accounts WHERE name = $1").bind(name).fetch_optional(p).await?);
        if exists.is_none() {
            return Err(AccountError::Unknown(name.to_string()));
        }
        with_pool!(self.store, p => sqlx::query("INSERT INTO staff_links (platform_id, account, created_at) VALUES ($1, $2, $3) ON CONFLICT (platform_id) DO UPDATE SET account = excluded.account")
            .bind(platform_id).bind(name).bind(ts(now)).execute(p).await.map(|_| ())?);
        self.audit(name, "account_link", Some(platform_id), now)
            .await?;
        Ok(())
    }

    /// The account a chat-platform staff id is linked to.
    pub async fn linked_account(&self, platform_id: &str) -> Result<Option<String>, StoreError> {
        self.store.ready().await?;
        let row: Option<(String,)> = with_pool!(self.store, p => sqlx::query_as("SELECT account FROM staff_links WHERE platform_id = $1").bind(platform_id).fetch_optional(p).await?);
        Ok(row.map(|r| r.0))
    }

    /// Checks a password. Counts failures; [`MAX_FAILED_LOGINS`] in a row lock the
    /// account for [`LOCK_MINUTES`] (even the right password is refused meanwhile).
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Result<StaffRole, LoginError>, StoreError> {
        self.store.ready().await?;
        let row: Option<(String, String, i64, i64, Option<String>)> = with_pool!(self.store, p => sqlx::query_as(
            "SELECT role, password_hash, disabled, failed_logins, locked_until FROM staff_accounts WHERE name = $1")
            .bind(name).fetch_optional(p).await?);
        let Some((role, hash, disabled, failed, locked_until)) = row else {
            let _ = verify_password(password, dummy_hash());
            return Ok(Err(LoginError::BadCredentials));
        };
        let now_s = ts(now);
        if let Some(until) = locked_until.filter(|u| *u > now_s) {
            self.audit(name, "login_refused_locked", None, now).await?;
            return Ok(Err(LoginError::Locked { until }));
        }
        let hash_ok = {
            let (pw, h) = (password.to_string(), hash.clone());
            tokio::task::spawn_blocking(move || verify_password(&pw, &h))
                .await
                .unwrap_or(false)
        };
        if !hash_ok {
            let failed = failed + 1;
            let lock =
                (failed >= MAX_FAILED_LOGINS).then(|| ts(now + Duration::minutes(LOCK_MINUTES)));
            let failed_after = if lock.is_some() { 0 } else { failed };
            with_pool!(self.store, p => sqlx::query("UPDATE staff_accounts SET failed_logins = $1, locked_until = COALESCE($2, locked_until) WHERE name = $3")
                .bind(failed_after).bind(&lock).bind(name).execute(p).await.map(|_| ())?);
            self.audit(
                name,
                if lock.is_some() {
                    "login_failed_locked"
                } else {
                    "login_failed"
                },
                None,
                now,
            )
            .await?;
            return Ok(Err(match lock {
                Some(until) => LoginError::Locked { until },
                None => LoginError::BadCredentials,
            }));
        }
        if disabled != 0 {
            self.audit(name, "login_refused_disabled", None, now)
                .await?;
            return Ok(Err(LoginError::Disabled));
        }
        with_pool!(self.store, p => sqlx::query("UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL WHERE name = $1").bind(name).execute(p).await.map(|_| ())?);
        let role = role.parse().map_err(StoreError::Corrupt)?;
        Ok(Ok(role))
    }

    // ---- sessions ----

    /// Starts a session for `name`; returns (cookie token, csrf token).
    pub async fn create_session(
        &self,
        name: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(String, String), StoreError> {
        self.store.ready().await?;
        let token = random_hex(32);
        let csrf = random_hex(32);
        with_pool!(self.store, p => sqlx::query("INSERT INTO staff_sessions (token_hash, account, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(sha256_hex(&token)).bind(name).bind(&csrf).bind(ts(now)).bind(ts(now + Duration::hours(SESSION_HOURS))).execute(p).await.map(|_| ())?);
        self.audit(name, "login", None, now).await?;
        Ok((token, csrf))
    }

    /// The live session of a cookie token (the account must still be enabled).
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Option<Session>, StoreError> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        self.store.ready().await?;
        let row: Option<(String, String, String)> = with_pool!(self.store, p => sqlx::query_as(
            "SELECT s.account, a.role, s.csrf FROM staff_sessions s JOIN staff_accounts a ON a.name = s.account \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = 0")
            .bind(sha256_hex(token)).bind(ts(now)).fetch_optional(p).await?);
        match row {
            None => Ok(None),
            Some((account, role, csrf)) => Ok(Some(Session {
                account,
                role: role.parse().map_err(StoreError::Corrupt)?,
                csrf,
            })),
        }
    }

    /// Ends a session: its token is useless afterwards.
    pub async fn end_session(
        &self,
        token: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.store.ready().await?;
        let row: Option<(String,)> = with_pool!(self.store, p => sqlx::query_as("DELETE FROM staff_sessions WHERE token_hash = $1 RETURNING account")
            .bind(sha256_hex(token)).fetch_optional(p).await?);
        if let Some((name,)) = row {
            self.audit(&name, "logout", None, now).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn api_keys_are_long_random_and_prefixed() {
        let (a, b) = (new_api_key(), new_api_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 64);
        assert_eq!(sha256_hex(&a).len(), 64);
    }

    #[test]
    fn names_are_plain() {
        assert!(check_name("alice.b-2_x").is_ok());
        for bad in ["", "a b", "<script>", "山田", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        // no e-mail addresses (no @) and no phone numbers in names kept in the audit log
        for bad in ["taro@example.jp", "090-1234-5678", "sato_09012345678"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name("sato-2024").is_ok());
    }

    #[test]
    fn platform_ids_are_slack_or_discord_user_ids() {
        for ok in [
            "slack:U0123ABCD",
            "slack:W12345",
            "discord:123456789012345678",
        ] {
            assert!(check_platform_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "U0123ABCD",
            "slack:",
            "slack:taro@example.jp",
            "slack:u0123abcd",
            "discord:taro",
            "mattermost:abc",
            "discord:090-1234-5678",
        ] {
            assert!(check_platform_id(bad).is_err(), "{bad}");
        }
    }
}
