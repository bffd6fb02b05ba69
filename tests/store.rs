//! Store, service and staff workflow tests, each run on SQLite (a tempdir) and on
//! PostgreSQL (a fresh database on 127.0.0.1:5432 per test, dropped afterwards; the
//! PostgreSQL variant is skipped with a notice when no server answers). Also the
//! redaction property tests and the CLI round trip.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone};
use madoguchi::channels::{ChannelKind, Inbound};
use madoguchi::content::Content;
use madoguchi::core::dialogue::Bot;
use madoguchi::core::handoff::{notice, Handoff};
use madoguchi::core::hours::{jst, Clock, HOTLINE};
use madoguchi::core::turn::EscalationReason;
use madoguchi::service::{EscalationStatus, Service, StaffError, StoreConfig};
use madoguchi::store::TurnRecord;
use once_cell::sync::Lazy;
use sqlx::Connection;

#[path = "support/pg.rs"]
mod pg;
use pg::{PgDb, ADMIN_URL};

static BOT: Lazy<Arc<Bot>> = Lazy::new(|| {
    Arc::new(madoguchi::engine::build(&Content::embedded()).expect("embedded content builds"))
});

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
        TestDb {
            cfg,
            dir,
            _pg: None,
        }
    }

    async fn postgres() -> Option<TestDb> {
        let pg = PgDb::create().await?;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::url(pg.url());
        cfg.spool_path = Some(dir.path().join("spool.jsonl"));
        Some(TestDb {
            cfg,
            dir,
            _pg: Some(pg),
        })
    }

    async fn service(&self) -> Service {
        Service::build(BOT.clone(), self.cfg.clone(), clock())
            .await
            .expect("service builds")
    }

    fn spool_path(&self) -> PathBuf {
        self.cfg.spool_path.clone().unwrap()
    }
}

fn msg(channel: ChannelKind, user: &str, text: &str) -> Inbound {
    Inbound {
        channel,
        user: user.into(),
        conversation: format!("{user}-conv"),
        text: text.into(),
    }
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
    a_poison_record_is_kept_aside_and_alerted_and_the_rest_written,
    a_turn_neither_database_nor_spool_took_is_not_announced,
    concurrent_turns_are_committed_together_each_with_its_own_number,
);

async fn urgent_message_opens_an_open_urgent_escalation(db: &TestDb) {
    let svc = db.service().await;
    let o = svc.handle(term("u1", "ランサムウェアに感染しました")).await;
    assert!(o.reply.urgent);
    assert!(o.reply.text.contains(HOTLINE));
    let id = o
        .escalation_id
        .expect("an urgent message opens an escalation");
    // the member is told the number the database gave, right after the hotline paragraph
    let n = notice(Handoff::Kept { id: Some(id) });
    let (first, rest) = o.reply.text.split_once("\n\n").unwrap();
    assert!(
        first.contains(HOTLINE) && rest.starts_with(&n),
        "{}",
        o.reply.text
    );
    let open = svc
        .list_escalations(Some(EscalationStatus::Open))
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    let e = &open[0];
    assert_eq!(
        (e.id, e.reason, e.status),
        (id, EscalationReason::Urgent, EscalationStatus::Open)
    );
    assert_eq!(
        (e.channel, e.user.as_str(), e.conversation.as_str()),
        (ChannelKind::Terminal, "u1", "u1-conv")
    );
    assert!(e.text.contains("ランサムウェア"));
    assert!(svc
        .list_escalations(Some(EscalationStatus::Claimed))
        .await
        .unwrap()
        .is_empty());
    // a second urgent message in the same conversation joins it, no duplicate
    let o2 = svc
        .handle(term("u1", "電子カルテが全部暗号化されて動きません"))
        .await;
    assert_eq!(o2.escalation_id, Some(id));
    assert_eq!(svc.list_escalations(None).await.unwrap().len(), 1);
}

