//! The FAQ model, built from the same [`Bot`] (intents/ and the payment rules) the bot
//! answers with, so the published FAQ and the bot never disagree; plus `faq check`,
//! which proves it. Rendering lives in one file per format; this module owns no I/O.

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;

use chrono::{DateTime, Datelike, FixedOffset, TimeZone};

use crate::core::dialogue::{with_source, Bot};
use crate::core::facts::IncidentKind;
use crate::core::hours::{jst, HOTLINE, OFFICIAL_URL};
use crate::core::intents::IntentDef;
use crate::core::label::Label;
use crate::core::rules::RuleSet;
use crate::core::turn::{ConversationState, ReplyKind};

/// Title of every exported document.
pub const TITLE: &str = "日本医師会サイバーセキュリティ支援制度 よくあるご質問";
/// The hotline line shown at the top of every document (FACTS.md, hotline section).
pub const HOTLINE_HOURS: &str = "年中無休 9:00〜21:00（日本時間）・通話無料・電話でのご相談のみ";
/// How many example phrasings an entry shows at most.
pub const MAX_VARIANTS: usize = 3;

/// One question and its answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Stable id: the intent label (`hotline`) or label + facet id (`hotline.hours`).
    pub id: String,
    #[serde(skip)]
    pub label: Label,
    /// Index of the facet inside its intent, `None` for the intent's main answer.
    #[serde(skip)]
    pub facet: Option<usize>,
    pub category: String,
    /// The representative question (the one `faq check` asks the bot).
    pub question: String,
    /// A few other ways members ask it (training examples the bot answers the same way).
    pub variants: Vec<String>,
    pub answer: String,
    pub source_url: String,
    /// Last-changed date of the intent file, YYYY-MM-DD.
    pub updated: String,
}

impl Entry {
    /// Anchor / element id safe in HTML and URLs (`hotline.hours` → `q-hotline-hours`).
    pub fn anchor(&self) -> String {
        format!("q-{}", self.id.replace('.', "-"))
    }

    /// What the bot is expected to reply to [`Entry::question`].
    pub fn expected_reply(&self) -> String {
        with_source(&self.answer, &self.source_url)
    }
}

/// One row of the payment table (from the rule engine).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentRow {
    pub name: String,
    pub when: String,
    pub amount: String,
    pub requirements: String,
}

/// The payment rules as a table for readers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentTable {
    /// Which category it is shown under (the one holding the coverage intent).
    pub category: String,
    pub effective: String,
    pub rows: Vec<PaymentRow>,
    pub notes: Vec<String>,
}

/// A category with the indices of its entries, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    /// ASCII anchor (`cat-coverage`, after the first intent in it).
    pub anchor: String,
    pub entries: Vec<usize>,
}

/// The whole FAQ, format-independent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faq {
    pub title: String,
    pub hotline: String,
    pub hotline_hours: String,
    pub official_url: String,
    pub entries: Vec<Entry>,
    pub payments: Option<PaymentTable>,
}

impl Faq {
    /// Builds the FAQ from the bot's intents: programme topics only (no small talk,
    /// no human hand-off, no out-of-scope), one entry per intent and per facet.
    pub fn from_bot(bot: &Bot) -> Faq {
        let mut entries = Vec::new();
        for def in bot.intents.iter().filter(|i| i.label.is_programme_topic()) {
            entries.push(Entry {
                id: def.label.as_str().to_string(),
                label: def.label,
                facet: None,
                category: def.category.clone(),
                question: def.question.clone(),
                variants: variants(bot, def, None),
                answer: def.answer.clone(),
                source_url: def.source_url.clone(),
                updated: def.updated.clone(),
            });
            for (i, f) in def.facets.iter().enumerate() {
                let suffix = f.id.clone().unwrap_or_else(|| (i + 1).to_string());
                entries.push(Entry {
                    id: format!("{}.{suffix}", def.label.as_str()),
                    label: def.label,
                    facet: Some(i),
                    category: def.category.clone(),
                    question: f.question.clone(),
                    variants: variants(bot, def, Some(i)),
                    answer: f.answer.clone(),
                    source_url: def.source_url.clone(),
                    updated: def.updated.clone(),
                });
            }
        }
        // document order: categories in order of first appearance, entries kept in
        // intent order inside each
        let mut order: Vec<String> = Vec::new();
        for e in &entries {
            if !order.contains(&e.category) {
                order.push(e.category.clone());
            }
        }
        entries.sort_by_key(|e| order.iter().position(|c| *c == e.category));
        let payment_category = bot
            .intents
            .iter()
            .find(|i| i.label == Label::Coverage)
            .map(|i| i.category.clone());
        Faq {
            title: TITLE.to_string(),
            hotline: HOTLINE.to_string(),
            hotline_hours: HOTLINE_HOURS.to_string(),
            official_url: OFFICIAL_URL.to_string(),
            entries,
            payments: payment_category.map(|c| payment_table(&bot.rules, c)),
        }
    }

