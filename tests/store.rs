//! Store, service and staff workflow tests, each run on SQLite (a tempdir) and on
//! PostgreSQL (a fresh database on 127.0.0.1:5432 per test, dropped afterwards; the
//! PostgreSQL variant is skipped with a notice when no server answers). Also the
//! redaction property tests and the CLI round trip.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone};
use madoguchi::content::Content;
use madoguchi::core::dialogue::Bot;
use madoguchi::core::hours::{jst, Clock, HOTLINE};
use madoguchi::core::turn::{ChannelKind, EscalationReason, Inbound};
use madoguchi::service::{EscalationStatus, Service, StaffError, StoreConfig};
use once_cell::sync::Lazy;
use sqlx::Connection;

static BOT: Lazy<Arc<Bot>> = Lazy::new(|| Arc::new(madoguchi::engine::build(&Content::embedded()).expect("embedded content builds")));

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Nothing listens on port 1: a database that is down.
const DOWN_URL: &str = "postgres://postgres@127.0.0.1:1/madoguchi";

/// A clock that moves one minute forward every time it is read.
struct StepClock(AtomicI64);

impl Clock for StepClock {
    fn now(&self) -> DateTime<FixedOffset> {
        let n = self.0.fetch_add(60, Ordering::SeqCst);
        jst().with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap() + chrono::Duration::seconds(n)
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(StepClock(AtomicI64::new(0)))
}

fn unique(prefix: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}_{}_{}_{}", std::process::id(), nanos % 1_000_000_000_000, SEQ.fetch_add(1, Ordering::SeqCst))
}

/// A fresh PostgreSQL database, dropped when the guard goes.
struct PgDb {
    name: String,
}

impl PgDb {
    async fn create() -> Option<PgDb> {
        let mut admin = match tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(ADMIN_URL)).await {
            Ok(Ok(c)) => c,
            _ => {
                eprintln!("NOTICE: PostgreSQL at 127.0.0.1:5432 unreachable: skipping the PostgreSQL variant");
                return None;
            }
        };
        let name = unique("madoguchi_test");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("CREATE DATABASE");
        Some(PgDb { name })
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop is synchronous and may run inside a runtime: drop from a thread of its own
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(ADMIN_URL).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
                }
            })
        })
        .join();
    }
}

/// One backend for one test: its config (spool in the tempdir) and what to clean up.
struct TestDb {
    cfg: StoreConfig,
    dir: tempfile::TempDir,
    _pg: Option<PgDb>,
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::sqlite(dir.path().join("nested/dir/madoguchi.db"));
        cfg.spool_path = Some(dir.path().join("spool.jsonl"));
        TestDb { cfg, dir, _pg: None }
    }

    async fn postgres() -> Option<TestDb> {
        let pg = PgDb::create().await?;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::url(pg.url());
        cfg.spool_path = Some(dir.path().join("spool.jsonl"));
        Some(TestDb { cfg, dir, _pg: Some(pg) })
    }

    async fn service(&self) -> Service {
        Service::build(BOT.clone(), self.cfg.clone(), clock()).await.expect("service builds")
    }

    fn spool_path(&self) -> PathBuf {
        self.cfg.spool_path.clone().unwrap()
    }
}

fn msg(channel: ChannelKind, user: &str, text: &str) -> Inbound {
    Inbound { channel, user: user.into(), conversation: format!("{user}-conv"), text: text.into() }
}

fn term(user: &str, text: &str) -> Inbound {
    msg(ChannelKind::Terminal, user, text)
}

/// Generates `sqlite` and `postgres` variants of a test body taking `&TestDb`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = super::TestDb::sqlite();
                super::$name(&db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = super::TestDb::postgres().await else { return };
                super::$name(&db).await;
            }
        }
    )*};
}

on_both!(
    urgent_message_opens_an_open_urgent_escalation,
    claim_reply_resolve_round_trip,
    human_request_escalates_once,
    two_low_confidence_turns_offer_a_person_and_yes_escalates,
    phone_and_doctor_id_never_reach_the_database,
    concurrent_claims_have_exactly_one_winner,
    spooled_turns_are_written_when_the_database_is_back_once,
    push_channels_get_staff_replies_through_the_outbox,
    stats_count_intents_fallbacks_and_time_to_claim,
);

