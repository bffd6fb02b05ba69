//! The payment rule engine: `rules/payments.toml` (the FACTS.md payment table as data,
//! each rule quoting its FACTS line) parsed and validated into a [`RuleSet`], which
//! turns extracted [`Facts`] into an [`Assessment`] with reasons.

use std::cmp::Ordering;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::facts::{Closure, Facts, IncidentKind, Membership, ReportStatus};
use super::intents::ContentError;

/// An amount of money in yen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Yen(pub u32);

impl Yen {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl std::ops::Add for Yen {
    type Output = Yen;
    fn add(self, o: Yen) -> Yen {
        Yen(self.0.saturating_add(o.0))
    }
}

impl fmt::Display for Yen {
    /// 150,000円
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        write!(f, "{out}円")
    }
}

/// The two payments (never both for one case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    #[serde(rename = "cyberattack")]
    CyberAttack,
    Leak,
}

impl PaymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentKind::CyberAttack => "cyberattack",
            PaymentKind::Leak => "leak",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "cyberattack" => Some(PaymentKind::CyberAttack),
            "leak" => Some(PaymentKind::Leak),
            _ => None,
        }
    }
}

/// The contract's `payment` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payment {
    #[serde(rename = "cyberattack")]
    CyberAttack,
    Leak,
    None,
}

impl Payment {
    pub fn as_str(self) -> &'static str {
        match self {
            Payment::CyberAttack => "cyberattack",
            Payment::Leak => "leak",
            Payment::None => "none",
        }
    }
}

impl From<PaymentKind> for Payment {
    fn from(k: PaymentKind) -> Self {
        match k {
            PaymentKind::CyberAttack => Payment::CyberAttack,
            PaymentKind::Leak => Payment::Leak,
        }
    }
}

/// A report or notice a payment requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    MhlwReport,
    PpcReport,
    VictimNotice,
}

impl Requirement {
    pub const ALL: [Requirement; 3] = [
        Requirement::MhlwReport,
        Requirement::PpcReport,
        Requirement::VictimNotice,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::MhlwReport => "mhlw_report",
            Requirement::PpcReport => "ppc_report",
            Requirement::VictimNotice => "victim_notice",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
    /// What the facts say about this requirement.
    pub fn status(self, f: &Facts) -> ReportStatus {
        match self {
            Requirement::MhlwReport => f.mhlw_report,
            Requirement::PpcReport => f.ppc_report,
            Requirement::VictimNotice => f.victim_notice,
        }
    }
}

/// Why a case is out of scope whatever else is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exclusion {
    Insider,
    BeforeEffective,
    NoA1Member,
}

impl Exclusion {
    pub const ALL: [Exclusion; 3] = [
        Exclusion::Insider,
        Exclusion::BeforeEffective,
        Exclusion::NoA1Member,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Exclusion::Insider => "insider",
            Exclusion::BeforeEffective => "before_effective",
            Exclusion::NoA1Member => "no_a1_member",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A fact the assessment needs and the text did not give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingFact {
    Membership,
    IncidentDate,
    IncidentKind,
}

impl MissingFact {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingFact::Membership => "membership",
            MissingFact::IncidentDate => "incident_date",
            MissingFact::IncidentKind => "incident_kind",
        }
    }
}

/// One payment row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRule {
    pub kind: PaymentKind,
    pub name: String,
    pub incident_kinds: Vec<IncidentKind>,
    pub amount: Yen,
    pub requirements: Vec<Requirement>,
    pub source: String,
}

/// An addition to a payment (the closure supplement).
#[derive(Debug, Clone, PartialEq)]
pub struct Supplement {
    pub id: String,
    pub name: String,
    pub payment: PaymentKind,
    pub min_closure_days: u32,
    pub amount: Yen,
    pub source: String,
}

/// A named rule with its FACTS quote (requirements and exclusions).
#[derive(Debug, Clone, PartialEq)]
pub struct Cited<T> {
    pub id: T,
    pub name: String,
    pub source: String,
}

/// The validated payment rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub name: String,
    pub effective_from: NaiveDate,
    pub effective_source: String,
    pub one_payment_source: String,
    pub payments: Vec<PaymentRule>,
    pub supplements: Vec<Supplement>,
    pub requirements: Vec<Cited<Requirement>>,
    pub exclusions: Vec<Cited<Exclusion>>,
}

