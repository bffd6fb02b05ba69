//! The FAQ as CSV for Excel (RFC 4180: every field quoted, `"` doubled, CRLF between
//! records, optional UTF-8 BOM) and as TSV in the layout Azure custom question
//! answering imports (Question, Answer, Source, Metadata; one row per phrasing).

use super::Faq;

/// The UTF-8 byte order mark Excel needs to read Japanese CSV correctly.
pub const BOM: &str = "\u{feff}";
pub const CSV_HEADER: [&str; 7] = [
    "id",
    "category",
    "question",
    "variants",
    "answer",
    "source_url",
    "updated",
];
pub const TSV_HEADER: [&str; 4] = ["Question", "Answer", "Source", "Metadata"];

/// CSV: one record per entry; `variants` holds the phrasings one per line.
pub fn render_csv(faq: &Faq, bom: bool) -> String {
    let mut o = String::new();
    if bom {
        o.push_str(BOM);
    }
    record(&mut o, CSV_HEADER.iter().map(|s| s.to_string()));
    for e in &faq.entries {
        record(
            &mut o,
            [
                e.id.clone(),
                e.category.clone(),
                e.question.clone(),
                e.variants.join("\n"),
                e.answer.clone(),
                e.source_url.clone(),
                e.updated.clone(),
            ],
        );
    }
    o
}

fn record(o: &mut String, fields: impl IntoIterator<Item = String>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        o.push('"');
        o.push_str(&f.replace('\r', "").replace('"', "\"\""));
        o.push('"');
    }
    o.push_str("\r\n");
}

/// TSV for Azure custom question answering: a header, then one row for the
/// representative question and one for each variant, all with the same answer and
/// metadata `category:…|id:…`. Newlines in fields are written as `\n` (the import
/// turns them back into line breaks); tabs become spaces.
pub fn render_tsv(faq: &Faq, bom: bool) -> String {
    let mut o = String::new();
    if bom {
        o.push_str(BOM);
    }
    o.push_str(&TSV_HEADER.join("\t"));
    o.push_str("\r\n");
    for e in &faq.entries {
        let meta = format!(
            "category:{}|id:{}",
            meta_value(&e.category),
            meta_value(&e.id)
        );
        for q in std::iter::once(&e.question).chain(e.variants.iter()) {
            let row = [
                tsv_field(q),
                tsv_field(&e.answer),
                tsv_field(&e.source_url),
                meta.clone(),
            ];
            o.push_str(&row.join("\t"));
            o.push_str("\r\n");
        }
    }
    o
}

/// A field on one line: CR dropped, LF → `\n`, tab → space, backslash kept as is.
pub fn tsv_field(s: &str) -> String {
    s.replace('\r', "").replace('\n', "\\n").replace('\t', " ")
}

/// Metadata values may not contain the `:` and `|` separators (nor spaces or tabs).
pub fn meta_value(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| {
            if matches!(c, ':' | '|' | '\t' | '\n' | '\r') || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_doubles_and_uses_crlf() {
        let mut o = String::new();
        record(&mut o, ["a\"b".to_string(), "x,y\nz".to_string()]);
        assert_eq!(o, "\"a\"\"b\",\"x,y\nz\"\r\n");
    }

    #[test]
    fn tsv_fields_stay_on_one_line() {
        assert_eq!(tsv_field("一\r\n二\tx"), "一\\n二 x");
        assert_eq!(meta_value("支援 金:a|b"), "支援_金_a_b");
    }
}
