//! The case file of one conversation: every fact the member gave in any turn (urgent
//! turns and side questions included), merged so that a later statement corrects an
//! earlier one, plus the progress of the eligibility assessment of that case. Kept in
//! [`super::turn::ConversationState`] (serde, so the store keeps it between messages).

use serde::{Deserialize, Serialize};

use super::facts::{Closure, Facts, IncidentKind, Membership};
use super::interview::Slot;
use super::rules::{Assessment, Payment};

/// The conversation's case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseFile {
    /// Everything the member said about their case so far (later turns override).
    pub facts: Facts,
    /// The member asked about money or eligibility: a case described later gets the
    /// assessment rather than a general answer.
    pub wants_assessment: bool,
    /// The assessment of this case, once started.
    pub check: Option<Check>,
}

/// Progress of the eligibility assessment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Check {
    /// The question asked last (the member's next message may answer it).
    pub asking: Option<Slot>,
    /// Questions already asked once (「わからない」 is not asked again).
    pub asked: Vec<Slot>,
    /// The last verdict given, if any.
    pub verdict: Option<Verdict>,
}

/// The gist of an assessment given to the member (for tests, the console, re-checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub eligible: Option<bool>,
    pub amount_yen: Option<u32>,
    pub payment: Option<Payment>,
}

impl From<&Assessment> for Verdict {
    fn from(a: &Assessment) -> Verdict {
        Verdict {
            eligible: a.eligible,
            amount_yen: a.amount.map(|y| y.get()),
            payment: a.payment,
        }
    }
}

impl CaseFile {
    /// Facts about what happened (not only who is asking): enough to call it a case.
    pub fn has_incident(&self) -> bool {
        has_incident(&self.facts)
    }

    /// Any fact at all, membership included.
    pub fn has_any_fact(&self) -> bool {
        !self.facts.is_empty()
    }

    /// An assessment question is waiting for the member's answer.
    pub fn pending(&self) -> Option<Slot> {
        self.check.as_ref().and_then(|c| c.asking)
    }

    /// A verdict was given in this conversation.
    pub fn assessed(&self) -> bool {
        self.check.as_ref().is_some_and(|c| c.verdict.is_some())
    }

    /// Takes in one message's facts; returns true when anything changed.
    pub fn absorb(&mut self, said: Facts) -> bool {
        let before = self.facts;
        self.facts = self.facts.merged(said);
        self.facts != before
    }
}

/// True when the facts say something about the incident itself.
pub fn has_incident(f: &Facts) -> bool {
    f.incident != IncidentKind::Unknown || f.date.is_some() || f.closure != Closure::NotMentioned
}

/// True when `said` states a case fact (membership included) that is new or different
/// from `known`.
pub fn adds_to(known: &Facts, said: &Facts) -> bool {
    let merged = known.merged(*said);
    let strip = |f: Facts| Facts {
        role: None,
        institution: None,
        not_attack: false,
        ..f
    };
    strip(merged) != strip(*known)
}

/// A fact of the case itself (membership or the incident), not only who is asking.
pub fn has_case_fact(f: &Facts) -> bool {
    f.membership != Membership::Unknown || has_incident(f)
}

/// Facts a general question carries about the member (who they are), without the
/// incident it only imagines: 「もし感染したら対象？」 is not a case.
pub fn who_only(f: Facts) -> Facts {
    Facts {
        membership: f.membership,
        role: f.role,
        institution: f.institution,
        ..Facts::default()
    }
}

impl Membership {
    /// The member told us whether the institution has an A① member.
    pub fn is_known(self) -> bool {
        self != Membership::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_fact_corrects_an_earlier_one() {
        let mut c = CaseFile::default();
        assert!(c.absorb(Facts {
            closure: Closure::Days(2),
            ..Facts::default()
        }));
        assert!(c.absorb(Facts {
            closure: Closure::LessThanDay,
            ..Facts::default()
        }));
        assert_eq!(c.facts.closure, Closure::LessThanDay);
        assert!(!c.absorb(Facts::default()));
    }

    #[test]
    fn membership_alone_is_not_an_incident() {
        let c = CaseFile {
            facts: Facts {
                membership: Membership::A1,
                ..Facts::default()
            },
            ..CaseFile::default()
        };
        assert!(c.has_any_fact() && !c.has_incident());
    }
}
