//! Fact extraction over the shipped dictionaries: every date form, every closure form,
//! membership, incident kinds and reports with their negations.

use chrono::NaiveDate;
use madoguchi::content::Content;
use madoguchi::core::dates::{find_dates, DateSpan, Granularity};
use madoguchi::core::facts::{self, Closure, Facts, IncidentKind, Membership, ReportStatus};
use madoguchi::core::text::Normalizer;

fn normalizer() -> Normalizer {
    let c = Content::embedded();
    let v = madoguchi::engine::parse_variants(
        "dictionaries/variants.tsv",
        &c.get("dictionaries/variants.tsv").unwrap().text,
    )
    .unwrap();
    Normalizer::new(v)
}

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

const TODAY: (i32, u32, u32) = (2026, 6, 20); // a Saturday

fn today() -> NaiveDate {
    d(TODAY.0, TODAY.1, TODAY.2)
}

fn facts(raw: &str) -> Facts {
    facts::extract(&normalizer().normalize(raw), today())
}

fn span(raw: &str) -> Option<DateSpan> {
    let n = normalizer().normalize(raw);
    facts::incident_date(n.as_str(), today())
}

fn month(y: i32, m: u32) -> Option<DateSpan> {
    DateSpan::month(y, m)
}

#[test]
fn every_date_form_resolves_against_today() {
    let day = |y, m, dd| Some(DateSpan::day(d(y, m, dd)));
    let cases: Vec<(&str, Option<DateSpan>)> = vec![
        ("2024年6月に感染", month(2024, 6)),
        ("2024年の6月に感染", month(2024, 6)),
        ("２０２４年６月１日に感染", day(2024, 6, 1)),
        ("2024/6/1に感染", day(2024, 6, 1)),
        ("2024-06-01に感染", day(2024, 6, 1)),
        ("2024/6に感染", month(2024, 6)),
        ("令和4年6月1日に感染", day(2022, 6, 1)),
        ("令和元年5月に感染", month(2019, 5)),
        ("令和四年六月に感染", month(2022, 6)),
        ("R4.6.1に感染", day(2022, 6, 1)),
        ("平成30年に感染", DateSpan::year(2018)),
        ("2023年に感染", DateSpan::year(2023)),
        ("昨年感染", DateSpan::year(2025)),
        ("去年の12月", month(2025, 12)),
        ("一昨年のこと", DateSpan::year(2024)),
        ("今年の2月に", month(2026, 2)),
        ("今年2月3日に", day(2026, 2, 3)),
        ("今月", month(2026, 6)),
        ("先月", month(2026, 5)),
        ("先月の10日", day(2026, 5, 10)),
        ("昨日", day(2026, 6, 19)),
        ("一昨日", day(2026, 6, 18)),
        ("おととい", day(2026, 6, 18)),
        ("今日", day(2026, 6, 20)),
        ("3日前", day(2026, 6, 17)),
        ("三日前", day(2026, 6, 17)),
        ("3か月前", month(2026, 3)),
        ("1年前", DateSpan::year(2025)),
        ("8月に", month(2025, 8)),
        ("5月1日に", day(2026, 5, 1)),
    ];
    for (text, want) in cases {
        assert_eq!(span(text), want, "{text}");
    }
    let last_week = span("先週").unwrap();
    assert_eq!(
        (last_week.first, last_week.last, last_week.granularity),
        (d(2026, 6, 8), d(2026, 6, 14), Granularity::Week)
    );
    let two_weeks = span("2週間前").unwrap();
    assert!(two_weeks.first <= d(2026, 6, 6) && two_weeks.last >= d(2026, 6, 6));
    assert_eq!(span("数日前").unwrap().granularity, Granularity::Vague);
    assert_eq!(span("何も書いていない"), None);
}

#[test]
fn dates_about_the_programme_are_not_the_incident_date() {
    assert_eq!(
        span("2022年6月1日以降の被害が対象ですか。昨日感染しました"),
        Some(DateSpan::day(d(2026, 6, 19)))
    );
}

