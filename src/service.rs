//! The application service every channel uses: one member message in, one
//! [`Outcome`] out, with the conversation state, the transcript (redacted), the
//! escalation queue, staff replies and the outage spool handled here. Staff actions
//! (claim, reply, resolve) go through it too.

use std::sync::Arc;

use crate::core::dialogue::Bot;
use crate::core::hours::{Clock, HOTLINE, OFFICIAL_URL};
use crate::core::turn::{ChannelKind, ConversationState, Inbound, Reply, ReplyKind};
use crate::redact::Redactor;
use crate::spool::{new_key, Spool};
use crate::store::{Store, TurnRecord};

pub use crate::store::{
    Backend, Escalation, EscalationStatus, OutboxItem, Role, StaffError, Stats, StoreConfig, StoreError, TranscriptLine,
};

/// What the member gets for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub reply: Reply,
    /// The escalation this message opened (or joined), when it asked for one and the
    /// database took it (None while spooling).
    pub escalation_id: Option<i64>,
    /// Staff replies delivered with this turn (terminal and HTTP, which cannot be
    /// pushed to; other channels get them via [`Service::undelivered`]).
    pub staff_messages: Vec<String>,
    /// A person is handling this conversation: the bot did not answer by itself.
    pub handled_by_staff: bool,
}

/// The service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Service {
    bot: Arc<Bot>,
    store: Store,
    clock: Arc<dyn Clock>,
    spool: Spool,
    redactor: Redactor,
    desk: Desk,
}

impl Service {
    /// Opens the store (DATABASE_URL, `cfg.sqlite_path`, or the SQLite default) and runs
    /// the migrations. An unreachable database is not an error: turns are spooled and
    /// written when it is back. A bad configuration or a failing migration is.
    pub async fn build(bot: Arc<Bot>, cfg: StoreConfig, clock: Arc<dyn Clock>) -> Result<Service, ServiceError> {
        let store = Store::open(&cfg)?;
        let spool = Spool::new(cfg.spool_file()?);
        let redactor = Redactor::new(cfg.redact);
        let desk = Desk::new(store.clone(), clock.clone(), redactor);
        let svc = Service { bot, store, clock, spool, redactor, desk };
        match svc.store.ready().await {
            Ok(()) => {
                if let Err(e) = svc.flush_spool().await {
                    tracing::warn!("spool not replayed yet: {e}");
                }
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!("database unreachable ({}): answering anyway, spooling to {}: {e}", svc.store.describe(), svc.spool.path().display())
            }
            Err(e) => return Err(e.into()),
        }
        Ok(svc)
    }

    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    pub fn redactor(&self) -> Redactor {
        self.redactor
    }

