//! The store's operations: write a turn, load a conversation, the escalation workflow
//! (claim, reply, resolve, staff-channel references), the outbox, stats. Every write
//! transaction starts with a write so SQLite takes its lock up front (no upgrade
//! deadlocks); claims are one conditional UPDATE, so exactly one claimer wins.

use chrono::{DateTime, FixedOffset};

use super::bulk;
use super::model::{parse_opt_ts, parse_ts, reply_kind_str, ts};
use super::{
    with_pool, Commit, Escalation, EscalationStatus, OutboxItem, Role, Stats, Store, StoreError,
    TranscriptLine, TurnRecord,
};
use crate::channels::ChannelKind;
use crate::core::label::Label;
use crate::core::turn::{ConversationState, EscalationReason};

/// Why a staff action was refused (or failed).
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("#{0} はありません")]
    NotFound(i64),
    #[error("#{id} は既に {by} さんが対応中です")]
    AlreadyClaimed { id: i64, by: String },
    #[error("#{id} は既に解決済みです")]
    AlreadyResolved { id: i64 },
    #[error("返信が空です")]
    EmptyText,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for StaffError {
    fn from(e: sqlx::Error) -> Self {
        StaffError::Store(StoreError::Db(e))
    }
}

macro_rules! esc_cols {
    () => {
        "id, channel, user_id, conversation, reason, status, assignee, text, intent, created_at, claimed_at, resolved_at, note, staff_ref"
    };
}
pub(super) use esc_cols;

pub(super) type EscRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn corrupt<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

pub(super) fn esc_from(r: EscRow) -> Result<Escalation, StoreError> {
    let (
        id,
        channel,
        user,
        conversation,
        reason,
        status,
        assignee,
        text,
        intent,
        created_at,
        claimed_at,
        resolved_at,
        note,
        staff_ref,
    ) = r;
    Ok(Escalation {
        id,
        channel: channel.parse().map_err(corrupt("channel"))?,
        user,
        conversation,
        reason: reason.parse().map_err(corrupt("reason"))?,
        status: status.parse().map_err(corrupt("status"))?,
        assignee,
        text,
        intent: intent.parse::<Label>().map_err(corrupt("intent"))?,
        created_at: parse_ts(&created_at)?,
        claimed_at: parse_opt_ts(claimed_at)?,
        resolved_at: parse_opt_ts(resolved_at)?,
        note,
        staff_ref,
    })
}

pub(super) type OutRow = (i64, i64, String, String, String, String, String);

pub(super) fn out_from(r: OutRow) -> Result<OutboxItem, StoreError> {
    let (id, escalation_id, channel, user, conversation, text, staff) = r;
    Ok(OutboxItem {
        id,
        escalation_id,
        channel: channel.parse().map_err(corrupt("channel"))?,
        user,
        conversation,
        text,
        staff,
    })
}

/// A conversation as a member turn sees it ([`Store::conversation_view`]).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ConversationView {
    /// None for a conversation never stored.
    pub state: Option<ConversationState>,
    /// A person has claimed its escalation: the bot only acknowledges.
    pub claimed: bool,
    /// Staff replies wait to be delivered with the next answer.
    pub replies_waiting: bool,
}

const AUDIT: &str =
    "INSERT INTO audit_log (escalation_id, actor, action, detail, at) VALUES ($1, $2, $3, $4, $5)";

impl Store {
    /// The stored state of a conversation, if it has one.
    pub async fn load_state(
        &self,
        channel: ChannelKind,
        user: &str,
        conversation: &str,
    ) -> Result<Option<ConversationState>, StoreError> {
        self.ready().await?;
        let row: Option<(String,)> = with_pool!(self, p => sqlx::query_as("SELECT state FROM conversations WHERE channel = $1 AND user_id = $2 AND conversation = $3")
            .bind(channel.as_str()).bind(user).bind(conversation).fetch_optional(p).await?);
        // a state that no longer parses starts afresh rather than failing the member
        Ok(row.map(|(s,)| serde_json::from_str(&s).unwrap_or_default()))
    }