/// One step of the reasoning, quoting the rule applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Japanese, for the member.
    pub text: String,
    /// "FACTS.md:<line>: <quote>"
    pub source: String,
}

/// The rule engine's answer for one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// Some(true) eligible, Some(false) not, None = a needed fact is missing.
    pub eligible: Option<bool>,
    /// The payment that applies; None when the incident kind is unknown.
    pub payment: Option<Payment>,
    /// What the case would receive once requirements are met; 0 when not eligible,
    /// None when unknown.
    pub amount: Option<Yen>,
    /// Requirements of the applicable payment the text does not confirm as done.
    pub unmet: Vec<Requirement>,
    pub missing: Vec<MissingFact>,
    pub exclusions: Vec<Exclusion>,
    pub closure_supplement: bool,
    pub reasons: Vec<Reason>,
}

impl RuleSet {
    pub fn payment(&self, k: PaymentKind) -> &PaymentRule {
        self.payments
            .iter()
            .find(|p| p.kind == k)
            .expect("validation guarantees both payments")
    }

    pub fn requirement(&self, r: Requirement) -> &Cited<Requirement> {
        self.requirements
            .iter()
            .find(|c| c.id == r)
            .expect("validation guarantees every requirement")
    }

    pub fn exclusion(&self, e: Exclusion) -> &Cited<Exclusion> {
        self.exclusions
            .iter()
            .find(|c| c.id == e)
            .expect("validation guarantees every exclusion")
    }

    fn payment_for(&self, kind: IncidentKind) -> Option<&PaymentRule> {
        self.payments
            .iter()
            .find(|p| p.incident_kinds.contains(&kind))
    }

    fn effective_jp(&self) -> String {
        super::dates::DateSpan::day(self.effective_from).describe()
    }

