//! The FAQ as one self-contained HTML page (inline CSS and JS, no external assets):
//! hotline banner at the top, table of contents, a client-side search box (also
//! pre-filled from `?q=`), collapsible answers, and a print stylesheet.

use std::fmt::Write;

use super::{segments, Entry, Faq, PaymentTable, Segment};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Answer text as HTML: escaped, line breaks as `<br>`, URLs as links.
pub fn answer_html(text: &str) -> String {
    let mut out = String::new();
    for (n, line) in text.lines().enumerate() {
        if n > 0 {
            out.push_str("<br>\n");
        }
        for s in segments(line) {
            match s {
                Segment::Text(t) => out.push_str(&escape(t)),
                Segment::Url(u) => {
                    let _ = write!(out, "<a href=\"{0}\" rel=\"noopener\">{0}</a>", escape(u));
                }
            }
        }
    }
    out
}

const STYLE: &str = r#"
:root { --accent: #a3001b; --ink: #1d1d1f; --muted: #5b5b66; --line: #d9d9e0; --bg: #f6f6f8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.75;
  font-family: "Hiragino Sans", "Hiragino Kaku Gothic ProN", "Noto Sans JP", "Noto Sans CJK JP",
    "BIZ UDPGothic", "Yu Gothic UI", "Yu Gothic", YuGothic, Meiryo, system-ui, sans-serif;
  font-size: 16px; word-break: normal; overflow-wrap: anywhere; line-break: strict; }