    /// One member message. Never fails for the member: database errors spool the turn.
    pub async fn handle(&self, inbound: Inbound) -> Outcome {
        let now = self.clock.now();
        // what the store knows; any failure → answer from a fresh state and spool
        let mut db_ok = match self.flush_spool().await {
            Ok(_) => true,
            Err(e) => {
                self.store.note_error(&e);
                tracing::warn!("spool kept: {e}");
                !e.is_unavailable()
            }
        };
        let (channel, user, conv) = (inbound.channel, inbound.user.as_str(), inbound.conversation.as_str());
        let mut state = if db_ok {
            match self.store.load_state(channel, user, conv).await {
                Ok(s) => s.unwrap_or_default(),
                Err(e) => {
                    self.store.note_error(&e);
                    tracing::warn!("conversation state unavailable: {e}");
                    db_ok = false;
                    ConversationState::default()
                }
            }
        } else {
            ConversationState::default()
        };
        let claimed = if db_ok {
            match self.store.active_escalation(channel, user, conv).await {
                Ok(e) => e.filter(|e| e.status == EscalationStatus::Claimed),
                Err(e) => {
                    self.store.note_error(&e);
                    tracing::warn!("escalations unavailable: {e}");
                    db_ok = false;
                    None
                }
            }
        } else {
            None
        };
        let mut staff_messages = Vec::new();
        if db_ok && matches!(channel, ChannelKind::Terminal | ChannelKind::Http) {
            match self.store.take_outbox(channel, user, conv, now).await {
                Ok(items) => staff_messages = items.into_iter().map(|i| i.text).collect(),
                Err(e) => tracing::warn!("staff replies not delivered this turn: {e}"),
            }
        }

        let handled_by_staff = claimed.is_some();
        let (reply, new_state) = if handled_by_staff {
            (self.staff_handling_reply(&inbound.text), None)
        } else {
            let r = self.bot.respond(&inbound.text, &mut state, now);
            (r, Some(state))
        };

        let rec = TurnRecord {
            key: new_key(),
            at: now,
            channel,
            user: inbound.user.clone(),
            conversation: inbound.conversation.clone(),
            member_text: self.redactor.apply(&inbound.text).into_owned(),
            reply_text: self.redactor.apply(&reply.text).into_owned(),
            intent: reply.intent,
            confidence: reply.confidence,
            urgent: reply.urgent,
            reply_kind: reply.kind,
            escalate: reply.escalate,
            state: new_state,
            handled_by_staff,
        };
        let escalation_id = if db_ok {
            match self.store.apply_turn(&rec).await {
                Ok(id) => id,
                Err(e) => {
                    self.store.note_error(&e);
                    tracing::warn!("turn not stored, spooling: {e}");
                    self.spool_turn(&rec).await;
                    None
                }
            }
        } else {
            self.spool_turn(&rec).await;
            None
        };
        Outcome { reply, escalation_id, staff_messages, handled_by_staff }
    }

    async fn spool_turn(&self, rec: &TurnRecord) {
        if let Err(e) = self.spool.append(rec).await {
            tracing::error!("turn LOST: database down and spool failed: {e}");
        }
    }

    /// The bot's answer while a person handles the conversation.
    fn staff_handling_reply(&self, text: &str) -> Reply {
        let c = self.bot.classify(text);
        let mut t = String::from("この会話は事務局の担当者が対応しています。いただいたメッセージは担当者に届いていますので、担当者からの返信をお待ちください。");
        if c.urgent {
            t.push_str(&format!("\n\nいま被害が進んでいる場合は、緊急相談窓口 {HOTLINE}（無料・年中無休 9:00〜21:00）へお電話ください。"));
        }
        Reply {
            text: t,
            intent: c.intent,
            confidence: c.confidence,
            urgent: c.urgent,
            kind: ReplyKind::Answer,
            choices: Vec::new(),
            escalate: None,
            sources: vec![OFFICIAL_URL.to_string()],
        }
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    pub async fn list_escalations(&self, status: Option<EscalationStatus>) -> Result<Vec<Escalation>, StoreError> {
        self.desk.list_escalations(status).await
    }

    pub async fn escalation(&self, id: i64) -> Result<Option<(Escalation, Vec<TranscriptLine>)>, StoreError> {
        self.desk.escalation(id).await
    }

    /// Exactly one of several concurrent claimers wins; the others get
    /// [`StaffError::AlreadyClaimed`].
    pub async fn claim(&self, id: i64, staff: &str) -> Result<Escalation, StaffError> {
        self.desk.claim(id, staff).await
    }

    /// Queues `text` (redacted) for delivery through the member's channel. Claims an
    /// open escalation for `staff`; refuses one claimed by someone else.
    pub async fn staff_reply(&self, id: i64, staff: &str, text: &str) -> Result<OutboxItem, StaffError> {
        self.desk.staff_reply(id, staff, text).await
    }

    pub async fn resolve(&self, id: i64, staff: &str, note: Option<&str>) -> Result<Escalation, StaffError> {
        self.desk.resolve(id, staff, note).await
    }

    pub async fn set_staff_ref(&self, id: i64, staff_ref: &str) -> Result<(), StoreError> {
        self.desk.set_staff_ref(id, staff_ref).await
    }

    pub async fn escalation_by_staff_ref(&self, staff_ref: &str) -> Result<Option<Escalation>, StoreError> {
        self.desk.escalation_by_staff_ref(staff_ref).await
    }

    pub async fn undelivered(&self, channel: ChannelKind) -> Result<Vec<OutboxItem>, StoreError> {
        self.desk.undelivered(channel).await
    }

    pub async fn mark_delivered(&self, outbox_id: i64) -> Result<(), StoreError> {
        self.desk.mark_delivered(outbox_id).await
    }

    pub async fn unposted_escalations(&self) -> Result<Vec<Escalation>, StoreError> {
        self.desk.unposted_escalations().await
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        self.desk.stats().await
    }

    /// Writes spooled turns to the database; returns how many.
    pub async fn flush_spool(&self) -> Result<usize, StoreError> {
        let n = self.spool.replay(&self.store).await?;
        if n > 0 {
            tracing::info!("wrote {n} spooled turn(s) to {}", self.store.describe());
        }
        Ok(n)
    }
}

/// The staff side of the service (queue, claims, replies, outbox, stats): needs no bot,
/// so staff tools start fast. [`Service`] delegates to it.
#[derive(Clone)]
pub struct Desk {
    store: Store,
    clock: Arc<dyn Clock>,
    redactor: Redactor,
}

impl Desk {
    pub fn new(store: Store, clock: Arc<dyn Clock>, redactor: Redactor) -> Desk {
        Desk { store, clock, redactor }
    }

