//! Follow-ups in context: a short message with no topic of its own (「それって無料？」
//! 「土日も？」「費用は？」) is read against the previous topic. The message is scored
//! alone and with the previous topic's question as context; the contextual reading
//! wins when the message alone is weak or points back (それ, その…).

use super::dialogue::{Bot, MIN_COVERAGE};
use super::label::Label;
use super::route::Turn;
use super::turn::ConversationState;
use super::wording::Wording;

/// Concepts every topic uses: they do not make a topic of their own.
const GENERIC_CONCEPTS: &[&str] = &[
    "eligible",
    "money",
    "hours",
    "staff",
    "member",
    "institution",
    "greet",
    "gratitude",
    "person",
];

/// Alone, a message at or above this confidence (and coverage) has a topic of its own.
const OWN_TOPIC: f32 = 0.60;
const OWN_COVERAGE: f32 = 0.30;

impl Bot {
    /// The intent a follow-up refers to, or None when the message stands on its own.
    pub fn follow_up(&self, t: &Turn, st: &ConversationState) -> Option<Label> {
        let prev = st.topic.as_ref()?;
        if !prev.intent.is_programme_topic()
            || t.a.text.as_str().chars().count() > self.wording.limits.followup_max_chars
        {
            return None;
        }
        let points_back = Wording::starts_with_any(&t.compact, &self.wording.words.anaphora);
        let alone = &t.c;
        // a topic of its own: a domain concept (窓口, ランサム, 登録…) the model reads
        // confidently as another topic; words any topic uses (対象, いくら, 何時…) are not one
        let topical =
            t.a.concepts
                .iter()
                .any(|c| !GENERIC_CONCEPTS.contains(&c.as_str()));
        let own_topic = topical
            && alone.intent.is_programme_topic()
            && alone.intent != prev.intent
            && alone.confidence >= OWN_TOPIC
            && alone.prediction.coverage >= OWN_COVERAGE;
        if own_topic && !points_back {
            return None;
        }
        if matches!(alone.intent, Label::Human | Label::Greeting | Label::Thanks)
            && alone.confidence >= 0.5
        {
            return None;
        }
        // the topic it follows: the previous one, or one the previous reply named that
        // the message leans to (「そのサイトって無料？」 after Tokio Cyber Port was named)
        let mut target = prev.intent;
        for m in &prev.mentioned {
            if alone.prediction.prob(*m) > alone.prediction.prob(target) {
                target = *m;
            }
        }
        // the topic's question as context: 「窓口の電話番号は？ 土日もやってる？」
        let def = self.intent(target);
        let context_q = match prev
            .facet
            .as_deref()
            .filter(|_| target == prev.intent)
            .and_then(|id| def.facets.iter().find(|f| f.id.as_deref() == Some(id)))
        {
            Some(f) => &f.question,
            None => &def.question,
        };
        let joined = format!("{}\n{}", context_q, t.raw);
        let ca = self.analyzer.analyze(&joined);
        let p = self.classifier.predict(&ca);
        let in_context = p.top();
        if !in_context.is_programme_topic() || p.coverage < MIN_COVERAGE {
            return None;
        }
        // the contextual reading must keep to the conversation's topic unless the
        // message itself leans to the new one
        if in_context != target && alone.intent != in_context {
            return Some(target).filter(|_| points_back || alone.confidence < 0.5);
        }
        Some(in_context)
    }
}