    /// Categories in order of first appearance.
    pub fn categories(&self) -> Vec<Category> {
        let mut out: Vec<Category> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            match out.iter_mut().find(|c| c.name == e.category) {
                Some(c) => c.entries.push(i),
                None => out.push(Category {
                    name: e.category.clone(),
                    anchor: format!("cat-{}", e.label.as_str()),
                    entries: vec![i],
                }),
            }
        }
        out
    }

    /// The newest `updated` date of any entry.
    pub fn updated(&self) -> String {
        self.entries
            .iter()
            .map(|e| e.updated.as_str())
            .max()
            .unwrap_or("")
            .to_string()
    }
}

/// Reader's wording of an incident kind of the rules.
fn incident_words(k: IncidentKind) -> &'static str {
    match k {
        IncidentKind::CyberAttack => "サイバー攻撃を受けた",
        IncidentKind::AttackLeak => "サイバー攻撃で個人情報が漏えいした",
        IncidentKind::Leak => "サイバー攻撃によらない個人情報の漏えい（FAX・メールの誤送信、USBメモリの紛失、ノートPCの盗難など）",
        IncidentKind::Insider => "内部犯罪",
        IncidentKind::Unknown => "不明",
    }
}

/// The payment rules of the rule engine as a table: amounts, requirements,
/// supplements, exclusions and the effective date all come from `rules/`.
pub fn payment_table(rules: &RuleSet, category: String) -> PaymentTable {
    let req_names = |rs: &[crate::core::rules::Requirement]| {
        rs.iter()
            .map(|r| rules.requirement(*r).name.clone())
            .collect::<Vec<_>>()
            .join("、")
    };
    let mut rows = Vec::new();
    for p in &rules.payments {
        rows.push(PaymentRow {
            name: p.name.clone(),
            when: p
                .incident_kinds
                .iter()
                .map(|k| incident_words(*k))
                .collect::<Vec<_>>()
                .join("、または"),
            amount: p.amount.to_string(),
            requirements: req_names(&p.requirements),
        });
        for s in rules.supplements.iter().filter(|s| s.payment == p.kind) {
            rows.push(PaymentRow {
                name: format!("{}（{}への加算）", s.name, p.name),
                when: format!("攻撃が原因で{}日以上休業した", s.min_closure_days),
                amount: format!(
                    "+{}（合計 {}）",
                    s.amount,
                    crate::core::rules::Yen(p.amount.get() + s.amount.get())
                ),
                requirements: format!("{}と同じ（{}）", p.name, req_names(&p.requirements)),
            });
        }
    }
    let mut notes = Vec::new();
    if rules.payments.len() > 1 {
        notes.push("1つの事案で受け取れるのは、いずれか1つの支援金だけです。".to_string());
    }
    if !rules.exclusions.is_empty() {
        notes.push(format!(
            "対象外: {}。",
            rules
                .exclusions
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
                .join("、")
        ));
    }
    notes.push("ここに示すのは制度の概要です。支給の最終判断は制度側が行います。".to_string());
    PaymentTable {
        category,
        effective: format!(
            "{}年{}月{}日",
            rules.effective_from.year(),
            rules.effective_from.month(),
            rules.effective_from.day()
        ),
        rows,
        notes,
    }
}

/// Examples the bot answers with the same text as this entry: for a facet, those that
/// select it; for the main answer, those that select no facet; and of those only the
/// ones the bot really answers this way (not urgent, no interview), asked as
/// `faq check` asks. At most [`MAX_VARIANTS`].
fn variants(bot: &Bot, def: &IntentDef, facet: Option<usize>) -> Vec<String> {
    let norm = &bot.analyzer.normalizer;
    let (question, answer) = match facet {
        Some(i) => (&def.facets[i].question, &def.facets[i].answer),
        None => (&def.question, &def.answer),
    };
    let question = norm.normalize(question);
    let expected = with_source(answer, &def.source_url);
    let mut out: Vec<String> = Vec::new();
    for ex in &def.examples {
        let n = norm.normalize(&ex.text);
        if n.compact() == question.compact()
            || out
                .iter()
                .any(|o| norm.normalize(o).compact() == n.compact())
        {
            continue;
        }
        let chosen = def
            .facets
            .iter()
            .position(|f| f.keywords.iter().any(|k| n.as_str().contains(k.as_str())));
        if chosen != facet {
            continue;
        }
        let r = bot.respond(&ex.text, &mut ConversationState::default(), check_instant());
        if r.text == expected && r.kind == ReplyKind::Answer {
            out.push(ex.text.clone());
            if out.len() == MAX_VARIANTS {
                break;
            }
        }
    }
    out
}

/// A piece of answer text: plain text or a URL to show as a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Url(&'a str),
}