async fn claim_reply_resolve_round_trip(db: &TestDb) {
    let svc = db.service().await;
    let id = svc
        .handle(term(
            "u2",
            "ウイルスに感染して画面に身代金の要求が出ています",
        ))
        .await
        .escalation_id
        .unwrap();

    let e = svc.claim(id, "佐藤").await.unwrap();
    assert_eq!(
        (e.status, e.assignee.as_deref()),
        (EscalationStatus::Claimed, Some("佐藤"))
    );
    assert!(e.claimed_at.is_some());
    match svc.claim(id, "鈴木").await {
        Err(StaffError::AlreadyClaimed { id: i, by }) => {
            assert_eq!((i, by.as_str()), (id, "佐藤"));
            assert_eq!(
                StaffError::AlreadyClaimed { id: i, by }.to_string(),
                format!("#{id} は既に 佐藤 さんが対応中です")
            );
        }
        other => panic!("second claim: {other:?}"),
    }
    assert!(matches!(
        svc.staff_reply(id, "鈴木", "横から失礼します").await,
        Err(StaffError::AlreadyClaimed { .. })
    ));

    // claimed: the bot does not answer by itself
    let o = svc.handle(term("u2", "支援金はいくらですか")).await;
    assert!(o.handled_by_staff);
    assert!(o.reply.text.contains("担当者が対応"));
    assert!(!o.reply.text.contains("10万円"));

    let item = svc
        .staff_reply(id, "佐藤", "佐藤です。ネットワークから切り離してください。")
        .await
        .unwrap();
    assert_eq!(
        (item.escalation_id, item.channel, item.user.as_str()),
        (id, ChannelKind::Terminal, "u2")
    );
    let o = svc.handle(term("u2", "切り離しました")).await;
    assert_eq!(
        o.staff_messages,
        vec!["佐藤です。ネットワークから切り離してください。".to_string()]
    );
    assert!(o.handled_by_staff);
    // delivered once only
    assert!(svc
        .handle(term("u2", "次はどうすれば"))
        .await
        .staff_messages
        .is_empty());

    let (e, lines) = svc.escalation(id).await.unwrap().unwrap();
    assert_eq!(e.id, id);
    let roles: Vec<_> = lines.iter().map(|l| l.role.as_str()).collect();
    assert!(roles.starts_with(&["member", "bot"]), "{roles:?}");
    assert!(lines
        .iter()
        .any(|l| l.role.as_str() == "staff" && l.author.as_deref() == Some("佐藤")));

    let e = svc
        .resolve(id, "佐藤", Some("窓口へ案内済み"))
        .await
        .unwrap();
    assert_eq!(
        (e.status, e.note.as_deref()),
        (EscalationStatus::Resolved, Some("窓口へ案内済み"))
    );
    assert!(e.resolved_at.is_some());
    assert!(matches!(
        svc.resolve(id, "佐藤", None).await,
        Err(StaffError::AlreadyResolved { .. })
    ));
    assert!(matches!(
        svc.claim(id, "鈴木").await,
        Err(StaffError::AlreadyResolved { .. })
    ));
    assert!(matches!(
        svc.claim(9999, "鈴木").await,
        Err(StaffError::NotFound(9999))
    ));
    assert!(matches!(
        svc.staff_reply(id, "佐藤", "  ").await,
        Err(StaffError::EmptyText)
    ));

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
    assert_eq!(
        (all[0].id, all[0].reason),
        (id, EscalationReason::HumanRequest)
    );
    // an urgent turn while it is still open raises the reason instead of opening another
    let o = svc
        .handle(term("u3", "いまランサムウェアに感染しています"))
        .await;
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
    assert!(
        b.reply.text.contains("おつなぎしましょうか"),
        "{}",
        b.reply.text
    );
    // the offer lives in the stored conversation state, across service instances
    let svc2 = db.service().await;
    let c = svc2.handle(term("u4", "はい")).await;
    assert_eq!(c.reply.escalate, Some(EscalationReason::LowConfidence));
    let id = c.escalation_id.unwrap();
    let e = svc2
        .list_escalations(Some(EscalationStatus::Open))
        .await
        .unwrap();
    assert_eq!(
        (e.len(), e[0].id, e[0].reason),
        (1, id, EscalationReason::LowConfidence)
    );
    // staff see the unclear questions, not just the "はい"
    assert_eq!(
        e[0].text,
        "明日の天気を教えて / おすすめのラーメン屋は / はい"
    );
}

async fn phone_and_doctor_id_never_reach_the_database(db: &TestDb) {
    let svc = db.service().await;
    let o = svc
        .handle(term("u5", "ランサムウェアに感染しました。医籍番号は５４３２１０、連絡先は０９０－８７６５－４３２１、山田先生の診療所です。mail: yamada@example.jp"))
        .await;
    let id = o.escalation_id.unwrap();
    svc.claim(id, "佐藤").await.unwrap();
    svc.staff_reply(id, "佐藤", "折り返しは 03-9876-5432 からお電話します")
        .await
        .unwrap();
    svc.resolve(id, "佐藤", Some("会員番号 1122334455 を確認"))
        .await
        .unwrap();
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
    let id = svc
        .handle(term("u6", "サーバーがランサムウェアで暗号化されました"))
        .await
        .escalation_id
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let svc = svc.clone();
            tokio::spawn(async move {
                (
                    format!("staff{i}"),
                    svc.claim(id, &format!("staff{i}")).await,
                )
            })
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
    assert!(
        losers.iter().all(|by| by == name),
        "losers are told who has it: {losers:?}"
    );
}

async fn spooled_turns_are_written_when_the_database_is_back_once(db: &TestDb) {
    // the database is down: the member still gets the hotline, the turn is spooled
    let mut down = StoreConfig::url(DOWN_URL);
    down.spool_path = Some(db.spool_path());
    down.connect_timeout = Duration::from_millis(500);
    let svc_down = Service::build(BOT.clone(), down, clock())
        .await
        .expect("builds with the database down");
    let o = svc_down
        .handle(term("u7", "ランサムウェアに感染しました"))
        .await;
    assert!(o.reply.urgent && o.reply.text.contains(HOTLINE));
    assert_eq!(o.escalation_id, None);
    // kept in the spool (fsynced): handed over, without a number yet
    assert!(
        o.reply.text.contains(&notice(Handoff::Kept { id: None })),
        "{}",
        o.reply.text
    );
    let o = svc_down.handle(term("u7", "担当者と話したい")).await;
    assert!(o.reply.text.contains("担当者"));
    assert_eq!(svc_down.spool().pending(), 2);
    let spooled = std::fs::read_to_string(db.spool_path()).unwrap();

    // back: building the service replays the spool
    let svc = db.service().await;
    assert_eq!(svc.spool().pending(), 0);
    let all = svc.list_escalations(None).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        (all[0].reason, all[0].status),
        (EscalationReason::Urgent, EscalationStatus::Open)
    );
    let stats = svc.stats().await.unwrap();
    assert_eq!(stats.messages, 2);

    // the same records again (a crash between writing and emptying the spool): nothing doubles
    std::fs::write(db.spool_path(), &spooled).unwrap();
    svc.flush_spool().await.unwrap();
    wait_until("the spool is written again", || async {
        svc.spool().pending() == 0
    })
    .await;
    assert_eq!(svc.list_escalations(None).await.unwrap().len(), 1);
    assert_eq!(svc.stats().await.unwrap().messages, 2);

    // a torn last line (crash mid-append) is kept aside, the rest is written
    std::fs::write(db.spool_path(), format!("{spooled}{{\"key\":\"torn")).unwrap();
    svc.flush_spool().await.unwrap();
    wait_until("the spool is written again", || async {
        svc.spool().pending() == 0
    })
    .await;
    assert!(db.dir.path().join("spool.jsonl.bad").exists());
}

