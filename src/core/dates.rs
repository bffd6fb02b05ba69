//! Incident dates in member text: western (2024年6月, 2024/6/1), 和暦 (令和4年6月1日,
//! 平成30年, R4.6.1) and relative (昨日, 3日前, 先週, 先月, 去年, 今年の2月 …), resolved
//! against a given "today". A date keeps its granularity as a span of days, so a
//! year-only or month-only date is compared honestly with an effective date.

use std::cmp::Ordering;
use std::sync::LazyLock;

use chrono::{Datelike, Duration, NaiveDate};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// How precise a date the member gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    Week,
    Month,
    Year,
    /// A vague span such as 数日前 or 先日.
    Vague,
}

/// A date as the member gave it: the first and last day it can mean (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateSpan {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub granularity: Granularity,
}

impl DateSpan {
    pub fn day(d: NaiveDate) -> Self {
        DateSpan {
            first: d,
            last: d,
            granularity: Granularity::Day,
        }
    }

    pub fn month(year: i32, month: u32) -> Option<Self> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        Some(DateSpan {
            first,
            last: next - Duration::days(1),
            granularity: Granularity::Month,
        })
    }

    pub fn year(year: i32) -> Option<Self> {
        Some(DateSpan {
            first: NaiveDate::from_ymd_opt(year, 1, 1)?,
            last: NaiveDate::from_ymd_opt(year, 12, 31)?,
            granularity: Granularity::Year,
        })
    }

    fn span(first: NaiveDate, last: NaiveDate, granularity: Granularity) -> Self {
        DateSpan {
            first,
            last,
            granularity,
        }
    }

    /// Where the span lies relative to `d`: `Greater` = entirely on or after `d`,
    /// `Less` = entirely before `d`, `None` = it straddles `d` (cannot tell).
    pub fn relative_to(&self, d: NaiveDate) -> Option<Ordering> {
        if self.first >= d {
            Some(Ordering::Greater)
        } else if self.last < d {
            Some(Ordering::Less)
        } else {
            None
        }
    }

    /// A short Japanese rendering (2024年6月, 2024年6月1日, 2024年).
    pub fn describe(&self) -> String {
        match self.granularity {
            Granularity::Day => format!(
                "{}年{}月{}日",
                self.first.year(),
                self.first.month(),
                self.first.day()
            ),
            Granularity::Month => format!("{}年{}月", self.first.year(), self.first.month()),
            Granularity::Year => format!("{}年", self.first.year()),
            Granularity::Week | Granularity::Vague => format!(
                "{}年{}月{}日〜{}年{}月{}日ごろ",
                self.first.year(),
                self.first.month(),
                self.first.day(),
                self.last.year(),
                self.last.month(),
                self.last.day()
            ),
        }
    }
}

/// A date found in text, with its byte position (the first one usually is the incident).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundDate {
    pub span: DateSpan,
    pub start: usize,
    pub end: usize,
}

const NUM: &str = r"([0-9]{1,4}|[一二三四五六七八九十〇元]{1,3})";

static ABSOLUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([0-9]{4})\s*(?:年|/|-|\.)\s*(?:の\s*)?([0-9]{1,2})(?:\s*(?:月|/|-|\.)\s*(?:の\s*)?([0-9]{1,2})\s*日?|\s*月?)|([0-9]{4})\s*年(?:度)?")
        .expect("absolute date regex")
});
static ERA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(令和|平成|昭和|r|h)\s*{NUM}\s*(?:年|\.|/)(?:度)?(?:\s*(?:の\s*)?{NUM}\s*(?:月|\.|/)(?:\s*{NUM}\s*日?)?)?"
    ))
    .expect("era date regex")
});
static RELATIVE_YEAR_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(一昨年|おととし|昨年|去年|前年|今年|本年|ことし)\s*(?:の\s*)?{NUM}\s*月(?:\s*{NUM}\s*日)?")).expect("relative year-month regex")
});
static RELATIVE_MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(先々月|先月|今月)\s*(?:の\s*)?{NUM}\s*日"))
        .expect("relative month-day regex")
});
static AGO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"{NUM}\s*(日|週間|週|か月|ヶ月|カ月|ケ月|ヵ月|箇月|月|年)\s*(?:ほど|くらい|ぐらい|程度|ちょっと)?\s*(?:前|まえ)")).expect("ago regex")
});
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:^|[^0-9年/\-.])([0-9]{{1,2}}|[一二三四五六七八九十]{{1,3}})\s*月(?:\s*{NUM}\s*日)?"
    ))
    .expect("month-day regex")
});
static WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"一昨年|おととし|一昨日|おととい|昨年|去年|前年|今年|本年|ことし|先々月|先月|今月|先週|今週|昨日|きのう|昨夜|昨晩|今日|本日|今朝|きょう|先ほど|さっき|数日前|数週間前|数か月前|数ヶ月前|数年前|半年前|半年ほど前|先日|この前|最近")
        .expect("relative word regex")
});

