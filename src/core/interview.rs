//! The eligibility interview (owned by the rules work; placeholder until it lands).

use serde::{Deserialize, Serialize};

/// Interview progress kept in the conversation state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterviewState {}