    /// Opens and migrates the store and writes any spooled turns (so the queue is
    /// complete); fails when the database cannot be reached.
    pub async fn connect(cfg: &StoreConfig, clock: Arc<dyn Clock>) -> Result<Desk, StoreError> {
        let store = Store::connect(cfg).await?;
        Spool::new(cfg.spool_file()?).replay(&store).await?;
        Ok(Desk::new(store, clock, Redactor::new(cfg.redact)))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn list_escalations(&self, status: Option<EscalationStatus>) -> Result<Vec<Escalation>, StoreError> {
        self.store.list_escalations(status).await
    }

    pub async fn escalation(&self, id: i64) -> Result<Option<(Escalation, Vec<TranscriptLine>)>, StoreError> {
        self.store.escalation_with_transcript(id).await
    }

    /// Exactly one of several concurrent claimers wins; the others get
    /// [`StaffError::AlreadyClaimed`].
    pub async fn claim(&self, id: i64, staff: &str) -> Result<Escalation, StaffError> {
        self.store.claim(id, staff, self.clock.now()).await
    }

    /// Queues `text` (redacted) for delivery through the member's channel. Claims an
    /// open escalation for `staff`; refuses one claimed by someone else.
    pub async fn staff_reply(&self, id: i64, staff: &str, text: &str) -> Result<OutboxItem, StaffError> {
        let text = self.redactor.apply(text);
        self.store.staff_reply(id, staff, &text, self.clock.now()).await
    }

    pub async fn resolve(&self, id: i64, staff: &str, note: Option<&str>) -> Result<Escalation, StaffError> {
        let note = note.map(|n| self.redactor.apply(n).into_owned());
        self.store.resolve(id, staff, note.as_deref(), self.clock.now()).await
    }

    pub async fn set_staff_ref(&self, id: i64, staff_ref: &str) -> Result<(), StoreError> {
        self.store.set_staff_ref(id, staff_ref, self.clock.now()).await
    }

    pub async fn escalation_by_staff_ref(&self, staff_ref: &str) -> Result<Option<Escalation>, StoreError> {
        self.store.escalation_by_staff_ref(staff_ref).await
    }

    pub async fn undelivered(&self, channel: ChannelKind) -> Result<Vec<OutboxItem>, StoreError> {
        self.store.undelivered(channel).await
    }

    pub async fn mark_delivered(&self, outbox_id: i64) -> Result<(), StoreError> {
        self.store.mark_delivered(outbox_id, self.clock.now()).await
    }

    pub async fn unposted_escalations(&self) -> Result<Vec<Escalation>, StoreError> {
        self.store.unposted_escalations().await
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        self.store.stats().await
    }

}
