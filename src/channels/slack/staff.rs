//! Slack as a staff channel: escalations posted to `SLACK_STAFF_CHANNEL` with
//! Claim/Resolve buttons; staff replies pushed to the member's thread (or a DM for
//! slash-command conversations, which have no thread).

use super::handlers::{staff_ref, SlackState};
use super::render::{escalation_message, text_message, Target};
use crate::channels::staff::{staff_reply_text, DeliveryError, StaffChannel};
use crate::channels::ChannelKind;
use crate::service::{Escalation, OutboxItem};

/// Where a staff reply for a Slack member goes.
pub fn outbox_target(item: &OutboxItem) -> Target {
    let target = Target::parse(&item.conversation);
    if target.thread_ts.is_none() {
        // slash-command conversations have no thread: answer in a DM
        return Target {
            channel: item.user.clone(),
            thread_ts: None,
        };
    }
    target
}

#[axum::async_trait]
impl StaffChannel for SlackState {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Slack
    }

    fn has_staff_room(&self) -> bool {
        self.cfg.staff_channel.is_some()
    }

    fn pushes_replies(&self) -> bool {
        true
    }

    async fn post_escalation(&self, e: &Escalation) -> Result<String, DeliveryError> {
        let staff_channel = self
            .cfg
            .staff_channel
            .as_deref()
            .ok_or_else(|| DeliveryError::new("no SLACK_STAFF_CHANNEL"))?;
        let ts = self
            .api
            .post_message(&escalation_message(e, staff_channel))
            .await
            .map_err(DeliveryError::new)?;
        if ts.is_empty() {
            return Err(DeliveryError::new(
                "Slack returned no ts for the escalation post",
            ));
        }
        Ok(staff_ref(&ts))
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let msg = text_message(&staff_reply_text(&item.text), &outbox_target(item));
        self.api
            .post_message(&msg)
            .await
            .map(|_| ())
            .map_err(DeliveryError::new)
    }
}
