//! The common turns of a group commit in a fixed number of statements, whatever their
//! number: a turn with a known state that opens no escalation and is the only one of
//! its conversation in the batch. Their spool keys, conversation states and messages go
//! in as rows of one JSON parameter (`json_each` on SQLite, `jsonb_array_elements` on
//! PostgreSQL): three statements on SQLite, one on PostgreSQL (data-modifying CTEs), so
//! a batch costs what one turn used to. Every other turn is written one by one (see
//! [`super::Store::apply_batch`]), in the same transaction.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::model::{reply_kind_str, ts};
use super::TurnRecord;
use crate::core::turn::EscalationReason;

/// Which turns of a batch go in bulk (indices into `recs`): one per conversation, with
/// a known state, opening no escalation — or, where the backend writes escalations in
/// bulk too (`escalations`), opening one for an urgent message or a request for a
/// person (a hand-off after unclear turns reads the earlier messages: one by one).
pub(super) fn bulk_indices(recs: &[&TurnRecord], escalations: bool) -> Vec<usize> {
    let mut per_conversation: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for r in recs {
        *per_conversation
            .entry((r.channel.as_str(), &r.user, &r.conversation))
            .or_default() += 1;
    }
    recs.iter()
        .enumerate()
        .filter(|(_, r)| {
            let escalation_ok = match r.escalate {
                None => true,
                Some(EscalationReason::Urgent | EscalationReason::HumanRequest) => escalations,
                Some(EscalationReason::LowConfidence) => false,
            };
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

/// `[[key, channel, user, conversation, state, at, member text, answer, intent,
/// confidence, urgent, reply kind, escalation reason or null], …]` for the
/// one-statement form.
pub(super) fn turns_param(recs: &[&TurnRecord]) -> String {
    Value::Array(
        recs.iter()
            .map(|r| {
                let state = state_json(r);
                let kind = stored_kind(r);
                json!([
                    r.key,
                    r.channel.as_str(),
                    r.user,
                    r.conversation,
                    state,
                    ts(r.at),
                    r.member_text,
                    r.reply_text,
                    r.intent.as_str(),
                    f64::from(r.confidence),
                    i64::from(r.urgent),
                    kind,
                    r.escalate.map(|e| e.as_str())
                ])
            })
            .collect(),
    )
    .to_string()
}

/// The turns whose key was new (the others were written before: skipped).
pub(super) fn fresh<'a>(recs: &[&'a TurnRecord], keys: Vec<(String,)>) -> Vec<&'a TurnRecord> {
    let new: HashSet<String> = keys.into_iter().map(|k| k.0).collect();
    recs.iter()
        .filter(|r| new.contains(&r.key))
        .copied()
        .collect()
}

/// The three statements, in the backend's dialect.
pub(super) struct Sql {
    pub keys: &'static str,
    pub conversations: &'static str,
    pub messages: &'static str,
    /// Begins a [`super::Commit::Relaxed`] transaction, in one round trip (None: the
    /// backend has no such setting).
    pub begin_relaxed: Option<&'static str>,
    /// All three in one statement over [`turns_param`] (data-modifying CTEs), where
    /// the backend has them.
    pub all_in_one: Option<&'static str>,
}

