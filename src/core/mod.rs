//! The pure core: normalisation, tokenisation, classification, urgency, fact
//! extraction, rules and one dialogue turn. No I/O, no async, no channel or SQL types:
//! everything here takes text (and a time) and returns values.

pub mod analysis;
pub mod assessment;
pub mod case;
pub mod classifier;
pub mod context;
pub mod dates;
pub mod dialogue;
pub mod facts;
pub mod handoff;
pub mod hours;
pub mod intents;
pub mod interview;
pub mod label;
pub mod render;
pub mod route;
pub mod rules;
pub mod text;
pub mod tokenize;
pub mod turn;
pub mod urgency;
pub mod wording;
