//! FAQ export: every format parses back and holds every programme intent's answer and
//! source; escaping; `faq check`; the CLI (files, BOM, stderr summary); and the HTML
//! page's search in a real headless chromium.
//!
//! Runs on the small fixture in tests/fixtures/faq/intents (made by make_fixture.py,
//! with a `<script>` answer for escaping), and also on the real intents/ once they
//! are compiled in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use madoguchi::content::{Content, ContentFile};
use madoguchi::core::dialogue::Bot;
use madoguchi::core::label::Label;
use madoguchi::engine;
use madoguchi::faq::{self, Faq};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/faq/intents");

/// The shipped dictionaries with the fixture intents in place of the shipped ones.
fn fixture_content() -> Content {
    let mut c = Content::embedded();
    c.files.retain(|f| !f.path.starts_with("intents/"));
    for e in std::fs::read_dir(FIXTURE).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            c.files.push(ContentFile {
                path: format!("intents/{name}"),
                text: std::fs::read_to_string(&p).unwrap(),
            });
        }
    }
    c.files.sort_by(|a, b| a.path.cmp(&b.path));
    c.origin = "faq fixture".into();
    c
}

fn fixture_bot() -> &'static Bot {
    static BOT: OnceLock<Bot> = OnceLock::new();
    BOT.get_or_init(|| engine::build(&fixture_content()).expect("fixture content builds"))
}

/// The real content compiled in, once intents/ exists in the repository.
fn real_bot() -> Option<&'static Bot> {
    static BOT: OnceLock<Option<Bot>> = OnceLock::new();
    BOT.get_or_init(|| {
        let c = Content::embedded();
        if c.files_in("intents", ".toml").next().is_none() {
            eprintln!("SKIP real content: no intents/*.toml compiled in yet; fixture only");
            return None;
        }
        Some(engine::build(&c).expect("the shipped content builds"))
    })
    .as_ref()
}

fn bots() -> Vec<(&'static str, &'static Bot)> {
    let mut v = vec![("fixture", fixture_bot())];
    if let Some(b) = real_bot() {
        v.push(("shipped", b));
    }
    v
}

/// What every format must contain: (id, answer, source_url) for every programme
/// intent and facet, taken from the intents themselves (not from the exporter).
fn expected(bot: &Bot) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for i in bot.intents.iter().filter(|i| i.label.is_programme_topic()) {
        out.push((
            i.label.as_str().to_string(),
            i.answer.clone(),
            i.source_url.clone(),
        ));
        for (n, f) in i.facets.iter().enumerate() {
            let suffix = f.id.clone().unwrap_or_else(|| (n + 1).to_string());
            out.push((
                format!("{}.{suffix}", i.label.as_str()),
                f.answer.clone(),
                i.source_url.clone(),
            ));
        }
    }
    out
}

const LEFT_OUT: [Label; 4] = [
    Label::Greeting,
    Label::Thanks,
    Label::Human,
    Label::OutOfScope,
];

#[test]
fn every_programme_topic_is_in_and_small_talk_is_out() {
    for (name, bot) in bots() {
        let faq = Faq::from_bot(bot);
        let ids: Vec<&str> = faq.entries.iter().map(|e| e.id.as_str()).collect();
        for l in Label::ALL {
            let present = ids.contains(&l.as_str());
            assert_eq!(
                present,
                !LEFT_OUT.contains(&l),
                "{name}: {l} present={present}"
            );
        }
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "{name}: ids are unique");
        assert_eq!(faq.entries.len(), expected(bot).len());
    }
}

#[test]
fn fixture_facet_ids_come_from_the_files() {
    let faq = Faq::from_bot(fixture_bot());
    let ids: Vec<&str> = faq.entries.iter().map(|e| e.id.as_str()).collect();
    assert!(
        ids.contains(&"hotline.hours")
            && ids.contains(&"hotline.prepare")
            && ids.contains(&"coverage.closure"),
        "{ids:?}"
    );
}

#[test]
fn variants_are_examples_that_get_the_same_answer() {
    let faq = Faq::from_bot(fixture_bot());
    let hours = faq
        .entries
        .iter()
        .find(|e| e.id == "hotline.hours")
        .unwrap();
    assert!(
        hours.variants.iter().any(|v| v.contains("日曜")),
        "{:?}",
        hours.variants
    );
    let main = faq.entries.iter().find(|e| e.id == "hotline").unwrap();
    assert!(!main.variants.is_empty() && main.variants.len() <= faq::MAX_VARIANTS);
    assert!(
        main.variants
            .iter()
            .all(|v| !v.contains("日曜") && !v.contains("用意")),
        "{:?}",
        main.variants
    );
}