impl Sql {
    pub fn of(backend: &super::Backend) -> Sql {
        match backend {
            super::Backend::Sqlite(_) => Sql {
                keys: sql::sqlite::KEYS,
                conversations: sql::sqlite::CONVERSATIONS,
                messages: sql::sqlite::MESSAGES,
                begin_relaxed: None,
                all_in_one: None,
            },
            super::Backend::Postgres(_) => Sql {
                keys: sql::postgres::KEYS,
                conversations: sql::postgres::CONVERSATIONS,
                messages: sql::postgres::MESSAGES,
                begin_relaxed: Some("BEGIN; SET LOCAL synchronous_commit = off"),
                all_in_one: Some(sql::postgres::ALL_IN_ONE),
            },
        }
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
            json_extract(value, '$[7]') FROM json_each($1) ORDER BY key";
    }
    pub mod postgres {
        pub const KEYS: &str = "INSERT INTO spool_applied (spool_key, applied_at) \
            SELECT x->>0, x->>1 FROM jsonb_array_elements($1::jsonb) x \
            ON CONFLICT (spool_key) DO NOTHING RETURNING spool_key";
        pub const CONVERSATIONS: &str = "INSERT INTO conversations (channel, user_id, conversation, state, created_at, updated_at) \
            SELECT x->>0, x->>1, x->>2, x->>3, x->>4, x->>4 FROM jsonb_array_elements($1::jsonb) x \
            ON CONFLICT (channel, user_id, conversation) DO UPDATE SET \
            state = CASE WHEN conversations.updated_at <= excluded.updated_at THEN excluded.state ELSE conversations.state END, \
            updated_at = GREATEST(conversations.updated_at, excluded.updated_at) \
            RETURNING id, channel, user_id, conversation";
        pub const MESSAGES: &str = "INSERT INTO messages (conversation_id, role, text, intent, confidence, urgent, reply_kind, escalation_id, created_at) \
            SELECT (x->>0)::bigint, x->>1, x->>2, x->>3, (x->>4)::float8, (x->>5)::bigint, x->>6, \
            (SELECT e.id FROM escalations e WHERE e.conversation_id = (x->>0)::bigint AND e.status <> 'resolved' ORDER BY e.id DESC LIMIT 1), \
            x->>7 FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(x, n) ORDER BY n";
        /// KEYS, CONVERSATIONS and MESSAGES as one statement, which also opens the
        /// escalation an urgent message or a request for a person asks for (or joins
        /// the one queued, raising it to urgent): a batch is one round trip. Returns
        /// each new turn's key and, when it asked for one, its escalation.
        ///
        /// `$2` is true for a [`crate::store::Commit::Relaxed`] write: the
        /// statement sets `synchronous_commit = off` for its own transaction, so a
        /// batch needs no `BEGIN`/`COMMIT` round trips (a durable one keeps the
        /// session's setting).
        ///
        /// The escalation an urgent turn raises is found through `turns` (its id, status
        /// and reason, one indexed lookup per conversation) and updated through its
        /// primary key as the arbiter of an upsert whose insert never happens (the row
        /// exists: `active_id` was just read, and escalations are never deleted); the
        /// status and reason are checked again on the locked row (a claim in between
        /// wins). An `UPDATE … FROM turns` left the join to the planner, which, with the
        /// statistics of a fresh table, scanned every escalation on every batch.
        pub const ALL_IN_ONE: &str = "WITH input AS (\
              SELECT t.x, t.n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(x, n) \
              CROSS JOIN (SELECT set_config('synchronous_commit', \
                CASE WHEN $2::boolean THEN 'off' ELSE current_setting('synchronous_commit') END, true)) AS commit_mode), \
            keys AS (\
              INSERT INTO spool_applied (spool_key, applied_at) SELECT x->>0, x->>5 FROM input \
              ON CONFLICT (spool_key) DO NOTHING RETURNING spool_key), \
            fresh AS (\
              SELECT i.x, i.n FROM input i JOIN keys k ON k.spool_key = i.x->>0), \
            conv AS (\
              INSERT INTO conversations (channel, user_id, conversation, state, created_at, updated_at) \
              SELECT x->>1, x->>2, x->>3, x->>4, x->>5, x->>5 FROM fresh \
              ON CONFLICT (channel, user_id, conversation) DO UPDATE SET \
              state = CASE WHEN conversations.updated_at <= excluded.updated_at THEN excluded.state ELSE conversations.state END, \
              updated_at = GREATEST(conversations.updated_at, excluded.updated_at) \
              RETURNING id, channel, user_id, conversation), \
            turns AS (\
              SELECT f.x, f.n, c.id AS conv_id, a.id AS active_id, a.status AS active_status, a.reason AS active_reason \
              FROM fresh f JOIN conv c ON c.channel = f.x->>1 AND c.user_id = f.x->>2 AND c.conversation = f.x->>3 \
              LEFT JOIN LATERAL (SELECT e.id, e.status, e.reason FROM escalations e \
                WHERE e.conversation_id = c.id AND e.status <> 'resolved' ORDER BY e.id DESC LIMIT 1) a ON true), \
            opened AS (\
              INSERT INTO escalations (conversation_id, channel, user_id, conversation, reason, status, text, intent, created_at) \
              SELECT conv_id, x->>1, x->>2, x->>3, x->>12, 'open', x->>6, x->>8, x->>5 FROM turns \
              WHERE active_id IS NULL AND x->>12 IS NOT NULL ORDER BY n \
              RETURNING id, conversation_id), \
            raised AS (\
              INSERT INTO escalations (id, conversation_id, channel, user_id, conversation, reason, status, text, intent, created_at) \
              SELECT active_id, conv_id, x->>1, x->>2, x->>3, 'urgent', 'open', x->>6, x->>8, x->>5 FROM turns \
              WHERE x->>12 = 'urgent' AND active_status = 'open' AND active_reason <> 'urgent' \
              ON CONFLICT (id) DO UPDATE SET reason = 'urgent', text = excluded.text, intent = excluded.intent \
              WHERE escalations.status = 'open' AND escalations.reason <> 'urgent' \
              RETURNING id), \
            written AS (\
              INSERT INTO messages (conversation_id, role, text, intent, confidence, urgent, reply_kind, escalation_id, created_at) \
              SELECT t.conv_id, m.role, m.text, t.x->>8, (t.x->>9)::float8, (t.x->>10)::bigint, m.kind, COALESCE(o.id, t.active_id), t.x->>5 \
              FROM turns t LEFT JOIN opened o ON o.conversation_id = t.conv_id \
              CROSS JOIN LATERAL (VALUES (1, 'member', t.x->>6, NULL::text), (2, 'bot', t.x->>7, t.x->>11)) AS m(ord, role, text, kind) \
              ORDER BY t.n, m.ord RETURNING 1) \
            SELECT t.x->>0, CASE WHEN t.x->>12 IS NULL THEN NULL ELSE COALESCE(o.id, t.active_id) END \
            FROM turns t LEFT JOIN opened o ON o.conversation_id = t.conv_id";
    }
}
