//! The common turns of a group commit in a fixed number of statements, whatever their
//! number: a turn with a known state that is the only one of its conversation in the
//! batch and asks for no hand-off after unclear turns (that one quotes the earlier
//! messages). SQLite writes them in three to five statements over JSON parameters
//! (`json_each`); PostgreSQL in one statement over typed arrays (`unnest`,
//! data-modifying CTEs) that is its own transaction. Both open, join or raise the
//! escalations urgent messages and requests for a person ask for. A batch costs what one
//! turn used to. Every other turn is written one by one (see
//! [`super::Store::apply_batch`]), in the same transaction.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::model::{reply_kind_str, ts};
use super::{StoreError, TurnRecord};
use crate::core::turn::EscalationReason;

/// Which turns of a batch go in bulk (indices into `recs`): one per conversation, with
/// a known state, opening no escalation or one for an urgent message or a request for a
/// person (a hand-off after unclear turns reads the earlier messages: one by one).
pub(super) fn bulk_indices(recs: &[&TurnRecord]) -> Vec<usize> {
    let mut per_conversation: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for r in recs {
        *per_conversation
            .entry((r.channel.as_str(), &r.user, &r.conversation))
            .or_default() += 1;
    }
    recs.iter()
        .enumerate()
        .filter(|(_, r)| {
            let escalation_ok = r.escalate != Some(EscalationReason::LowConfidence);
            escalation_ok
                && r.state.is_some()
                && per_conversation[&(r.channel.as_str(), r.user.as_str(), r.conversation.as_str())]
                    == 1
        })
        .map(|(i, _)| i)
        .collect()
}

/// The turn's conversation state as stored (bulk turns always have one).
fn state_json(r: &TurnRecord) -> String {
    serde_json::to_string(r.state.as_ref().expect("bulk turns have a state"))
        .expect("state serialises")
}

/// The answer's kind as stored: `staff_handling` while a person has the conversation.
fn stored_kind(r: &TurnRecord) -> &'static str {
    if r.handled_by_staff {
        "staff_handling"
    } else {
        reply_kind_str(r.reply_kind)
    }
}

/// `[[key, at], …]` for the spool-key statement.
pub(super) fn keys_param(recs: &[&TurnRecord]) -> String {
    Value::Array(recs.iter().map(|r| json!([r.key, ts(r.at)])).collect()).to_string()
}

/// `[[channel, user, conversation, state, at], …]` for the conversations upsert.
pub(super) fn conversations_param(recs: &[&TurnRecord]) -> String {
    Value::Array(
        recs.iter()
            .map(|r| {
                let state = state_json(r);
                json!([r.channel.as_str(), r.user, r.conversation, state, ts(r.at)])
            })
            .collect(),
    )
    .to_string()
}

/// The conversation id of each turn, from the upsert's returned rows.
pub(super) fn conversation_ids(
    recs: &[&TurnRecord],
    rows: Vec<(i64, String, String, String)>,
) -> Option<Vec<i64>> {
    let ids: HashMap<(String, String, String), i64> = rows
        .into_iter()
        .map(|(id, ch, u, c)| ((ch, u, c), id))
        .collect();
    recs.iter()
        .map(|r| {
            ids.get(&(
                r.channel.as_str().to_string(),
                r.user.clone(),
                r.conversation.clone(),
            ))
            .copied()
        })
        .collect()
}

/// `[[conversation_id, role, text, intent, confidence, urgent, reply_kind, at], …]`:
/// each turn's member message, then the answer.
pub(super) fn messages_param(recs: &[&TurnRecord], conv_ids: &[i64]) -> String {
    let mut rows = Vec::with_capacity(recs.len() * 2);
    for (r, id) in recs.iter().zip(conv_ids) {
        let at = ts(r.at);
        let intent = r.intent.as_str();
        let confidence = f64::from(r.confidence);
        let urgent = i64::from(r.urgent);
        let kind = stored_kind(r);
        rows.push(json!([
            id,
            "member",
            r.member_text,
            intent,
            confidence,
            urgent,
            null,
            at
        ]));
        rows.push(json!([
            id,
            "bot",
            r.reply_text,
            intent,
            confidence,
            urgent,
            kind,
            at
        ]));
    }
    Value::Array(rows).to_string()
}

/// The turns whose key was new (the others were written before: skipped).
pub(super) fn fresh<'a>(recs: &[&'a TurnRecord], keys: Vec<(String,)>) -> Vec<&'a TurnRecord> {
    let new: HashSet<String> = keys.into_iter().map(|k| k.0).collect();
    recs.iter()
        .filter(|r| new.contains(&r.key))
        .copied()
        .collect()
}