async fn urgent_message_opens_an_open_urgent_escalation(db: &TestDb) {
    let svc = db.service().await;
    let o = svc.handle(term("u1", "ランサムウェアに感染しました")).await;
    assert!(o.reply.urgent);
    assert!(o.reply.text.contains(HOTLINE));
    let id = o.escalation_id.expect("an urgent message opens an escalation");
    let open = svc.list_escalations(Some(EscalationStatus::Open)).await.unwrap();
    assert_eq!(open.len(), 1);
    let e = &open[0];
    assert_eq!((e.id, e.reason, e.status), (id, EscalationReason::Urgent, EscalationStatus::Open));
    assert_eq!((e.channel, e.user.as_str(), e.conversation.as_str()), (ChannelKind::Terminal, "u1", "u1-conv"));
    assert!(e.text.contains("ランサムウェア"));
    assert!(svc.list_escalations(Some(EscalationStatus::Claimed)).await.unwrap().is_empty());
    // a second urgent message in the same conversation joins it, no duplicate
    let o2 = svc.handle(term("u1", "電子カルテが全部暗号化されて動きません")).await;
    assert_eq!(o2.escalation_id, Some(id));
    assert_eq!(svc.list_escalations(None).await.unwrap().len(), 1);
}

async fn claim_reply_resolve_round_trip(db: &TestDb) {
    let svc = db.service().await;
    let id = svc.handle(term("u2", "ウイルスに感染して画面に身代金の要求が出ています")).await.escalation_id.unwrap();

    let e = svc.claim(id, "佐藤").await.unwrap();
    assert_eq!((e.status, e.assignee.as_deref()), (EscalationStatus::Claimed, Some("佐藤")));
    assert!(e.claimed_at.is_some());
    match svc.claim(id, "鈴木").await {
        Err(StaffError::AlreadyClaimed { id: i, by }) => {
            assert_eq!((i, by.as_str()), (id, "佐藤"));
            assert_eq!(StaffError::AlreadyClaimed { id: i, by }.to_string(), format!("#{id} は既に 佐藤 さんが対応中です"));
        }
        other => panic!("second claim: {other:?}"),
    }
    assert!(matches!(svc.staff_reply(id, "鈴木", "横から失礼します").await, Err(StaffError::AlreadyClaimed { .. })));

    // claimed: the bot does not answer by itself
    let o = svc.handle(term("u2", "支援金はいくらですか")).await;
    assert!(o.handled_by_staff);
    assert!(o.reply.text.contains("担当者が対応"));
    assert!(!o.reply.text.contains("10万円"));

    let item = svc.staff_reply(id, "佐藤", "佐藤です。ネットワークから切り離してください。").await.unwrap();
    assert_eq!((item.escalation_id, item.channel, item.user.as_str()), (id, ChannelKind::Terminal, "u2"));
    let o = svc.handle(term("u2", "切り離しました")).await;
    assert_eq!(o.staff_messages, vec!["佐藤です。ネットワークから切り離してください。".to_string()]);
    assert!(o.handled_by_staff);
    // delivered once only
    assert!(svc.handle(term("u2", "次はどうすれば")).await.staff_messages.is_empty());

    let (e, lines) = svc.escalation(id).await.unwrap().unwrap();
    assert_eq!(e.id, id);
    let roles: Vec<_> = lines.iter().map(|l| l.role.as_str()).collect();
    assert!(roles.starts_with(&["member", "bot"]), "{roles:?}");
    assert!(lines.iter().any(|l| l.role.as_str() == "staff" && l.author.as_deref() == Some("佐藤")));

    let e = svc.resolve(id, "佐藤", Some("窓口へ案内済み")).await.unwrap();
    assert_eq!((e.status, e.note.as_deref()), (EscalationStatus::Resolved, Some("窓口へ案内済み")));
    assert!(e.resolved_at.is_some());
    assert!(matches!(svc.resolve(id, "佐藤", None).await, Err(StaffError::AlreadyResolved { .. })));
    assert!(matches!(svc.claim(id, "鈴木").await, Err(StaffError::AlreadyResolved { .. })));
    assert!(matches!(svc.claim(9999, "鈴木").await, Err(StaffError::NotFound(9999))));
    assert!(matches!(svc.staff_reply(id, "佐藤", "  ").await, Err(StaffError::EmptyText)));

    // resolved: the bot answers again
    let o = svc.handle(term("u2", "支援金はいくらですか")).await;
    assert!(!o.handled_by_staff);
    assert!(!o.reply.text.contains("担当者が対応しています"));
}

async fn human_request_escalates_once(db: &TestDb) {
    let svc = db.service().await;
    let o = svc.handle(term("u3", "担当者と直接話したいです")).await;
    assert_eq!(o.reply.escalate, Some(EscalationReason::HumanRequest));
    let id = o.escalation_id.unwrap();
    let all = svc.list_escalations(None).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].id, all[0].reason), (id, EscalationReason::HumanRequest));
    // an urgent turn while it is still open raises the reason instead of opening another
    let o = svc.handle(term("u3", "いまランサムウェアに感染しています")).await;
    assert_eq!(o.escalation_id, Some(id));
    let all = svc.list_escalations(None).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].reason, EscalationReason::Urgent);
}

