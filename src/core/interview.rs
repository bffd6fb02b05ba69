//! The eligibility interview as a pure step over (case file, this message's answer):
//! which fact to ask next (one at a time, never one already known or already asked),
//! or that it is time for the verdict. Knows nothing of the classifier or the dialogue;
//! the dialogue reads the member's words (yes/no, date choices) with the word lists of
//! `dictionaries/dialogue.toml` and hands them here as a [`SlotAnswer`].

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::case::{Check, Verdict};
use super::dates::{DateSpan, Granularity};
use super::facts::{Closure, Facts, IncidentKind, Membership};
use super::rules::{Assessment, MissingFact, Payment, RuleSet};

/// One thing the interview can ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Membership,
    IncidentKind,
    IncidentDate,
    Closure,
}

impl Slot {
    pub const ALL: [Slot; 4] = [
        Slot::Membership,
        Slot::IncidentKind,
        Slot::IncidentDate,
        Slot::Closure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Membership => "membership",
            Slot::IncidentKind => "incident_kind",
            Slot::IncidentDate => "incident_date",
            Slot::Closure => "closure",
        }
    }

    /// Whether the fact behind this slot is known.
    pub fn is_known(self, f: &Facts) -> bool {
        match self {
            Slot::Membership => f.membership != Membership::Unknown,
            Slot::IncidentKind => f.incident != IncidentKind::Unknown,
            Slot::IncidentDate => f.date.is_some(),
            Slot::Closure => f.closure != Closure::NotMentioned,
        }
    }
}

/// The quick-reply value that starts an assessment (offered by urgent replies).
pub const START_VALUE: &str = "支援金の対象になるか確認したい";

/// What the member's message says in direct answer to the question asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAnswer {
    Yes,
    No,
    Unsure,
    /// 「2022年6月1日以降」
    OnOrAfterStart,
    /// 「2022年5月31日以前」
    BeforeStart,
    /// Nothing direct (the facts extracted from the message may still answer).
    None,
}

/// What the interview does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Ask this fact.
    Ask(Slot),
    /// Every needed fact is known (or was asked): the verdict.
    Verdict(Assessment),
}

/// Applies a direct answer to the slot being asked; returns true when it answered it.
pub fn apply_answer(
    facts: &mut Facts,
    slot: Slot,
    answer: SlotAnswer,
    today: NaiveDate,
    effective: NaiveDate,
) -> bool {
    match (slot, answer) {
        (_, SlotAnswer::None) => false,
        (_, SlotAnswer::Unsure) => true,
        (Slot::Membership, SlotAnswer::Yes) => {
            facts.membership = Membership::A1;
            true
        }
        (Slot::Membership, SlotAnswer::No) => {
            facts.membership = Membership::NotMember;
            true
        }
        (Slot::Closure, SlotAnswer::No) => {
            facts.closure = Closure::NoClosure;
            true
        }
        (Slot::IncidentDate, SlotAnswer::BeforeStart) => {
            let last = effective - Duration::days(1);
            facts.date = Some(DateSpan {
                first: last - Duration::days(3650),
                last,
                granularity: Granularity::Vague,
            });
            true
        }
        (Slot::IncidentDate, SlotAnswer::OnOrAfterStart) => {
            facts.date = Some(DateSpan {
                first: effective,
                last: today.max(effective),
                granularity: Granularity::Vague,
            });
            true
        }
        _ => false,
    }
}

/// The next fact to ask, or None when it is time for the verdict. A fact already
/// known is never asked; one asked before (and left unknown) is not asked again.
pub fn next_slot(facts: &Facts, asked: &[Slot], a: &Assessment) -> Option<Slot> {
    if a.eligible == Some(false) {
        return None; // an exclusion applies: nothing else would change the answer
    }
    let wanted = [
        (Slot::Membership, true),
        (Slot::IncidentKind, true),
        (
            Slot::IncidentDate,
            a.missing.contains(&MissingFact::IncidentDate),
        ),
        (
            Slot::Closure,
            a.payment == Some(Payment::CyberAttack) && facts.closure == Closure::NotMentioned,
        ),
    ];
    wanted
        .into_iter()
        .find(|(s, missing)| *missing && !s.is_known(facts) && !asked.contains(s))
        .map(|(s, _)| s)
}

/// One step of the interview: record what this message answered, then ask the next
/// missing fact or give the verdict. `answered` is the slot the member just answered
/// (directly, or by giving the fact in their own words).
pub fn step(check: &mut Check, facts: &Facts, rules: &RuleSet) -> Step {
    if let Some(slot) = check.asking {
        if slot.is_known(facts) && !check.asked.contains(&slot) {
            check.asked.push(slot);
        }
    }
    let a = rules.assess(facts);
    match next_slot(facts, &check.asked, &a) {
        Some(slot) => {
            check.asking = Some(slot);
            Step::Ask(slot)
        }
        None => {
            check.asking = None;
            check.verdict = Some(Verdict::from(&a));
            Step::Verdict(a)
        }
    }
}

/// Marks the slot being asked as asked (the member answered 「わからない」 or a quick
/// reply the fact extractor does not read).
pub fn mark_asked(check: &mut Check) {
    if let Some(slot) = check.asking {
        if !check.asked.contains(&slot) {
            check.asked.push(slot);
        }
    }
}
