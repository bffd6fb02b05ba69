//! The application service every channel uses: one member message in, one
//! [`Outcome`] out, with the conversation state, the transcript (redacted), the
//! escalation queue, staff replies and the outage spool handled here. Staff actions
//! (claim, reply, resolve) go through it too.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::channels::{ChannelKind, Inbound};
use crate::core::dialogue::Bot;
use crate::core::handoff::Handoff;
use crate::core::hours::Clock;
use crate::core::route::TurnContext;
use crate::core::turn::Reply;
use crate::redact::Redactor;
use crate::spool::{new_key, Spool};
use crate::store::{ConversationView, ErrorClass, Store, TurnRecord};
use crate::throttle::Throttle;

pub use crate::store::{
    Backend, DbHealth, Escalation, EscalationStatus, OutboxItem, Role, StaffError, Stats,
    StoreConfig, StoreError, TranscriptLine,
};

/// Time budgets of one member turn, so the answer (the hotline first) never waits on
/// storage: reading the conversation, writing the turn, and appending it to the spool
/// when the database did not take it. Together well under one second.
pub const LOAD_BUDGET: Duration = Duration::from_millis(250);
pub const WRITE_BUDGET: Duration = Duration::from_millis(400);
pub const SPOOL_BUDGET: Duration = Duration::from_millis(250);
/// The whole turn's storage budget: the spool gets what the database calls left of it
/// (at least [`SPOOL_BUDGET`]), so a fast-failing database leaves the spool most of it.
pub const TURN_BUDGET: Duration = Duration::from_millis(900);
/// Budget of a staff operation (queue, claim, reply, delivery bookkeeping).
pub const STAFF_BUDGET: Duration = Duration::from_secs(5);
/// How often the recovery task looks at the database and the spool.
pub const RECOVERY_TICK: Duration = Duration::from_millis(500);

/// Runs a storage operation within `budget`; [`StoreError::Timeout`] when it does not finish.
pub async fn bounded<T, E: From<StoreError>>(
    budget: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::time::timeout(budget, fut)
        .await
        .unwrap_or_else(|_| Err(StoreError::Timeout.into()))
}

/// What the member gets for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub reply: Reply,
    /// The escalation this message opened (or joined), when it asked for one and the
    /// database took it (None while spooling).
    pub escalation_id: Option<i64>,
    /// Staff replies delivered with this turn (channels that cannot be pushed to:
    /// terminal, HTTP, Mattermost without a bot token; the others get them from their
    /// staff channel via [`Service::undelivered`]).
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

/// What `/healthz` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Health {
    /// `ok`; `degraded` (records kept aside need an operator); `unhealthy` (the
    /// database does not take writes: turns are spooled).
    pub status: &'static str,
    pub database: DbHealth,
    /// Turns in the spool waiting for the database.
    pub spool_pending: usize,
    /// Records kept aside (unreadable or poison), waiting for an operator.
    pub spool_kept_aside: usize,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        self.status != "unhealthy"
    }
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
    /// Wakes the recovery task; it stops when the last clone of the service is gone.
    recovery: Arc<Recovery>,
    /// Channels whose staff replies are pushed by a staff channel (see
    /// [`Service::set_pushed`]); every other channel gets them with its next answer.
    pushed: Arc<std::sync::RwLock<Vec<ChannelKind>>>,
}

struct Recovery {
    wake: tokio::sync::Notify,
    _stop: tokio::sync::watch::Sender<()>,
}

impl Service {
    /// Which channels have their staff replies pushed (set by `serve` from its staff
    /// channels). Default: Slack, Mattermost and Discord; terminal and HTTP never.
    pub fn set_pushed(&self, kinds: &[ChannelKind]) {
        *self.pushed.write().unwrap_or_else(|p| p.into_inner()) = kinds.to_vec();
    }

