//! Table-driven tests of the payment rules over Facts (no text): every row and every
//! exclusion of the FACTS.md table, the closure supplement, requirements, missing facts,
//! and the validation of rules/payments.toml.

use chrono::NaiveDate;
use madoguchi::content::Content;
use madoguchi::core::dates::DateSpan;
use madoguchi::core::facts::{
    Closure, Facts, IncidentKind as K, Membership as M, ReportStatus as S,
};
use madoguchi::core::rules::{
    parse_rules, Assessment, MissingFact, Payment, Requirement as R, RuleSet, Yen,
};

fn rules() -> RuleSet {
    let c = Content::embedded();
    parse_rules(
        "rules/payments.toml",
        &c.get("rules/payments.toml").unwrap().text,
    )
    .expect("shipped rules are valid")
}

fn day(y: i32, m: u32, d: u32) -> Option<DateSpan> {
    Some(DateSpan::day(NaiveDate::from_ymd_opt(y, m, d).unwrap()))
}

fn case(
    membership: M,
    incident: K,
    date: Option<DateSpan>,
    closure: Closure,
    reports: [S; 3],
) -> Facts {
    Facts {
        membership,
        incident,
        date,
        closure,
        mhlw_report: reports[0],
        ppc_report: reports[1],
        victim_notice: reports[2],
        ..Facts::default()
    }
}

const NONE: [S; 3] = [S::NotMentioned, S::NotMentioned, S::NotMentioned];
const ALL: [S; 3] = [S::Done, S::Done, S::Done];
const MHLW: [S; 3] = [S::Done, S::NotMentioned, S::NotMentioned];
const PPC: [S; 3] = [S::NotMentioned, S::Done, S::NotDone];
const NOTICE: [S; 3] = [S::NotDone, S::NotDone, S::Done];

struct Row {
    name: &'static str,
    facts: Facts,
    eligible: Option<bool>,
    payment: Option<Payment>,
    amount: Option<u32>,
    unmet: &'static [R],
    missing: &'static [MissingFact],
}

fn check(r: &Row, a: &Assessment) {
    assert_eq!(a.eligible, r.eligible, "{}: eligible", r.name);
    assert_eq!(a.payment, r.payment, "{}: payment", r.name);
    assert_eq!(a.amount, r.amount.map(Yen), "{}: amount", r.name);
    assert_eq!(a.unmet, r.unmet, "{}: unmet", r.name);
    assert_eq!(a.missing, r.missing, "{}: missing", r.name);
    assert!(!a.reasons.is_empty(), "{}: no reasons", r.name);
    for reason in &a.reasons {
        assert!(
            reason.source.starts_with("FACTS.md:"),
            "{}: reason without a FACTS quote: {reason:?}",
            r.name
        );
    }
}

