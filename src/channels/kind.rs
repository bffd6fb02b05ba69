//! What a channel hands the service: which kind of channel ([`ChannelKind`]) and one
//! member message ([`Inbound`]). Lives here, not in the core: the core sees only text.

use serde::{Deserialize, Serialize};

/// Which kind of channel a message came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Terminal,
    Http,
    Slack,
    Mattermost,
    Discord,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Terminal => "terminal",
            ChannelKind::Http => "http",
            ChannelKind::Slack => "slack",
            ChannelKind::Mattermost => "mattermost",
            ChannelKind::Discord => "discord",
        }
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "terminal" => ChannelKind::Terminal,
            "http" => ChannelKind::Http,
            "slack" => ChannelKind::Slack,
            "mattermost" => ChannelKind::Mattermost,
            "discord" => ChannelKind::Discord,
            other => return Err(format!("unknown channel {other:?}")),
        })
    }
}

/// One member message, whatever channel it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    pub channel: ChannelKind,
    /// The member's id on that channel (Slack user id, Discord user id, HTTP "user").
    pub user: String,
    /// Where the reply goes: Slack channel+thread ts, Discord channel id, … Opaque to
    /// the core; conversation state is keyed by (channel, user, conversation).
    pub conversation: String,
    pub text: String,
}