/// Parses a number written in digits or small kanji (一〜九十九, 元 = 1).
pub fn parse_number(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return Some(n);
    }
    if s == "元" {
        return Some(1);
    }
    let digit = |c: char| {
        "〇一二三四五六七八九"
            .chars()
            .position(|d| d == c)
            .map(|p| p as u32)
    };
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [c] if *c == '十' => Some(10),
        [c] => digit(*c),
        ['十', u] => Some(10 + digit(*u)?),
        [t, '十'] => Some(digit(*t)? * 10),
        [t, '十', u] => Some(digit(*t)? * 10 + digit(*u)?),
        _ => None,
    }
}

fn era_start(era: &str) -> Option<i32> {
    match era {
        "令和" | "r" => Some(2018),
        "平成" | "h" => Some(1988),
        "昭和" => Some(1925),
        _ => None,
    }
}

fn ymd(y: i32, m: Option<u32>, d: Option<u32>) -> Option<DateSpan> {
    match (m, d) {
        (Some(m), Some(d)) => NaiveDate::from_ymd_opt(y, m, d).map(DateSpan::day),
        (Some(m), None) => DateSpan::month(y, m),
        _ => DateSpan::year(y),
    }
}

fn add_months(d: NaiveDate, months: i32) -> Option<NaiveDate> {
    let total = d.year() * 12 + d.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
}

/// The most recent `month` (and day) not after today.
fn recent_month_day(today: NaiveDate, month: u32, day: Option<u32>) -> Option<DateSpan> {
    let this = ymd(today.year(), Some(month), day)?;
    if this.first <= today {
        Some(this)
    } else {
        ymd(today.year() - 1, Some(month), day)
    }
}

fn word_span(w: &str, today: NaiveDate) -> Option<DateSpan> {
    let y = today.year();
    let days = |n: i64| today - Duration::days(n);
    let month_offset =
        |n: i32| add_months(today, -n).and_then(|d| DateSpan::month(d.year(), d.month()));
    Some(match w {
        "一昨年" | "おととし" => DateSpan::year(y - 2)?,
        "昨年" | "去年" | "前年" => DateSpan::year(y - 1)?,
        "今年" | "本年" | "ことし" => DateSpan::year(y)?,
        "先々月" => month_offset(2)?,
        "先月" => month_offset(1)?,
        "今月" => month_offset(0)?,
        "先週" => {
            let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64 + 7);
            DateSpan::span(monday, monday + Duration::days(6), Granularity::Week)
        }
        "今週" => DateSpan::span(
            today - Duration::days(today.weekday().num_days_from_monday() as i64),
            today,
            Granularity::Week,
        ),
        "昨日" | "きのう" | "昨夜" | "昨晩" => DateSpan::day(days(1)),
        "一昨日" | "おととい" => DateSpan::day(days(2)),
        "今日" | "本日" | "今朝" | "きょう" | "先ほど" | "さっき" => {
            DateSpan::day(today)
        }
        "数日前" => DateSpan::span(days(9), days(2), Granularity::Vague),
        "数週間前" => DateSpan::span(days(60), days(14), Granularity::Vague),
        "半年前" | "半年ほど前" => {
            DateSpan::span(add_months(today, -6)?, days(31), Granularity::Vague)
        }
        "数か月前" | "数ヶ月前" => {
            DateSpan::span(add_months(today, -11)?, days(45), Granularity::Vague)
        }
        "数年前" => DateSpan::span(
            NaiveDate::from_ymd_opt(y - 9, 1, 1)?,
            NaiveDate::from_ymd_opt(y - 2, 12, 31)?,
            Granularity::Vague,
        ),
        "先日" | "この前" => DateSpan::span(days(60), days(1), Granularity::Vague),
        "最近" => DateSpan::span(days(90), today, Granularity::Vague),
        _ => return None,
    })
}

fn ago_span(n: u32, unit: &str, today: NaiveDate) -> Option<DateSpan> {
    let n = n as i64;
    Some(match unit {
        "日" => DateSpan::day(today - Duration::days(n)),
        "週間" | "週" => {
            let d = today - Duration::days(7 * n);
            DateSpan::span(
                d - Duration::days(3),
                (d + Duration::days(3)).min(today),
                Granularity::Week,
            )
        }
        "年" => DateSpan::year(today.year() - n as i32)?,
        _ => {
            let d = add_months(today, -(n as i32))?;
            DateSpan::month(d.year(), d.month())?
        }
    })
}