async fn two_low_confidence_turns_offer_a_person_and_yes_escalates(db: &TestDb) {
    let svc = db.service().await;
    let a = svc.handle(term("u4", "明日の天気を教えて")).await;
    assert!(a.escalation_id.is_none());
    let b = svc.handle(term("u4", "おすすめのラーメン屋は")).await;
    assert!(b.escalation_id.is_none());
    assert!(b.reply.text.contains("おつなぎしましょうか"), "{}", b.reply.text);
    // the offer lives in the stored conversation state, across service instances
    let svc2 = db.service().await;
    let c = svc2.handle(term("u4", "はい")).await;
    assert_eq!(c.reply.escalate, Some(EscalationReason::LowConfidence));
    let id = c.escalation_id.unwrap();
    let e = svc2.list_escalations(Some(EscalationStatus::Open)).await.unwrap();
    assert_eq!((e.len(), e[0].id, e[0].reason), (1, id, EscalationReason::LowConfidence));
    // staff see the unclear questions, not just the "はい"
    assert_eq!(e[0].text, "明日の天気を教えて / おすすめのラーメン屋は / はい");
}


async fn phone_and_doctor_id_never_reach_the_database(db: &TestDb) {
    let svc = db.service().await;
    let o = svc
        .handle(term("u5", "ランサムウェアに感染しました。医籍番号は５４３２１０、連絡先は０９０－８７６５－４３２１、山田先生の診療所です。mail: yamada@example.jp"))
        .await;
    let id = o.escalation_id.unwrap();
    svc.claim(id, "佐藤").await.unwrap();
    svc.staff_reply(id, "佐藤", "折り返しは 03-9876-5432 からお電話します").await.unwrap();
    svc.resolve(id, "佐藤", Some("会員番号 1122334455 を確認")).await.unwrap();
    let all = svc.store().all_text().await.unwrap().join("\n");
    let d = madoguchi::redact::digits_of(&all);
    for secret in ["543210", "09087654321", "0398765432", "1122334455"] {
        assert!(!d.contains(secret), "{secret} left in the database:\n{all}");
    }
    assert!(!all.contains("山田") && !all.contains("yamada@"), "{all}");
    assert!(all.contains("[医籍番号]") && all.contains("[電話番号]") && all.contains("[氏名]先生"));
    // our own hotline number is not PII and stays
    assert!(all.contains(HOTLINE));
}

async fn concurrent_claims_have_exactly_one_winner(db: &TestDb) {
    let svc = db.service().await;
    let id = svc.handle(term("u6", "サーバーがランサムウェアで暗号化されました")).await.escalation_id.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let svc = svc.clone();
            tokio::spawn(async move { (format!("staff{i}"), svc.claim(id, &format!("staff{i}")).await) })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (name, Ok(e)) => winners.push((name, e)),
            (_, Err(StaffError::AlreadyClaimed { by, .. })) => losers.push(by),
            (_, Err(e)) => panic!("unexpected claim error: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claimer wins");
    assert_eq!(losers.len(), 7);
    let (name, e) = &winners[0];
    assert_eq!(e.assignee.as_deref(), Some(name.as_str()));
    assert!(losers.iter().all(|by| by == name), "losers are told who has it: {losers:?}");
}

async fn spooled_turns_are_written_when_the_database_is_back_once(db: &TestDb) {
    // the database is down: the member still gets the hotline, the turn is spooled
    let mut down = StoreConfig::url(DOWN_URL);
    down.spool_path = Some(db.spool_path());
    down.connect_timeout = Duration::from_millis(500);
    let svc_down = Service::build(BOT.clone(), down, clock()).await.expect("builds with the database down");
    let o = svc_down.handle(term("u7", "ランサムウェアに感染しました")).await;
    assert!(o.reply.urgent && o.reply.text.contains(HOTLINE));
    assert_eq!(o.escalation_id, None);
    let o = svc_down.handle(term("u7", "担当者と話したい")).await;
    assert!(o.reply.text.contains("担当者"));
    assert_eq!(svc_down.spool().pending(), 2);
    let spooled = std::fs::read_to_string(db.spool_path()).unwrap();

    // back: building the service replays the spool
    let svc = db.service().await;
    assert_eq!(svc.spool().pending(), 0);
    let all = svc.list_escalations(None).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].reason, all[0].status), (EscalationReason::Urgent, EscalationStatus::Open));
    let stats = svc.stats().await.unwrap();
    assert_eq!(stats.messages, 2);

    // the same records again (a crash between writing and emptying the spool): nothing doubles
    std::fs::write(db.spool_path(), &spooled).unwrap();
    assert_eq!(svc.flush_spool().await.unwrap(), 2);
    assert_eq!(svc.list_escalations(None).await.unwrap().len(), 1);
    assert_eq!(svc.stats().await.unwrap().messages, 2);

    // a torn last line (crash mid-append) is kept aside, the rest is written
    std::fs::write(db.spool_path(), format!("{spooled}{{\"key\":\"torn")).unwrap();
    svc.flush_spool().await.unwrap();
    assert_eq!(svc.spool().pending(), 0);
    assert!(db.dir.path().join("spool.jsonl.bad").exists());
}