async fn push_channels_get_staff_replies_through_the_outbox(db: &TestDb) {
    let svc = db.service().await;
    let o = svc
        .handle(msg(ChannelKind::Slack, "U123", "担当者と直接話したいです"))
        .await;
    let id = o.escalation_id.unwrap();
    let unposted = svc.unposted_escalations().await.unwrap();
    assert_eq!(unposted.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id]);
    svc.set_staff_ref(id, "1700000000.000100").await.unwrap();
    assert!(svc.unposted_escalations().await.unwrap().is_empty());
    assert_eq!(
        svc.escalation_by_staff_ref("1700000000.000100")
            .await
            .unwrap()
            .map(|e| e.id),
        Some(id)
    );
    assert!(svc.escalation_by_staff_ref("nope").await.unwrap().is_none());

    let item = svc.staff_reply(id, "佐藤", "担当の佐藤です").await.unwrap();
    assert_eq!(item.channel, ChannelKind::Slack);
    assert!(svc
        .undelivered(ChannelKind::Discord)
        .await
        .unwrap()
        .is_empty());
    let pending = svc.undelivered(ChannelKind::Slack).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (
            pending[0].id,
            pending[0].user.as_str(),
            pending[0].conversation.as_str()
        ),
        (item.id, "U123", "U123-conv")
    );
    // a push channel's member turn does not swallow the reply
    assert!(svc
        .handle(msg(ChannelKind::Slack, "U123", "よろしくお願いします"))
        .await
        .staff_messages
        .is_empty());
    svc.mark_delivered(item.id).await.unwrap();
    assert!(svc
        .undelivered(ChannelKind::Slack)
        .await
        .unwrap()
        .is_empty());
}

async fn stats_count_intents_fallbacks_and_time_to_claim(db: &TestDb) {
    let svc = db.service().await;
    svc.handle(term("u8", "ランサムウェアに感染しました")).await;
    svc.handle(term("u9", "明日の天気を教えて")).await;
    svc.handle(term("u10", "担当者と直接話したいです")).await;
    let open = svc
        .list_escalations(Some(EscalationStatus::Open))
        .await
        .unwrap();
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

/// Polls `cond` (bounded: about 30 s) until it holds; panics naming `what` otherwise.
async fn wait_until<F, Fut>(what: &str, cond: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

/// A turn as the service would write it (for spool tests).
fn record(key: &str, user: &str, text: &str) -> TurnRecord {
    TurnRecord {
        key: key.into(),
        at: jst().with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap(),
        channel: ChannelKind::Http,
        user: user.into(),
        conversation: format!("{user}-conv"),
        member_text: text.into(),
        reply_text: "【至急】…".into(),
        intent: madoguchi::core::label::Label::Incident,
        confidence: 0.9,
        urgent: true,
        reply_kind: madoguchi::core::turn::ReplyKind::Answer,
        escalate: Some(EscalationReason::Urgent),
        state: None,
        handled_by_staff: false,
    }
}

/// Runs SQL on the test database outside the service (faults, triggers).
async fn admin_sql(db: &TestDb, sqls: &[&str]) {
    match (&db.cfg.sqlite_path, &db.cfg.database_url) {
        (Some(p), _) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", p.display()))
                .await
                .unwrap();
            for q in sqls {
                sqlx::query(q).execute(&mut c).await.unwrap();
            }
        }
        (None, Some(u)) => {
            let mut c = sqlx::PgConnection::connect(u).await.unwrap();
            for q in sqls {
                sqlx::query(q).execute(&mut c).await.unwrap();
            }
        }
        _ => unreachable!(),
    }
}

async fn a_poison_record_is_kept_aside_and_alerted_and_the_rest_written(db: &TestDb) {
    let svc = db.service().await;
    // the database refuses one record as a bug (a trigger: a real constraint error on each backend)
    if db.cfg.sqlite_path.is_some() {
        admin_sql(db, &["CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.text = 'POISON' BEGIN SELECT RAISE(ABORT, 'poison record'); END"]).await;
    } else {
        admin_sql(db, &[
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.text = 'POISON' THEN RAISE EXCEPTION 'poison record'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison()",
        ])
        .await;
    }
    for r in [
        record("k-good-1", "p1", "ランサムウェア"),
        record("k-poison", "p2", "POISON"),
        record("k-good-2", "p3", "ウイルス"),
    ] {
        svc.spool().append(&r).await.unwrap();
    }
    wait_until("the poison record is kept aside", || async {
        let _ = svc.flush_spool().await;
        svc.spool().pending() == 0
    })
    .await;
    // the good ones are written, the poison one is kept (not dropped) and alerted
    let users: Vec<String> = svc
        .list_escalations(None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.user)
        .collect();
    assert_eq!(users, vec!["p1".to_string(), "p3".to_string()]);
    let bad = std::fs::read_to_string(svc.spool().bad_path()).unwrap();
    assert!(
        bad.contains("k-poison") && bad.lines().count() == 1,
        "{bad}"
    );
    assert_eq!(svc.spool().kept_aside(), 1);
    assert!(svc.spool().poisoned_total() >= 1);
    let h = svc.health();
    assert_eq!((h.status, h.spool_kept_aside), ("degraded", 1));
    assert!(
        madoguchi::service::render_health_metrics(&svc).contains("madoguchi_spool_kept_aside 1")
    );
}

async fn a_turn_neither_database_nor_spool_took_is_not_announced(db: &TestDb) {
    // the database is unreachable and the spool is on a full disk (/dev/full: ENOSPC)
    let _ = db;
    let mut cfg = StoreConfig::url(DOWN_URL);
    cfg.spool_path = Some(PathBuf::from("/dev/full"));
    cfg.connect_timeout = Duration::from_millis(300);
    let svc = Service::build(BOT.clone(), cfg, clock())
        .await
        .expect("builds with the database down");
    let o = svc
        .handle(term("full", "ランサムウェアに感染しました"))
        .await;
    assert!(
        o.reply.text.starts_with("【至急】") && o.reply.text.contains(HOTLINE),
        "hotline first: {}",
        o.reply.text
    );
    assert_eq!(o.escalation_id, None);
    assert!(
        o.reply.text.contains(&notice(Handoff::NotKept)),
        "{}",
        o.reply.text
    );
    assert!(
        !o.reply.text.contains(&notice(Handoff::Kept { id: None })),
        "{}",
        o.reply.text
    );
    assert!(!svc.health().is_healthy());
}

async fn concurrent_turns_are_committed_together_each_with_its_own_number(db: &TestDb) {
    let svc = db.service().await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let svc = svc.clone();
            tokio::spawn(async move {
                let user = format!("g{i}");
                let text = if i % 2 == 0 {
                    "ランサムウェアに感染しました"
                } else {
                    "窓口の電話番号は？"
                };
                (user.clone(), svc.handle(term(&user, text)).await)
            })
        })
        .collect();
    let mut told_list = Vec::new();
    for t in tasks {
        let (user, o) = t.await.unwrap();
        if o.reply.escalate.is_some() {
            told_list.push((user, told(&o).expect("kept")));
        } else {
            assert_eq!(o.escalation_id, None);
        }
    }
    assert_eq!(told_list.len(), 20);
    wait_until("spool empty", || async { svc.spool().pending() == 0 }).await;
    assert_told_escalations_exist(&svc, &told_list).await;
    assert_eq!(svc.stats().await.unwrap().messages, 40);
}