/// How a backend writes the common turns of a batch: one shape, two dialects.
pub(super) trait BulkWrite {
    /// Writes `recs` (all common: see [`bulk_indices`]) on this connection, inside the
    /// caller's transaction or, where the write is one statement, as its own. Returns
    /// for each turn, in order, the escalation it opened or joined when it asked for
    /// one. `relaxed`: commit with `synchronous_commit = off` where the backend has it.
    async fn write_bulk(
        &mut self,
        recs: &[&TurnRecord],
        relaxed: bool,
    ) -> Result<Vec<Option<i64>>, StoreError>;
}

/// SQLite: statements over `json_each`: spool keys, conversation upserts, then, when
/// turns ask for one, the escalations opened (where none is queued) and raised (an
/// urgent message where a request for a person is queued), then the messages, which
/// link each turn to its conversation's escalation.
impl BulkWrite for sqlx::SqliteConnection {
    async fn write_bulk(
        &mut self,
        recs: &[&TurnRecord],
        _relaxed: bool,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let keys: Vec<(String,)> = sqlx::query_as(sql::sqlite::KEYS)
            .bind(keys_param(recs))
            .fetch_all(&mut *self)
            .await?;
        let fresh = fresh(recs, keys);
        if fresh.is_empty() {
            return Ok(vec![None; recs.len()]);
        }
        let rows: Vec<(i64, String, String, String)> = sqlx::query_as(sql::sqlite::CONVERSATIONS)
            .bind(conversations_param(&fresh))
            .fetch_all(&mut *self)
            .await?;
        let ids = conversation_ids(&fresh, rows).ok_or_else(|| {
            StoreError::Corrupt("a conversation of the batch was not returned by its upsert".into())
        })?;
        let asking: Vec<(&TurnRecord, i64)> = fresh
            .iter()
            .zip(&ids)
            .filter(|(r, _)| r.escalate.is_some())
            .map(|(r, id)| (*r, *id))
            .collect();
        if !asking.is_empty() {
            sqlx::query(sql::sqlite::OPEN)
                .bind(escalations_param(&asking))
                .execute(&mut *self)
                .await?;
            let urgent: Vec<(&TurnRecord, i64)> = asking
                .iter()
                .filter(|(r, _)| r.escalate == Some(EscalationReason::Urgent))
                .copied()
                .collect();
            if !urgent.is_empty() {
                sqlx::query(sql::sqlite::RAISE)
                    .bind(escalations_param(&urgent))
                    .execute(&mut *self)
                    .await?;
            }
        }
        // (conversation id, role, escalation linked)
        let written: Vec<(i64, String, Option<i64>)> = sqlx::query_as(sql::sqlite::MESSAGES)
            .bind(messages_param(&fresh, &ids))
            .fetch_all(&mut *self)
            .await?;
        let linked: HashMap<i64, Option<i64>> = written
            .into_iter()
            .filter(|(_, role, _)| role == "member")
            .map(|(conv, _, esc)| (conv, esc))
            .collect();
        let told: HashMap<&str, Option<i64>> = fresh
            .iter()
            .zip(&ids)
            .map(|(r, id)| {
                let esc = r.escalate.and_then(|_| linked.get(id).copied().flatten());
                (r.key.as_str(), esc)
            })
            .collect();
        Ok(recs
            .iter()
            .map(|r| told.get(r.key.as_str()).copied().flatten())
            .collect())
    }
}

/// `[[conversation_id, reason, member text, intent, at], …]` for the turns asking for
/// an escalation (SQLite).
fn escalations_param(asking: &[(&TurnRecord, i64)]) -> String {
    Value::Array(
        asking
            .iter()
            .map(|(r, conv)| {
                json!([
                    conv,
                    r.escalate.map(|e| e.as_str()),
                    r.member_text,
                    r.intent.as_str(),
                    ts(r.at)
                ])
            })
            .collect(),
    )
    .to_string()
}

