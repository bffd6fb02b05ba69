//! Staff-side delivery in one shape: every chat channel that has a staff room or can
//! push staff replies to its members implements [`StaffChannel`], and one generic loop
//! ([`staff_loop`]) posts new escalations to a staff room and delivers queued staff
//! replies. Adding a channel means one file under `src/channels/` implementing the trait.
//!
//! Staff actions that come from a chat platform (Slack and Discord buttons, replies in
//! an escalation's thread) name their actor with [`Shared::staff_actor`]: the console
//! account the platform id is linked to, else the platform id itself.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{ChannelKind, Shared};
use crate::service::{Escalation, OutboxItem};

/// Posting or delivering failed (the item stays queued and is retried next pass).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

impl DeliveryError {
    pub fn new(e: impl std::fmt::Display) -> DeliveryError {
        DeliveryError(e.to_string())
    }
}

/// One chat channel's staff side.
#[axum::async_trait]
pub trait StaffChannel: Send + Sync {
    /// The member channel this one serves (its members' staff replies go through it).
    fn kind(&self) -> ChannelKind;
    /// A staff room is configured: escalations can be posted here.
    fn has_staff_room(&self) -> bool;
    /// Staff replies can be pushed to this channel's members (otherwise they are handed
    /// out with the member's next answer, see `Service::set_pushed`).
    fn pushes_replies(&self) -> bool;
    /// Posts an escalation to the staff room; returns its staff reference (stored so a
    /// reply in the post's thread finds the escalation).
    async fn post_escalation(&self, e: &Escalation) -> Result<String, DeliveryError>;
    /// Delivers one staff reply to the member it is for.
    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError>;
}

/// The staff channels of one process, in order of preference for escalations from
/// channels that have no staff room of their own.
pub type StaffChannels = Vec<Arc<dyn StaffChannel>>;

/// Which staff room an escalation goes to: its own channel's when that has one,
/// otherwise the first channel with a staff room. None when no room is configured.
pub fn room_for(channels: &[Arc<dyn StaffChannel>], e: &Escalation) -> Option<usize> {
    channels
        .iter()
        .position(|c| c.has_staff_room() && c.kind() == e.channel)
        .or_else(|| channels.iter().position(|c| c.has_staff_room()))
}

/// How long looking up the account a chat-platform staff id is linked to may take
/// before the action is recorded under the platform id.
const LINK_LOOKUP: Duration = Duration::from_secs(2);

impl Shared {
    /// Who a staff action from a chat platform is recorded under (the escalation's
    /// assignee, the staff message's author, `audit_log.actor`): the console account
    /// `who` is linked to (`madoguchi staff user link NAME slack:U…`), otherwise the
    /// platform identity (`slack:U…`, `discord:…`) as before. Resolved once per action
    /// here, for every platform; the [`crate::service::Desk`] then stores it through
    /// [`crate::redact::display_name`] like every staff name.
    pub async fn staff_actor(&self, channel: ChannelKind, who: &str) -> String {
        let platform_id = Shared::staff_name(channel, who);
        let accounts = crate::accounts::Accounts::new(self.service.store().clone());
        match tokio::time::timeout(LINK_LOOKUP, accounts.linked_account(&platform_id)).await {
            Ok(Ok(Some(account))) => account,
            Ok(Ok(None)) => platform_id,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, channel = channel.as_str(), "could not look up a linked account; recording the chat id");
                platform_id
            }
            Err(_) => {
                tracing::warn!(
                    channel = channel.as_str(),
                    "looking up a linked account timed out; recording the chat id"
                );
                platform_id
            }
        }
    }
}

/// The text a member sees when staff answer through the queue.
pub fn staff_reply_text(text: &str) -> String {
    format!("【事務局の担当者より】\n{text}")
}

/// How long a claimed escalation post or staff reply stays with this process before
/// another replica may take it over (when this one died mid-delivery).
pub const LEASE: Duration = Duration::from_secs(60);