/// Every escalation a member was told about (by number, or as spooled) is in the
/// database exactly once.
async fn assert_told_escalations_exist(svc: &Service, told: &[(String, Option<i64>)]) {
    let all = svc.list_escalations(None).await.unwrap();
    for (user, id) in told {
        let mine: Vec<_> = all.iter().filter(|e| &e.user == user).collect();
        assert_eq!(mine.len(), 1, "{user}: {all:#?}");
        if let Some(id) = id {
            assert_eq!(mine[0].id, *id, "{user}");
        }
    }
}

/// What the member was told about an urgent turn: Some(Some(id)) number, Some(None)
/// handed over without a number, None not kept.
fn told(o: &madoguchi::service::Outcome) -> Option<Option<i64>> {
    let t = &o.reply.text;
    if let Some(id) = o.escalation_id {
        assert!(t.contains(&notice(Handoff::Kept { id: Some(id) })), "{t}");
        Some(Some(id))
    } else if t.contains(&notice(Handoff::Kept { id: None })) {
        Some(None)
    } else {
        assert!(t.contains(&notice(Handoff::NotKept)), "{t}");
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_busy_spools_the_turn_and_writes_it_once_when_the_lock_goes() {
    let db = TestDb::sqlite();
    let svc = db.service().await;
    let path = db.cfg.sqlite_path.clone().unwrap();
    // another connection holds the write lock
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("INSERT INTO audit_log (actor, action, at) VALUES ('test', 'lock', 'now')")
        .execute(&mut other)
        .await
        .unwrap();
    let o = svc
        .handle(term("busy", "ランサムウェアに感染しました"))
        .await;
    assert!(o.reply.text.starts_with("【至急】") && o.reply.text.contains(HOTLINE));
    assert_eq!(
        told(&o),
        Some(None),
        "spooled while locked: {}",
        o.reply.text
    );
    // the turn may be spooled by the writer and by the service when the write budget
    // runs out under load: copies share the turn's key and are written once (checked below)
    assert!(svc.spool().pending() >= 1);
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    // the recovery task writes it without another member message
    wait_until("the spooled turn is written", || async {
        svc.spool().pending() == 0 && !svc.list_escalations(None).await.unwrap().is_empty()
    })
    .await;
    assert_told_escalations_exist(&svc, &[("busy".into(), None)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_deleted_while_serving_is_unhealthy_then_restored_with_nothing_lost() {
    let db = TestDb::sqlite();
    let svc = db.service().await;
    let path = db.cfg.sqlite_path.clone().unwrap();
    let a = svc
        .handle(term("before", "ランサムウェアに感染しました"))
        .await;
    let id_a = a.escalation_id.expect("stored");
    for sfx in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{sfx}", path.display()));
    }
    let h = svc.health();
    assert!(!h.is_healthy(), "{h:?}");
    eprintln!("deleted: {h:?}");
    assert_eq!(
        h.database.class,
        Some(madoguchi::store::ErrorClass::Corrupt)
    );
    // no number is handed out for a write to a deleted file
    let b = svc
        .handle(term(
            "after",
            "ウイルスに感染して画面に身代金の要求が出ています",
        ))
        .await;
    assert!(b.reply.text.contains(HOTLINE));
    let tb = told(&b);
    assert!(matches!(tb, Some(None) | None), "{}", b.reply.text);
    // the recovery task copies the file back from the connection that still has it
    wait_until("healthy again with everything written", || async {
        svc.health().is_healthy() && svc.spool().pending() == 0
    })
    .await;
    assert!(path.exists());
    let mut told_list = vec![("before".to_string(), Some(id_a))];
    if tb.is_some() {
        told_list.push(("after".into(), None));
    }
    assert_told_escalations_exist(&svc, &told_list).await;
    // and after a restart
    drop(svc);
    let svc = db.service().await;
    assert_told_escalations_exist(&svc, &told_list).await;
}

/// A tmpfs of 1 MiB, unmounted when dropped (needs root; fails under CI without it).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
                panic!("CI=true but a small tmpfs could not be mounted (run as root)");
            }
            eprintln!("NOTICE: cannot mount a tmpfs (not root?): skipping the disk-full test (this fails under CI=true)");
            return None;
        }
        Some(SmallDisk { dir })
    }

    /// Fills the disk with a junk file.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.dir.path().join("junk")).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.dir.path().join("junk")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_never_announces_an_escalation_it_did_not_keep_and_recovers() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let mut cfg = StoreConfig::sqlite(disk.dir.path().join("madoguchi.db"));
    cfg.spool_path = Some(disk.dir.path().join("spool.jsonl"));
    let svc = Service::build(BOT.clone(), cfg, clock()).await.unwrap();
    let mut told_list = Vec::new();
    let o = svc
        .handle(term("full-0", "ランサムウェアに感染しました"))
        .await;
    told_list.push((
        "full-0".to_string(),
        Some(o.escalation_id.expect("room on the disk")),
    ));
    disk.fill();
    for i in 1..=8 {
        let user = format!("full-{i}");
        let o = svc
            .handle(term(
                &user,
                "ランサムウェアに感染しました。電子カルテが暗号化されています",
            ))
            .await;
        assert!(
            o.reply.text.starts_with("【至急】") && o.reply.text.contains(HOTLINE),
            "hotline first: {}",
            o.reply.text
        );
        if let Some(t) = told(&o) {
            told_list.push((user, t));
        }
    }
    eprintln!(
        "told while the disk was full: {told_list:?}; health {:?}",
        svc.health()
    );
    disk.free();
    wait_until("healthy again with the spool written", || async {
        svc.health().is_healthy() && svc.spool().pending() == 0
    })
    .await;
    // not stuck on "database is locked": a new turn gets its number
    let o = svc
        .handle(term("full-after", "ランサムウェアに感染しました"))
        .await;
    told_list.push((
        "full-after".to_string(),
        Some(o.escalation_id.expect("stored after space is freed")),
    ));
    assert_told_escalations_exist(&svc, &told_list).await;
}