    /// What a member turn needs before answering, in one read: the stored state,
    /// whether a person has claimed the conversation's escalation, and whether staff
    /// replies wait for it (the common turn then takes no further query). Turns asking
    /// at the same moment are read together ([`super::reader`]).
    pub async fn conversation_view(
        &self,
        channel: ChannelKind,
        user: &str,
        conversation: &str,
    ) -> Result<ConversationView, StoreError> {
        self.ready().await?;
        let key = (channel, user.to_string(), conversation.to_string());
        if let Some(r) = self.submit_read(key.clone()).await {
            return r;
        }
        let mut views = self.conversation_views(&[&key]).await?;
        Ok(views.pop().unwrap_or_default())
    }

    /// Writes one turn (messages, state, escalation) durably. Returns the escalation
    /// opened or joined when the turn asked for one; writing the same record twice
    /// writes it once. Turns arriving together are committed together by the group
    /// writer ([`super::writer`]); the answer comes after the commit.
    pub async fn apply_turn(&self, rec: &TurnRecord) -> Result<Option<i64>, StoreError> {
        self.ready_to_write().await?;
        if let Some(r) = self.submit_turn(rec).await {
            return r;
        }
        let _w = self.write_guard().await;
        self.apply_batch(&[rec], Commit::Durable)
            .await
            .map(|v| v[0])
    }

    /// Writes several turns in one transaction (all or none), as the group writer does
    /// with turns that arrive together.
    pub async fn apply_turns(&self, recs: &[TurnRecord]) -> Result<Vec<Option<i64>>, StoreError> {
        self.ready_to_write().await?;
        let _w = self.write_guard().await;
        let refs: Vec<&TurnRecord> = recs.iter().collect();
        self.apply_batch(&refs, Commit::Durable).await
    }