    /// Applies the rules to the facts.
    pub fn assess(&self, f: &Facts) -> Assessment {
        let mut reasons = Vec::new();
        let mut exclusions = Vec::new();
        let mut missing = Vec::new();
        let eff = self.effective_jp();

        match f.membership {
            Membership::NotMember => {
                exclusions.push(Exclusion::NoA1Member);
                let e = self.exclusion(Exclusion::NoA1Member);
                reasons.push(Reason {
                    text: format!(
                        "A①会員が開設者・管理者でない医療機関は一時支援金の対象外です（{}）。",
                        e.name
                    ),
                    source: e.source.clone(),
                });
            }
            Membership::Unknown => {
                missing.push(MissingFact::Membership);
                reasons.push(Reason {
                    text: "対象はA①会員が開設者・管理者である医療機関です。A①会員かどうかを伺っていません。".into(),
                    source: self.effective_source.clone(),
                });
            }
            Membership::A1 => reasons.push(Reason {
                text: "A①会員が開設・管理する医療機関として扱いました。".into(),
                source: self.effective_source.clone(),
            }),
        }

        match f.incident {
            IncidentKind::Insider => {
                exclusions.push(Exclusion::Insider);
                let e = self.exclusion(Exclusion::Insider);
                reasons.push(Reason { text: "職員など内部の人による犯罪（内部犯罪）が原因の事案は、どちらの支援金も対象外です。".into(), source: e.source.clone() });
            }
            IncidentKind::Unknown => {
                missing.push(MissingFact::IncidentKind);
                let attack = self.payment(PaymentKind::CyberAttack);
                let leak = self.payment(PaymentKind::Leak);
                reasons.push(Reason {
                    text: format!(
                        "何が起きたか（サイバー攻撃か、攻撃によらない個人情報の漏えいか）で支援金が変わります（{} {}／{} {}）。",
                        attack.name, attack.amount, leak.name, leak.amount
                    ),
                    source: attack.source.clone(),
                });
            }
            _ => {}
        }

        match f.date.map(|d| (d, d.relative_to(self.effective_from))) {
            Some((d, Some(Ordering::Less))) => {
                exclusions.push(Exclusion::BeforeEffective);
                let e = self.exclusion(Exclusion::BeforeEffective);
                reasons.push(Reason {
                    text: format!(
                        "被害の時期（{}）が制度開始の{eff}より前のため対象外です。",
                        d.describe()
                    ),
                    source: e.source.clone(),
                });
            }
            Some((d, Some(_))) => reasons.push(Reason {
                text: format!("被害の時期（{}）は{eff}以降です。", d.describe()),
                source: self.effective_source.clone(),
            }),
            Some((d, None)) => {
                missing.push(MissingFact::IncidentDate);
                reasons.push(Reason {
                    text: format!("被害の時期（{}）が{eff}より前か後か分かりません。対象は{eff}以降に発生した被害です。", d.describe()),
                    source: self.effective_source.clone(),
                });
            }
            None => {
                missing.push(MissingFact::IncidentDate);
                reasons.push(Reason {
                    text: format!(
                        "対象は{eff}以降に発生した被害です。被害の時期を伺っていません。"
                    ),
                    source: self.effective_source.clone(),
                });
            }
        }

        missing.sort();
        if !exclusions.is_empty() {
            return Assessment {
                eligible: Some(false),
                payment: Some(Payment::None),
                amount: Some(Yen(0)),
                unmet: Vec::new(),
                missing,
                exclusions,
                closure_supplement: false,
                reasons,
            };
        }

        let rule = self.payment_for(f.incident);
        let mut amount = None;
        let mut unmet = Vec::new();
        let mut closure_supplement = false;
        if let Some(rule) = rule {
            let what = match f.incident {
                IncidentKind::AttackLeak => "サイバー攻撃による個人情報の漏えいは、サイバー攻撃として扱います（漏えいの支援金ではありません）。",
                IncidentKind::CyberAttack => "サイバー攻撃の被害です。",
                _ => "サイバー攻撃によらない個人情報の漏えいです。",
            };
            reasons.push(Reason {
                text: format!("{what}{}は{}です。", rule.name, rule.amount),
                source: rule.source.clone(),
            });
            let mut total = rule.amount;
            for s in self.supplements.iter().filter(|s| s.payment == rule.kind) {
                let counts = match f.closure {
                    Closure::Days(n) => n >= s.min_closure_days,
                    Closure::NewPatientsStopped | Closure::Unspecified => true,
                    _ => false,
                };
                if counts {
                    total = total + s.amount;
                    closure_supplement = true;
                    let how = match f.closure {
                        Closure::Days(n) => format!("{n}日間の休業"),
                        Closure::NewPatientsStopped => {
                            "初診の受付をすべて止めたこと（再診を続けていても休業に含まれます）"
                                .into()
                        }
                        _ => "休業（期間は伺っていません）".into(),
                    };
                    reasons.push(Reason {
                        text: format!(
                            "{how}により{}として{}が加算され、合計{total}です。",
                            s.name, s.amount
                        ),
                        source: s.source.clone(),
                    });
                } else if matches!(f.closure, Closure::LessThanDay) {
                    reasons.push(Reason {
                        text: format!("休業が1日未満のため{}はありません。", s.name),
                        source: s.source.clone(),
                    });
                } else if matches!(f.closure, Closure::NotMentioned) {
                    reasons.push(Reason {
                        text: format!("攻撃のために1日以上休業した場合は{}として{}が加算されます（休業については伺っていません）。", s.name, s.amount),
                        source: s.source.clone(),
                    });
                }
            }
            for r in &rule.requirements {
                let c = self.requirement(*r);
                if r.status(f) == ReportStatus::Done {
                    reasons.push(Reason {
                        text: format!("{}は済んでいると伺いました。", c.name),
                        source: c.source.clone(),
                    });
                } else {
                    unmet.push(*r);
                    reasons.push(Reason {
                        text: format!(
                            "{}が必要です（まだ済んでいると確認できていません）。",
                            c.name
                        ),
                        source: c.source.clone(),
                    });
                }
            }
            amount = Some(total);
        }
        let eligible = if missing.is_empty() { Some(true) } else { None };
        Assessment {
            eligible,
            payment: rule.map(|r| r.kind.into()),
            amount: if eligible == Some(true) { amount } else { None },
            unmet,
            missing,
            exclusions,
            closure_supplement,
            reasons,
        }
    }
}