/// Ends every session on database `name` but the caller's, as a server restart would.
async fn terminate_backends(admin: &mut sqlx::PgConnection, name: &str) {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .execute(admin)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_only_spools_turns_and_writes_them_when_writable_again() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let svc = db.service().await;
    let name = db._pg.as_ref().unwrap().name().to_string();
    let a = svc
        .handle(term("ro-0", "ランサムウェアに感染しました"))
        .await;
    let mut told_list = vec![("ro-0".to_string(), Some(a.escalation_id.unwrap()))];
    let mut admin = sqlx::PgConnection::connect(ADMIN_URL).await.unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE {name} SET default_transaction_read_only = on"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    terminate_backends(&mut admin, &name).await;
    for i in 1..=3 {
        let user = format!("ro-{i}");
        let o = svc
            .handle(term(&user, "ランサムウェアに感染しました"))
            .await;
        assert!(o.reply.text.contains(HOTLINE));
        let t = told(&o);
        assert!(
            matches!(t, Some(None)),
            "read-only: spooled, no number: {}",
            o.reply.text
        );
        told_list.push((user, None));
    }
    assert!(!svc.health().is_healthy());
    sqlx::query(&format!(
        "ALTER DATABASE {name} SET default_transaction_read_only = off"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    terminate_backends(&mut admin, &name).await;
    wait_until("written once writable", || async {
        svc.health().is_healthy() && svc.spool().pending() == 0
    })
    .await;
    assert_told_escalations_exist(&svc, &told_list).await;
}

/// The group workers keep PostgreSQL connections between batches; after the server
/// drops them all (a restart, terminated backends), no turn is lost or falsely
/// promised, and the dead connections are not kept on being used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backends_terminated_under_kept_connections_lose_nothing() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let svc = db.service().await;
    let name = db._pg.as_ref().unwrap().name().to_string();
    let mut told_list = Vec::new();
    let urgent = |user: String| {
        let svc = svc.clone();
        async move {
            let o = svc
                .handle(term(&user, "ランサムウェアに感染しました"))
                .await;
            assert!(o.reply.text.contains(HOTLINE));
            let t = told(&o).unwrap_or_else(|| panic!("{user}: the hand-off was not kept"));
            (user, t)
        }
    };
    // several at once, so the reader and writer keep more than one connection
    let first = futures::future::join_all((0..6).map(|i| urgent(format!("kill-a{i}")))).await;
    told_list.extend(first);
    let mut admin = sqlx::PgConnection::connect(ADMIN_URL).await.unwrap();
    terminate_backends(&mut admin, &name).await;
    let after = futures::future::join_all((0..6).map(|i| urgent(format!("kill-b{i}")))).await;
    told_list.extend(after);
    wait_until("healthy with the spool written", || async {
        svc.health().is_healthy() && svc.spool().pending() == 0
    })
    .await;
    // and the next turn gets its number from a live connection
    let (user, t) = urgent("kill-c".to_string()).await;
    assert!(t.is_some(), "{user}: no number once recovered");
    told_list.push((user, t));
    assert_told_escalations_exist(&svc, &told_list).await;
}

/// A TCP relay to PostgreSQL that can cut the network without closing anything: while
/// cut, no byte moves either way (what was read is held), as in a partition.
struct Partition {
    addr: std::net::SocketAddr,
    cut: Arc<std::sync::atomic::AtomicBool>,
}

impl Partition {
    async fn to(target: &str) -> Partition {
        use std::sync::atomic::AtomicBool;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let target = target.to_string();
        let c = cut.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(Partition::pump(cr, sw, c.clone()));
                tokio::spawn(Partition::pump(sr, cw, c.clone()));
            }
        });
        Partition { addr, cut }
    }

    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        cut: Arc<std::sync::atomic::AtomicBool>,
    ) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            while cut.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }

    fn set(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A network partition between madoguchi and PostgreSQL in the middle of a run: every
/// urgent message still gets the hotline at once and a truthful notice; after
/// the network heals, every hand-off the members were told about is in the database,
/// once, with nothing else to do than wait (the recovery task replays the spool).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_network_partition_mid_run_loses_nothing_and_never_stalls_the_hotline() {
    let Some(mut db) = TestDb::postgres().await else {
        return;
    };
    let net = Partition::to("127.0.0.1:5432").await;
    let url = db.cfg.database_url.clone().unwrap();
    assert!(url.contains("127.0.0.1:5432"), "{url}");
    db.cfg.database_url = Some(url.replace("127.0.0.1:5432", &net.addr.to_string()));
    db.cfg.statement_timeout = Duration::from_millis(500);
    db.cfg.connect_timeout = Duration::from_millis(500);
    let svc = db.service().await;
    let urgent = |user: String| {
        let svc = svc.clone();
        async move {
            let started = std::time::Instant::now();
            let o = svc
                .handle(term(&user, "ランサムウェアに感染しました"))
                .await;
            let took = started.elapsed();
            assert!(o.reply.text.contains(HOTLINE), "{user}: {}", o.reply.text);
            // the turn's budget is 0.9 s (BENCHMARKS and the fault probe measure it);
            // here only "never waits on the partition", with room for a loaded machine
            assert!(
                took < Duration::from_secs(3),
                "{user}: answered after {took:?}"
            );
            (user, told(&o))
        }
    };
    let mut told_list = Vec::new();
    // before: written, numbered (and the workers keep their connections)
    for (user, t) in futures::future::join_all((0..4).map(|i| urgent(format!("part-a{i}")))).await {
        assert!(matches!(t, Some(Some(_))), "{user}: {t:?}");
        told_list.push((user, t.flatten()));
    }
    net.set(true);
    for round in 0..3 {
        let during =
            futures::future::join_all((0..3).map(|i| urgent(format!("part-b{round}{i}")))).await;
        for (user, t) in during {
            // spooled: handed over without a number (never a number that was not kept)
            assert_eq!(t, Some(None), "{user}");
            told_list.push((user, t.flatten()));
        }
    }
    net.set(false);
    wait_until("healthy again with the spool written", || async {
        svc.health().is_healthy() && svc.spool().pending() == 0
    })
    .await;
    let (user, t) = urgent("part-c".to_string()).await;
    assert!(matches!(t, Some(Some(_))), "{user}: {t:?}");
    told_list.push((user, t.flatten()));
    assert_told_escalations_exist(&svc, &told_list).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_migration_sets_give_the_same_tables_and_columns() {
    let Some(pg) = TestDb::postgres().await else {
        return;
    };
    let lite = TestDb::sqlite();
    madoguchi::store::Store::connect(&lite.cfg).await.unwrap();
    madoguchi::store::Store::connect(&pg.cfg).await.unwrap();
    let family = |t: &str| {
        let t = t.to_ascii_lowercase();
        if t.contains("int") {
            "integer"
        } else if t.contains("char") || t.contains("text") {
            "text"
        } else if t.contains("real")
            || t.contains("double")
            || t.contains("float")
            || t.contains("numeric")
        {
            "real"
        } else {
            "other"
        }
    };
    let path = lite.cfg.sqlite_path.clone().unwrap();
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' ORDER BY m.name, p.name",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let mut sqlite: Vec<(String, String, &str, bool)> = rows
        .into_iter()
        .map(|(t, c, ty, nn, pk)| (t, c, family(&ty), nn != 0 || pk != 0))
        .collect();
    let mut p = sqlx::PgConnection::connect(pg.cfg.database_url.as_deref().unwrap())
        .await
        .unwrap();
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%' ORDER BY table_name, column_name",
    )
    .fetch_all(&mut p)
    .await
    .unwrap();
    let mut postgres: Vec<(String, String, &str, bool)> = rows
        .into_iter()
        .map(|(t, c, ty, n)| (t, c, family(&ty), n == "NO"))
        .collect();
    sqlite.sort();
    postgres.sort();
    assert!(sqlite.len() > 30, "{sqlite:?}");
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres drifted apart"
    );
}