    /// Writes several turns in one transaction (all or none). The caller holds the
    /// write guard.
    pub(crate) async fn apply_batch(
        &self,
        recs: &[&TurnRecord],
        commit: Commit,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        // the common turns in a fixed number of statements (see [`super::bulk`]), the
        // rest one by one
        use bulk::BulkWrite;
        let in_bulk = if recs.len() >= 2 || bulk::one_statement(&self.backend) {
            bulk::bulk_indices(recs)
        } else {
            Vec::new()
        };
        let bulk_recs: Vec<&TurnRecord> = in_bulk.iter().map(|&i| recs[i]).collect();
        let mut one_by_one = vec![true; recs.len()];
        for &i in &in_bulk {
            one_by_one[i] = false;
        }
        let relaxed = commit == Commit::Relaxed;
        if let (true, super::Db::Postgres(p)) = (in_bulk.len() == recs.len(), self.db()) {
            // every turn in PostgreSQL's one statement, which is its own transaction
            // (and sets its commit mode): a batch is one round trip
            return self
                .on_kept(&p, async |c| c.write_bulk(recs, relaxed).await)
                .await;
        }
        with_pool!(self, p => {
            let mut tx = match (commit, bulk::begin_relaxed(&self.backend)) {
                (Commit::Relaxed, Some(begin)) => p.begin_with(begin).await?,
                _ => p.begin().await?,
            };
            let mut results = vec![None; recs.len()];
            if !bulk_recs.is_empty() {
                let written = tx.write_bulk(&bulk_recs, relaxed).await?;
                for (&i, id) in in_bulk.iter().zip(written) {
                    results[i] = id;
                }
            }
            for (i, rec) in recs.iter().enumerate() {
            if !one_by_one[i] {
                continue;
            }
            let at = ts(rec.at);
            let state_json = rec.state.as_ref().map(|s| serde_json::to_string(s).expect("state serialises"));
            let urgent = i64::from(rec.urgent);
            let intent = rec.intent.as_str();
            let fresh = sqlx::query("INSERT INTO spool_applied (spool_key, applied_at) VALUES ($1, $2) ON CONFLICT (spool_key) DO NOTHING")
                .bind(&rec.key).bind(&at).execute(&mut *tx).await?.rows_affected();
            if fresh == 0 {
                continue;
            }
            // one upsert writes the state too; an old spooled turn never overwrites a
            // newer state, and a turn answered from a fresh state (None) keeps the stored one
            let (conv_id,): (i64,) = sqlx::query_as(
                "INSERT INTO conversations (channel, user_id, conversation, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, COALESCE(CAST($4 AS TEXT), '{}'), $5, $5) \
                 ON CONFLICT (channel, user_id, conversation) DO UPDATE SET \
                 state = CASE WHEN CAST($4 AS TEXT) IS NOT NULL AND conversations.updated_at <= excluded.updated_at THEN excluded.state ELSE conversations.state END, \
                 updated_at = CASE WHEN CAST($4 AS TEXT) IS NOT NULL AND conversations.updated_at <= excluded.updated_at THEN excluded.updated_at ELSE conversations.updated_at END \
                 RETURNING id")
                .bind(rec.channel.as_str()).bind(&rec.user).bind(&rec.conversation)
                .bind(state_json.as_deref()).bind(&at)
                .fetch_one(&mut *tx).await?;
            // the conversation's escalation is looked up here only when this turn asks
            // for one; otherwise the messages insert links it by itself
            let mut link = None;
            let mut opened = None;
            if let Some(reason) = rec.escalate {
                // the common case, an urgent message or a request for a person in a
                // conversation with nothing queued, opens the escalation in one statement
                let quick: Option<(i64,)> = if reason == EscalationReason::LowConfidence {
                    None
                } else {
                    sqlx::query_as(
                        "INSERT INTO escalations (conversation_id, channel, user_id, conversation, reason, status, text, intent, created_at) \
                         SELECT $1, $2, $3, $4, $5, 'open', $6, $7, $8 \
                         WHERE NOT EXISTS (SELECT 1 FROM escalations WHERE conversation_id = $1 AND status <> 'resolved') RETURNING id")
                        .bind(conv_id).bind(rec.channel.as_str()).bind(&rec.user).bind(&rec.conversation)
                        .bind(reason.as_str()).bind(&rec.member_text).bind(intent).bind(&at)
                        .fetch_optional(&mut *tx).await?
                };
                let active: Option<(i64, String, String)> = match quick {
                    Some(_) => None,
                    None => sqlx::query_as(
                        "SELECT id, reason, status FROM escalations WHERE conversation_id = $1 AND status <> 'resolved' ORDER BY id DESC LIMIT 1")
                        .bind(conv_id).fetch_optional(&mut *tx).await?,
                };
                match (quick, &active) {
                    (Some((id,)), _) => {
                        link = Some(id);
                        opened = Some(id);
                    }
                    (None, None) => {
                        // "はい" to the offer of a person says nothing: staff see the
                        // unclear questions that led to it (already redacted)
                        let mut text = rec.member_text.clone();
                        if reason == EscalationReason::LowConfidence {
                            let earlier: Vec<(String,)> = sqlx::query_as(
                                "SELECT text FROM messages WHERE conversation_id = $1 AND role = 'member' ORDER BY id DESC LIMIT 2")
                                .bind(conv_id).fetch_all(&mut *tx).await?;
                            let mut parts: Vec<String> = earlier.into_iter().rev().map(|r| r.0).collect();
                            parts.push(text);
                            text = parts.join(" / ");
                        }
                        let (id,): (i64,) = sqlx::query_as(
                            "INSERT INTO escalations (conversation_id, channel, user_id, conversation, reason, status, text, intent, created_at) \
                             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8) RETURNING id")
                            .bind(conv_id).bind(rec.channel.as_str()).bind(&rec.user).bind(&rec.conversation)
                            .bind(reason.as_str()).bind(&text).bind(intent).bind(&at)
                            .fetch_one(&mut *tx).await?;
                        link = Some(id);
                        opened = Some(id);
                    }
                    (None, Some((id, old, status))) => {
                        // already queued: an urgent turn raises the reason, nothing is duplicated
                        if reason == EscalationReason::Urgent && old != "urgent" && status == "open" {
                            sqlx::query("UPDATE escalations SET reason = 'urgent', text = $1, intent = $2 WHERE id = $3")
                                .bind(&rec.member_text).bind(intent).bind(id).execute(&mut *tx).await?;
                        }
                        link = Some(*id);
                        opened = Some(*id);
                    }
                }
            }
            // the member's message and the answer, in one statement
            sqlx::query(
                "INSERT INTO messages (conversation_id, role, text, intent, confidence, urgent, reply_kind, escalation_id, created_at) \
                 SELECT $1, m.role, m.text, $4, $5, $6, m.kind, \
                   COALESCE(CAST($8 AS BIGINT), (SELECT id FROM escalations WHERE conversation_id = $1 AND status <> 'resolved' ORDER BY id DESC LIMIT 1)), $9 \
                 FROM (SELECT 1 AS ord, 'member' AS role, CAST($2 AS TEXT) AS text, CAST(NULL AS TEXT) AS kind \
                       UNION ALL SELECT 2, 'bot', CAST($3 AS TEXT), CAST($7 AS TEXT)) m ORDER BY m.ord")
                .bind(conv_id).bind(&rec.member_text).bind(&rec.reply_text)
                .bind(intent).bind(f64::from(rec.confidence)).bind(urgent)
                .bind(if rec.handled_by_staff { "staff_handling" } else { reply_kind_str(rec.reply_kind) })
                .bind(link).bind(&at)
                .execute(&mut *tx).await?;
            results[i] = opened;
            }
            tx.commit().await?;
            Ok(results)
        })
    }