/// Every date mentioned in `text` (normalised), in text order, resolved against `today`.
/// Overlapping mentions keep the longest, most specific one.
pub fn find_dates(text: &str, today: NaiveDate) -> Vec<FoundDate> {
    let mut found: Vec<FoundDate> = Vec::new();
    let push = |span: Option<DateSpan>, start: usize, end: usize, found: &mut Vec<FoundDate>| {
        if let Some(span) = span {
            if !found.iter().any(|f| f.start < end && start < f.end) {
                found.push(FoundDate { span, start, end });
            }
        }
    };
    let num = |m: Option<regex::Match>| m.and_then(|m| parse_number(m.as_str()));
    for c in ERA.captures_iter(text) {
        let whole = c.get(0).expect("group 0");
        let era = c.get(1).expect("group 1");
        if era.as_str().len() == 1
            && text[..era.start()]
                .chars()
                .next_back()
                .is_some_and(|p| p.is_ascii_alphanumeric())
        {
            continue; // the r of "server 2." is not 令和
        }
        let (Some(base), Some(n)) = (era_start(era.as_str()), num(c.get(2))) else {
            continue;
        };
        push(
            ymd(base + n as i32, num(c.get(3)), num(c.get(4))),
            whole.start(),
            whole.end(),
            &mut found,
        );
    }
    for c in ABSOLUTE.captures_iter(text) {
        let whole = c.get(0).expect("group 0");
        let span = if let Some(y) = c.get(4) {
            y.as_str().parse().ok().and_then(DateSpan::year)
        } else {
            let y: i32 = c[1].parse().unwrap_or(0);
            ymd(y, num(c.get(2)), num(c.get(3)))
        };
        push(
            span.filter(|s| (1900..=2100).contains(&s.first.year())),
            whole.start(),
            whole.end(),
            &mut found,
        );
    }
    for c in RELATIVE_YEAR_MONTH.captures_iter(text) {
        let whole = c.get(0).expect("group 0");
        let year = word_span(&c[1], today).map(|s| s.first.year());
        push(
            year.and_then(|y| ymd(y, num(c.get(2)), num(c.get(3)))),
            whole.start(),
            whole.end(),
            &mut found,
        );
    }
    for c in RELATIVE_MONTH_DAY.captures_iter(text) {
        let whole = c.get(0).expect("group 0");
        let month = word_span(&c[1], today).map(|s| s.first);
        push(
            month.and_then(|m| ymd(m.year(), Some(m.month()), num(c.get(2)))),
            whole.start(),
            whole.end(),
            &mut found,
        );
    }
    for c in AGO.captures_iter(text) {
        let whole = c.get(0).expect("group 0");
        push(
            num(c.get(1)).and_then(|n| ago_span(n, &c[2], today)),
            whole.start(),
            whole.end(),
            &mut found,
        );
    }
    for m in WORD.find_iter(text) {
        push(word_span(m.as_str(), today), m.start(), m.end(), &mut found);
    }
    for c in MONTH_DAY.captures_iter(text) {
        let g = c.get(1).expect("group 1");
        let whole_end = c.get(0).expect("group 0").end();
        let Some(month) = parse_number(g.as_str()).filter(|m| (1..=12).contains(m)) else {
            continue;
        };
        // 「3か月」「6ヶ月」 are durations, not months
        push(
            recent_month_day(today, month, num(c.get(2))),
            g.start(),
            whole_end,
            &mut found,
        );
    }
    found.sort_by_key(|f| f.start);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn kanji_numbers() {
        assert_eq!(parse_number("三"), Some(3));
        assert_eq!(parse_number("十二"), Some(12));
        assert_eq!(parse_number("二十"), Some(20));
        assert_eq!(parse_number("元"), Some(1));
        assert_eq!(parse_number("x"), None);
    }

    #[test]
    fn month_span_ends_on_last_day() {
        let m = DateSpan::month(2024, 2).unwrap();
        assert_eq!(m.last, d(2024, 2, 29));
        assert_eq!(DateSpan::month(2024, 12).unwrap().last, d(2024, 12, 31));
    }

    #[test]
    fn relative_to_effective_date() {
        let eff = d(2022, 6, 1);
        assert_eq!(DateSpan::year(2022).unwrap().relative_to(eff), None);
        assert_eq!(
            DateSpan::month(2022, 6).unwrap().relative_to(eff),
            Some(Ordering::Greater)
        );
        assert_eq!(
            DateSpan::month(2022, 5).unwrap().relative_to(eff),
            Some(Ordering::Less)
        );
    }
}