#[test]
fn durations_and_phone_numbers_are_not_dates() {
    assert_eq!(span("3か月かかりました"), None);
    assert_eq!(span("0120-179-066に電話"), None);
    assert_eq!(span("server 2.0"), None);
    assert!(find_dates("5日間休診", today()).is_empty());
}

#[test]
fn every_closure_form() {
    let cases: Vec<(&str, Closure)> = vec![
        ("5日間休診しました", Closure::Days(5)),
        ("5日休業", Closure::Days(5)),
        ("1日休診", Closure::Days(1)),
        ("三日間、休診", Closure::Days(3)),
        ("1週間休業しました", Closure::Days(7)),
        ("2週間ほど休診", Closure::Days(14)),
        ("1か月休業", Closure::Days(30)),
        ("休診は2日です", Closure::Days(2)),
        ("休業期間は計4日", Closure::Days(4)),
        ("丸一日休診しました", Closure::Days(1)),
        ("3日間診療できませんでした", Closure::Days(3)),
        ("半日休診しました", Closure::LessThanDay),
        ("午前中だけ休診", Closure::LessThanDay),
        ("数時間だけ外来を停止", Closure::LessThanDay),
        ("休業なし", Closure::NoClosure),
        ("休診はしていません", Closure::NoClosure),
        ("診療は通常通りです", Closure::NoClosure),
        (
            "初診の受付を停止し、再診は続けています",
            Closure::NewPatientsStopped,
        ),
        ("新患の受け入れを中止", Closure::NewPatientsStopped),
        ("再診のみ対応しています", Closure::NewPatientsStopped),
        ("6月10日から休診中です", Closure::Days(10)),
        ("5日前から診療停止しています", Closure::Days(5)),
        ("休診しました", Closure::Unspecified),
        ("何も言っていない", Closure::NotMentioned),
    ];
    for (text, want) in cases {
        assert_eq!(facts(text).closure, want, "{text}");
    }
    // 「休診は3日前から」 is a start date, not a length
    assert_eq!(facts("休診は3日前からです").closure, Closure::Unspecified);
}

#[test]
fn membership_forms() {
    let cases: Vec<(&str, Membership)> = vec![
        ("A①会員です", Membership::A1),
        ("a1会員の病院", Membership::A1),
        ("院長はA①会員です", Membership::A1),
        ("開設者で医師会の会員です", Membership::A1),
        ("会員の診療所です", Membership::A1),
        ("医師会に入っていない", Membership::NotMember),
        ("会員ではありません", Membership::NotMember),
        ("会員じゃないです", Membership::NotMember),
        ("非会員です", Membership::NotMember),
        ("A①会員はいません", Membership::NotMember),
        ("日本医師会に加入していません", Membership::NotMember),
        ("院長がA①会員かどうかわかりません", Membership::Unknown),
        ("勤務医で医師会会員です", Membership::Unknown),
        ("ランサムウェアです", Membership::Unknown),
    ];
    for (text, want) in cases {
        assert_eq!(facts(text).membership, want, "{text}");
    }
}

#[test]
fn incident_kinds() {
    let cases: Vec<(&str, IncidentKind)> = vec![
        ("ランサムウェアに感染", IncidentKind::CyberAttack),
        ("emotetにやられた", IncidentKind::CyberAttack),
        ("ウィルスに感染", IncidentKind::CyberAttack),
        ("ホームページが改竄された", IncidentKind::CyberAttack),
        ("標的型メールで", IncidentKind::CyberAttack),
        ("不正アクセスで患者情報が漏洩", IncidentKind::AttackLeak),
        ("ファックスを誤送信", IncidentKind::Leak),
        ("USBメモリを紛失", IncidentKind::Leak),
        ("ノートパソコンが盗難にあった", IncidentKind::Leak),
        ("書類を別の患者に渡した", IncidentKind::Leak),
        ("攻撃によらない漏えい", IncidentKind::Leak),
        ("ウイルスではなくメールの誤送信です", IncidentKind::Leak),
        ("職員が患者情報を持ち出した", IncidentKind::Insider),
        ("元職員が不正アクセスした", IncidentKind::Insider),
        ("内部犯行でした", IncidentKind::Insider),
        ("内部の人の持ち出し", IncidentKind::Insider),
        ("持ち出したUSBを紛失", IncidentKind::Leak),
        ("ウイルス対策ソフトについて", IncidentKind::Unknown),
        ("支援金について", IncidentKind::Unknown),
    ];
    for (text, want) in cases {
        assert_eq!(facts(text).incident, want, "{text}");
    }
}

