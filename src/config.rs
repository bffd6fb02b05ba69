//! `madoguchi serve` settings: environment variables over an optional TOML file, each
//! checked once at start-up (errors name the setting); secrets live in [`Secret`],
//! whose Debug/Display are redacted so they can never reach a log line.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use subtle::ConstantTimeEq;

/// Slack's Web API, used unless `SLACK_API_BASE` says otherwise.
pub const DEFAULT_SLACK_API_BASE: &str = "https://slack.com/api";
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// A token or signing secret. Debug and Display print `[redacted]`; use
/// [`Secret::expose`] at the one place the value is needed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Constant-time comparison with a presented value (webhook tokens).
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A setting that is missing or malformed. Always names the setting; never shows a
/// secret's value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{setting} is required {why}")]
    Missing {
        setting: &'static str,
        why: &'static str,
    },
    #[error("{setting} is invalid: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Per-user token bucket: `burst` messages at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub burst: u32,
    pub per_minute: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: 10,
            per_minute: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlackConfig {
    /// Verifies the HTTP endpoints (Events API mode); None = no HTTP endpoints.
    pub signing_secret: Option<Secret>,
    pub bot_token: Secret,
    /// `xapp-…`: Socket Mode (connects out over a WebSocket; no public URL needed).
    pub app_token: Option<Secret>,
    /// Channel id where escalations are posted (and staff replies are read).
    pub staff_channel: Option<String>,
    /// Web API base without a trailing slash.
    pub api_base: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MattermostConfig {
    /// The outgoing webhook's / slash command's token (`MATTERMOST_TOKEN`).
    pub token: Secret,
    /// A bot account's token (`MATTERMOST_BOT_TOKEN`): staff replies are posted through
    /// the REST API. Without it (and `url`) replies cannot be pushed.
    pub bot_token: Option<Secret>,
    /// The server root (`MATTERMOST_URL`, e.g. `https://mm.example.jp`); the bot adds `/api/v4`.
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiscordConfig {
    pub token: Secret,
    pub staff_channel_id: Option<u64>,
    /// Guild channels where every message is answered (mentions and DMs always are).
    pub channel_ids: Vec<u64>,
    /// Register `/madoguchi` in this guild only (instant) instead of globally.
    pub guild_id: Option<u64>,
    /// `DISCORD_API_BASE`: scheme, host and port of a Discord API stand-in or a
    /// rate-limiting proxy (e.g. `http://127.0.0.1:7000`); None = Discord itself.
    pub api_base: Option<String>,
}

/// Everything `madoguchi serve` needs. Channels are `Some` only when configured.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// Content directory (intents/, dictionaries/); None = compiled-in copy.
    pub content: Option<PathBuf>,
    pub body_limit: usize,
    pub rate_limit: RateLimit,
    /// How often the outbox and unposted escalations are polled.
    pub poll_interval: Duration,
    pub slack: Option<SlackConfig>,
    pub mattermost: Option<MattermostConfig>,
    pub discord: Option<DiscordConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: DEFAULT_ADDR.parse().expect("valid default"),
            content: None,
            body_limit: DEFAULT_BODY_LIMIT,
            rate_limit: RateLimit::default(),
            poll_interval: Duration::from_secs(2),
            slack: None,
            mattermost: None,
            discord: None,
        }
    }
}

/// The TOML file's shape: the same settings as the environment, grouped.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<String>,
    content: Option<PathBuf>,
    body_limit: Option<usize>,
    rate_limit_burst: Option<u32>,
    rate_limit_per_minute: Option<u32>,
    poll_interval_ms: Option<u64>,
    #[serde(default)]
    slack: FileSlack,
    #[serde(default)]
    mattermost: FileMattermost,
    #[serde(default)]
    discord: FileDiscord,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSlack {
    signing_secret: Option<Secret>,
    bot_token: Option<Secret>,
    app_token: Option<Secret>,
    staff_channel: Option<String>,
    api_base: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMattermost {
    token: Option<Secret>,
    bot_token: Option<Secret>,
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDiscord {
    token: Option<Secret>,
    staff_channel_id: Option<u64>,
    #[serde(default)]
    channel_ids: Vec<u64>,
    guild_id: Option<u64>,
    api_base: Option<String>,
}

/// Looks a setting up in the environment first, then in the file.
struct Sources<'a> {
    env: &'a HashMap<String, String>,
}

impl Sources<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.env
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

fn parse_num<T: std::str::FromStr>(setting: &'static str, v: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    v.trim().parse::<T>().map_err(|e| ConfigError::Invalid {
        setting,
        reason: format!("{v:?}: {e}"),
    })
}