    /// Staff replies not yet delivered to this conversation; marks them delivered
    /// (atomically: two concurrent turns never both deliver one reply). A write: call it
    /// when the conversation's view says replies wait (`replies_waiting`), so the common
    /// turn takes no write lock.
    pub async fn take_outbox(
        &self,
        channel: ChannelKind,
        user: &str,
        conversation: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        let mut rows: Vec<OutRow> = with_pool!(self, p => sqlx::query_as(
            "UPDATE outbox SET delivered_at = $1 WHERE delivered_at IS NULL AND channel = $2 AND user_id = $3 AND conversation = $4 \
             RETURNING id, escalation_id, channel, user_id, conversation, text, staff")
            .bind(ts(now)).bind(channel.as_str()).bind(user).bind(conversation).fetch_all(p).await?);
        rows.sort_by_key(|r| r.0);
        rows.into_iter().map(out_from).collect()
    }

    pub async fn list_escalations(
        &self,
        status: Option<EscalationStatus>,
    ) -> Result<Vec<Escalation>, StoreError> {
        self.ready().await?;
        let rows: Vec<EscRow> = match status {
            Some(s) => {
                with_pool!(self, p => sqlx::query_as(concat!("SELECT ", esc_cols!(), " FROM escalations WHERE status = $1 ORDER BY id"))
                .bind(s.as_str()).fetch_all(p).await?)
            }
            None => {
                with_pool!(self, p => sqlx::query_as(concat!("SELECT ", esc_cols!(), " FROM escalations ORDER BY id")).fetch_all(p).await?)
            }
        };
        rows.into_iter().map(esc_from).collect()
    }

    pub async fn get_escalation(&self, id: i64) -> Result<Option<Escalation>, StoreError> {
        self.ready().await?;
        let row: Option<EscRow> = with_pool!(self, p => sqlx::query_as(concat!("SELECT ", esc_cols!(), " FROM escalations WHERE id = $1")).bind(id).fetch_optional(p).await?);
        row.map(esc_from).transpose()
    }