#[test]
fn json_parses_back_with_every_answer() {
    for (name, bot) in bots() {
        let text = faq::json::render(&Faq::from_bot(bot));
        let v: Vec<serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let by_id: BTreeMap<&str, &serde_json::Value> =
            v.iter().map(|o| (o["id"].as_str().unwrap(), o)).collect();
        for (id, answer, url) in expected(bot) {
            let o = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{name}: {id} missing"));
            assert_eq!(o["answer"].as_str(), Some(answer.as_str()), "{name}: {id}");
            assert_eq!(o["source_url"].as_str(), Some(url.as_str()));
            for k in ["category", "question", "updated"] {
                assert!(!o[k].as_str().unwrap().is_empty(), "{name}: {id} {k}");
            }
            assert!(o["variants"].is_array());
        }
        assert_eq!(v.len(), expected(bot).len());
    }
}

#[test]
fn csv_parses_back_rfc4180_and_bom_is_optional() {
    for (name, bot) in bots() {
        let f = Faq::from_bot(bot);
        let plain = faq::csv::render_csv(&f, false);
        let bom = faq::csv::render_csv(&f, true);
        assert!(!plain.as_bytes().starts_with(&[0xEF, 0xBB, 0xBF]));
        assert!(
            bom.as_bytes().starts_with(&[0xEF, 0xBB, 0xBF]),
            "{name}: --bom starts with EF BB BF"
        );
        assert_eq!(&bom.as_bytes()[3..], plain.as_bytes());
        assert!(
            plain.ends_with("\r\n") && plain.split('\n').next().unwrap().ends_with('\r'),
            "CRLF records"
        );
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(plain.as_bytes());
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            faq::csv::CSV_HEADER
        );
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        let by_id: BTreeMap<&str, &csv::StringRecord> =
            rows.iter().map(|r| (r.get(0).unwrap(), r)).collect();
        for (id, answer, url) in expected(bot) {
            let row = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{name}: {id} missing"));
            assert_eq!(row.get(4), Some(answer.as_str()), "{name}: {id}");
            assert_eq!(row.get(5), Some(url.as_str()));
        }
        assert_eq!(rows.len(), expected(bot).len());
    }
}

#[test]
fn tsv_is_the_azure_layout_one_row_per_phrasing() {
    for (name, bot) in bots() {
        let f = Faq::from_bot(bot);
        let text = faq::csv::render_tsv(&f, false);
        let mut lines = text.split("\r\n");
        assert_eq!(lines.next(), Some("Question\tAnswer\tSource\tMetadata"));
        let mut answers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut questions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut rows = 0;
        for l in lines.filter(|l| !l.is_empty()) {
            rows += 1;
            assert!(
                !l.contains('\n') && !l.contains('\r'),
                "{name}: a row is one line: {l:?}"
            );
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "{name}: {l:?}");
            let meta: BTreeMap<&str, &str> = cols[3]
                .split('|')
                .map(|kv| kv.split_once(':').expect("key:value"))
                .collect();
            assert_eq!(meta.keys().copied().collect::<Vec<_>>(), ["category", "id"]);
            let id = meta["id"].to_string();
            answers
                .entry(id.clone())
                .or_default()
                .insert(cols[1].replace("\\n", "\n"));
            questions.entry(id).or_default().push(cols[0].to_string());
        }
        for e in &f.entries {
            let qs = &questions[&e.id];
            assert_eq!(qs[0], e.question.replace('\t', " "));
            assert_eq!(qs.len(), 1 + e.variants.len());
        }
        for (id, answer, _) in expected(bot) {
            let a = &answers[&id];
            assert_eq!(a.len(), 1, "{name}: one answer per id");
            assert_eq!(
                a.iter().next().unwrap(),
                &answer.replace('\t', " "),
                "{name}: {id}"
            );
        }
        assert_eq!(
            rows,
            f.entries
                .iter()
                .map(|e| 1 + e.variants.len())
                .sum::<usize>()
        );
    }
}

/// Markdown rendered back to text by a CommonMark parser: hard breaks as newlines.
fn markdown_text(md: &str) -> (String, Vec<String>) {
    use pulldown_cmark::{Event, Options, Parser, TagEnd};
    let mut text = String::new();
    let mut html = Vec::new();
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match ev {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push('\n'),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::TableCell
                | TagEnd::BlockQuote(_),
            ) => text.push('\n'),
            Event::Html(h) | Event::InlineHtml(h) => html.push(h.to_string()),
            _ => {}
        }
    }
    (text, html)
}

