//! The console's read-only queries that the staff desk does not already have: the
//! messages the bot could not place (editor page) and the per-day series and
//! time-to-claim figures behind the statistics charts. Same SQL on both backends.

use crate::store::{with_pool, Store, StoreError};

/// Below this confidence a member message counts as not placed.
pub const LOW_CONFIDENCE: f64 = 0.5;

/// A member message the bot answered with a fallback or a clarification, or placed
/// with low confidence (text already redacted).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Unplaced {
    pub id: i64,
    pub text: String,
    /// The intent the classifier guessed.
    pub intent: String,
    pub confidence: f64,
    /// `fallback`, `clarify`, or the kind of answer given with low confidence.
    pub reply_kind: String,
    pub at: String,
}

type UnplacedRow = (
    i64,
    String,
    Option<String>,
    Option<f64>,
    Option<String>,
    String,
);

const UNPLACED_SQL: &str = "SELECT m.id, m.text, m.intent, CAST(m.confidence AS DOUBLE PRECISION), b.reply_kind, m.created_at \
     FROM messages m JOIN messages b ON b.conversation_id = m.conversation_id AND b.created_at = m.created_at AND b.role = 'bot' \
     WHERE m.role = 'member' AND (b.reply_kind IN ('fallback', 'clarify') OR m.confidence < $1) ";

fn unplaced_from(r: UnplacedRow) -> Unplaced {
    let (id, text, intent, confidence, reply_kind, at) = r;
    Unplaced {
        id,
        text,
        intent: intent.unwrap_or_else(|| "?".into()),
        confidence: confidence.unwrap_or(0.0),
        reply_kind: reply_kind.unwrap_or_default(),
        at,
    }
}

/// The latest unplaced member messages, newest first.
pub async fn unplaced(store: &Store, limit: i64) -> Result<Vec<Unplaced>, StoreError> {
    store.ready().await?;
    let sql = format!("{UNPLACED_SQL} ORDER BY m.id DESC LIMIT $2");
    let rows: Vec<UnplacedRow> = with_pool!(store, p => sqlx::query_as(&sql).bind(LOW_CONFIDENCE).bind(limit).fetch_all(p).await?);
    Ok(rows.into_iter().map(unplaced_from).collect())
}

/// One unplaced message by id (None when it does not exist or was placed).
pub async fn unplaced_one(store: &Store, id: i64) -> Result<Option<Unplaced>, StoreError> {
    store.ready().await?;
    let sql = format!("{UNPLACED_SQL} AND m.id = $2");
    let row: Option<UnplacedRow> = with_pool!(store, p => sqlx::query_as(&sql).bind(LOW_CONFIDENCE).bind(id).fetch_optional(p).await?);
    Ok(row.map(unplaced_from))
}

/// Series for the charts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// (UTC day YYYY-MM-DD, member messages)
    pub messages_per_day: Vec<(String, i64)>,
    /// (day, fallback replies)
    pub fallbacks_per_day: Vec<(String, i64)>,
    /// (day, escalations opened)
    pub escalations_per_day: Vec<(String, i64)>,
    /// Seconds from opening to claiming, per claimed escalation.
    pub secs_to_claim: Vec<f64>,
}

pub async fn series(store: &Store) -> Result<Series, StoreError> {
    store.ready().await?;
    let per_day = |sql: &'static str| async move {
        let rows: Vec<(Option<String>, i64)> =
            with_pool!(store, p => sqlx::query_as(sql).fetch_all(p).await?);
        let mut v: Vec<(String, i64)> = rows
            .into_iter()
            .map(|(d, n)| (d.unwrap_or_default(), n))
            .collect();
        // the last 30 days that have data
        if v.len() > 30 {
            v.drain(..v.len() - 30);
        }
        Ok::<_, StoreError>(v)
    };
    let claims: Vec<(String, String)> = with_pool!(store, p => sqlx::query_as("SELECT created_at, claimed_at FROM escalations WHERE claimed_at IS NOT NULL ORDER BY id").fetch_all(p).await?);
    let secs_to_claim = claims
        .iter()
        .filter_map(|(c, k)| {
            let c = chrono::DateTime::parse_from_rfc3339(c).ok()?;
            let k = chrono::DateTime::parse_from_rfc3339(k).ok()?;
            Some(((k - c).num_milliseconds() as f64 / 1000.0).max(0.0))
        })
        .collect();
    Ok(Series {
        messages_per_day: per_day("SELECT substr(created_at, 1, 10), COUNT(*) FROM messages WHERE role = 'member' GROUP BY substr(created_at, 1, 10) ORDER BY 1").await?,
        fallbacks_per_day: per_day("SELECT substr(created_at, 1, 10), COUNT(*) FROM messages WHERE role = 'bot' AND reply_kind = 'fallback' GROUP BY substr(created_at, 1, 10) ORDER BY 1").await?,
        escalations_per_day: per_day("SELECT substr(created_at, 1, 10), COUNT(*) FROM escalations GROUP BY substr(created_at, 1, 10) ORDER BY 1").await?,
        secs_to_claim,
    })
}