async fn push_channels_get_staff_replies_through_the_outbox(db: &TestDb) {
    let svc = db.service().await;
    let o = svc.handle(msg(ChannelKind::Slack, "U123", "担当者と直接話したいです")).await;
    let id = o.escalation_id.unwrap();
    let unposted = svc.unposted_escalations().await.unwrap();
    assert_eq!(unposted.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id]);
    svc.set_staff_ref(id, "1700000000.000100").await.unwrap();
    assert!(svc.unposted_escalations().await.unwrap().is_empty());
    assert_eq!(svc.escalation_by_staff_ref("1700000000.000100").await.unwrap().map(|e| e.id), Some(id));
    assert!(svc.escalation_by_staff_ref("nope").await.unwrap().is_none());

    let item = svc.staff_reply(id, "佐藤", "担当の佐藤です").await.unwrap();
    assert_eq!(item.channel, ChannelKind::Slack);
    assert!(svc.undelivered(ChannelKind::Discord).await.unwrap().is_empty());
    let pending = svc.undelivered(ChannelKind::Slack).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].id, pending[0].user.as_str(), pending[0].conversation.as_str()), (item.id, "U123", "U123-conv"));
    // a push channel's member turn does not swallow the reply
    assert!(svc.handle(msg(ChannelKind::Slack, "U123", "よろしくお願いします")).await.staff_messages.is_empty());
    svc.mark_delivered(item.id).await.unwrap();
    assert!(svc.undelivered(ChannelKind::Slack).await.unwrap().is_empty());
}

async fn stats_count_intents_fallbacks_and_time_to_claim(db: &TestDb) {
    let svc = db.service().await;
    svc.handle(term("u8", "ランサムウェアに感染しました")).await;
    svc.handle(term("u9", "明日の天気を教えて")).await;
    svc.handle(term("u10", "担当者と直接話したいです")).await;
    let open = svc.list_escalations(Some(EscalationStatus::Open)).await.unwrap();
    assert_eq!(open.len(), 2);
    for e in &open {
        svc.claim(e.id, "佐藤").await.unwrap();
    }
    let s = svc.stats().await.unwrap();
    assert_eq!(s.messages, 3);
    assert_eq!(s.urgent, 1);
    assert_eq!(s.fallbacks, 1);
    assert_eq!(s.escalations, 2);
    let get = |v: &[(String, i64)], k: &str| v.iter().find(|(x, _)| x == k).map(|(_, n)| *n);
    assert_eq!(get(&s.per_intent, "incident"), Some(1));
    assert_eq!(get(&s.per_intent, "out_of_scope"), Some(1));
    assert_eq!(get(&s.escalations_by_status, "claimed"), Some(2));
    // the step clock moves a minute per reading: claims come minutes after opening
    let m = s.median_secs_to_claim.expect("median over claimed");
    assert!(m >= 60.0 && m.fract() == 0.0, "{m}");
}

mod redaction {
    use madoguchi::redact::redact;
    use proptest::prelude::*;

    use madoguchi::redact::digits_of;

    fn sep() -> impl Strategy<Value = String> {
        prop_oneof![Just(""), Just("-"), Just("－"), Just("ー"), Just("‐"), Just("−"), Just(" "), Just("　"), Just("(")].prop_map(String::from)
    }