/// `DISCORD_API_BASE`: `http(s)://host[:port]`, nothing after (serenity swaps it in
/// for `https://discord.com`).
fn discord_api_base(v: &str) -> Result<String, ConfigError> {
    let b = v.trim().trim_end_matches('/');
    let rest = b
        .strip_prefix("http://")
        .or_else(|| b.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains('/') => Ok(b.to_string()),
        _ => Err(ConfigError::Invalid {
            setting: "DISCORD_API_BASE",
            reason: format!("{v:?} must be scheme, host and port only, e.g. http://127.0.0.1:7000"),
        }),
    }
}

fn parse_ids(setting: &'static str, v: &str) -> Result<Vec<u64>, ConfigError> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| parse_num::<u64>(setting, s))
        .collect()
}

impl Config {
    /// Reads the process environment and, when `file` is given (or `MADOGUCHI_CONFIG`
    /// is set), that TOML file. Environment variables win over the file.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let path = file.map(Path::to_path_buf).or_else(|| {
            env.get("MADOGUCHI_CONFIG")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        });
        let text = match &path {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| ConfigError::File {
                path: p.clone(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        Config::from_sources(&env, text.as_deref(), path.as_deref())
    }

    /// The pure part of [`Config::load`]: an environment map and an optional file text.
    pub fn from_sources(
        env: &HashMap<String, String>,
        file: Option<&str>,
        path: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let f: FileConfig = match file {
            Some(t) => toml::from_str(t).map_err(|e| ConfigError::File {
                path: path
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("(config)")),
                reason: e.to_string(),
            })?,
            None => FileConfig::default(),
        };
        let s = Sources { env };
        let mut c = Config::default();

        if let Some(a) = s.get("MADOGUCHI_ADDR").or(f.addr) {
            c.addr = a.parse().map_err(|e| ConfigError::Invalid {
                setting: "MADOGUCHI_ADDR",
                reason: format!("{a:?}: {e}"),
            })?;
        }
        c.content = s.get("MADOGUCHI_CONTENT").map(PathBuf::from).or(f.content);
        if let Some(v) = s.get("MADOGUCHI_BODY_LIMIT") {
            c.body_limit = parse_num("MADOGUCHI_BODY_LIMIT", &v)?;
        } else if let Some(v) = f.body_limit {
            c.body_limit = v;
        }
        if c.body_limit < 1024 {
            return Err(ConfigError::Invalid {
                setting: "MADOGUCHI_BODY_LIMIT",
                reason: "must be at least 1024 bytes".into(),
            });
        }
        if let Some(v) = s.get("MADOGUCHI_RATE_LIMIT_BURST") {
            c.rate_limit.burst = parse_num("MADOGUCHI_RATE_LIMIT_BURST", &v)?;
        } else if let Some(v) = f.rate_limit_burst {
            c.rate_limit.burst = v;
        }
        if let Some(v) = s.get("MADOGUCHI_RATE_LIMIT_PER_MINUTE") {
            c.rate_limit.per_minute = parse_num("MADOGUCHI_RATE_LIMIT_PER_MINUTE", &v)?;
        } else if let Some(v) = f.rate_limit_per_minute {
            c.rate_limit.per_minute = v;
        }
        if c.rate_limit.burst == 0 {
            return Err(ConfigError::Invalid {
                setting: "MADOGUCHI_RATE_LIMIT_BURST",
                reason: "must be at least 1".into(),
            });
        }
        if let Some(v) = s.get("MADOGUCHI_POLL_INTERVAL_MS") {
            c.poll_interval = Duration::from_millis(parse_num("MADOGUCHI_POLL_INTERVAL_MS", &v)?);
        } else if let Some(v) = f.poll_interval_ms {
            c.poll_interval = Duration::from_millis(v);
        }
        if c.poll_interval < Duration::from_millis(50) {
            return Err(ConfigError::Invalid {
                setting: "MADOGUCHI_POLL_INTERVAL_MS",
                reason: "must be at least 50".into(),
            });
        }

        // Slack: on when the signing secret (Events API) or the app token (Socket Mode)
        // is set; then the bot token is required.
        let signing = s
            .get("SLACK_SIGNING_SECRET")
            .map(Secret::new)
            .or(f.slack.signing_secret);
        let app_token = s
            .get("SLACK_APP_TOKEN")
            .map(Secret::new)
            .or(f.slack.app_token);
        if let Some(t) = &app_token {
            if !t.expose().starts_with("xapp-") {
                return Err(ConfigError::Invalid {
                    setting: "SLACK_APP_TOKEN",
                    reason: "must be an app-level token (xapp-…)".into(),
                });
            }
        }
        if signing.is_some() || app_token.is_some() {
            let bot_token = s.get("SLACK_BOT_TOKEN").map(Secret::new).or(f.slack.bot_token).ok_or(ConfigError::Missing {
                setting: "SLACK_BOT_TOKEN",
                why: "when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set (answers are posted with chat.postMessage)",
            })?;
            let api_base = s
                .get("SLACK_API_BASE")
                .or(f.slack.api_base)
                .unwrap_or_else(|| DEFAULT_SLACK_API_BASE.to_string());
            if !(api_base.starts_with("http://") || api_base.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    setting: "SLACK_API_BASE",
                    reason: format!("{api_base:?} must start with http:// or https://"),
                });
            }
            let staff_channel = s.get("SLACK_STAFF_CHANNEL").or(f.slack.staff_channel);
            c.slack = Some(SlackConfig {
                signing_secret: signing,
                bot_token,
                app_token,
                staff_channel,
                api_base: api_base.trim_end_matches('/').to_string(),
            });
        } else if s.get("SLACK_BOT_TOKEN").is_some() || f.slack.bot_token.is_some() {
            return Err(ConfigError::Missing {
                setting: "SLACK_SIGNING_SECRET",
                why: "(Events API) or SLACK_APP_TOKEN (Socket Mode) when SLACK_BOT_TOKEN is set",
            });
        }

        if let Some(token) = s
            .get("MATTERMOST_TOKEN")
            .map(Secret::new)
            .or(f.mattermost.token)
        {
            let bot_token = s
                .get("MATTERMOST_BOT_TOKEN")
                .map(Secret::new)
                .or(f.mattermost.bot_token);
            let url = s.get("MATTERMOST_URL").or(f.mattermost.url);
            let url = match (&bot_token, url) {
                (Some(_), None) => return Err(ConfigError::Missing { setting: "MATTERMOST_URL", why: "when MATTERMOST_BOT_TOKEN is set (the server root, e.g. https://mm.example.jp)" }),
                (None, Some(_)) => return Err(ConfigError::Missing { setting: "MATTERMOST_BOT_TOKEN", why: "when MATTERMOST_URL is set (staff replies are posted as the bot)" }),
                (_, Some(u)) => {
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        return Err(ConfigError::Invalid { setting: "MATTERMOST_URL", reason: format!("{u:?} must start with http:// or https://") });
                    }
                    Some(u.trim_end_matches('/').trim_end_matches("/api/v4").to_string())
                }
                (None, None) => None,
            };
            c.mattermost = Some(MattermostConfig {
                token,
                bot_token,
                url,
            });
        } else if s.get("MATTERMOST_BOT_TOKEN").is_some() || f.mattermost.bot_token.is_some() {
            return Err(ConfigError::Missing {
                setting: "MATTERMOST_TOKEN",
                why:
                    "when MATTERMOST_BOT_TOKEN is set (members reach madoguchi through the webhook)",
            });
        }

        if let Some(token) = s.get("DISCORD_TOKEN").map(Secret::new).or(f.discord.token) {
            let staff_channel_id = match s.get("DISCORD_STAFF_CHANNEL_ID") {
                Some(v) => Some(parse_num("DISCORD_STAFF_CHANNEL_ID", &v)?),
                None => f.discord.staff_channel_id,
            };
            let channel_ids = match s.get("DISCORD_CHANNEL_IDS") {
                Some(v) => parse_ids("DISCORD_CHANNEL_IDS", &v)?,
                None => f.discord.channel_ids,
            };
            let guild_id = match s.get("DISCORD_GUILD_ID") {
                Some(v) => Some(parse_num("DISCORD_GUILD_ID", &v)?),
                None => f.discord.guild_id,
            };
            let api_base = match s.get("DISCORD_API_BASE").or(f.discord.api_base) {
                Some(b) => Some(discord_api_base(&b)?),
                None => None,
            };
            c.discord = Some(DiscordConfig {
                token,
                staff_channel_id,
                channel_ids,
                guild_id,
                api_base,
            });
        }
        Ok(c)
    }

    /// One line per channel for the start-up log (no secrets).
    pub fn summary(&self) -> Vec<String> {
        let mut out = vec![format!(
            "http: {} (POST /v1/messages, GET /healthz, GET /metrics)",
            self.addr
        )];
        match &self.slack {
            Some(s) => {
                let mut modes = Vec::new();
                if s.app_token.is_some() {
                    modes.push("Socket Mode (SLACK_APP_TOKEN)".to_string());
                }
                if s.signing_secret.is_some() {
                    modes.push("/slack/events /slack/commands /slack/interactions".to_string());
                }
                out.push(format!(
                    "slack: {}, api {}, staff channel {}",
                    modes.join(" + "),
                    s.api_base,
                    s.staff_channel.as_deref().unwrap_or("(none: escalations stay in `madoguchi staff list`)")
                ));
            }
            None => out.push("slack: off (set SLACK_BOT_TOKEN with SLACK_APP_TOKEN for Socket Mode or SLACK_SIGNING_SECRET for the Events API)".into()),
        }
        out.push(match &self.mattermost {
            Some(m) => match &m.url {
                Some(u) => format!("mattermost: /mattermost/webhook, staff replies pushed through {u}/api/v4"),
                None => "mattermost: /mattermost/webhook; staff replies CANNOT be pushed (set MATTERMOST_BOT_TOKEN and MATTERMOST_URL): they reach the member with the next answer".into(),
            },
            None => "mattermost: off (set MATTERMOST_TOKEN)".into(),
        });
        match &self.discord {
            Some(d) => out.push(format!(
                "discord: gateway client{}, staff channel {}",
                d.api_base
                    .as_deref()
                    .map(|b| format!(" via {b} (rate limiting left to it)"))
                    .unwrap_or_default(),
                d.staff_channel_id
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "(none)".into())
            )),
            None => out.push("discord: off (set DISCORD_TOKEN)".into()),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_environment_gives_defaults_and_no_channels() {
        let c = Config::from_sources(&env(&[]), None, None).unwrap();
        assert_eq!(c.addr.to_string(), DEFAULT_ADDR);
        assert!(c.slack.is_none() && c.mattermost.is_none() && c.discord.is_none());
        assert_eq!(c.body_limit, DEFAULT_BODY_LIMIT);
    }

    #[test]
    fn slack_needs_its_bot_token_and_the_error_names_it() {
        let e = Config::from_sources(&env(&[("SLACK_SIGNING_SECRET", "s3cr3t")]), None, None)
            .unwrap_err();
        assert!(e.to_string().contains("SLACK_BOT_TOKEN"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"));
        let e =
            Config::from_sources(&env(&[("SLACK_BOT_TOKEN", "xoxb-1")]), None, None).unwrap_err();
        assert!(e.to_string().contains("SLACK_SIGNING_SECRET"), "{e}");
    }

    #[test]
    fn slack_settings_from_env_with_default_api_base() {
        let c = Config::from_sources(
            &env(&[
                ("SLACK_SIGNING_SECRET", "abc"),
                ("SLACK_BOT_TOKEN", "xoxb-1"),
                ("SLACK_STAFF_CHANNEL", "C1"),
            ]),
            None,
            None,
        )
        .unwrap();
        let s = c.slack.unwrap();
        assert_eq!(s.api_base, DEFAULT_SLACK_API_BASE);
        assert_eq!(s.staff_channel.as_deref(), Some("C1"));
        assert_eq!(s.signing_secret.unwrap().expose(), "abc");
    }

    #[test]
    fn malformed_settings_name_the_setting() {
        for (k, v) in [
            ("MADOGUCHI_ADDR", "localhost"),
            ("MADOGUCHI_BODY_LIMIT", "lots"),
            ("MADOGUCHI_RATE_LIMIT_BURST", "0"),
        ] {
            let e = Config::from_sources(&env(&[(k, v)]), None, None).unwrap_err();
            assert!(e.to_string().contains(k), "{k}: {e}");
        }
        let e = Config::from_sources(
            &env(&[
                ("DISCORD_TOKEN", "t"),
                ("DISCORD_STAFF_CHANNEL_ID", "#staff"),
            ]),
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("DISCORD_STAFF_CHANNEL_ID"), "{e}");
        let e = Config::from_sources(
            &env(&[
                ("SLACK_SIGNING_SECRET", "a"),
                ("SLACK_BOT_TOKEN", "b"),
                ("SLACK_API_BASE", "slack.com"),
            ]),
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("SLACK_API_BASE"), "{e}");
    }

    #[test]
    fn file_is_read_and_environment_wins() {
        let file = r#"
            addr = "127.0.0.1:9000"
            [slack]
            signing_secret = "from-file"
            bot_token = "xoxb-file"
            api_base = "http://127.0.0.1:1/api/"
            [discord]
            token = "disc"
            channel_ids = [1, 2]
        "#;
        let c = Config::from_sources(
            &env(&[("SLACK_SIGNING_SECRET", "from-env")]),
            Some(file),
            None,
        )
        .unwrap();
        assert_eq!(c.addr.port(), 9000);
        let s = c.slack.unwrap();
        assert_eq!(s.signing_secret.unwrap().expose(), "from-env");
        assert_eq!(s.api_base, "http://127.0.0.1:1/api");
        assert_eq!(c.discord.unwrap().channel_ids, vec![1, 2]);
    }

    #[test]
    fn unknown_file_keys_are_an_error_naming_the_file() {
        let e = Config::from_sources(&env(&[]), Some("slak = 1"), Some(Path::new("m.toml")))
            .unwrap_err();
        assert!(
            e.to_string().contains("m.toml") && e.to_string().contains("slak"),
            "{e}"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = Config::from_sources(
            &env(&[
                ("SLACK_SIGNING_SECRET", "sig-VALUE"),
                ("SLACK_BOT_TOKEN", "xoxb-VALUE"),
                ("MATTERMOST_TOKEN", "mm-VALUE"),
                ("DISCORD_TOKEN", "dc-VALUE"),
            ]),
            None,
            None,
        )
        .unwrap();
        let dbg = format!("{c:?} {}", c.summary().join(" "));
        assert!(!dbg.contains("VALUE"), "{dbg}");
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn new_channel_modes_are_read_and_checked() {
        let c = Config::from_sources(
            &env(&[("SLACK_APP_TOKEN", "xapp-1"), ("SLACK_BOT_TOKEN", "xoxb-1")]),
            None,
            None,
        )
        .unwrap();
        let s = c.slack.as_ref().unwrap();
        assert!(s.signing_secret.is_none() && s.app_token.is_some());
        assert!(c.summary().iter().any(|l| l.contains("Socket Mode")));
        let e = Config::from_sources(
            &env(&[
                ("SLACK_APP_TOKEN", "xoxb-wrong"),
                ("SLACK_BOT_TOKEN", "xoxb-1"),
            ]),
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("SLACK_APP_TOKEN"), "{e}");
        let c = Config::from_sources(
            &env(&[
                ("DISCORD_TOKEN", "t"),
                ("DISCORD_API_BASE", "http://127.0.0.1:7000/"),
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            c.discord.unwrap().api_base.as_deref(),
            Some("http://127.0.0.1:7000")
        );
        let e = Config::from_sources(
            &env(&[
                ("DISCORD_TOKEN", "t"),
                ("DISCORD_API_BASE", "http://x/api/v10"),
            ]),
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("DISCORD_API_BASE"), "{e}");
        let c = Config::from_sources(
            &env(&[
                ("MATTERMOST_TOKEN", "w"),
                ("MATTERMOST_BOT_TOKEN", "b"),
                ("MATTERMOST_URL", "http://mm:8065/api/v4"),
            ]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.mattermost.unwrap().url.as_deref(), Some("http://mm:8065"));
        let e = Config::from_sources(
            &env(&[("MATTERMOST_TOKEN", "w"), ("MATTERMOST_BOT_TOKEN", "b")]),
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("MATTERMOST_URL"), "{e}");
        let c = Config::from_sources(&env(&[("MATTERMOST_TOKEN", "w")]), None, None).unwrap();
        assert!(
            c.summary().iter().any(|l| l.contains("CANNOT be pushed")),
            "{:?}",
            c.summary()
        );
    }

    #[test]
    fn discord_channel_ids_accept_commas_and_spaces() {
        let c = Config::from_sources(
            &env(&[("DISCORD_TOKEN", "t"), ("DISCORD_CHANNEL_IDS", "11, 22 33")]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.discord.unwrap().channel_ids, vec![11, 22, 33]);
    }
}