/// PostgreSQL: one statement ([`sql::postgres::ALL_IN_ONE`]) over typed arrays, one
/// per column (no JSON for the server to parse), which also opens, joins or raises
/// the escalations asked for: atomic by itself, so a batch of common turns needs no
/// transaction around it.
impl BulkWrite for sqlx::PgConnection {
    async fn write_bulk(
        &mut self,
        recs: &[&TurnRecord],
        relaxed: bool,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let text = |f: fn(&TurnRecord) -> String| recs.iter().map(|r| f(r)).collect::<Vec<_>>();
        let written: Vec<(String, Option<i64>)> = sqlx::query_as(sql::postgres::ALL_IN_ONE)
            .bind(text(|r| r.key.clone()))
            .bind(text(|r| r.channel.as_str().to_string()))
            .bind(text(|r| r.user.clone()))
            .bind(text(|r| r.conversation.clone()))
            .bind(text(state_json))
            .bind(text(|r| ts(r.at)))
            .bind(text(|r| r.member_text.clone()))
            .bind(text(|r| r.reply_text.clone()))
            .bind(text(|r| r.intent.as_str().to_string()))
            .bind(
                recs.iter()
                    .map(|r| f64::from(r.confidence))
                    .collect::<Vec<_>>(),
            )
            .bind(recs.iter().map(|r| i64::from(r.urgent)).collect::<Vec<_>>())
            .bind(text(|r| stored_kind(r).to_string()))
            .bind(
                recs.iter()
                    .map(|r| r.escalate.map(|e| e.as_str()))
                    .collect::<Vec<_>>(),
            )
            .bind(relaxed)
            .fetch_all(&mut *self)
            .await?;
        let escalation: HashMap<String, Option<i64>> = written.into_iter().collect();
        Ok(recs
            .iter()
            .map(|r| escalation.get(&r.key).copied().flatten())
            .collect())
    }
}

/// Whether the backend's bulk write is one statement, atomic without a transaction.
pub(super) fn one_statement(backend: &super::Backend) -> bool {
    matches!(backend, super::Backend::Postgres(_))
}

/// Begins a relaxed transaction in one round trip (None: the backend has no such
/// setting).
pub(super) fn begin_relaxed(backend: &super::Backend) -> Option<&'static str> {
    match backend {
        super::Backend::Postgres(_) => Some("BEGIN; SET LOCAL synchronous_commit = off"),
        super::Backend::Sqlite(_) => None,
    }
}