#[test]
fn every_row_and_exclusion_of_the_facts_table() {
    let after = day(2024, 2, 1);
    let rows = vec![
        // row 1: cyber attack, 100,000 yen, MHLW notification
        Row {
            name: "attack, reported",
            facts: case(M::A1, K::CyberAttack, after, Closure::NotMentioned, MHLW),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(100_000),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "attack, not reported",
            facts: case(M::A1, K::CyberAttack, after, Closure::NoClosure, NONE),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(100_000),
            unmet: &[R::MhlwReport],
            missing: &[],
        },
        Row {
            name: "attack, only PPC reported",
            facts: case(M::A1, K::CyberAttack, after, Closure::NoClosure, PPC),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(100_000),
            unmet: &[R::MhlwReport],
            missing: &[],
        },
        // row 1: a leak caused by an attack counts as an attack
        Row {
            name: "attack leak",
            facts: case(M::A1, K::AttackLeak, after, Closure::NotMentioned, MHLW),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(100_000),
            unmet: &[],
            missing: &[],
        },
        // row 2: closure supplement
        Row {
            name: "attack, 1 day closed",
            facts: case(M::A1, K::CyberAttack, after, Closure::Days(1), MHLW),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(150_000),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "attack, 10 days closed",
            facts: case(M::A1, K::AttackLeak, after, Closure::Days(10), NONE),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(150_000),
            unmet: &[R::MhlwReport],
            missing: &[],
        },
        Row {
            name: "attack, new patients stopped",
            facts: case(
                M::A1,
                K::CyberAttack,
                after,
                Closure::NewPatientsStopped,
                MHLW,
            ),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(150_000),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "attack, half a day",
            facts: case(M::A1, K::CyberAttack, after, Closure::LessThanDay, MHLW),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(100_000),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "attack, 0 days",
            facts: case(M::A1, K::CyberAttack, after, Closure::Days(0), MHLW),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(100_000),
            unmet: &[],
            missing: &[],
        },
        // row 3: leak not caused by an attack, PPC report and victim notice
        Row {
            name: "leak, both done",
            facts: case(M::A1, K::Leak, after, Closure::NotMentioned, ALL),
            eligible: Some(true),
            payment: Some(Payment::Leak),
            amount: Some(50_000),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "leak, nothing done",
            facts: case(M::A1, K::Leak, after, Closure::NotMentioned, NONE),
            eligible: Some(true),
            payment: Some(Payment::Leak),
            amount: Some(50_000),
            unmet: &[R::PpcReport, R::VictimNotice],
            missing: &[],
        },
        Row {
            name: "leak, PPC only",
            facts: case(M::A1, K::Leak, after, Closure::NotMentioned, PPC),
            eligible: Some(true),
            payment: Some(Payment::Leak),
            amount: Some(50_000),
            unmet: &[R::VictimNotice],
            missing: &[],
        },
        Row {
            name: "leak, notice only",
            facts: case(M::A1, K::Leak, after, Closure::NotMentioned, NOTICE),
            eligible: Some(true),
            payment: Some(Payment::Leak),
            amount: Some(50_000),
            unmet: &[R::PpcReport],
            missing: &[],
        },
        Row {
            name: "leak, closure adds nothing",
            facts: case(M::A1, K::Leak, after, Closure::Days(5), ALL),
            eligible: Some(true),
            payment: Some(Payment::Leak),
            amount: Some(50_000),
            unmet: &[],
            missing: &[],
        },
        // effective date: on the day counts, the day before does not
        Row {
            name: "on 2022-06-01",
            facts: case(
                M::A1,
                K::CyberAttack,
                day(2022, 6, 1),
                Closure::NotMentioned,
                MHLW,
            ),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(100_000),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "on 2022-05-31",
            facts: case(
                M::A1,
                K::CyberAttack,
                day(2022, 5, 31),
                Closure::NotMentioned,
                MHLW,
            ),
            eligible: Some(false),
            payment: Some(Payment::None),
            amount: Some(0),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "June 2022",
            facts: case(
                M::A1,
                K::Leak,
                DateSpan::month(2022, 6),
                Closure::NotMentioned,
                ALL,
            ),
            eligible: Some(true),
            payment: Some(Payment::Leak),
            amount: Some(50_000),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "March 2022",
            facts: case(
                M::A1,
                K::Leak,
                DateSpan::month(2022, 3),
                Closure::NotMentioned,
                ALL,
            ),
            eligible: Some(false),
            payment: Some(Payment::None),
            amount: Some(0),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "year 2022 is ambiguous",
            facts: case(
                M::A1,
                K::CyberAttack,
                DateSpan::year(2022),
                Closure::NotMentioned,
                MHLW,
            ),
            eligible: None,
            payment: Some(Payment::CyberAttack),
            amount: None,
            unmet: &[],
            missing: &[MissingFact::IncidentDate],
        },
        Row {
            name: "year 2023 is after",
            facts: case(
                M::A1,
                K::CyberAttack,
                DateSpan::year(2023),
                Closure::NotMentioned,
                MHLW,
            ),
            eligible: Some(true),
            payment: Some(Payment::CyberAttack),
            amount: Some(100_000),
            unmet: &[],
            missing: &[],
        },
        // exclusions, even with other facts missing
        Row {
            name: "insider",
            facts: case(M::A1, K::Insider, after, Closure::Days(3), ALL),
            eligible: Some(false),
            payment: Some(Payment::None),
            amount: Some(0),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "insider, no date",
            facts: case(M::Unknown, K::Insider, None, Closure::NotMentioned, NONE),
            eligible: Some(false),
            payment: Some(Payment::None),
            amount: Some(0),
            unmet: &[],
            missing: &[MissingFact::Membership, MissingFact::IncidentDate],
        },
        Row {
            name: "not a member",
            facts: case(M::NotMember, K::CyberAttack, after, Closure::Days(3), ALL),
            eligible: Some(false),
            payment: Some(Payment::None),
            amount: Some(0),
            unmet: &[],
            missing: &[],
        },
        Row {
            name: "not a member, kind unknown",
            facts: case(M::NotMember, K::Unknown, None, Closure::NotMentioned, NONE),
            eligible: Some(false),
            payment: Some(Payment::None),
            amount: Some(0),
            unmet: &[],
            missing: &[MissingFact::IncidentDate, MissingFact::IncidentKind],
        },
        Row {
            name: "before, membership unknown",
            facts: case(
                M::Unknown,
                K::Leak,
                day(2021, 1, 1),
                Closure::NotMentioned,
                NONE,
            ),
            eligible: Some(false),
            payment: Some(Payment::None),
            amount: Some(0),
            unmet: &[],
            missing: &[MissingFact::Membership],
        },
        // missing facts
        Row {
            name: "membership unknown",
            facts: case(
                M::Unknown,
                K::CyberAttack,
                after,
                Closure::NotMentioned,
                MHLW,
            ),
            eligible: None,
            payment: Some(Payment::CyberAttack),
            amount: None,
            unmet: &[],
            missing: &[MissingFact::Membership],
        },
        Row {
            name: "date unknown",
            facts: case(M::A1, K::Leak, None, Closure::NotMentioned, NONE),
            eligible: None,
            payment: Some(Payment::Leak),
            amount: None,
            unmet: &[R::PpcReport, R::VictimNotice],
            missing: &[MissingFact::IncidentDate],
        },
        Row {
            name: "kind unknown",
            facts: case(M::A1, K::Unknown, after, Closure::NotMentioned, NONE),
            eligible: None,
            payment: None,
            amount: None,
            unmet: &[],
            missing: &[MissingFact::IncidentKind],
        },
        Row {
            name: "nothing known",
            facts: Facts::default(),
            eligible: None,
            payment: None,
            amount: None,
            unmet: &[],
            missing: &[
                MissingFact::Membership,
                MissingFact::IncidentDate,
                MissingFact::IncidentKind,
            ],
        },
    ];
    let rules = rules();
    for r in &rows {
        check(r, &rules.assess(&r.facts));
    }
}