#[test]
fn markdown_parses_back_with_every_answer_and_no_raw_html_from_content() {
    for (name, bot) in bots() {
        let md = faq::markdown::render(&Faq::from_bot(bot));
        let (text, html) = markdown_text(&md);
        for (id, answer, url) in expected(bot) {
            // paragraphs may be separated differently; every line must come back intact
            for line in answer.lines().filter(|l| !l.trim().is_empty()) {
                assert!(
                    text.contains(line.trim_end()),
                    "{name}: {id}: line {line:?} not in rendered markdown"
                );
            }
            assert!(text.contains(&url));
        }
        for h in &html {
            assert!(
                h.starts_with("<a id=\"")
                    || h.starts_with("</a>")
                    || h.starts_with("<small>")
                    || h.starts_with("</small>"),
                "{name}: unexpected raw HTML {h:?}"
            );
        }
        assert!(text.contains("0120-179-066"));
    }
    let (text, _) = markdown_text(&faq::markdown::render(&Faq::from_bot(fixture_bot())));
    assert!(
        text.contains("<script>alert(\"x\")</script>"),
        "the fixture's <script> answer is shown as text"
    );
}

#[test]
fn html_is_self_contained_escaped_and_has_every_answer() {
    for (name, bot) in bots() {
        let f = Faq::from_bot(bot);
        let h = faq::html::render(&f);
        assert!(
            h.starts_with("<!DOCTYPE html>\n<html lang=\"ja\">"),
            "{name}"
        );
        for banned in [" src=", "<link", "@import", "url("] {
            assert!(!h.contains(banned), "{name}: external asset via {banned:?}");
        }
        assert_eq!(
            h.matches("<script").count(),
            1,
            "{name}: only the page's own script"
        );
        let banner = h.find("0120-179-066").unwrap();
        assert!(
            banner < h.find("<main>").unwrap(),
            "hotline before the content"
        );
        assert!(h.contains("9:00〜21:00"));
        for (id, answer, url) in expected(bot) {
            let anchor = format!("id=\"q-{}\"", id.replace('.', "-"));
            assert!(h.contains(&anchor), "{name}: {id} has an anchor");
            assert!(
                h.contains(&format!("href=\"#q-{}\"", id.replace('.', "-"))),
                "{name}: {id} in the table of contents"
            );
            assert!(
                h.contains(&faq::html::answer_html(&answer)),
                "{name}: {id} answer"
            );
            assert!(h.contains(&format!("href=\"{url}\"")));
        }
        assert_eq!(h.matches("data-faq-entry ").count(), f.entries.len());
    }
    let h = faq::html::render(&Faq::from_bot(fixture_bot()));
    assert!(h.contains(
        "表示テスト: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quote&quot;"
    ));
    assert!(h.contains("<br>\n2行目 &lt;b&gt;"), "line breaks kept");
}

#[test]
fn payment_table_comes_from_the_rule_engine() {
    for (name, bot) in bots() {
        let f = Faq::from_bot(bot);
        let t = f.payments.as_ref().expect("a payment table");
        assert_eq!(
            Some(t.category.as_str()),
            bot.intents
                .iter()
                .find(|i| i.label == Label::Coverage)
                .map(|i| i.category.as_str())
        );
        let html = faq::html::render(&f);
        let table = &html[html.find("<table class=\"payments\">").expect("html table")..];
        let table = &table[..table.find("</table>").unwrap()];
        let (md_text, _) = markdown_text(&faq::markdown::render(&f));
        let d = bot.rules.effective_from;
        assert!(table.contains(&format!(
            "{}年{}月{}日",
            chrono::Datelike::year(&d),
            chrono::Datelike::month(&d),
            chrono::Datelike::day(&d)
        )));
        for p in &bot.rules.payments {
            for needle in [p.name.clone(), p.amount.to_string()] {
                assert!(table.contains(&needle), "{name}: html table lacks {needle}");
                assert!(md_text.contains(&needle), "{name}: markdown lacks {needle}");
            }
            for r in &p.requirements {
                assert!(
                    table.contains(&bot.rules.requirement(*r).name),
                    "{name}: requirement {r:?}"
                );
            }
        }
        for s in &bot.rules.supplements {
            assert!(
                table.contains(&format!("+{}", s.amount)),
                "{name}: supplement amount"
            );
        }
        for e in &bot.rules.exclusions {
            assert!(
                html.contains(&e.name) && md_text.contains(&e.name),
                "{name}: exclusion {}",
                e.name
            );
        }
        // the table sits in the payment category's section, before its first question
        let sec = html
            .find(&format!(
                "<section class=\"cat\" id=\"{}\">",
                f.categories()
                    .iter()
                    .find(|c| c.name == t.category)
                    .unwrap()
                    .anchor
            ))
            .unwrap();
        let tpos = html.find("<table class=\"payments\">").unwrap();
        assert!(sec < tpos && tpos < sec + html[sec..].find("<details").unwrap());
    }
}