mod sql {
    pub mod sqlite {
        pub const KEYS: &str = "INSERT INTO spool_applied (spool_key, applied_at) \
            SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1) WHERE true \
            ON CONFLICT (spool_key) DO NOTHING RETURNING spool_key";
        pub const CONVERSATIONS: &str = "INSERT INTO conversations (channel, user_id, conversation, state, created_at, updated_at) \
            SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[4]') \
            FROM json_each($1) WHERE true \
            ON CONFLICT (channel, user_id, conversation) DO UPDATE SET \
            state = CASE WHEN conversations.updated_at <= excluded.updated_at THEN excluded.state ELSE conversations.state END, \
            updated_at = max(conversations.updated_at, excluded.updated_at) \
            RETURNING id, channel, user_id, conversation";
        pub const MESSAGES: &str = "INSERT INTO messages (conversation_id, role, text, intent, confidence, urgent, reply_kind, escalation_id, created_at) \
            SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), \
            json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[6]'), \
            (SELECT e.id FROM escalations e WHERE e.conversation_id = json_extract(value, '$[0]') AND e.status <> 'resolved' ORDER BY e.id DESC LIMIT 1), \
            json_extract(value, '$[7]') FROM json_each($1) ORDER BY key \
            RETURNING conversation_id, role, escalation_id";
        /// Opens the escalation each turn asks for where its conversation has none
        /// queued or claimed (rows of `escalations_param`; the turns of one batch are
        /// of different conversations).
        pub const OPEN: &str = "INSERT INTO escalations (conversation_id, channel, user_id, conversation, reason, status, text, intent, created_at) \
            SELECT c.id, c.channel, c.user_id, c.conversation, json_extract(j.value, '$[1]'), 'open', json_extract(j.value, '$[2]'), \
            json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]') \
            FROM json_each($1) j JOIN conversations c ON c.id = json_extract(j.value, '$[0]') \
            WHERE NOT EXISTS (SELECT 1 FROM escalations e WHERE e.conversation_id = c.id AND e.status <> 'resolved') \
            ORDER BY j.key";
        /// Raises to urgent the request for a person queued in the conversation of each
        /// urgent turn (its latest unresolved escalation, while still open), with the
        /// urgent message as its text. Rows of `escalations_param`.
        pub const RAISE: &str = "UPDATE escalations SET reason = 'urgent', \
            text = (SELECT json_extract(j.value, '$[2]') FROM json_each($1) j WHERE json_extract(j.value, '$[0]') = escalations.conversation_id), \
            intent = (SELECT json_extract(j.value, '$[3]') FROM json_each($1) j WHERE json_extract(j.value, '$[0]') = escalations.conversation_id) \
            WHERE id IN (SELECT (SELECT e.id FROM escalations e WHERE e.conversation_id = json_extract(j.value, '$[0]') AND e.status <> 'resolved' ORDER BY e.id DESC LIMIT 1) FROM json_each($1) j) \
            AND status = 'open' AND reason <> 'urgent'";
    }
    pub mod postgres {
        /// The common turns of a batch in one statement (data-modifying CTEs): spool
        /// keys, conversation upserts, the escalation an urgent message or a request
        /// for a person asks for (opened, or the one queued joined and raised to
        /// urgent) and the messages. `$1`–`$13` are the turns' columns as arrays;
        /// `$14` is true for a relaxed commit: the statement sets `synchronous_commit =
        /// off` for its own transaction (a durable one keeps the session's setting).
        /// Returns each new turn's key and, when it asked for one, its escalation.
        ///
        /// The escalation an urgent turn raises is found through `turns` (id, status and
        /// reason: one indexed lookup per conversation) and updated through its primary
        /// key, as the arbiter of an upsert whose insert never happens (the row exists:
        /// `active_id` was just read, and escalations are never deleted); the status and
        /// reason are checked again on the locked row (a claim in between wins). An
        /// `UPDATE … FROM turns` left the join to the planner, which, with the
        /// statistics of a fresh table, scanned every escalation on every batch.
        pub const ALL_IN_ONE: &str = "WITH input AS (\
              SELECT t.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                $7::text[], $8::text[], $9::text[], $10::float8[], $11::int8[], $12::text[], $13::text[]) \
                WITH ORDINALITY AS t(key, channel, user_id, conversation, state, at, member_text, reply_text, \
                  intent, confidence, urgent, kind, escalate, n) \
              CROSS JOIN (SELECT set_config('synchronous_commit', \
                CASE WHEN $14::boolean THEN 'off' ELSE current_setting('synchronous_commit') END, true)) AS commit_mode), \
            keys AS (\
              INSERT INTO spool_applied (spool_key, applied_at) SELECT key, at FROM input \
              ON CONFLICT (spool_key) DO NOTHING RETURNING spool_key), \
            fresh AS (\
              SELECT i.* FROM input i JOIN keys k ON k.spool_key = i.key), \
            conv AS (\
              INSERT INTO conversations (channel, user_id, conversation, state, created_at, updated_at) \
              SELECT channel, user_id, conversation, state, at, at FROM fresh \
              ON CONFLICT (channel, user_id, conversation) DO UPDATE SET \
              state = CASE WHEN conversations.updated_at <= excluded.updated_at THEN excluded.state ELSE conversations.state END, \
              updated_at = GREATEST(conversations.updated_at, excluded.updated_at) \
              RETURNING id, channel, user_id, conversation), \
            turns AS (\
              SELECT f.*, c.id AS conv_id, a.id AS active_id, a.status AS active_status, a.reason AS active_reason \
              FROM fresh f JOIN conv c ON c.channel = f.channel AND c.user_id = f.user_id AND c.conversation = f.conversation \
              LEFT JOIN LATERAL (SELECT e.id, e.status, e.reason FROM escalations e \
                WHERE e.conversation_id = c.id AND e.status <> 'resolved' ORDER BY e.id DESC LIMIT 1) a ON true), \
            opened AS (\
              INSERT INTO escalations (conversation_id, channel, user_id, conversation, reason, status, text, intent, created_at) \
              SELECT conv_id, channel, user_id, conversation, escalate, 'open', member_text, intent, at FROM turns \
              WHERE active_id IS NULL AND escalate IS NOT NULL ORDER BY n \
              RETURNING id, conversation_id), \
            raised AS (\
              INSERT INTO escalations (id, conversation_id, channel, user_id, conversation, reason, status, text, intent, created_at) \
              SELECT active_id, conv_id, channel, user_id, conversation, 'urgent', 'open', member_text, intent, at FROM turns \
              WHERE escalate = 'urgent' AND active_status = 'open' AND active_reason <> 'urgent' \
              ON CONFLICT (id) DO UPDATE SET reason = 'urgent', text = excluded.text, intent = excluded.intent \
              WHERE escalations.status = 'open' AND escalations.reason <> 'urgent' \
              RETURNING id), \
            written AS (\
              INSERT INTO messages (conversation_id, role, text, intent, confidence, urgent, reply_kind, escalation_id, created_at) \
              SELECT t.conv_id, m.role, m.text, t.intent, t.confidence, t.urgent, m.kind, COALESCE(o.id, t.active_id), t.at \
              FROM turns t LEFT JOIN opened o ON o.conversation_id = t.conv_id \
              CROSS JOIN LATERAL (VALUES (1, 'member', t.member_text, NULL::text), (2, 'bot', t.reply_text, t.kind)) AS m(ord, role, text, kind) \
              ORDER BY t.n, m.ord RETURNING 1) \
            SELECT t.key, CASE WHEN t.escalate IS NULL THEN NULL ELSE COALESCE(o.id, t.active_id) END \
            FROM turns t LEFT JOIN opened o ON o.conversation_id = t.conv_id";
    }
}