    /// The escalation and its conversation's transcript (the last 50 lines up to its
    /// resolution).
    pub async fn escalation_with_transcript(
        &self,
        id: i64,
    ) -> Result<Option<(Escalation, Vec<TranscriptLine>)>, StoreError> {
        let Some(esc) = self.get_escalation(id).await? else {
            return Ok(None);
        };
        let until = esc
            .resolved_at
            .map(ts)
            .unwrap_or_else(|| "9999-12-31T23:59:59.999999Z".into());
        type Line = (
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<i64>,
        );
        let mut rows: Vec<Line> = with_pool!(self, p => sqlx::query_as(
            "SELECT m.created_at, m.role, m.author, m.text, m.intent, m.urgent FROM messages m \
             JOIN escalations e ON e.conversation_id = m.conversation_id \
             WHERE e.id = $1 AND m.created_at <= $2 ORDER BY m.id DESC LIMIT 50")
            .bind(id).bind(until).fetch_all(p).await?);
        rows.reverse();
        let lines = rows
            .into_iter()
            .map(|(at, role, author, text, intent, urgent)| {
                Ok(TranscriptLine {
                    at: parse_ts(&at)?,
                    role: Role::parse(&role)?,
                    author,
                    text,
                    intent: intent
                        .map(|i| i.parse::<Label>().map_err(corrupt("intent")))
                        .transpose()?,
                    urgent: urgent.unwrap_or(0) != 0,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some((esc, lines)))
    }

    /// Explains why a conditional update touched no row.
    async fn refusal(&self, id: i64) -> StaffError {
        match self.get_escalation(id).await {
            Err(e) => StaffError::Store(e),
            Ok(None) => StaffError::NotFound(id),
            Ok(Some(e)) if e.status == EscalationStatus::Resolved => {
                StaffError::AlreadyResolved { id }
            }
            Ok(Some(e)) => StaffError::AlreadyClaimed {
                id,
                by: e.assignee.unwrap_or_default(),
            },
        }
    }

    /// Claims an open escalation: one conditional UPDATE, so of several concurrent
    /// claimers exactly one wins.
    pub async fn claim(
        &self,
        id: i64,
        staff: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Escalation, StaffError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        let at = ts(now);
        let row: Option<EscRow> = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let row: Option<EscRow> = sqlx::query_as(concat!("UPDATE escalations SET status = 'claimed', assignee = $1, claimed_at = $2 WHERE id = $3 AND status = 'open' RETURNING ", esc_cols!()))
                .bind(staff).bind(&at).bind(id).fetch_optional(&mut *tx).await?;
            if row.is_some() {
                sqlx::query(AUDIT).bind(id).bind(staff).bind("claim").bind(None::<String>).bind(&at).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            row
        });
        match row {
            Some(r) => Ok(esc_from(r)?),
            None => Err(self.refusal(id).await),
        }
    }

    /// Stores a staff reply for delivery through the member's channel. An open
    /// escalation is claimed by the replier; one claimed by someone else is refused.
    pub async fn staff_reply(
        &self,
        id: i64,
        staff: &str,
        text: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<OutboxItem, StaffError> {
        if text.trim().is_empty() {
            return Err(StaffError::EmptyText);
        }
        self.ready().await?;
        let _w = self.write_guard().await;
        let at = ts(now);
        let res: Result<OutboxItem, StaffError> = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let claimed = sqlx::query("UPDATE escalations SET status = 'claimed', assignee = $1, claimed_at = $2 WHERE id = $3 AND status = 'open'")
                .bind(staff).bind(&at).bind(id).execute(&mut *tx).await?.rows_affected();
            if claimed == 1 {
                sqlx::query(AUDIT).bind(id).bind(staff).bind("claim").bind(Some("by reply")).bind(&at).execute(&mut *tx).await?;
            }
            let e: Option<(i64, String, Option<String>, String, String, String)> = sqlx::query_as(
                "SELECT conversation_id, status, assignee, channel, user_id, conversation FROM escalations WHERE id = $1")
                .bind(id).fetch_optional(&mut *tx).await?;
            match e {
                None => { tx.rollback().await?; Err(StaffError::NotFound(id)) }
                Some((_, status, _, _, _, _)) if status == "resolved" => { tx.rollback().await?; Err(StaffError::AlreadyResolved { id }) }
                Some((_, _, assignee, _, _, _)) if assignee.as_deref() != Some(staff) => {
                    tx.rollback().await?;
                    Err(StaffError::AlreadyClaimed { id, by: assignee.unwrap_or_default() })
                }
                Some((conv_id, _, _, channel, user, conversation)) => {
                    let (oid,): (i64,) = sqlx::query_as(
                        "INSERT INTO outbox (escalation_id, channel, user_id, conversation, staff, text, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                        .bind(id).bind(&channel).bind(&user).bind(&conversation).bind(staff).bind(text).bind(&at)
                        .fetch_one(&mut *tx).await?;
                    sqlx::query("INSERT INTO messages (conversation_id, role, author, text, escalation_id, created_at) VALUES ($1, 'staff', $2, $3, $4, $5)")
                        .bind(conv_id).bind(staff).bind(text).bind(id).bind(&at).execute(&mut *tx).await?;
                    sqlx::query(AUDIT).bind(id).bind(staff).bind("reply").bind(Some(format!("outbox #{oid}"))).bind(&at).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(out_from((oid, id, channel, user, conversation, text.to_string(), staff.to_string()))?)
                }
            }
        });
        res
    }

    /// Resolves an open or claimed escalation; the bot answers that conversation again.
    pub async fn resolve(
        &self,
        id: i64,
        staff: &str,
        note: Option<&str>,
        now: DateTime<FixedOffset>,
    ) -> Result<Escalation, StaffError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        let at = ts(now);
        let row: Option<EscRow> = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let row: Option<EscRow> = sqlx::query_as(concat!(
                "UPDATE escalations SET status = 'resolved', resolved_at = $1, note = $2, assignee = COALESCE(assignee, $3) \
                 WHERE id = $4 AND status <> 'resolved' RETURNING ", esc_cols!()))
                .bind(&at).bind(note).bind(staff).bind(id).fetch_optional(&mut *tx).await?;
            if row.is_some() {
                sqlx::query(AUDIT).bind(id).bind(staff).bind("resolve").bind(note).bind(&at).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            row
        });
        match row {
            Some(r) => Ok(esc_from(r)?),
            None => Err(self.refusal(id).await),
        }
    }