#[test]
fn faq_check_passes_on_the_fixture() {
    let bot = fixture_bot();
    let f = Faq::from_bot(bot);
    let (asked, bad) = faq::check(bot, &f, true);
    assert!(asked > f.entries.len());
    assert!(
        bad.is_empty(),
        "{:#?}",
        bad.iter()
            .map(|m| (&m.id, &m.question, m.reason()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn faq_check_catches_an_answer_the_bot_does_not_give() {
    let bot = fixture_bot();
    let mut f = Faq::from_bot(bot);
    let e = f
        .entries
        .iter_mut()
        .find(|e| e.id == "hotline.hours")
        .unwrap();
    e.answer.push_str("（古い版）");
    let f2 = {
        let mut g = Faq::from_bot(bot);
        // a question the bot routes to another intent
        g.entries
            .iter_mut()
            .find(|e| e.id == "claim")
            .unwrap()
            .question = "窓口の電話番号".into();
        g
    };
    let (_, bad) = faq::check(bot, &f, false);
    assert_eq!(
        bad.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["hotline.hours"]
    );
    let (_, bad) = faq::check(bot, &f2, false);
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].got_intent, bad[0].expected_intent),
        (Label::Hotline, Label::Claim)
    );
}

/// Entries of the shipped intents/ whose representative question the bot answered
/// differently when the content landed (reported to the lead; fixing them is content
/// and core work). The test is a ratchet: no new entry may start to mismatch; when one
/// of these is fixed, delete it here.
const KNOWN_SHIPPED_MISMATCHES: &[&str] = &[];

#[test]
fn shipped_content_gets_no_new_faq_check_mismatch() {
    let Some(bot) = real_bot() else { return };
    let f = Faq::from_bot(bot);
    let (_, bad) = faq::check(bot, &f, false);
    let new: Vec<String> = bad
        .iter()
        .filter(|m| !KNOWN_SHIPPED_MISMATCHES.contains(&m.id.as_str()))
        .map(|m| format!("{} 「{}」: {}", m.id, m.question, m.reason()))
        .collect();
    assert!(
        new.is_empty(),
        "questions whose reply now differs from the FAQ:\n{}",
        new.join("\n")
    );
    for k in KNOWN_SHIPPED_MISMATCHES {
        if !bad.iter().any(|m| m.id == *k) {
            eprintln!("note: {k} now passes faq check; remove it from KNOWN_SHIPPED_MISMATCHES");
        }
    }
}

// ---- the binary -----------------------------------------------------------------

/// A content directory: the shipped dictionaries plus the fixture intents.
fn content_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in fixture_content().files {
        let p = d.path().join(&f.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, f.text).unwrap();
    }
    d
}