#[test]
fn shipped_rules_match_the_facts_table() {
    let r = rules();
    assert_eq!(
        r.effective_from,
        NaiveDate::from_ymd_opt(2022, 6, 1).unwrap()
    );
    let attack = r.payment(madoguchi::core::rules::PaymentKind::CyberAttack);
    assert_eq!(attack.amount, Yen(100_000));
    assert_eq!(attack.requirements, vec![R::MhlwReport]);
    let leak = r.payment(madoguchi::core::rules::PaymentKind::Leak);
    assert_eq!(leak.amount, Yen(50_000));
    assert_eq!(leak.requirements, vec![R::PpcReport, R::VictimNotice]);
    assert_eq!(r.supplements.len(), 1);
    assert_eq!(r.supplements[0].amount, Yen(50_000));
    assert_eq!(r.supplements[0].min_closure_days, 1);
}

fn shipped_text() -> String {
    Content::embedded()
        .get("rules/payments.toml")
        .unwrap()
        .text
        .clone()
}

#[test]
fn a_rule_without_a_facts_quote_is_rejected_with_its_line() {
    let src = shipped_text().replacen(
        "source = \"FACTS.md:53: 個人情報漏えい",
        "source = \"see the leaflet: 個人情報漏えい",
        1,
    );
    let errs = parse_rules("rules/payments.toml", &src).unwrap_err();
    let line = src
        .lines()
        .position(|l| l.contains("see the leaflet"))
        .unwrap()
        + 1;
    assert!(
        errs.iter()
            .any(|e| e.line == line && e.message.contains("FACTS.md")),
        "{errs:?}"
    );
    assert!(errs[0].to_string().starts_with("rules/payments.toml:"));
}

#[test]
fn overlapping_payments_are_rejected_one_payment_per_case() {
    let src = shipped_text().replacen(
        "incident_kinds = [\"leak\"]",
        "incident_kinds = [\"leak\", \"attack_leak\"]",
        1,
    );
    let errs = parse_rules("rules/payments.toml", &src).unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.message.contains("only one payment per case")),
        "{errs:?}"
    );
}

#[test]
fn unknown_ids_bad_dates_and_amounts_are_rejected() {
    let src = shipped_text()
        .replacen(
            "effective_from = \"2022-06-01\"",
            "effective_from = \"2022-13-01\"",
            1,
        )
        .replacen(
            "requirements = [\"mhlw_report\"]",
            "requirements = [\"police_report\"]",
            1,
        )
        .replacen(
            "amount_yen = 50000\nrequirements",
            "amount_yen = -5\nrequirements",
            1,
        )
        .replacen("id = \"insider\"", "id = \"inside_job\"", 1);
    let errs = parse_rules("rules/payments.toml", &src).unwrap_err();
    let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    for want in [
        "2022-13-01",
        "police_report",
        "-5",
        "inside_job",
        "\"insider\" is missing",
    ] {
        assert!(
            msgs.iter().any(|m| m.contains(want)),
            "no error about {want}: {msgs:#?}"
        );
    }
    assert!(
        errs.iter()
            .filter(|e| !e.message.contains("is missing"))
            .all(|e| e.line > 0),
        "{msgs:#?}"
    );
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let src = shipped_text().replacen("amount_yen = 100000", "amount_yen = = 100000", 1);
    let line = src.lines().position(|l| l.contains("= = 100000")).unwrap() + 1;
    let errs = parse_rules("rules/payments.toml", &src).unwrap_err();
    assert_eq!(errs[0].line, line, "{errs:?}");
}