mod redaction {
    use madoguchi::redact::redact;
    use proptest::prelude::*;

    use madoguchi::redact::digits_of;

    fn sep() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(""),
            Just("-"),
            Just("－"),
            Just("ー"),
            Just("‐"),
            Just("−"),
            Just(" "),
            Just("　"),
            Just("(")
        ]
        .prop_map(String::from)
    }

    fn width(d: String, full: bool) -> String {
        if full {
            d.chars()
                .map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap())
                .collect()
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
                let shown = format!(
                    "{}{s1}{}{s2}{}",
                    width(a.into(), full),
                    width(b.into(), full),
                    width(c.into(), full)
                );
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
        c.args(args)
            .env_remove("MADOGUCHI_DB")
            .env_remove("DATABASE_URL")
            .env_remove("MADOGUCHI_CONTENT");
        c.env("MADOGUCHI_SPOOL", db.spool_path());
        match (&db.cfg.sqlite_path, &db.cfg.database_url) {
            (Some(p), _) => c.env("MADOGUCHI_DB", p),
            (None, Some(u)) => c.env("DATABASE_URL", u),
            _ => unreachable!(),
        };
        let out = c.output().expect("runs madoguchi");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn round_trip(db: &TestDb) {
        let (ok, out, err) = run(
            db,
            &[
                "chat",
                "--once",
                "ランサムウェアに感染しました",
                "--user",
                "cli",
            ],
        );
        assert!(ok, "{err}");
        assert!(out.contains(madoguchi::core::hours::HOTLINE));
        let (ok, out, err) = run(db, &["staff", "list", "--json"]);
        assert!(ok, "{err}");
        let rows: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 1, "{out}");
        assert_eq!(rows[0]["reason"], "urgent");
        assert_eq!(rows[0]["status"], "open");
        assert!(
            rows[0]["created_at"].is_string()
                && rows[0]["text"].as_str().unwrap().contains("ランサムウェア")
        );
        let id = rows[0]["id"].to_string();
        assert!(run(db, &["staff", "claim", &id, "--as", "佐藤"]).0);
        let (ok, _, err) = run(db, &["staff", "claim", &id, "--as", "鈴木"]);
        assert!(!ok && err.contains("既に 佐藤 さんが対応中"), "{err}");
        assert!(run(db, &["staff", "reply", &id, "佐藤です。お電話ください"]).0);
        let (ok, out, _) = run(db, &["chat", "--once", "わかりました", "--user", "cli"]);
        assert!(
            ok && out.contains("佐藤です。お電話ください") && out.contains("担当者が対応"),
            "{out}"
        );
        let (ok, out, _) = run(db, &["staff", "show", &id]);
        assert!(ok && out.contains("担当(佐藤)"), "{out}");
        assert!(
            run(
                db,
                &[
                    "staff",
                    "resolve",
                    &id,
                    "--note",
                    "対応済み",
                    "--as",
                    "佐藤"
                ]
            )
            .0
        );
        let (ok, out, _) = run(db, &["staff", "list", "--status", "resolved", "--json"]);
        assert!(
            ok && out.lines().count() == 1 && out.contains("\"resolved\""),
            "{out}"
        );
        let (ok, out, _) = run(db, &["stats"]);
        assert!(ok && out.contains("incident"), "{out}");
    }

    #[test]
    fn chat_once_then_staff_workflow_sqlite() {
        round_trip(&TestDb::sqlite());
    }

    #[test]
    fn chat_once_then_staff_workflow_postgres() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let Some(pg) = rt.block_on(PgDb::create()) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = madoguchi::service::StoreConfig::url(pg.url());
        cfg.spool_path = Some(dir.path().join("spool.jsonl"));
        round_trip(&TestDb {
            cfg,
            dir,
            _pg: Some(pg),
        });
    }
}

