//! Shared by the data-driven golden tests: today's known misses of each set live in
//! `tests/golden/known_misses.toml`. A new miss fails the test; a miss that is fixed
//! fails too, asking to take it off the list, so the list is always exactly today's.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

/// The known misses of `set` (ids), as listed in tests/golden/known_misses.toml.
pub fn known_misses(set: &str) -> BTreeSet<String> {
    let src = include_str!("../golden/known_misses.toml");
    let table: BTreeMap<String, Vec<String>> =
        toml::from_str(src).expect("known_misses.toml parses as `set = [ids]`");
    table
        .get(set)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Compares this run's misses (id → explanation) with the known list of `set`.
pub fn check_known(set: &str, misses: &BTreeMap<String, String>, total: usize) {
    let known = known_misses(set);
    let new: Vec<String> = misses
        .iter()
        .filter(|(id, _)| !known.contains(*id))
        .map(|(id, why)| format!("  {id}: {why}"))
        .collect();
    let fixed: Vec<&String> = known
        .iter()
        .filter(|id| !misses.contains_key(*id))
        .collect();
    let mut report = String::new();
    if !new.is_empty() {
        report.push_str(&format!(
            "{} new miss(es) in {set} ({} of {total} wrong in all):\n{}\n",
            new.len(),
            misses.len(),
            new.join("\n")
        ));
    }
    if !fixed.is_empty() {
        report.push_str(&format!(
            "fixed in {set}, take them off tests/golden/known_misses.toml: {}\n",
            fixed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    assert!(report.is_empty(), "{report}");
}