    pub async fn set_staff_ref(
        &self,
        id: i64,
        staff_ref: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        let at = ts(now);
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE escalations SET staff_ref = $1 WHERE id = $2").bind(staff_ref).bind(id).execute(&mut *tx).await?;
            sqlx::query(AUDIT).bind(id).bind("madoguchi").bind("staff_ref").bind(Some(staff_ref)).bind(&at).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn escalation_by_staff_ref(
        &self,
        staff_ref: &str,
    ) -> Result<Option<Escalation>, StoreError> {
        self.ready().await?;
        let row: Option<EscRow> = with_pool!(self, p => sqlx::query_as(concat!("SELECT ", esc_cols!(), " FROM escalations WHERE staff_ref = $1 ORDER BY id DESC LIMIT 1"))
            .bind(staff_ref).fetch_optional(p).await?);
        row.map(esc_from).transpose()
    }

    pub async fn undelivered(&self, channel: ChannelKind) -> Result<Vec<OutboxItem>, StoreError> {
        self.ready().await?;
        let rows: Vec<OutRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, escalation_id, channel, user_id, conversation, text, staff FROM outbox WHERE channel = $1 AND delivered_at IS NULL ORDER BY id")
            .bind(channel.as_str()).fetch_all(p).await?);
        rows.into_iter().map(out_from).collect()
    }

    pub async fn mark_delivered(
        &self,
        outbox_id: i64,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.ready().await?;
        let _w = self.write_guard().await;
        with_pool!(self, p => sqlx::query("UPDATE outbox SET delivered_at = $1 WHERE id = $2 AND delivered_at IS NULL")
            .bind(ts(now)).bind(outbox_id).execute(p).await.map(|_| ())?);
        Ok(())
    }

