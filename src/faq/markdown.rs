//! The FAQ as CommonMark (GitHub-flavoured tables) for the website: hotline at the
//! top, table of contents with anchors, one section per category, answers with their
//! line breaks kept and URLs as links. All member-visible text is escaped.

use std::fmt::Write;

use super::{segments, Faq, PaymentTable, Segment};

/// Renders the whole document.
pub fn render(faq: &Faq) -> String {
    let mut o = String::new();
    let tel = faq.hotline.replace('-', "");
    let _ = writeln!(o, "# {}\n", escape(&faq.title));
    let _ = writeln!(
        o,
        "> **緊急相談窓口（日本医師会サイバーセキュリティ対応相談窓口）: [{}](tel:{tel})**\\\n> {}\n",
        escape(&faq.hotline),
        escape(&faq.hotline_hours)
    );
    let _ = writeln!(
        o,
        "公式ページ: <{}>\\\n最終更新: {}\n",
        faq.official_url,
        escape(&faq.updated())
    );
    let cats = faq.categories();
    o.push_str("## 目次\n\n");
    for c in &cats {
        let _ = writeln!(o, "- [{}](#{})", escape(&c.name), c.anchor);
        for &i in &c.entries {
            let e = &faq.entries[i];
            let _ = writeln!(o, "  - [{}](#{})", escape(&e.question), e.anchor());
        }
    }
    for c in &cats {
        let _ = writeln!(o, "\n<a id=\"{}\"></a>\n\n## {}", c.anchor, escape(&c.name));
        if let Some(t) = faq.payments.as_ref().filter(|t| t.category == c.name) {
            o.push('\n');
            payment_table(&mut o, t);
        }
        for &i in &c.entries {
            let e = &faq.entries[i];
            let _ = writeln!(
                o,
                "\n<a id=\"{}\"></a>\n\n### Q. {}\n",
                e.anchor(),
                escape(&e.question)
            );
            o.push_str(&block(&e.answer));
            if !e.variants.is_empty() {
                let v: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| format!("「{}」", escape(v)))
                    .collect();
                let _ = writeln!(o, "\n*ほかの聞き方:* {}", v.join("／"));
            }
            let _ = writeln!(
                o,
                "\n<small>出典: <{}>　更新: {}　ID: {}</small>",
                e.source_url,
                escape(&e.updated),
                escape(&e.id)
            );
        }
    }
    o
}

fn payment_table(o: &mut String, t: &PaymentTable) {
    let _ = writeln!(
        o,
        "### 一時支援金の一覧（{} 以降に発生した被害が対象）\n",
        escape(&t.effective)
    );
    o.push_str("| 支援金 | 対象となる場合 | 金額 | 要件 |\n|---|---|---|---|\n");
    for r in &t.rows {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            cell(&r.name),
            cell(&r.when),
            cell(&r.amount),
            cell(&r.requirements)
        );
    }
    if !t.notes.is_empty() {
        o.push('\n');
    }
    for n in &t.notes {
        let _ = writeln!(o, "- {}", escape(n));
    }
}

fn cell(s: &str) -> String {
    escape(s).replace('\n', "<br>")
}

/// A multi-line answer as Markdown: paragraphs at blank lines, hard line breaks
/// (`\` at line end) inside them, URLs as autolinks.
pub fn block(text: &str) -> String {
    let mut paras: Vec<String> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                paras.push(cur.join("\\\n"));
                cur.clear();
            }
        } else {
            cur.push(inline(line.trim_end()));
        }
    }
    if !cur.is_empty() {
        paras.push(cur.join("\\\n"));
    }
    paras.join("\n\n") + "\n"
}

/// One line of text: URLs become `<autolinks>`, everything else is escaped.
fn inline(line: &str) -> String {
    let mut out = String::new();
    for (i, s) in segments(line).into_iter().enumerate() {
        match s {
            Segment::Url(u) => {
                let _ = write!(out, "<{u}>");
            }
            Segment::Text(t) if i == 0 => out.push_str(&escape(t)),
            Segment::Text(t) => out.push_str(&escape_inner(t)),
        }
    }
    out
}

/// Escapes text so CommonMark shows it literally (also at the start of a line).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (n, line) in s.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let body = line.trim_start_matches(' ');
        out.push_str(&line[..line.len() - body.len()]);
        // block markers at the start of a line
        let digits = body.chars().take_while(|c| c.is_ascii_digit()).count();
        if matches!(body.chars().next(), Some('#' | '-' | '+' | '=' | '>')) {
            out.push('\\');
            out.push_str(&escape_inner(body));
        } else if digits > 0 && matches!(body[digits..].chars().next(), Some('.' | ')')) {
            out.push_str(&body[..digits]);
            out.push('\\');
            out.push_str(&escape_inner(&body[digits..]));
        } else {
            out.push_str(&escape_inner(body));
        }
    }
    out
}

fn escape_inner(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_emphasis_are_escaped() {
        assert_eq!(
            escape("<script>*x*</script>"),
            "\\<script\\>\\*x\\*\\</script\\>"
        );
    }

    #[test]
    fn line_start_markers_are_escaped() {
        assert_eq!(escape("# 見出し"), "\\# 見出し");
        assert_eq!(escape("1. 番号"), "1\\. 番号");
        assert_eq!(escape("- 箇条"), "\\- 箇条");
        assert_eq!(escape("0120-179-066"), "0120-179-066");
    }

    #[test]
    fn answer_keeps_line_breaks_and_links_urls() {
        let b = block("一行目\n・二行目 https://a.jp/x_y\n\n次の段落");
        assert_eq!(b, "一行目\\\n・二行目 <https://a.jp/x_y>\n\n次の段落\n");
    }
}
