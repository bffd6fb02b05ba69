//! The payment rule engine (owned by the rules work; placeholder).