    /// Open or claimed escalations no staff channel has announced yet.
    pub async fn unposted_escalations(&self) -> Result<Vec<Escalation>, StoreError> {
        self.ready().await?;
        let rows: Vec<EscRow> = with_pool!(self, p => sqlx::query_as(concat!("SELECT ", esc_cols!(), " FROM escalations WHERE staff_ref IS NULL AND status <> 'resolved' ORDER BY id"))
            .fetch_all(p).await?);
        rows.into_iter().map(esc_from).collect()
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        self.ready().await?;
        let count = |sql: &'static str| async move {
            let (n,): (i64,) = with_pool!(self, p => sqlx::query_as(sql).fetch_one(p).await?);
            Ok::<i64, StoreError>(n)
        };
        let grouped = |sql: &'static str| async move {
            let rows: Vec<(Option<String>, i64)> =
                with_pool!(self, p => sqlx::query_as(sql).fetch_all(p).await?);
            Ok::<Vec<(String, i64)>, StoreError>(
                rows.into_iter()
                    .map(|(k, n)| (k.unwrap_or_else(|| "?".into()), n))
                    .collect(),
            )
        };
        let claims: Vec<(String, String)> = with_pool!(self, p => sqlx::query_as("SELECT created_at, claimed_at FROM escalations WHERE claimed_at IS NOT NULL").fetch_all(p).await?);
        let mut secs = claims
            .iter()
            .map(|(c, k)| Ok((parse_ts(k)? - parse_ts(c)?).num_milliseconds() as f64 / 1000.0))
            .collect::<Result<Vec<f64>, StoreError>>()?;
        secs.sort_by(|a, b| a.total_cmp(b));
        let median = match secs.len() {
            0 => None,
            n if n % 2 == 1 => Some(secs[n / 2]),
            n => Some((secs[n / 2 - 1] + secs[n / 2]) / 2.0),
        };
        Ok(Stats {
            messages: count("SELECT COUNT(*) FROM messages WHERE role = 'member'").await?,
            per_intent: grouped("SELECT intent, COUNT(*) FROM messages WHERE role = 'member' GROUP BY intent ORDER BY COUNT(*) DESC, intent").await?,
            fallbacks: count("SELECT COUNT(*) FROM messages WHERE role = 'bot' AND reply_kind = 'fallback'").await?,
            clarifications: count("SELECT COUNT(*) FROM messages WHERE role = 'bot' AND reply_kind = 'clarify'").await?,
            urgent: count("SELECT COUNT(*) FROM messages WHERE role = 'member' AND urgent = 1").await?,
            escalations: count("SELECT COUNT(*) FROM escalations").await?,
            escalations_by_reason: grouped("SELECT reason, COUNT(*) FROM escalations GROUP BY reason ORDER BY COUNT(*) DESC, reason").await?,
            escalations_by_status: grouped("SELECT status, COUNT(*) FROM escalations GROUP BY status ORDER BY COUNT(*) DESC, status").await?,
            median_secs_to_claim: median,
        })
    }

    /// Every text column of every table (tests and audits: "is any PII left?"), one
    /// string per non-null cell: member text, ids, staff names, audit actors and details,
    /// links, keys' names… Found from the schema, so a column added later is included.
    /// Left out: timestamps (`…_at`, `locked_until`, `claimed_until`), hashes
    /// (`…_hash`, `csrf`) and sqlx's own migration table, which hold no personal data.
    pub async fn all_text(&self) -> Result<Vec<String>, StoreError> {
        self.ready().await?;
        let columns: Vec<(String, String)> = match self.db() {
            super::Db::Sqlite(p) => {
                sqlx::query_as(
                    "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name NOT LIKE '_sqlx%' \
                     AND upper(c.type) = 'TEXT' ORDER BY m.name, c.cid",
                )
                .fetch_all(&p)
                .await?
            }
            super::Db::Postgres(p) => {
                sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%' \
                     AND data_type IN ('text', 'character varying', 'json', 'jsonb') \
                     ORDER BY table_name, ordinal_position",
                )
                .fetch_all(&p)
                .await?
            }
        };
        let plain = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let mut out = Vec::new();
        for (table, column) in columns {
            if column.ends_with("_at")
                || column.ends_with("_until")
                || column.ends_with("_hash")
                || column == "csrf"
                || !plain(&table)
                || !plain(&column)
            {
                continue;
            }
            let sql =
                format!("SELECT CAST({column} AS TEXT) FROM {table} WHERE {column} IS NOT NULL");
            let rows: Vec<(String,)> =
                with_pool!(self, p => sqlx::query_as(&sql).fetch_all(p).await?);
            out.extend(rows.into_iter().map(|r| r.0));
        }
        Ok(out)
    }
}