    fn replies_inline(&self, channel: ChannelKind) -> bool {
        !self
            .pushed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&channel)
    }

    /// Opens the store (DATABASE_URL, `cfg.sqlite_path`, or the SQLite default), runs
    /// the migrations and writes any spooled turns, and starts the recovery task. A
    /// database that is unreachable, read-only, full or locked is not an error: turns
    /// are spooled and written when it is back (the migrations run then). A bad
    /// configuration or a migration the database refuses as wrong is.
    pub async fn build(
        bot: Arc<Bot>,
        cfg: StoreConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Service, ServiceError> {
        let store = Store::open(&cfg)?;
        let spool = Spool::new(cfg.spool_file()?);
        let redactor = Redactor::new(cfg.redact);
        let desk = Desk::new(store.clone(), clock.clone(), redactor);
        let (stop, stopped) = tokio::sync::watch::channel(());
        let recovery = Arc::new(Recovery {
            wake: tokio::sync::Notify::new(),
            _stop: stop,
        });
        let pushed = Arc::new(std::sync::RwLock::new(vec![
            ChannelKind::Slack,
            ChannelKind::Mattermost,
            ChannelKind::Discord,
        ]));
        let svc = Service {
            bot,
            store,
            clock,
            spool,
            redactor,
            desk,
            recovery,
            pushed,
        };
        match bounded(
            cfg.connect_timeout + Duration::from_secs(2),
            svc.store.ready(),
        )
        .await
        {
            Ok(()) => {
                if let Err(e) = svc.flush_spool().await {
                    tracing::warn!("spool not replayed yet: {e}");
                }
            }
            Err(e) if e.class() != ErrorClass::Bug => {
                svc.store.note_error(&e);
                tracing::warn!(
                    "database not ready ({}): answering anyway, spooling to {}: {e}",
                    svc.store.describe(),
                    svc.spool.path().display()
                )
            }
            Err(e) => return Err(e.into()),
        }
        tokio::spawn(recovery_task(
            svc.store.clone(),
            svc.spool.clone(),
            svc.recovery.clone(),
            stopped,
        ));
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

    /// The database and the spool, for `/healthz`.
    pub fn health(&self) -> Health {
        let database = self.store.health();
        let spool_pending = if self.spool.has_pending() {
            self.spool.pending()
        } else {
            0
        };
        let spool_kept_aside = self.spool.kept_aside();
        let status = if !database.writable {
            "unhealthy"
        } else if spool_kept_aside > 0 {
            "degraded"
        } else {
            "ok"
        };
        Health {
            status,
            database,
            spool_pending,
            spool_kept_aside,
        }
    }

    /// One member message. Never fails for the member and never waits on storage
    /// longer than the budgets above: the answer comes from a fresh state when the
    /// conversation cannot be read, and a turn the database does not take is spooled.
    /// An escalation is announced only as far as it was really kept.
    pub async fn handle(&self, inbound: Inbound) -> Outcome {
        let started = Instant::now();
        let now = self.clock.now();
        let (channel, user, conv) = (
            inbound.channel,
            inbound.user.as_str(),
            inbound.conversation.as_str(),
        );
        let pushable = self.replies_inline(channel);
        let loaded = bounded(
            LOAD_BUDGET,
            self.store.conversation_view(channel, user, conv),
        )
        .await;
        let (view, state_known) = match loaded {
            Ok(v) => (v, true),
            Err(e) => {
                self.store.note_error(&e);
                static STATE_UNAVAILABLE: Throttle = Throttle::every(Duration::from_secs(1));
                if let Some(held_back) = STATE_UNAVAILABLE.admit() {
                    tracing::warn!(
                        held_back,
                        "conversation state unavailable, answering from a fresh state: {e}"
                    );
                }
                (ConversationView::default(), false)
            }
        };
        let mut state = view.state.unwrap_or_default();
        let mut staff_messages = Vec::new();
        if view.replies_waiting && pushable {
            match bounded(
                LOAD_BUDGET,
                self.store.take_outbox(channel, user, conv, now),
            )
            .await
            {
                Ok(items) => staff_messages = items.into_iter().map(|i| i.text).collect(),
                Err(e) => tracing::warn!("staff replies not delivered this turn: {e}"),
            }
        }

        // one route per message, decided by the core: an urgent message gets the
        // hotline first even while a person handles the conversation
        let handled_by_staff = view.claimed;
        let mut reply = self.bot.respond_in(
            &inbound.text,
            &mut state,
            now,
            TurnContext {
                staff_handling: handled_by_staff,
            },
        );
        let new_state = Some(state);

        let rec = TurnRecord {
            key: new_key(),
            at: now,
            channel,
            user: inbound.user.clone(),
            conversation: inbound.conversation.clone(),
            member_text: self
                .redactor
                .apply(&crate::redact::cap_member_text(&inbound.text))
                .into_owned(),
            reply_text: self.redactor.apply(&reply.text).into_owned(),
            intent: reply.intent,
            confidence: reply.confidence,
            urgent: reply.urgent,
            reply_kind: reply.kind,
            escalate: reply.escalate,
            // a state computed from a fresh start must not overwrite the stored one
            state: if state_known { new_state } else { None },
            handled_by_staff,
        };
        let kept = self.keep(&rec, started + TURN_BUDGET).await;
        let escalation_id = match kept {
            Handoff::Kept { id } if rec.escalate.is_some() => id,
            _ => None,
        };
        if reply.escalate.is_some() {
            reply.add_handoff(kept);
        }
        Outcome {
            reply,
            escalation_id,
            staff_messages,
            handled_by_staff,
        }
    }

    /// Writes the turn to the database, or else fsyncs it to the spool, each within its
    /// budget; says which (a timed-out write may still land: the spooled copy is then
    /// skipped by its key, so it is never written twice).
    async fn keep(&self, rec: &TurnRecord, deadline: Instant) -> Handoff {
        match bounded(WRITE_BUDGET, self.store.apply_turn(rec)).await {
            Ok(id) => return Handoff::Kept { id },
            Err(e) => {
                self.store.note_error(&e);
                static SPOOLING: Throttle = Throttle::every(Duration::from_secs(1));
                if let Some(held_back) = SPOOLING.admit() {
                    tracing::warn!(
                        class = e.class().as_str(),
                        held_back,
                        "turn not stored, spooling: {e}"
                    );
                }
            }
        }
        let budget = deadline
            .saturating_duration_since(Instant::now())
            .max(SPOOL_BUDGET);
        match tokio::time::timeout(budget, self.spool.append(rec)).await {
            Ok(Ok(())) => {
                self.recovery.wake.notify_one();
                Handoff::Kept { id: None }
            }
            Ok(Err(e)) => {
                tracing::error!(
                    alert = "turn_not_kept",
                    class = e.class().as_str(),
                    urgent = rec.urgent,
                    escalation = rec.escalate.is_some(),
                    "turn NOT kept: the database and the spool both failed: {e}"
                );
                Handoff::NotKept
            }
            Err(_) => {
                tracing::error!(
                    alert = "turn_not_kept",
                    urgent = rec.urgent,
                    "turn NOT kept: the spool did not answer in time"
                );
                Handoff::NotKept
            }
        }
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    pub async fn list_escalations(
        &self,
        status: Option<EscalationStatus>,
    ) -> Result<Vec<Escalation>, StoreError> {
        self.desk.list_escalations(status).await
    }

    pub async fn escalation(
        &self,
        id: i64,
    ) -> Result<Option<(Escalation, Vec<TranscriptLine>)>, StoreError> {
        self.desk.escalation(id).await
    }

    /// Exactly one of several concurrent claimers wins; the others get
    /// [`StaffError::AlreadyClaimed`].
    pub async fn claim(&self, id: i64, staff: &str) -> Result<Escalation, StaffError> {
        self.desk.claim(id, staff).await
    }

    /// Queues `text` (redacted) for delivery through the member's channel. Claims an
    /// open escalation for `staff`; refuses one claimed by someone else.
    pub async fn staff_reply(
        &self,
        id: i64,
        staff: &str,
        text: &str,
    ) -> Result<OutboxItem, StaffError> {
        self.desk.staff_reply(id, staff, text).await
    }

    pub async fn resolve(
        &self,
        id: i64,
        staff: &str,
        note: Option<&str>,
    ) -> Result<Escalation, StaffError> {
        self.desk.resolve(id, staff, note).await
    }

    pub async fn set_staff_ref(&self, id: i64, staff_ref: &str) -> Result<(), StoreError> {
        self.desk.set_staff_ref(id, staff_ref).await
    }

    pub async fn escalation_by_staff_ref(
        &self,
        staff_ref: &str,
    ) -> Result<Option<Escalation>, StoreError> {
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
        self.spool.replay(&self.store).await
    }
}

/// The staff side of the service (queue, claims, replies, outbox, stats): needs no bot,
/// so staff tools start fast. [`Service`] delegates to it. Every staff name it is given
/// (console account, `--as NAME`, chat-platform identity) is stored through
/// [`crate::redact::display_name`]: an e-mail address or phone number in it never
/// reaches the assignee, the staff message's author or the audit log.
#[derive(Clone)]
pub struct Desk {
    store: Store,
    clock: Arc<dyn Clock>,
    redactor: Redactor,
}

impl Desk {
    pub fn new(store: Store, clock: Arc<dyn Clock>, redactor: Redactor) -> Desk {
        Desk {
            store,
            clock,
            redactor,
        }
    }

    /// Opens and migrates the store and writes any spooled turns (so the queue is
    /// complete); fails when the database cannot be reached.
    pub async fn connect(cfg: &StoreConfig, clock: Arc<dyn Clock>) -> Result<Desk, StoreError> {
        let store = Store::open(cfg)?;
        bounded(cfg.connect_timeout + Duration::from_secs(2), store.ready()).await?;
        Spool::new(cfg.spool_file()?).replay(&store).await?;
        Ok(Desk::new(store, clock, Redactor::new(cfg.redact)))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn list_escalations(
        &self,
        status: Option<EscalationStatus>,
    ) -> Result<Vec<Escalation>, StoreError> {
        bounded(STAFF_BUDGET, self.store.list_escalations(status)).await
    }

    pub async fn escalation(
        &self,
        id: i64,
    ) -> Result<Option<(Escalation, Vec<TranscriptLine>)>, StoreError> {
        bounded(STAFF_BUDGET, self.store.escalation_with_transcript(id)).await
    }

    /// Exactly one of several concurrent claimers wins; the others get
    /// [`StaffError::AlreadyClaimed`].
    pub async fn claim(&self, id: i64, staff: &str) -> Result<Escalation, StaffError> {
        let staff = self.redactor.staff_name(staff);
        bounded(STAFF_BUDGET, self.store.claim(id, &staff, self.clock.now())).await
    }

    /// Queues `text` (redacted) for delivery through the member's channel. Claims an
    /// open escalation for `staff`; refuses one claimed by someone else.
    pub async fn staff_reply(
        &self,
        id: i64,
        staff: &str,
        text: &str,
    ) -> Result<OutboxItem, StaffError> {
        let text = self.redactor.apply(text);
        let staff = self.redactor.staff_name(staff);
        bounded(
            STAFF_BUDGET,
            self.store.staff_reply(id, &staff, &text, self.clock.now()),
        )
        .await
    }

    pub async fn resolve(
        &self,
        id: i64,
        staff: &str,
        note: Option<&str>,
    ) -> Result<Escalation, StaffError> {
        let note = note.map(|n| self.redactor.apply(n).into_owned());
        let staff = self.redactor.staff_name(staff);
        bounded(
            STAFF_BUDGET,
            self.store
                .resolve(id, &staff, note.as_deref(), self.clock.now()),
        )
        .await
    }

    pub async fn set_staff_ref(&self, id: i64, staff_ref: &str) -> Result<(), StoreError> {
        bounded(
            STAFF_BUDGET,
            self.store.set_staff_ref(id, staff_ref, self.clock.now()),
        )
        .await
    }

    pub async fn escalation_by_staff_ref(
        &self,
        staff_ref: &str,
    ) -> Result<Option<Escalation>, StoreError> {
        bounded(STAFF_BUDGET, self.store.escalation_by_staff_ref(staff_ref)).await
    }

    pub async fn undelivered(&self, channel: ChannelKind) -> Result<Vec<OutboxItem>, StoreError> {
        bounded(STAFF_BUDGET, self.store.undelivered(channel)).await
    }

    pub async fn mark_delivered(&self, outbox_id: i64) -> Result<(), StoreError> {
        bounded(
            STAFF_BUDGET,
            self.store.mark_delivered(outbox_id, self.clock.now()),
        )
        .await
    }

    pub async fn unposted_escalations(&self) -> Result<Vec<Escalation>, StoreError> {
        bounded(STAFF_BUDGET, self.store.unposted_escalations()).await
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        bounded(STAFF_BUDGET, self.store.stats()).await
    }
}

/// The background recovery task: every [`RECOVERY_TICK`] (or when woken) it notices a
/// deleted SQLite file, probes a database that refused writes (running the migrations
/// if they could not run at start-up), recovers the pool when needed, and writes the
/// spool as soon as the database takes writes. Ends when the service is dropped.
async fn recovery_task(
    store: Store,
    spool: Spool,
    rec: Arc<Recovery>,
    mut stopped: tokio::sync::watch::Receiver<()>,
) {
    let mut last_recover: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RECOVERY_TICK) => {}
            _ = rec.wake.notified() => {}
            r = stopped.changed() => if r.is_err() { return },
        }
        let _ = store.check_file();
        if store.is_blocked() {
            match bounded(Duration::from_secs(3), store.probe()).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::debug!("database still not writable: {e}");
                    if last_recover.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                        last_recover = Some(Instant::now());
                        match store.recover().await {
                            Ok(true) => tracing::info!("reopened {}", store.describe()),
                            Ok(false) => {}
                            Err(e) => {
                                tracing::error!("could not recover {}: {e}", store.describe())
                            }
                        }
                    }
                    continue;
                }
            }
        }
        if spool.has_pending() {
            if let Err(e) = spool.replay(&store).await {
                tracing::warn!(class = e.class().as_str(), "spool kept for later: {e}");
            }
        }
    }
}

