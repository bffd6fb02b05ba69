//! The console's HTML, rendered on the server: one layout and one function per page.
//! Every text that comes from a member, a staff member or the store goes through
//! [`esc`]; there is no inline script or style (the CSP forbids both), so the pages
//! work without JavaScript and `app.js` only adds live updates and conveniences.

use chrono::{DateTime, FixedOffset};

use crate::accounts::{Session, StaffRole};
use crate::core::hours::jst;
use crate::faq::Entry;
use crate::store::{Escalation, EscalationStatus, Role, TranscriptLine};

use super::queries::Unplaced;

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
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

fn local(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&jst()).format("%Y-%m-%d %H:%M").to_string()
}

/// "3分", "2時間", "4日": how long ago.
pub fn age(from: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    let s = (now - from).num_seconds().max(0);
    match s {
        0..=59 => format!("{s}秒"),
        60..=3599 => format!("{}分", s / 60),
        3600..=86_399 => format!("{}時間", s / 3600),
        _ => format!("{}日", s / 86_400),
    }
}

pub fn reason_ja(e: &Escalation) -> &'static str {
    match e.reason.as_str() {
        "urgent" => "緊急",
        "human_request" => "担当者希望",
        _ => "回答困難",
    }
}

fn status_ja(s: EscalationStatus) -> &'static str {
    match s {
        EscalationStatus::Open => "未対応",
        EscalationStatus::Claimed => "対応中",
        EscalationStatus::Resolved => "解決済み",
    }
}

fn csrf_field(csrf: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(csrf))
}

/// The page frame: head (CSS and JS from /staff/static), header with navigation and
/// logout for a logged-in session, then `body`.
pub fn layout(title: &str, session: Option<&Session>, body: &str) -> String {
    let nav = match session {
        Some(s) => {
            let editor = if s.role.can_edit() {
                r#"<a href="/staff/editor">未分類の質問</a>"#
            } else {
                ""
            };
            format!(
                r#"<nav><a href="/staff/">受付一覧</a>{editor}<a href="/staff/stats">統計</a></nav><form class="logout" method="post" action="/staff/logout">{csrf}<span class="who">{name}（{role}）</span><button type="submit">ログアウト</button></form>"#,
                csrf = csrf_field(&s.csrf),
                name = esc(&s.account),
                role = role_ja(s.role),
            )
        }
        None => String::new(),
    };
    format!(
        r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - madoguchi 事務局コンソール</title>
<link rel="stylesheet" href="/staff/static/app.css"><script src="/staff/static/app.js" defer></script></head>
<body><header><span class="brand">madoguchi 事務局</span>{nav}</header>
<main>
{body}
</main></body></html>
"#,
        title = esc(title)
    )
}

fn role_ja(r: StaffRole) -> &'static str {
    match r {
        StaffRole::Staff => "担当者",
        StaffRole::Editor => "編集者",
        StaffRole::Admin => "管理者",
    }
}

pub fn login(csrf: &str, error: Option<&str>, name: &str) -> String {
    let err = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>ログイン</h1>{err}
<form method="post" action="/staff/login" class="login">{csrf}
<label>名前<input name="name" autocomplete="username" required value="{name}"></label>
<label>パスワード<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">ログイン</button></form>"#,
        csrf = csrf_field(csrf),
        name = esc(name),
    );
    layout("ログイン", None, &body)
}

/// A plain message page (403, 404, errors).
pub fn message(title: &str, text: &str, session: Option<&Session>) -> String {
    layout(
        title,
        session,
        &format!(
            r#"<h1>{}</h1><p>{}</p><p><a href="/staff/">受付一覧へ</a></p>"#,
            esc(title),
            esc(text)
        ),
    )
}

/// Queue order: urgent first, then oldest first.
pub fn sort_queue(items: &mut [Escalation]) {
    items.sort_by_key(|e| (e.reason.as_str() != "urgent", e.created_at, e.id));
}

fn queue_item(e: &Escalation, now: DateTime<FixedOffset>) -> String {
    let urgent = e.reason.as_str() == "urgent";
    let snippet: String = e.text.chars().take(80).collect();
    format!(
        r#"<li class="item{u}" data-id="{id}"><a href="/staff/e/{id}"><span class="id">#{id}</span> <span class="badge{u}">{reason}</span> <span class="age">{age}前</span> <span class="chan">{chan}</span> <span class="assignee">{assignee}</span><span class="text">{text}</span></a></li>"#,
        u = if urgent { " urgent" } else { "" },
        id = e.id,
        reason = reason_ja(e),
        age = age(e.created_at, now),
        chan = esc(e.channel.as_str()),
        assignee = e
            .assignee
            .as_deref()
            .map(|a| format!("担当: {}", esc(a)))
            .unwrap_or_else(|| "担当なし".into()),
        text = esc(&snippet),
    )
}

