//! From member text to an [`Assessment`]: normalise, extract facts, apply the rules.
//! Also the two renderings of an assessment: the `assess` JSON contract and the
//! Japanese explanation the chat gives.

use chrono::NaiveDate;
use serde_json::{json, Value};

use super::facts::{self, Facts};
use super::hours::{HOTLINE, OFFICIAL_URL};
use super::rules::{Assessment, Payment, Requirement, RuleSet};
use super::text::Normalizer;

/// What `madoguchi assess` needs: the normaliser and the rules (no tokenizer, no
/// classifier, so it starts fast).
#[derive(Debug, Clone)]
pub struct Assessor {
    pub normalizer: Normalizer,
    pub rules: RuleSet,
}

impl Assessor {
    /// Facts from raw text, dates resolved against `today`.
    pub fn facts(&self, raw: &str, today: NaiveDate) -> Facts {
        facts::extract(&self.normalizer.normalize(raw), today)
    }

    pub fn assess(&self, raw: &str, today: NaiveDate) -> Assessment {
        self.rules.assess(&self.facts(raw, today))
    }
}

/// The `assess` contract object (without the id).
pub fn contract_json(a: &Assessment) -> Value {
    json!({
        "eligible": a.eligible,
        "amount_yen": a.amount.map(|y| y.get()),
        "payment": a.payment.map(Payment::as_str),
        "unmet_requirements": a.unmet.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "missing_facts": a.missing.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
    })
}

/// What to do next for a requirement, in Japanese.
fn next_step(r: Requirement) -> &'static str {
    match r {
        Requirement::MhlwReport => "厚生労働省へ届け出てください。",
        Requirement::PpcReport => "個人情報保護委員会へ再発防止策を報告してください。",
        Requirement::VictimNotice => "漏えいした情報のご本人へ通知してください。",
    }
}

/// The assessment explained for the member: verdict, reasons (each citing its rule),
/// next steps, and that the programme decides.
pub fn render_ja(rules: &RuleSet, a: &Assessment) -> String {
    let mut s = String::new();
    match (a.eligible, a.payment) {
        (Some(true), Some(p)) => {
            let name = match p {
                Payment::CyberAttack => &rules.payment(super::rules::PaymentKind::CyberAttack).name,
                _ => &rules.payment(super::rules::PaymentKind::Leak).name,
            };
            let amount = a.amount.map(|y| y.to_string()).unwrap_or_default();
            s.push_str(&format!(
                "伺った内容からは、「{name}」（{amount}）の対象になる可能性があります。"
            ));
        }
        (Some(false), _) => s.push_str("伺った内容からは、一時支援金の対象外と考えられます。"),
        _ => s.push_str("伺った内容だけでは、対象になるかまだ判断できません。"),
    }
    s.push_str("\n\n判断の理由:");
    // each reason rests on a rule that cites FACTS.md (kept in `Reason::source` for
    // staff and tests); members get the Japanese reason and one source line
    for r in &a.reasons {
        s.push_str(&format!("\n・{}", r.text));
    }
    s.push_str(
        "\n（根拠: 日医ニュース 2022年12月20日「日本医師会サイバーセキュリティ支援制度」の活用を）",
    );
    if !a.unmet.is_empty() && a.eligible != Some(false) {
        s.push_str("\n\n次にすること:");
        for r in &a.unmet {
            s.push_str(&format!("\n・{}", next_step(*r)));
        }
    }
    s.push_str(&format!(
        "\n\nご不明な点や手続きのご相談は、緊急相談窓口 {HOTLINE}（年中無休 9:00〜21:00、無料）へお電話ください。詳しくは公式ページ {OFFICIAL_URL} をご覧ください。"
    ));
    s.push_str("\n\n※これは伺った内容にもとづく目安で、支給をお約束するものではありません。最終的な判断は日本医師会（制度の運営側）が行います。");
    s
}