/// Storage gauges and counters for `/metrics` (Prometheus text).
pub fn render_health_metrics(svc: &Service) -> String {
    let h = svc.health();
    let mut s = String::new();
    s.push_str("# HELP madoguchi_db_writable 1 when the database takes writes, 0 while turns are spooled.\n# TYPE madoguchi_db_writable gauge\n");
    s.push_str(&format!(
        "madoguchi_db_writable {}\n",
        u8::from(h.database.writable)
    ));
    s.push_str("# HELP madoguchi_spool_pending Turns in the spool waiting for the database.\n# TYPE madoguchi_spool_pending gauge\n");
    s.push_str(&format!("madoguchi_spool_pending {}\n", h.spool_pending));
    s.push_str("# HELP madoguchi_spool_kept_aside Spool records kept aside (unreadable or poison), waiting for an operator.\n# TYPE madoguchi_spool_kept_aside gauge\n");
    s.push_str(&format!(
        "madoguchi_spool_kept_aside {}\n",
        h.spool_kept_aside
    ));
    s.push_str("# HELP madoguchi_spool_poisoned_total Spool records this process set aside.\n# TYPE madoguchi_spool_poisoned_total counter\n");
    s.push_str(&format!(
        "madoguchi_spool_poisoned_total {}\n",
        svc.spool().poisoned_total()
    ));
    s
}