/// One pass: post unposted escalations, then deliver queued staff replies. Each item is
/// claimed in the database first, so with several replicas each is done once. A
/// channel that fails is skipped for the rest of the pass (its items are given back
/// and wait for the next one).
pub async fn staff_pass(shared: &Shared, channels: &[Arc<dyn StaffChannel>]) {
    let store = shared.service.store();
    if channels.iter().any(|c| c.has_staff_room()) {
        match store.claim_unposted_escalations(LEASE).await {
            Ok(pending) => {
                let mut failed = vec![false; channels.len()];
                for e in &pending {
                    let room = room_for(channels, e).filter(|i| !failed[*i]);
                    let Some(i) = room else {
                        let _ = store.release_escalation_post(e.id).await;
                        continue;
                    };
                    let c = &channels[i];
                    match c.post_escalation(e).await {
                        Ok(staff_ref) => {
                            if let Err(err) = shared.service.set_staff_ref(e.id, &staff_ref).await {
                                tracing::error!(error = %err, id = e.id, "posted an escalation but could not record its staff reference");
                            }
                        }
                        Err(err) => {
                            failed[i] = true;
                            let _ = store.release_escalation_post(e.id).await;
                            shared.metrics.observe_delivery_failure(c.kind());
                            tracing::warn!(error = %err, id = e.id, channel = c.kind().as_str(), "could not post an escalation (will retry)");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read unposted escalations"),
        }
    }
    for c in channels.iter().filter(|c| c.pushes_replies()) {
        let items = match store.claim_undelivered(c.kind(), LEASE).await {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, channel = c.kind().as_str(), "could not read the outbox");
                continue;
            }
        };
        let mut failed = false;
        for item in items {
            if failed {
                let _ = store.release_outbox(item.id).await;
                continue;
            }
            let sent = c.deliver(&item).await;
            if !shared.record_delivery(item.id, c.kind(), sent).await {
                failed = true;
                let _ = store.release_outbox(item.id).await;
            }
        }
    }
}

/// Runs [`staff_pass`] every `every`, when the bell rings, and once more after `stop`.
pub async fn staff_loop(
    shared: Shared,
    channels: StaffChannels,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    if channels.is_empty() {
        return;
    }
    loop {
        staff_pass(&shared, &channels).await;
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shared.wake.notified() => {}
            _ = stop.changed() => {}
        }
    }
    // one last pass after everything accepted has been answered
    staff_pass(&shared, &channels).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(ChannelKind, bool);

    #[axum::async_trait]
    impl StaffChannel for Fake {
        fn kind(&self) -> ChannelKind {
            self.0
        }
        fn has_staff_room(&self) -> bool {
            self.1
        }
        fn pushes_replies(&self) -> bool {
            true
        }
        async fn post_escalation(&self, _: &Escalation) -> Result<String, DeliveryError> {
            Ok(String::new())
        }
        async fn deliver(&self, _: &OutboxItem) -> Result<(), DeliveryError> {
            Ok(())
        }
    }

    fn chans(v: &[(ChannelKind, bool)]) -> Vec<Arc<dyn StaffChannel>> {
        v.iter()
            .map(|(k, r)| Arc::new(Fake(*k, *r)) as Arc<dyn StaffChannel>)
            .collect()
    }

    #[test]
    fn escalations_go_to_their_own_room_else_the_first_room() {
        use ChannelKind::*;
        let both = chans(&[(Slack, true), (Discord, true), (Mattermost, false)]);
        let e = |k| Escalation::sample(1, k, "");
        assert_eq!(room_for(&both, &e(Discord)), Some(1));
        assert_eq!(room_for(&both, &e(Slack)), Some(0));
        for k in [Http, Terminal, Mattermost] {
            assert_eq!(room_for(&both, &e(k)), Some(0), "{k:?}");
        }
        let discord_only = chans(&[(Slack, false), (Discord, true)]);
        assert_eq!(room_for(&discord_only, &e(Slack)), Some(1));
        assert_eq!(
            room_for(&chans(&[(Mattermost, false)]), &e(Mattermost)),
            None
        );
    }
}