a { color: #0b57d0; }
.hotline { background: var(--accent); color: #fff; padding: 14px 20px; text-align: center; }
.hotline p { margin: 0; }
.hotline .label { font-weight: 700; }
.hotline .number { font-size: 2rem; font-weight: 800; letter-spacing: .04em; line-height: 1.3; }
.hotline .number a { color: #fff; text-decoration: none; }
.hotline .hours { font-size: .95rem; }
main { max-width: 52rem; margin: 0 auto; padding: 8px 20px 48px; }
h1 { font-size: 1.5rem; line-height: 1.4; margin: 20px 0 4px; }
.meta { color: var(--muted); font-size: .875rem; margin: 0 0 16px; }
.search { position: sticky; top: 0; z-index: 1; background: #fff; padding: 10px 0; border-bottom: 1px solid var(--line); }
.search label { display: block; font-weight: 700; font-size: .9rem; }
.search input { width: 100%; font: inherit; padding: 10px 12px; border: 2px solid #8a8a96; border-radius: 8px; }
.search input:focus { outline: 3px solid #0b57d0; outline-offset: 1px; border-color: #0b57d0; }
#faq-count { margin: 4px 0 0; color: var(--muted); font-size: .875rem; min-height: 1.2em; }
#faq-none { margin: 8px 0 0; padding: 10px 12px; background: #fff4e5; border-radius: 8px; }
.toc { background: var(--bg); border-radius: 10px; padding: 4px 20px 12px; margin: 20px 0; }
.toc h2 { font-size: 1.1rem; margin: 12px 0 4px; }
.toc ol { margin: 0; padding-left: 1.4em; }
.toc ol ol { font-size: .92rem; }
section.cat > h2 { font-size: 1.25rem; border-left: 6px solid var(--accent); padding-left: 10px; margin: 32px 0 8px; }
details.qa { border: 1px solid var(--line); border-radius: 10px; margin: 10px 0; background: #fff; }
details.qa > summary { cursor: pointer; padding: 12px 16px; font-weight: 700; list-style: none; display: flex; gap: .6em; }
details.qa > summary::-webkit-details-marker { display: none; }
details.qa > summary::after { content: "＋"; margin-left: auto; color: var(--muted); }
details.qa[open] > summary::after { content: "−"; }
details.qa > summary .q { color: var(--accent); }
details.qa[open] > summary { border-bottom: 1px solid var(--line); }
.answer { padding: 12px 16px 4px; }
.answer::before { content: "A"; font-weight: 800; color: #0b57d0; margin-right: .6em; }
.variants, .src { margin: 0; padding: 4px 16px; color: var(--muted); font-size: .85rem; }
.src { padding-bottom: 12px; }
table.payments { border-collapse: collapse; width: 100%; margin: 12px 0; font-size: .92rem; }
table.payments caption { text-align: left; font-weight: 700; padding: 4px 0; }
table.payments th, table.payments td { border: 1px solid var(--line); padding: 6px 8px; vertical-align: top; text-align: left; }
table.payments th { background: var(--bg); }
.payment-notes { font-size: .9rem; }
footer { color: var(--muted); font-size: .85rem; margin-top: 32px; }
@media print {
  .search, #faq-none, #faq-count { display: none !important; }
  .hotline { background: none; color: #000; border: 3px solid #000; }
  .hotline .number a { color: #000; }
  [data-faq-entry][hidden], section.cat[hidden] { display: block !important; }
  .toc li[hidden] { display: list-item !important; }
  details.qa { border-color: #999; }
  details.qa > summary { break-after: avoid; }
  details.qa::details-content { content-visibility: visible; display: block; }
  details.qa > summary::after, details.qa[open] > summary::after { content: none; }
  a { color: #000; }
  body { font-size: 11pt; }
}
"#;

const SCRIPT: &str = r##"
(function () {
  'use strict';
  // case- and width-insensitive (NFKC + lower case), hiragana = katakana, no spaces
  function fold(s) {
    s = (s || '').normalize('NFKC').toLowerCase();
    s = s.replace(/[\u3041-\u3096]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) + 0x60); });
    return s.replace(/\s+/g, '');
  }
  var box = document.getElementById('faq-q');
  var search = document.getElementById('faq-search');
  var none = document.getElementById('faq-none');
  var count = document.getElementById('faq-count');
  var entries = Array.prototype.slice.call(document.querySelectorAll('[data-faq-entry]'));
  var sections = Array.prototype.slice.call(document.querySelectorAll('section.cat'));
  var hay = entries.map(function (e) {
    var parts = e.querySelectorAll('.q-text, .answer, .variants');
    var t = '';
    for (var i = 0; i < parts.length; i++) { t += ' ' + parts[i].textContent; }
    return fold(t);
  });
  function tocItem(id) { var a = document.querySelector('.toc a[href="#' + id + '"]'); return a ? a.parentNode : null; }
  function apply() {
    var raw = box.value;
    var terms = (raw || '').normalize('NFKC').split(/[\s\u3000]+/).map(fold).filter(Boolean);
    var shown = 0;
    entries.forEach(function (e, i) {
      var ok = terms.every(function (t) { return hay[i].indexOf(t) !== -1; });
      e.hidden = !ok;
      if (terms.length) { e.open = ok; } else { e.open = false; }
      var li = tocItem(e.id); if (li) { li.hidden = !ok; }
      if (ok) { shown++; }
    });
    sections.forEach(function (s) {
      var any = s.querySelector('[data-faq-entry]:not([hidden])') !== null;
      s.hidden = !any;
      var li = tocItem(s.id); if (li) { li.hidden = !any; }
    });
    none.hidden = shown !== 0;
    if (shown === 0) { document.getElementById('faq-none-q').textContent = raw.trim(); }
    count.textContent = terms.length ? (shown + ' 件の質問が該当します（全 ' + entries.length + ' 件）') : ('全 ' + entries.length + ' 件の質問');
  }
  function openHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === 'DETAILS') { el.hidden = false; el.open = true; }
  }
  search.hidden = false;
  var q = new URLSearchParams(location.search).get('q');
  if (q) { box.value = q; }
  box.addEventListener('input', function () {
    apply();
    try {
      var u = new URL(location.href);
      if (box.value) { u.searchParams.set('q', box.value); } else { u.searchParams.delete('q'); }
      history.replaceState(null, '', u.href);
    } catch (err) { /* file: pages may refuse; the filter still works */ }
  });
  apply();
  openHash();
  window.addEventListener('hashchange', openHash);
  var wasOpen = [];
  window.addEventListener('beforeprint', function () {
    wasOpen = entries.map(function (e) { return e.open; });
    entries.forEach(function (e) { e.open = true; });
  });
  window.addEventListener('afterprint', function () {
    entries.forEach(function (e, i) { e.open = wasOpen[i]; });
  });
})();
"##;

/// Renders the whole page.
pub fn render(faq: &Faq) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let tel = faq.hotline.replace('-', "");
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"madoguchi faq export\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&faq.title)
    );
    let _ = write!(
        o,
        "<header class=\"hotline\" id=\"hotline\">\n<p class=\"label\">セキュリティのトラブル・ご相談は 緊急相談窓口（日本医師会サイバーセキュリティ対応相談窓口）へ</p>\n\
         <p class=\"number\"><a href=\"tel:{tel}\">☎ {}</a></p>\n<p class=\"hours\">{}</p>\n</header>\n",
        escape(&faq.hotline),
        escape(&faq.hotline_hours)
    );
    let _ = write!(
        o,
        "<main>\n<h1>{}</h1>\n<p class=\"meta\">最終更新: {}　公式ページ: <a href=\"{2}\" rel=\"noopener\">{2}</a></p>\n",
        escape(&faq.title),
        escape(&faq.updated()),
        escape(&faq.official_url)
    );
    let _ = write!(
        o,
        "<div class=\"search\" id=\"faq-search\" role=\"search\" hidden>\n<label for=\"faq-q\">質問を検索</label>\n\
         <input type=\"search\" id=\"faq-q\" name=\"q\" placeholder=\"例: 電話番号、支援金、ランサムウェア\" autocomplete=\"off\">\n\
         <p id=\"faq-count\" aria-live=\"polite\"></p>\n\
         <p id=\"faq-none\" hidden>「<span id=\"faq-none-q\"></span>」に該当する質問は見つかりませんでした。言葉を変えてお試しいただくか、緊急相談窓口 {} へお電話ください。</p>\n</div>\n",
        escape(&faq.hotline)
    );
    let cats = faq.categories();
    o.push_str(
        "<nav class=\"toc\" aria-labelledby=\"toc-title\">\n<h2 id=\"toc-title\">目次</h2>\n<ol>\n",
    );
    for c in &cats {
        let _ = writeln!(
            o,
            "<li><a href=\"#{}\">{}</a>\n<ol>",
            c.anchor,
            escape(&c.name)
        );
        for &i in &c.entries {
            let e = &faq.entries[i];
            let _ = writeln!(
                o,
                "<li><a href=\"#{}\">{}</a></li>",
                e.anchor(),
                escape(&e.question)
            );
        }
        o.push_str("</ol></li>\n");
    }
    o.push_str("</ol>\n</nav>\n");
    for c in &cats {
        let _ = writeln!(
            o,
            "<section class=\"cat\" id=\"{}\">\n<h2>{}</h2>",
            c.anchor,
            escape(&c.name)
        );
        if let Some(t) = faq.payments.as_ref().filter(|t| t.category == c.name) {
            payment_table(&mut o, t);
        }
        for &i in &c.entries {
            entry(&mut o, &faq.entries[i]);
        }
        o.push_str("</section>\n");
    }
    let _ = write!(
        o,
        "<footer>\n<p>この FAQ は窓口ボット madoguchi と同じデータから作成しています。最終的な判断は制度の運営者が行います。詳しくは <a href=\"{0}\" rel=\"noopener\">{0}</a> をご覧ください。</p>\n</footer>\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        escape(&faq.official_url)
    );
    o
}

fn entry(o: &mut String, e: &Entry) {
    let _ = write!(
        o,
        "<details class=\"qa\" id=\"{}\" data-faq-entry data-id=\"{}\">\n<summary><span class=\"q\">Q</span><span class=\"q-text\">{}</span></summary>\n<div class=\"answer\">{}</div>\n",
        e.anchor(),
        escape(&e.id),
        escape(&e.question),
        answer_html(&e.answer)
    );
    if !e.variants.is_empty() {
        o.push_str("<p class=\"variants\">ほかの聞き方: ");
        let v: Vec<String> = e
            .variants
            .iter()
            .map(|v| format!("<span class=\"variant\">「{}」</span>", escape(v)))
            .collect();
        o.push_str(&v.join(" "));
        o.push_str("</p>\n");
    }
    let _ = write!(
        o,
        "<p class=\"src\">出典: <a href=\"{0}\" rel=\"noopener\">{0}</a>　更新: {1}</p>\n</details>\n",
        escape(&e.source_url),
        escape(&e.updated)
    );
}

fn payment_table(o: &mut String, t: &PaymentTable) {
    let _ = write!(
        o,
        "<table class=\"payments\">\n<caption>一時支援金の一覧（{} 以降に発生した被害が対象）</caption>\n\
         <thead><tr><th scope=\"col\">支援金</th><th scope=\"col\">対象となる場合</th><th scope=\"col\">金額</th><th scope=\"col\">要件</th></tr></thead>\n<tbody>\n",
        escape(&t.effective)
    );
    for r in &t.rows {
        let _ = writeln!(
            o,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            answer_html(&r.name),
            answer_html(&r.when),
            answer_html(&r.amount),
            answer_html(&r.requirements)
        );
    }
    o.push_str("</tbody>\n</table>\n");
    if !t.notes.is_empty() {
        o.push_str("<ul class=\"payment-notes\">\n");
        for n in &t.notes {
            let _ = writeln!(o, "<li>{}</li>", answer_html(n));
        }
        o.push_str("</ul>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_tags_in_answers_are_inert() {
        let h = answer_html("<script>alert('x')</script>\n次 & \"引用\"");
        assert_eq!(
            h,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;<br>\n次 &amp; &quot;引用&quot;"
        );
    }

    #[test]
    fn urls_become_links_with_escaped_href() {
        let h = answer_html("見る: https://a.jp/?x=1&y=2 です");
        assert_eq!(h, "見る: <a href=\"https://a.jp/?x=1&amp;y=2\" rel=\"noopener\">https://a.jp/?x=1&amp;y=2</a> です");
    }
}