/// Splits text into plain runs and `http(s)://` URLs (ASCII only, trailing
/// punctuation and an unbalanced `)` left out of the link).
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = find_url_start(rest) {
        let tail = &rest[start..];
        let mut end = tail
            .char_indices()
            .find(|(_, c)| {
                !c.is_ascii_graphic()
                    || matches!(c, '<' | '>' | '"' | '`' | '{' | '}' | '|' | '\\' | '^')
            })
            .map(|(i, _)| i)
            .unwrap_or(tail.len());
        loop {
            let url = &tail[..end];
            let last = url.chars().last();
            let strip = match last {
                Some('.' | ',' | ';' | ':' | '!' | '?' | '\'') => true,
                Some(')') => url.matches('(').count() < url.matches(')').count(),
                _ => false,
            };
            if strip {
                end -= 1;
            } else {
                break;
            }
        }
        let scheme_len = if tail.starts_with("https://") { 8 } else { 7 };
        if end <= scheme_len {
            // a bare scheme: not a link
            out.push(Segment::Text(&rest[..start + scheme_len]));
            rest = &rest[start + scheme_len..];
            continue;
        }
        if start > 0 {
            out.push(Segment::Text(&rest[..start]));
        }
        out.push(Segment::Url(&tail[..end]));
        rest = &tail[end..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    out
}

fn find_url_start(s: &str) -> Option<usize> {
    match (s.find("https://"), s.find("http://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The instant `faq check` asks at: a weekday noon in JST, when the hotline is open
/// (so nothing in a reply depends on the hour).
pub fn check_instant() -> DateTime<FixedOffset> {
    jst()
        .with_ymd_and_hms(2026, 1, 14, 12, 0, 0)
        .single()
        .expect("a valid JST instant")
}

/// One entry whose exported answer is not what the bot replies.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub id: String,
    pub question: String,
    pub expected_intent: Label,
    pub got_intent: Label,
    pub got_kind: ReplyKind,
    pub urgent: bool,
    pub expected: String,
    pub got: String,
    /// The FAQ entry whose answer the bot gave instead, if any.
    pub got_entry: Option<String>,
}

impl Mismatch {
    /// A one-line reason in plain words.
    pub fn reason(&self) -> String {
        if self.urgent {
            "the bot treats the question as an urgent incident".to_string()
        } else if self.got_kind != ReplyKind::Answer {
            format!(
                "the bot does not answer but replies with {:?} (intent {})",
                self.got_kind, self.got_intent
            )
        } else if let Some(other) = &self.got_entry {
            format!(
                "the bot answers with entry {other} (intent {}) instead",
                self.got_intent
            )
        } else if self.got_intent != self.expected_intent {
            format!(
                "the bot classifies it as {} instead of {}",
                self.got_intent, self.expected_intent
            )
        } else if self.got.starts_with(self.expected.as_str()) {
            "the bot adds text after the answer (several questions in one?)".to_string()
        } else {
            "same intent, different answer text".to_string()
        }
    }
}

/// Asks the bot every entry's question (and, with `variants`, every variant) with a
/// fresh conversation at [`check_instant`], and returns the replies that differ from
/// the exported answer plus its source line.
pub fn check(bot: &Bot, faq: &Faq, variants: bool) -> (usize, Vec<Mismatch>) {
    let now = check_instant();
    let mut asked = 0;
    let mut out = Vec::new();
    for e in &faq.entries {
        let expected = e.expected_reply();
        let questions = std::iter::once(&e.question).chain(e.variants.iter().filter(|_| variants));
        for q in questions {
            asked += 1;
            let mut state = ConversationState::default();
            let r = bot.respond(q, &mut state, now);
            if r.text != expected || r.intent != e.label || r.kind != ReplyKind::Answer {
                let got_entry = faq
                    .entries
                    .iter()
                    .find(|o| o.expected_reply() == r.text)
                    .map(|o| o.id.clone());
                out.push(Mismatch {
                    got_entry,
                    id: e.id.clone(),
                    question: q.clone(),
                    expected_intent: e.label,
                    got_intent: r.intent,
                    got_kind: r.kind,
                    urgent: r.urgent,
                    expected: expected.clone(),
                    got: r.text,
                });
            }
        }
    }
    (asked, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_out_without_trailing_punctuation() {
        let s =
            segments("詳しくは https://www.med.or.jp/a_b/001566.html. または（https://x.jp/s/）へ");
        assert_eq!(
            s,
            vec![
                Segment::Text("詳しくは "),
                Segment::Url("https://www.med.or.jp/a_b/001566.html"),
                Segment::Text(". または（"),
                Segment::Url("https://x.jp/s/"),
                Segment::Text("）へ"),
            ]
        );
    }

    #[test]
    fn bare_scheme_is_not_a_link() {
        assert_eq!(
            segments("http:// と https://"),
            vec![Segment::Text("http://"), Segment::Text(" と https://")]
        );
    }

    #[test]
    fn url_with_parentheses_keeps_balanced_close() {
        assert_eq!(
            segments("(see http://a.jp/x_(y))"),
            vec![
                Segment::Text("(see "),
                Segment::Url("http://a.jp/x_(y)"),
                Segment::Text(")")
            ]
        );
    }
}