/// The three queue sections (the part `app.js` refreshes).
pub fn queue_sections(items: &[Escalation], now: DateTime<FixedOffset>) -> String {
    let mut s = String::new();
    for status in [
        EscalationStatus::Open,
        EscalationStatus::Claimed,
        EscalationStatus::Resolved,
    ] {
        let mut these: Vec<Escalation> = items
            .iter()
            .filter(|e| e.status == status)
            .cloned()
            .collect();
        sort_queue(&mut these);
        if status == EscalationStatus::Resolved {
            // the latest resolved ones
            these.sort_by_key(|e| std::cmp::Reverse(e.resolved_at));
            these.truncate(30);
        }
        s.push_str(&format!(
            r#"<section class="status-{}"><h2>{}（{}件）</h2>"#,
            status.as_str(),
            status_ja(status),
            these.len()
        ));
        if these.is_empty() {
            s.push_str(r#"<p class="empty">ありません</p>"#);
        } else {
            s.push_str(r#"<ul class="queue">"#);
            for e in &these {
                s.push_str(&queue_item(e, now));
            }
            s.push_str("</ul>");
        }
        s.push_str("</section>");
    }
    s
}

pub fn queue(session: &Session, items: &[Escalation], now: DateTime<FixedOffset>) -> String {
    let body = format!(
        r#"<h1>受付一覧</h1><p class="hint">緊急を先頭に、古い順に並んでいます。<span id="live" aria-live="polite"></span> <a href="/staff/">再読み込み</a></p><div id="queue">{}</div>"#,
        queue_sections(items, now)
    );
    layout("受付一覧", Some(session), &body)
}

/// Everything the conversation page shows.
pub struct ConversationView<'a> {
    pub escalation: &'a Escalation,
    pub lines: &'a [TranscriptLine],
    /// (fact name, value) pairs of the case file.
    pub facts: Vec<(String, String)>,
    /// The eligibility assessment in Japanese, when the case has facts.
    pub assessment: Option<String>,
    pub query: &'a str,
    pub suggestions: Vec<&'a Entry>,
    pub flash: Option<String>,
    pub error: Option<String>,
}

pub fn conversation(
    session: &Session,
    v: &ConversationView<'_>,
    now: DateTime<FixedOffset>,
) -> String {
    let e = v.escalation;
    let mut b = String::new();
    b.push_str(&format!(
        r#"<p><a href="/staff/">← 受付一覧</a></p><h1>#{id} <span class="badge{u}">{reason}</span> {status}</h1>"#,
        id = e.id,
        u = if e.reason.as_str() == "urgent" { " urgent" } else { "" },
        reason = reason_ja(e),
        status = status_ja(e.status),
    ));
    if let Some(f) = &v.flash {
        b.push_str(&format!(r#"<p class="flash" role="status">{}</p>"#, esc(f)));
    }
    if let Some(err) = &v.error {
        b.push_str(&format!(
            r#"<p class="error" role="alert">{}</p>"#,
            esc(err)
        ));
    }
    b.push_str(&format!(
        r#"<dl class="meta"><dt>チャネル</dt><dd>{chan}</dd><dt>会員</dt><dd>{user}</dd><dt>受付</dt><dd>{at}（{age}前）</dd><dt>推定された用件</dt><dd>{intent}</dd><dt>担当</dt><dd>{assignee}</dd>{note}</dl>"#,
        chan = esc(e.channel.as_str()),
        user = esc(&e.user),
        at = local(e.created_at),
        age = age(e.created_at, now),
        intent = esc(e.intent.as_str()),
        assignee = e.assignee.as_deref().map(esc).unwrap_or_else(|| "なし".into()),
        note = e.note.as_deref().map(|n| format!("<dt>解決メモ</dt><dd>{}</dd>", esc(n))).unwrap_or_default(),
    ));

    b.push_str(r#"<section><h2>会話（個人情報は伏せてあります）</h2><ol class="transcript">"#);
    for l in v.lines {
        let (class, who) = match l.role {
            Role::Member => ("member", "会員".to_string()),
            Role::Bot => ("bot", "窓口ボット".to_string()),
            Role::Staff => (
                "staff",
                format!("担当 {}", l.author.as_deref().unwrap_or("?")),
            ),
        };
        let urgent = if l.urgent && l.role == Role::Member {
            r#" <span class="badge urgent">緊急</span>"#
        } else {
            ""
        };
        b.push_str(&format!(
            r#"<li class="{class}"><div class="who">{who}{urgent} <time>{at}</time></div><div class="msg">{text}</div></li>"#,
            who = esc(&who),
            at = local(l.at),
            text = esc(&l.text),
        ));
    }
    b.push_str("</ol></section>");

    if !v.facts.is_empty() || v.assessment.is_some() {
        b.push_str(r#"<section class="case"><h2>ケースの情報</h2>"#);
        if !v.facts.is_empty() {
            b.push_str("<dl>");
            for (k, val) in &v.facts {
                b.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(val)));
            }
            b.push_str("</dl>");
        }
        if let Some(a) = &v.assessment {
            b.push_str(&format!(
                r#"<h3>支援金の見立て（目安）</h3><div class="msg">{}</div>"#,
                esc(a)
            ));
        }
        b.push_str("</section>");
    }

    let csrf = csrf_field(&session.csrf);
    if e.status != EscalationStatus::Resolved {
        b.push_str(r#"<section class="actions"><h2>対応</h2>"#);
        if e.status == EscalationStatus::Open {
            b.push_str(&format!(r#"<form method="post" action="/staff/e/{id}/claim">{csrf}<button type="submit" id="claim">担当する</button></form>"#, id = e.id));
        }
        b.push_str(&format!(
            r#"<form method="post" action="/staff/e/{id}/reply" class="reply">{csrf}<label for="reply-text">会員への返信（会員のチャネルに届きます）</label><textarea id="reply-text" name="text" rows="5" required></textarea><button type="submit" id="send-reply">返信を送る</button></form>
<form method="post" action="/staff/e/{id}/resolve" class="resolve">{csrf}<label for="note">解決メモ（任意）</label><input id="note" name="note"><button type="submit" id="resolve">解決済みにする</button></form>"#,
            id = e.id
        ));
        b.push_str("</section>");

        b.push_str(&format!(
            r#"<section class="suggest"><h2>回答候補（FAQ から検索）</h2><form method="get" action="/staff/e/{id}"><input name="q" value="{q}" placeholder="例: 電話番号、支援金" aria-label="FAQ を検索"><button type="submit">検索</button></form>"#,
            id = e.id,
            q = esc(v.query)
        ));
        if v.suggestions.is_empty() {
            b.push_str(r#"<p class="empty">該当する FAQ はありません。</p>"#);
        }
        b.push_str(r#"<ul class="suggestions">"#);
        for (i, entry) in v.suggestions.iter().enumerate() {
            b.push_str(&format!(
                r#"<li><details><summary>{q}</summary><div class="msg" id="sugg-{i}">{a}</div><button type="button" class="use-reply" data-target="sugg-{i}">この回答を返信欄に入れる</button></details></li>"#,
                q = esc(&entry.question),
                a = esc(&entry.expected_reply()),
            ));
        }
        b.push_str("</ul></section>");
    }
    layout(&format!("#{}", e.id), Some(session), &b)
}

/// The editor page: unplaced messages grouped by the intent the bot guessed.
pub fn editor(session: &Session, items: &[Unplaced]) -> String {
    let mut groups: std::collections::BTreeMap<&str, Vec<&Unplaced>> = Default::default();
    for u in items {
        groups.entry(u.intent.as_str()).or_default().push(u);
    }
    let mut b = String::from(
        r#"<h1>ボットが答えられなかった質問</h1><p class="hint">フォールバック・聞き返し・確信度の低い回答になったメッセージです（個人情報は伏せてあります）。「例文として書き出す」で intents/ に追加する候補（TOML）を表示します。確認してから追加してください。</p><p><a href="/staff/editor/export.jsonl">すべて JSONL で書き出す</a></p>"#,
    );
    if groups.is_empty() {
        b.push_str(r#"<p class="empty">ありません。</p>"#);
    }
    for (intent, list) in &groups {
        b.push_str(&format!(
            r#"<section><h2>推定: {}（{}件）</h2><ul class="unplaced">"#,
            esc(intent),
            list.len()
        ));
        for u in list {
            b.push_str(&format!(
                r#"<li><div class="msg">{text}</div><div class="meta-line">{kind}・確信度 {conf:.2}・{at} <a class="export" href="/staff/editor/export/{id}">例文として書き出す</a> <a href="/staff/editor/export/{id}?format=jsonl">JSONL</a></div></li>"#,
                text = esc(&u.text),
                kind = esc(&u.reply_kind),
                conf = u.confidence,
                at = esc(u.at.get(..16).unwrap_or(&u.at)),
                id = u.id,
            ));
        }
        b.push_str("</ul></section>");
    }
    layout("未分類の質問", Some(session), &b)
}

/// The statistics page: the numbers, then the charts (already SVG).
pub fn stats(session: &Session, summary: &[(String, String)], charts: &[String]) -> String {
    let mut b = String::from(r#"<h1>統計</h1><dl class="meta">"#);
    for (k, v) in summary {
        b.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)));
    }
    b.push_str("</dl>");
    for c in charts {
        b.push_str(c);
    }
    layout("統計", Some(session), &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
    }

    #[test]
    fn ages_read_naturally() {
        let t = DateTime::parse_from_rfc3339("2026-01-05T10:00:00+09:00").unwrap();
        assert_eq!(age(t, t + chrono::Duration::seconds(30)), "30秒");
        assert_eq!(age(t, t + chrono::Duration::minutes(5)), "5分");
        assert_eq!(age(t, t + chrono::Duration::hours(3)), "3時間");
        assert_eq!(age(t, t + chrono::Duration::days(2)), "2日");
    }
}