    fn width(d: String, full: bool) -> String {
        if full {
            d.chars().map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap()).collect()
        } else {
            d
        }
    }

    /// A Japanese phone number of 10 or 11 digits, written with random separators and widths.
    fn phone() -> impl Strategy<Value = (String, String)> {
        ("0[1-9][0-9]{8,9}", sep(), sep(), any::<bool>())
            .prop_filter("the hotline is not PII", |(d, ..)| d != "0120179066")
            .prop_map(|(d, s1, s2, full)| {
                let (a, rest) = d.split_at(3);
                let (b, c) = rest.split_at(4);
                let shown = format!("{}{s1}{}{s2}{}", width(a.into(), full), width(b.into(), full), width(c.into(), full));
                (d, shown)
            })
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = redact(&s);
        }

        #[test]
        fn never_panics_on_japanese_and_digits(s in "[0-9０-９ー－@＠.先生様医籍番号会員ぁ-んァ-ン一-龥 ]{0,60}") {
            let _ = redact(&s);
        }

        #[test]
        fn removes_every_phone_number((d, shown) in phone(), pre in "[^0-9０-９]{0,12}", post in "[^0-9０-９]{0,12}") {
            let text = format!("{pre}{shown}{post}");
            let out = redact(&text);
            prop_assert!(!digits_of(&out).contains(&d), "{text:?} → {out:?}");
        }

        #[test]
        fn removes_phone_numbers_next_to_anything((d, shown) in phone(), pre in any::<String>(), post in any::<String>()) {
            let text = format!("{pre} {shown} {post}");
            let out = redact(&text);
            let kept = madoguchi::redact::digits_of(&out);
            // digits around may be anything, but the number itself must not survive whole
            prop_assert!(!kept.contains(&d) || madoguchi::redact::digits_of(&format!("{pre} {post}")).contains(&d), "{text:?} → {out:?}");
        }
    }
}

mod cli {
    use std::process::Command;

    use super::{PgDb, TestDb};

    fn run(db: &TestDb, args: &[&str]) -> (bool, String, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_madoguchi"));
        c.args(args).env_remove("MADOGUCHI_DB").env_remove("DATABASE_URL").env_remove("MADOGUCHI_CONTENT");
        c.env("MADOGUCHI_SPOOL", db.spool_path());
        match (&db.cfg.sqlite_path, &db.cfg.database_url) {
            (Some(p), _) => c.env("MADOGUCHI_DB", p),
            (None, Some(u)) => c.env("DATABASE_URL", u),
            _ => unreachable!(),
        };
        let out = c.output().expect("runs madoguchi");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn round_trip(db: &TestDb) {
        let (ok, out, err) = run(db, &["chat", "--once", "ランサムウェアに感染しました", "--user", "cli"]);
        assert!(ok, "{err}");
        assert!(out.contains(madoguchi::core::hours::HOTLINE));
        let (ok, out, err) = run(db, &["staff", "list", "--json"]);
        assert!(ok, "{err}");
        let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), 1, "{out}");
        assert_eq!(rows[0]["reason"], "urgent");
        assert_eq!(rows[0]["status"], "open");
        assert!(rows[0]["created_at"].is_string() && rows[0]["text"].as_str().unwrap().contains("ランサムウェア"));
        let id = rows[0]["id"].to_string();
        assert!(run(db, &["staff", "claim", &id, "--as", "佐藤"]).0);
        let (ok, _, err) = run(db, &["staff", "claim", &id, "--as", "鈴木"]);
        assert!(!ok && err.contains("既に 佐藤 さんが対応中"), "{err}");
        assert!(run(db, &["staff", "reply", &id, "佐藤です。お電話ください"]).0);
        let (ok, out, _) = run(db, &["chat", "--once", "わかりました", "--user", "cli"]);
        assert!(ok && out.contains("佐藤です。お電話ください") && out.contains("担当者が対応"), "{out}");
        let (ok, out, _) = run(db, &["staff", "show", &id]);
        assert!(ok && out.contains("担当(佐藤)"), "{out}");
        assert!(run(db, &["staff", "resolve", &id, "--note", "対応済み", "--as", "佐藤"]).0);
        let (ok, out, _) = run(db, &["staff", "list", "--status", "resolved", "--json"]);
        assert!(ok && out.lines().count() == 1 && out.contains("\"resolved\""), "{out}");
        let (ok, out, _) = run(db, &["stats"]);
        assert!(ok && out.contains("incident"), "{out}");
    }

    #[test]
    fn chat_once_then_staff_workflow_sqlite() {
        round_trip(&TestDb::sqlite());
    }

    #[test]
    fn chat_once_then_staff_workflow_postgres() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let Some(pg) = rt.block_on(PgDb::create()) else { return };
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = madoguchi::service::StoreConfig::url(pg.url());
        cfg.spool_path = Some(dir.path().join("spool.jsonl"));
        round_trip(&TestDb { cfg, dir, _pg: Some(pg) });
    }
}