// ---- group commit: a batch writes exactly what one-by-one writes --------------------

/// A turn with a given key, user, time, state and escalation, for the batch tests.
fn turn_at(
    key: &str,
    user: &str,
    minute: u32,
    streak: Option<u8>,
    escalate: Option<EscalationReason>,
) -> TurnRecord {
    let mut r = record(key, user, &format!("{user} の {key}"));
    r.at = jst().with_ymd_and_hms(2026, 11, 26, 10, minute, 0).unwrap();
    r.reply_text = format!("answer to {key}");
    r.urgent = escalate == Some(EscalationReason::Urgent);
    r.escalate = escalate;
    r.state = streak.map(|n| madoguchi::core::turn::ConversationState {
        low_confidence_streak: n,
        ..Default::default()
    });
    r
}

/// Every row a turn writes, as text, without ids (which differ between databases).
async fn dump(db: &TestDb) -> Vec<String> {
    const QUERIES: [&str; 4] = [
        "SELECT channel, user_id, conversation, state, updated_at FROM conversations ORDER BY user_id",
        "SELECT c.user_id, m.role, m.text, COALESCE(m.reply_kind, '-'), CAST(m.urgent AS TEXT), \
         CASE WHEN m.escalation_id IS NULL THEN 'unlinked' ELSE 'linked' END, m.created_at \
         FROM messages m JOIN conversations c ON c.id = m.conversation_id ORDER BY c.user_id, m.id",
        "SELECT user_id, reason, status, text FROM escalations ORDER BY user_id",
        "SELECT spool_key FROM spool_applied ORDER BY spool_key",
    ];
    macro_rules! rows {
        ($conn:expr) => {{
            let mut out = Vec::new();
            for q in QUERIES {
                for row in sqlx::query(q).fetch_all(&mut $conn).await.unwrap() {
                    use sqlx::Row;
                    let cells: Vec<String> = (0..row.len())
                        .map(|i| {
                            row.try_get::<Option<String>, _>(i)
                                .unwrap()
                                .unwrap_or_default()
                        })
                        .collect();
                    out.push(cells.join(" | "));
                }
            }
            out
        }};
    }
    match (&db.cfg.sqlite_path, &db.cfg.database_url) {
        (Some(p), _) => {
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", p.display()))
                .await
                .unwrap();
            rows!(c)
        }
        (None, Some(u)) => {
            let mut c = sqlx::PgConnection::connect(u).await.unwrap();
            rows!(c)
        }
        _ => unreachable!(),
    }
}

