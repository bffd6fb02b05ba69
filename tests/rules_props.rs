//! Property tests: the extractor never panics on arbitrary text, and an assessment
//! never holds both payments, nor a positive amount when not eligible.

use chrono::NaiveDate;
use madoguchi::content::Content;
use madoguchi::core::assessment::Assessor;
use madoguchi::core::dates::DateSpan;
use madoguchi::core::facts::{Closure, Facts, IncidentKind, Membership, ReportStatus};
use madoguchi::core::rules::{Payment, Requirement};
use proptest::prelude::*;
use std::sync::OnceLock;

fn assessor() -> &'static Assessor {
    static A: OnceLock<Assessor> = OnceLock::new();
    A.get_or_init(|| madoguchi::engine::build_assessor(&Content::embedded()).unwrap())
}

const PIECES: &[&str] = &[
    "A①会員",
    "会員ではない",
    "病院",
    "クリニック",
    "ランサムウェア",
    "Emotet",
    "漏えい",
    "誤送信",
    "持ち出し",
    "内部犯行",
    "令和4年",
    "2022年",
    "6月",
    "3日前",
    "昨年",
    "先週",
    "5日間休診",
    "半日",
    "休診なし",
    "初診を停止",
    "厚労省に届出済み",
    "まだ",
    "委員会へ報告",
    "本人に通知しました",
    "していません",
    "、",
    "。",
    "？",
    "ー",
    "①",
    "元年",
    "十二月",
];

fn facts_strategy() -> impl Strategy<Value = Facts> {
    let membership = prop_oneof![
        Just(Membership::A1),
        Just(Membership::NotMember),
        Just(Membership::Unknown)
    ];
    let kind = prop_oneof![
        Just(IncidentKind::CyberAttack),
        Just(IncidentKind::AttackLeak),
        Just(IncidentKind::Leak),
        Just(IncidentKind::Insider),
        Just(IncidentKind::Unknown)
    ];
    let date = prop_oneof![
        Just(None),
        (2015i32..2030, 1u32..13, 1u32..29)
            .prop_map(|(y, m, d)| Some(DateSpan::day(NaiveDate::from_ymd_opt(y, m, d).unwrap()))),
        (2015i32..2030, 1u32..13).prop_map(|(y, m)| DateSpan::month(y, m)),
        (2015i32..2030).prop_map(DateSpan::year),
    ];
    let closure = prop_oneof![
        Just(Closure::NotMentioned),
        Just(Closure::NoClosure),
        Just(Closure::LessThanDay),
        Just(Closure::Unspecified),
        Just(Closure::NewPatientsStopped),
        (0u32..40).prop_map(Closure::Days)
    ];
    let report = || {
        prop_oneof![
            Just(ReportStatus::NotMentioned),
            Just(ReportStatus::NotDone),
            Just(ReportStatus::Done)
        ]
    };
    (
        membership,
        kind,
        date,
        closure,
        report(),
        report(),
        report(),
    )
        .prop_map(|(membership, incident, date, closure, m, p, v)| Facts {
            membership,
            incident,
            date,
            closure,
            mhlw_report: m,
            ppc_report: p,
            victim_notice: v,
            ..Facts::default()
        })
}

proptest! {
    #[test]
    fn extractor_never_panics_on_arbitrary_text(s in "\\PC{0,300}", y in 1990i32..2100, doy in 1u32..366) {
        let today = NaiveDate::from_yo_opt(y, doy).unwrap();
        let _ = assessor().assess(&s, today);
    }

    #[test]
    fn extractor_never_panics_on_domain_shaped_text(parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..14)) {
        let text: String = parts.concat();
        let a = assessor().assess(&text, NaiveDate::from_ymd_opt(2026, 6, 20).unwrap());
        prop_assert!(a.eligible != Some(false) || a.amount == Some(madoguchi::core::rules::Yen(0)));
    }

    #[test]
    fn an_assessment_is_consistent(f in facts_strategy()) {
        let a = assessor().rules.assess(&f);
        // one payment, never a positive amount unless eligible
        match a.eligible {
            Some(true) => {
                prop_assert!(matches!(a.payment, Some(Payment::CyberAttack | Payment::Leak)));
                prop_assert!(a.amount.is_some_and(|y| y.get() > 0));
                prop_assert!(a.missing.is_empty());
            }
            Some(false) => {
                prop_assert_eq!(a.payment, Some(Payment::None));
                prop_assert_eq!(a.amount.map(|y| y.get()), Some(0));
                prop_assert!(a.unmet.is_empty());
                prop_assert!(!a.exclusions.is_empty());
            }
            None => {
                prop_assert!(a.amount.is_none());
                prop_assert!(!a.missing.is_empty());
            }
        }
        // requirements belong to the payment that applies
        match a.payment {
            Some(Payment::CyberAttack) => prop_assert!(a.unmet.iter().all(|r| *r == Requirement::MhlwReport)),
            Some(Payment::Leak) => prop_assert!(a.unmet.iter().all(|r| *r != Requirement::MhlwReport)),
            _ => prop_assert!(a.unmet.is_empty()),
        }
        if matches!(f.incident, IncidentKind::Insider) || f.membership == Membership::NotMember {
            prop_assert_eq!(a.eligible, Some(false));
        }
        if let Some(amount) = a.amount {
            prop_assert!([0, 50_000, 100_000, 150_000].contains(&amount.get()));
        }
    }
}