// ---------------------------------------------------------------- loading

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgramme {
    name: String,
    effective_from: toml::Spanned<String>,
    source: toml::Spanned<String>,
    one_payment_source: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayment {
    id: toml::Spanned<String>,
    name: String,
    incident_kinds: toml::Spanned<Vec<String>>,
    amount_yen: toml::Spanned<i64>,
    requirements: toml::Spanned<Vec<String>>,
    source: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupplement {
    id: toml::Spanned<String>,
    name: String,
    payment: toml::Spanned<String>,
    min_closure_days: toml::Spanned<i64>,
    amount_yen: toml::Spanned<i64>,
    source: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    id: toml::Spanned<String>,
    name: String,
    source: toml::Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    programme: RawProgramme,
    payment: Vec<RawPayment>,
    #[serde(default)]
    supplement: Vec<RawSupplement>,
    requirement: Vec<RawNamed>,
    exclusion: Vec<RawNamed>,
}

fn line_of(src: &str, byte: usize) -> usize {
    src[..byte.min(src.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

fn incident_kind(s: &str) -> Option<IncidentKind> {
    [
        IncidentKind::CyberAttack,
        IncidentKind::AttackLeak,
        IncidentKind::Leak,
        IncidentKind::Insider,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
}

/// Parses and validates `rules/payments.toml`. Every problem is reported, with its line.
pub fn parse_rules(file: &str, src: &str) -> Result<RuleSet, Vec<ContentError>> {
    let raw: Raw = toml::from_str(src).map_err(|e| {
        let line = e.span().map(|s| line_of(src, s.start)).unwrap_or(0);
        vec![ContentError::new(file, line, e.message().to_string())]
    })?;
    let mut errs = Vec::new();
    let err = |errs: &mut Vec<ContentError>, span: std::ops::Range<usize>, msg: String| {
        errs.push(ContentError::new(file, line_of(src, span.start), msg))
    };
    let check_source = |errs: &mut Vec<ContentError>, s: &toml::Spanned<String>| {
        let v = s.get_ref();
        let ok = v
            .strip_prefix("FACTS.md:")
            .and_then(|r| r.split_once(": "))
            .is_some_and(|(n, quote)| {
                n.parse::<u32>().is_ok_and(|n| n > 0) && !quote.trim().is_empty()
            });
        if !ok {
            errs.push(ContentError::new(
                file,
                line_of(src, s.span().start),
                format!("source {v:?} must quote FACTS.md as \"FACTS.md:<line>: <quote>\""),
            ));
        }
        v.clone()
    };

    let p = &raw.programme;
    let effective_from = match NaiveDate::parse_from_str(p.effective_from.get_ref(), "%Y-%m-%d") {
        Ok(d) => d,
        Err(_) => {
            err(
                &mut errs,
                p.effective_from.span(),
                format!(
                    "effective_from {:?} is not a YYYY-MM-DD date",
                    p.effective_from.get_ref()
                ),
            );
            NaiveDate::MIN
        }
    };
    let effective_source = check_source(&mut errs, &p.source);
    let one_payment_source = check_source(&mut errs, &p.one_payment_source);

    let mut requirements: Vec<Cited<Requirement>> = Vec::new();
    for r in &raw.requirement {
        let source = check_source(&mut errs, &r.source);
        match Requirement::parse(r.id.get_ref()) {
            Some(id) if requirements.iter().any(|c| c.id == id) => err(
                &mut errs,
                r.id.span(),
                format!("requirement {:?} defined twice", r.id.get_ref()),
            ),
            Some(id) => requirements.push(Cited {
                id,
                name: r.name.clone(),
                source,
            }),
            None => err(
                &mut errs,
                r.id.span(),
                format!(
                    "unknown requirement {:?} (known: mhlw_report, ppc_report, victim_notice)",
                    r.id.get_ref()
                ),
            ),
        }
    }
    let mut exclusions: Vec<Cited<Exclusion>> = Vec::new();
    for x in &raw.exclusion {
        let source = check_source(&mut errs, &x.source);
        match Exclusion::parse(x.id.get_ref()) {
            Some(id) if exclusions.iter().any(|c| c.id == id) => err(
                &mut errs,
                x.id.span(),
                format!("exclusion {:?} defined twice", x.id.get_ref()),
            ),
            Some(id) => exclusions.push(Cited {
                id,
                name: x.name.clone(),
                source,
            }),
            None => err(
                &mut errs,
                x.id.span(),
                format!(
                    "unknown exclusion {:?} (known: insider, before_effective, no_a1_member)",
                    x.id.get_ref()
                ),
            ),
        }
    }
    for e in Exclusion::ALL {
        if !exclusions.iter().any(|c| c.id == e) {
            errs.push(ContentError::new(
                file,
                0,
                format!(
                    "exclusion {:?} is missing (FACTS.md requires it)",
                    e.as_str()
                ),
            ));
        }
    }

    let mut payments: Vec<PaymentRule> = Vec::new();
    for r in &raw.payment {
        let source = check_source(&mut errs, &r.source);
        let Some(kind) = PaymentKind::parse(r.id.get_ref()) else {
            err(
                &mut errs,
                r.id.span(),
                format!(
                    "unknown payment {:?} (known: cyberattack, leak)",
                    r.id.get_ref()
                ),
            );
            continue;
        };
        if payments.iter().any(|p| p.kind == kind) {
            err(
                &mut errs,
                r.id.span(),
                format!("payment {:?} defined twice", r.id.get_ref()),
            );
            continue;
        }
        let mut kinds = Vec::new();
        for k in r.incident_kinds.get_ref() {
            match incident_kind(k) {
                Some(IncidentKind::Insider) => err(
                    &mut errs,
                    r.incident_kinds.span(),
                    "insider cases are excluded from every payment (FACTS.md:58)".into(),
                ),
                Some(ik) => {
                    if let Some(other) = payments.iter().find(|p| p.incident_kinds.contains(&ik)) {
                        err(&mut errs, r.incident_kinds.span(), format!("incident kind {k:?} is already paid by {:?}: only one payment per case", other.kind.as_str()));
                    }
                    kinds.push(ik);
                }
                None => err(
                    &mut errs,
                    r.incident_kinds.span(),
                    format!("unknown incident kind {k:?} (known: cyber_attack, attack_leak, leak)"),
                ),
            }
        }
        if kinds.is_empty() {
            err(
                &mut errs,
                r.incident_kinds.span(),
                "incident_kinds is empty".into(),
            );
        }
        let amount = *r.amount_yen.get_ref();
        if amount <= 0 || amount > u32::MAX as i64 {
            err(
                &mut errs,
                r.amount_yen.span(),
                format!("amount_yen {amount} must be a positive number of yen"),
            );
        }
        let mut reqs = Vec::new();
        for q in r.requirements.get_ref() {
            match Requirement::parse(q) {
                Some(req) if requirements.iter().any(|c| c.id == req) => reqs.push(req),
                Some(_) => err(
                    &mut errs,
                    r.requirements.span(),
                    format!("requirement {q:?} has no [[requirement]] entry"),
                ),
                None => err(
                    &mut errs,
                    r.requirements.span(),
                    format!("unknown requirement {q:?}"),
                ),
            }
        }
        payments.push(PaymentRule {
            kind,
            name: r.name.clone(),
            incident_kinds: kinds,
            amount: Yen(amount.clamp(0, u32::MAX as i64) as u32),
            requirements: reqs,
            source,
        });
    }
    for k in [PaymentKind::CyberAttack, PaymentKind::Leak] {
        if !payments.iter().any(|p| p.kind == k) {
            errs.push(ContentError::new(
                file,
                0,
                format!("payment {:?} is missing", k.as_str()),
            ));
        }
    }

    let mut supplements = Vec::new();
    for s in &raw.supplement {
        let source = check_source(&mut errs, &s.source);
        let Some(payment) = PaymentKind::parse(s.payment.get_ref())
            .filter(|k| payments.iter().any(|p| p.kind == *k))
        else {
            err(
                &mut errs,
                s.payment.span(),
                format!(
                    "supplement payment {:?} is not a defined payment",
                    s.payment.get_ref()
                ),
            );
            continue;
        };
        let days = *s.min_closure_days.get_ref();
        if !(1..=365).contains(&days) {
            err(
                &mut errs,
                s.min_closure_days.span(),
                format!("min_closure_days {days} must be 1..=365"),
            );
        }
        let amount = *s.amount_yen.get_ref();
        if amount <= 0 || amount > u32::MAX as i64 {
            err(
                &mut errs,
                s.amount_yen.span(),
                format!("amount_yen {amount} must be a positive number of yen"),
            );
        }
        supplements.push(Supplement {
            id: s.id.get_ref().clone(),
            name: s.name.clone(),
            payment,
            min_closure_days: days.clamp(1, 365) as u32,
            amount: Yen(amount.clamp(0, u32::MAX as i64) as u32),
            source,
        });
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(RuleSet {
        name: p.name.clone(),
        effective_from,
        effective_source,
        one_payment_source,
        payments,
        supplements,
        requirements,
        exclusions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_displays_with_separators() {
        assert_eq!(Yen(150000).to_string(), "150,000円");
        assert_eq!(Yen(0).to_string(), "0円");
        assert_eq!(Yen(1000).to_string(), "1,000円");
    }
}
