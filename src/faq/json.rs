//! The FAQ as JSON: an array of objects
//! `{id, category, question, variants, answer, source_url, updated}`.

use super::Faq;

/// Pretty-printed, one entry per object, in document order, newline-terminated.
pub fn render(faq: &Faq) -> String {
    let mut s = serde_json::to_string_pretty(&faq.entries).expect("entries are plain strings");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::label::Label;
    use crate::faq::Entry;

    #[test]
    fn entries_serialise_with_the_documented_keys_only() {
        let faq = crate::faq::Faq {
            title: String::new(),
            hotline: String::new(),
            hotline_hours: String::new(),
            official_url: String::new(),
            payments: None,
            entries: vec![Entry {
                id: "hotline.hours".into(),
                label: Label::Hotline,
                facet: Some(0),
                category: "窓口".into(),
                question: "何時まで？".into(),
                variants: vec!["日曜は？".into()],
                answer: "9:00〜21:00".into(),
                source_url: "https://example.jp/".into(),
                updated: "2026-01-10".into(),
            }],
        };
        let v: serde_json::Value = serde_json::from_str(&render(&faq)).unwrap();
        let o = v.as_array().unwrap()[0].as_object().unwrap();
        let mut keys: Vec<&str> = o.keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "answer",
                "category",
                "id",
                "question",
                "source_url",
                "updated",
                "variants"
            ]
        );
    }
}