#[test]
fn reports_with_negation() {
    use ReportStatus::*;
    let cases: Vec<(&str, [ReportStatus; 3])> = vec![
        ("厚労省に届出済み", [Done, NotMentioned, NotMentioned]),
        (
            "厚生労働省に届け出ました",
            [Done, NotMentioned, NotMentioned],
        ),
        (
            "厚労省への届出はまだです",
            [NotDone, NotMentioned, NotMentioned],
        ),
        (
            "厚労省への届出はこれから",
            [NotDone, NotMentioned, NotMentioned],
        ),
        (
            "厚生労働省に届け出る予定です",
            [NotDone, NotMentioned, NotMentioned],
        ),
        ("厚労省には未届です", [NotDone, NotMentioned, NotMentioned]),
        (
            "厚労省への届出は必要ですか",
            [NotDone, NotMentioned, NotMentioned],
        ),
        ("届出済みです", [Done, NotMentioned, NotMentioned]),
        (
            "個人情報保護委員会に報告しました",
            [NotMentioned, Done, NotMentioned],
        ),
        (
            "委員会へ報告、本人にも通知しました",
            [NotMentioned, Done, Done],
        ),
        (
            "個人情報保護委員会には報告していません",
            [NotMentioned, NotDone, NotMentioned],
        ),
        (
            "厚労省には届出済みだが委員会には報告していない",
            [Done, NotDone, NotMentioned],
        ),
        (
            "厚労省と個人情報保護委員会に報告しました",
            [Done, Done, NotMentioned],
        ),
        (
            "被害者への連絡はまだ",
            [NotMentioned, NotMentioned, NotDone],
        ),
        (
            "患者さんにお詫びの連絡をしました",
            [NotMentioned, NotMentioned, Done],
        ),
        (
            "紹介状を別の患者さんに渡しました",
            [NotMentioned, NotMentioned, NotMentioned],
        ),
    ];
    for (text, want) in cases {
        let f = facts(text);
        assert_eq!(
            [f.mhlw_report, f.ppc_report, f.victim_notice],
            want,
            "{text}"
        );
    }
}

#[test]
fn role_and_institution() {
    use madoguchi::core::facts::{Institution, Role};
    assert_eq!(facts("開設者です").role, Some(Role::Founder));
    assert_eq!(facts("管理者です").role, Some(Role::Administrator));
    assert_eq!(facts("院長です").role, Some(Role::Director));
    assert_eq!(facts("勤務医です").role, Some(Role::EmployedDoctor));
    assert_eq!(facts("職員です").role, Some(Role::Staff));
    assert_eq!(facts("事務員です").role, Some(Role::Clerk));
    assert_eq!(facts("病院です").institution, Some(Institution::Hospital));
    for c in ["診療所", "クリニック", "医院"] {
        assert_eq!(facts(c).institution, Some(Institution::Clinic), "{c}");
    }
}

#[test]
fn a_correction_overrides_the_earlier_fact() {
    let first = facts("A①会員で、昨日ランサムウェア。5日間休診");
    let merged = first.merged(facts("いや、休業は2日です"));
    assert_eq!(merged.closure, Closure::Days(2));
    assert_eq!(merged.membership, Membership::A1);
    assert_eq!(merged.incident, IncidentKind::CyberAttack);
}

#[test]
fn a_vague_closure_does_not_undo_a_given_length() {
    let merged = facts("3日休診しました").merged(facts("休診しました"));
    assert_eq!(merged.closure, Closure::Days(3));
    assert_eq!(facts("いや、休業は半日です").closure, Closure::LessThanDay);
}