/// Writes `before` one by one to both databases, then `batch` one by one to `a` and as
/// one transaction to `b`; the tables and the escalations told must come out the same.
async fn a_batch_writes_what_one_by_one_writes(a: &TestDb, b: &TestDb) {
    use madoguchi::store::Store;
    let (sa, sb) = (
        Store::connect(&a.cfg).await.unwrap(),
        Store::connect(&b.cfg).await.unwrap(),
    );
    let urgent = Some(EscalationReason::Urgent);
    let before = [
        turn_at("k-dup", "dup", 0, Some(1), None),
        turn_at("k-open", "open", 1, Some(0), urgent),
        turn_at("k-newer", "newer", 30, Some(7), None),
        turn_at(
            "k-h0",
            "human",
            2,
            Some(0),
            Some(EscalationReason::HumanRequest),
        ),
    ];
    for r in &before {
        sa.apply_turn(r).await.unwrap();
        sb.apply_turn(r).await.unwrap();
    }
    let batch = [
        turn_at("k-a", "a", 5, Some(1), None),
        turn_at("k-b", "b", 5, Some(2), None),
        // the same key again: written once
        turn_at("k-dup", "dup", 6, Some(9), None),
        // an escalation joins the bulk turns' transaction
        turn_at("k-c", "c", 6, Some(0), urgent),
        // two turns of one conversation: both kept, the later state wins
        turn_at("k-d1", "d", 7, Some(1), None),
        turn_at("k-d2", "d", 8, Some(2), None),
        // answered from a fresh state: the stored one is kept
        turn_at("k-e", "e", 9, None, None),
        // a conversation with an open escalation: the messages are linked to it
        turn_at("k-open2", "open", 10, Some(3), None),
        // an older turn never overwrites a newer state
        turn_at("k-old", "newer", 2, Some(4), None),
        turn_at("k-f", "f", 11, Some(5), None),
        // an urgent message where a request for a person is queued: raised, joined
        turn_at("k-h1", "human", 12, Some(0), urgent),
        // a new request for a person; a hand-off after unclear turns
        turn_at(
            "k-hr",
            "hr",
            12,
            Some(0),
            Some(EscalationReason::HumanRequest),
        ),
        turn_at(
            "k-lc",
            "lc",
            13,
            Some(0),
            Some(EscalationReason::LowConfidence),
        ),
    ];
    let mut one_by_one = Vec::new();
    for r in &batch {
        one_by_one.push(sa.apply_turn(r).await.unwrap().is_some());
    }
    let together: Vec<bool> = sb
        .apply_turns(&batch)
        .await
        .unwrap()
        .iter()
        .map(Option::is_some)
        .collect();
    assert_eq!(together, one_by_one);
    assert_eq!(
        together,
        [false, false, false, true, false, false, false, false, false, false, true, true, true]
    );
    // a batch of common turns only (one statement, its own transaction): a new
    // conversation, a later turn, an urgent message opening an escalation and one
    // raising the queued request for a person
    let common = [
        turn_at("k-g", "g", 14, Some(1), None),
        turn_at("k-a2", "a", 15, Some(2), None),
        turn_at("k-u", "u", 15, Some(0), urgent),
        turn_at("k-hr2", "hr", 16, Some(0), urgent),
    ];
    let mut one_by_one = Vec::new();
    for r in &common {
        one_by_one.push(sa.apply_turn(r).await.unwrap());
    }
    let together = sb.apply_turns(&common).await.unwrap();
    assert_eq!(together, one_by_one);
    assert_eq!(
        together.iter().map(Option::is_some).collect::<Vec<_>>(),
        [false, false, true, true]
    );
    let (da, db_) = (dump(a).await, dump(b).await);
    assert_eq!(da, db_);
    assert!(
        da.contains(&"hr | urgent | open | hr の k-hr2".to_string()),
        "{da:#?}"
    );
    assert!(
        da.contains(&"u | urgent | open | u の k-u".to_string()),
        "{da:#?}"
    );
    // and the dump says what the cases mean
    let has = |needle: &str| da.iter().any(|l| l.contains(needle));
    assert!(has("newer-conv | {\"low_confidence_streak\":7"), "{da:#?}");
    assert!(has("d-conv | {\"low_confidence_streak\":2"), "{da:#?}");
    assert_eq!(da.iter().filter(|l| l.contains("dup の k-dup")).count(), 1);
    assert!(da
        .iter()
        .any(|l| l.starts_with("open | member | open の k-open2") && l.contains("| linked |")));
    assert!(da
        .iter()
        .any(|l| l.starts_with("a | member | a の k-a") && l.contains("| unlinked |")));
    assert!(
        da.contains(&"human | urgent | open | human の k-h1".to_string()),
        "{da:#?}"
    );
    assert!(
        da.contains(&"lc | low_confidence | open | lc の k-lc".to_string()),
        "{da:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_writes_what_one_by_one_writes_sqlite() {
    a_batch_writes_what_one_by_one_writes(&TestDb::sqlite(), &TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_writes_what_one_by_one_writes_postgres() {
    let (Some(a), Some(b)) = (TestDb::postgres().await, TestDb::postgres().await) else {
        return;
    };
    a_batch_writes_what_one_by_one_writes(&a, &b).await;
}
