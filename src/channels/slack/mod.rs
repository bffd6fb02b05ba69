//! Slack: Events API (`/slack/events`), the `/madoguchi` slash command
//! (`/slack/commands`) and button clicks (`/slack/interactions`). Every request is
//! verified on its raw body (v0 HMAC-SHA256, constant-time, 5-minute window) before it
//! is parsed; events are acknowledged at once and answered from a tracked task with
//! `chat.postMessage` in the thread. Escalations go to the staff channel with
//! Claim/Resolve buttons, and a staff reply in that thread is relayed to the member.
//!
//! Files: [`verify`] (signatures), [`render`] (text out), [`events`] (events,
//! commands and interactions in), [`api`] (Web API client), [`handlers`] (endpoints
//! and spawned work), [`staff`] (the staff channel: escalation posts, staff replies).

pub mod api;
pub mod events;
pub mod handlers;
pub mod render;
pub mod socket;
pub mod staff;
pub mod verify;

pub use api::{SlackApi, SlackApiError};
pub use events::*;
pub use handlers::{routes, staff_ref, Ctx, Seen, SlackState};
pub use render::*;
pub use verify::{sign, verify, SignatureError, MAX_CLOCK_SKEW_SECS};

pub const CLAIM_ACTION: &str = "staff_claim";
pub const RESOLVE_ACTION: &str = "staff_resolve";
pub const CHOICE_ACTION_PREFIX: &str = "choice_";

#[cfg(test)]
mod tests;
