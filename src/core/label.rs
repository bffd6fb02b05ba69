//! The intent labels of the evaluation contract (DESIGN.md), as one closed enum.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// What the member wants. Spelled exactly as in DESIGN.md's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Overview,
    Coverage,
    Eligibility,
    Registration,
    Incident,
    Hotline,
    Claim,
    Cyberport,
    Human,
    Greeting,
    Thanks,
    OutOfScope,
}

impl Label {
    pub const ALL: [Label; 12] = [
        Label::Overview,
        Label::Coverage,
        Label::Eligibility,
        Label::Registration,
        Label::Incident,
        Label::Hotline,
        Label::Claim,
        Label::Cyberport,
        Label::Human,
        Label::Greeting,
        Label::Thanks,
        Label::OutOfScope,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Overview => "overview",
            Label::Coverage => "coverage",
            Label::Eligibility => "eligibility",
            Label::Registration => "registration",
            Label::Incident => "incident",
            Label::Hotline => "hotline",
            Label::Claim => "claim",
            Label::Cyberport => "cyberport",
            Label::Human => "human",
            Label::Greeting => "greeting",
            Label::Thanks => "thanks",
            Label::OutOfScope => "out_of_scope",
        }
    }

    /// Small talk and out-of-scope are not programme content (left out of the FAQ,
    /// never offered as a "did you mean" choice).
    pub fn is_programme_topic(self) -> bool {
        !matches!(
            self,
            Label::Greeting | Label::Thanks | Label::OutOfScope | Label::Human
        )
    }

    pub fn index(self) -> usize {
        Label::ALL
            .iter()
            .position(|l| *l == self)
            .expect("every label is in ALL")
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The label text was not one of DESIGN.md's labels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown intent label {0:?} (expected one of: overview, coverage, eligibility, registration, incident, hotline, claim, cyberport, human, greeting, thanks, out_of_scope)")]
pub struct UnknownLabel(pub String);

impl FromStr for Label {
    type Err = UnknownLabel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::ALL
            .iter()
            .copied()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownLabel(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_through_text_and_json() {
        for l in Label::ALL {
            assert_eq!(l.as_str().parse::<Label>().unwrap(), l);
            assert_eq!(
                serde_json::to_string(&l).unwrap(),
                format!("\"{}\"", l.as_str())
            );
        }
        assert!("faq".parse::<Label>().is_err());
    }
}