fn madoguchi(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_madoguchi"))
        .arg("--content")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_writes_files_with_a_summary_on_stderr() {
    let d = content_dir();
    let out = d.path().join("faq.csv");
    let o = madoguchi(
        d.path(),
        &[
            "faq",
            "export",
            "--format",
            "csv",
            "--bom",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let n = Faq::from_bot(fixture_bot()).entries.len();
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        format!("{} に {n} 件を書き出しました", out.display())
    );
    assert!(std::fs::read(&out)
        .unwrap()
        .starts_with(&[0xEF, 0xBB, 0xBF]));
    for fmt in ["md", "html", "tsv", "json"] {
        let o = madoguchi(d.path(), &["faq", "export", "--format", fmt]);
        assert!(
            o.status.success() && !o.stdout.is_empty(),
            "{fmt}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{fmt}: nothing on stderr when writing to stdout"
        );
    }
}

#[test]
fn cli_check_exit_code_follows_mismatches() {
    let d = content_dir();
    let o = madoguchi(d.path(), &["faq", "check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // a facet question that the bot routes elsewhere
    let p = d.path().join("intents/hotline.toml");
    let t = std::fs::read_to_string(&p).unwrap().replace(
        "question = \"電話する前に何を用意すればよいですか\"",
        "question = \"支援金の申請方法を教えてください\"",
    );
    std::fs::write(&p, t).unwrap();
    let o = madoguchi(d.path(), &["faq", "check"]);
    assert_eq!(o.status.code(), Some(1));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("MISMATCH hotline.prepare"), "{s}");
}

// ---- a real browser ---------------------------------------------------------------

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(o) = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
        {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if o.status.success() && !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    None
}

/// `chromium --headless --dump-dom URL`, killed if it hangs.
fn dump_dom(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish rendering {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap().unwrap()
}

/// (visible ids, hidden ids) of the FAQ entries in a dumped DOM.
fn entries_in(dom: &str) -> (Vec<String>, Vec<String>) {
    let (mut shown, mut hidden) = (Vec::new(), Vec::new());
    for tag in dom
        .split("<details")
        .skip(1)
        .map(|s| &s[..s.find('>').unwrap()])
    {
        if !tag.contains("data-faq-entry") {
            continue;
        }
        let id = tag
            .split("data-id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        if tag.contains(" hidden") {
            hidden.push(id);
        } else {
            shown.push(id);
        }
    }
    (shown, hidden)
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn browser_search_box_filters_the_questions() {
    let Some(chromium) = chromium() else {
        // CI must run every test: a missing browser fails there instead of skipping
        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
            panic!("CI=true but chromium is not installed (bash .ci/install-chromium.sh)");
        }
        eprintln!("SKIP browser test: chromium not found; run `bash .ci/install-chromium.sh` (apt-get install chromium) to enable it (this fails under CI=true)");
        return;
    };
    let f = Faq::from_bot(fixture_bot());
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("faq.html");
    std::fs::write(&page, faq::html::render(&f)).unwrap();
    let base = format!("file://{}", page.display());
    let all: Vec<String> = f.entries.iter().map(|e| e.id.clone()).collect();

    // no query: everything visible, the script has run (search box un-hidden)
    let dom = dump_dom(&chromium, &base);
    let (shown, hidden) = entries_in(&dom);
    assert_eq!((shown.clone(), hidden.len()), (all.clone(), 0));
    assert!(
        dom.contains("<div class=\"search\" id=\"faq-search\" role=\"search\">"),
        "script ran and showed the search box"
    );
    assert!(dom.contains(&format!("全 {} 件の質問", all.len())));

    // ?q=電話: exactly the entries whose question, variants or answer mention it
    let contains = |e: &faq::Entry, t: &str| {
        e.question.contains(t) || e.answer.contains(t) || e.variants.iter().any(|v| v.contains(t))
    };
    let want: Vec<String> = f
        .entries
        .iter()
        .filter(|e| contains(e, "電話"))
        .map(|e| e.id.clone())
        .collect();
    assert!(!want.is_empty() && want.len() < all.len());
    let dom = dump_dom(&chromium, &format!("{base}?q={}", pct("電話")));
    let (shown, hidden) = entries_in(&dom);
    assert_eq!(shown, want, "visible entries for 電話");
    assert_eq!(shown.len() + hidden.len(), all.len());
    assert!(
        dom.contains(&format!("{} 件の質問が該当します", want.len())),
        "count line"
    );
    assert!(
        dom.contains("<p id=\"faq-none\" hidden=\"\">"),
        "the no-results line stays hidden"
    );

    // width and case: full-width upper-case ＴＯＫＩＯ finds "Tokio"; hiragana さいばー finds サイバー
    let want: Vec<String> = f
        .entries
        .iter()
        .filter(|e| contains(e, "Tokio"))
        .map(|e| e.id.clone())
        .collect();
    let (shown, _) = entries_in(&dump_dom(
        &chromium,
        &format!("{base}?q={}", pct("ＴＯＫＩＯ")),
    ));
    assert_eq!(shown, want, "width/case-insensitive");
    let want: Vec<String> = f
        .entries
        .iter()
        .filter(|e| contains(e, "サイバー"))
        .map(|e| e.id.clone())
        .collect();
    let (shown, _) = entries_in(&dump_dom(
        &chromium,
        &format!("{base}?q={}", pct("さいばー")),
    ));
    assert_eq!(shown, want, "hiragana finds katakana");

    // nothing matches: all hidden, the no-results line shown with the query
    let dom = dump_dom(&chromium, &format!("{base}?q={}", pct("存在しない語zzz")));
    let (shown, hidden) = entries_in(&dom);
    assert!(shown.is_empty() && hidden.len() == all.len());
    assert!(
        dom.contains("<p id=\"faq-none\">「<span id=\"faq-none-q\">存在しない語zzz</span>」"),
        "no-results line"
    );
}
