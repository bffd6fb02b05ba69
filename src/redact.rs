//! PII redaction applied to every text before the store writes it: phone numbers,
//! e-mail addresses, 医籍番号 / 会員番号 when named as such, long digit identifiers, and
//! names followed by 先生/様. Full-width digits and hyphen variants are handled. The
//! programme's own hotline (0120-179-066) is not PII and is kept.

use std::borrow::Cow;

use once_cell::sync::Lazy;
use regex::{Captures, Regex};

use crate::core::hours::HOTLINE;

/// Replacement tokens (what the stored text shows instead of the PII).
pub const PHONE: &str = "[電話番号]";
pub const EMAIL: &str = "[メール]";
pub const IDENTIFIER: &str = "[番号]";
pub const DOCTOR_ID: &str = "[医籍番号]";
pub const MEMBER_ID: &str = "[会員番号]";
pub const NAME: &str = "[氏名]";

/// Whether redaction is on (it is unless configured off, e.g. `MADOGUCHI_REDACT=off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redactor {
    pub enabled: bool,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor { enabled: true }
    }
}

impl Redactor {
    pub fn new(enabled: bool) -> Self {
        Redactor { enabled }
    }

    /// Reads `MADOGUCHI_REDACT` (`off`, `false`, `0`, `no` disable it).
    pub fn from_env() -> Self {
        let off = std::env::var("MADOGUCHI_REDACT")
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "off" | "false" | "0" | "no"))
            .unwrap_or(false);
        Redactor { enabled: !off }
    }

    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.enabled {
            redact(text)
        } else {
            Cow::Borrowed(text)
        }
    }
}

// digits: ASCII and full-width
const D: &str = "[0-9０-９]";
// what people put between digit groups: hyphens and dash look-alikes (incl. the long
// vowel mark), spaces, dots, slashes, brackets
const SEP: &str = r"[\-‐‑‒–—―−ーｰ－─━ 　.．/／()（）]";

static EMAIL_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-ａ-ｚＡ-Ｚ０-９＿．]+\s?[@＠]\s?[A-Za-z0-9\-ａ-ｚＡ-Ｚ０-９]+(?:[.．][A-Za-z0-9\-ａ-ｚＡ-Ｚ０-９]+)+")
        .expect("email regex")
});

/// A label naming the 医籍番号 or the 会員番号, then (after a few non-digits) the number.
static NAMED_ID_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(&format!(
        r"(?P<label>医籍(?:登録)?(?:番号|No\.?|ＮＯ|NO)?|(?:日医|日本医師会|医師会)?会員(?:番号|ID|ＩＤ|No\.?|NO|ＮＯ|コード))(?P<gap>[^0-9０-９\n]{{0,8}}?)(?P<num>{D}(?:{SEP}{{0,2}}{D})*)"
    ))
    .expect("named id regex")
});

/// A run of digits possibly split by separators (phone numbers, long identifiers),
/// optionally with an international +81 prefix.
static DIGIT_RUN_RE: Lazy<Regex> =
    Lazy::new(|| Regex::new(&format!(r"(?:[+＋]\s?)?{D}(?:{SEP}{{0,2}}{D})*")).expect("digit run regex"));

/// Up to four kanji, or a katakana/latin name, directly before 先生 / 様.
static NAME_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?P<name>[\p{Han}々〆ヶ]{1,4}|[ァ-ヴー]{2,10}|[A-Za-zＡ-Ｚａ-ｚ]{2,20}(?:\s)?)(?P<hon>先生|様|さま|せんせい)")
        .expect("name regex")
});

/// Words that come before 先生/様 but are not names.
const NOT_NAMES: &[&str] = &[
    "皆", "皆々", "各", "お客", "客", "患者", "院長", "副院長", "理事長", "担当", "医師", "主治医", "御", "貴", "貴院",
    "会員", "先方", "相手", "相手方", "外部", "業者", "事務局", "窓口", "会長", "部長", "課長", "係長", "開業医", "勤務医",
    "奥", "王", "神", "仏", "殿", "同", "上", "名", "今", "前", "後", "各位", "利用者", "ご利用者", "受講者", "職員",
    "担当者", "参加者", "関係者", "会社", "御社", "貴社", "保護者", "家族", "ご家族", "歯科医", "医", "スタッフ", "ドクター",
    "スタッフの", "メンバー", "ユーザー", "お客さん",
];

/// The ASCII digits of `s`, full-width digits folded (０１２ → 012).
pub fn digits_of(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            _ => None,
        })
        .collect()
}

fn hotline_digits() -> String {
    digits_of(HOTLINE)
}

/// Redacts PII from `text`. Never panics; returns the input unchanged (borrowed) when
/// there is nothing to redact.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);

    if EMAIL_RE.is_match(&out) {
        out = Cow::Owned(EMAIL_RE.replace_all(&out, EMAIL).into_owned());
    }

    if NAMED_ID_RE.is_match(&out) {
        let replaced = NAMED_ID_RE
            .replace_all(&out, |c: &Captures| {
                let label = &c["label"];
                // 「医籍番号（6桁）」: a digit count, not a number
                if digits_of(&c["num"]).len() < 4 {
                    return c[0].to_string();
                }
                let token = if label.starts_with("医籍") { DOCTOR_ID } else { MEMBER_ID };
                format!("{}{}{}", label, &c["gap"], token)
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }

    let hot = hotline_digits();
    let needs_digit_pass = DIGIT_RUN_RE.find_iter(&out).any(|m| {
        let d = digits_of(m.as_str());
        d.len() >= 10 && d != hot
    });
    if needs_digit_pass {
        let replaced = DIGIT_RUN_RE
            .replace_all(&out, |c: &Captures| {
                let run = &c[0];
                let d = digits_of(run);
                if d.len() < 10 || d == hot {
                    return run.to_string();
                }
                // keep a trailing separator that belonged to the surrounding text
                let international = run.starts_with('+') || run.starts_with('＋');
                if international || ((d.len() == 10 || d.len() == 11) && d.starts_with('0')) {
                    PHONE.to_string()
                } else {
                    IDENTIFIER.to_string()
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }

    if NAME_RE.is_match(&out) {
        let replaced = NAME_RE
            .replace_all(&out, |c: &Captures| {
                let name = c["name"].trim();
                if is_not_name(name) {
                    c[0].to_string()
                } else {
                    format!("{NAME}{}", &c["hon"])
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

fn is_not_name(name: &str) -> bool {
    if NOT_NAMES.contains(&name) {
        return true;
    }
    // 「院長先生」「担当医師様」: a title ending the run is not a name
    ["院長", "理事長", "担当", "医師", "主治医", "会員", "事務局", "職員", "患者", "業者", "関係者", "者", "会社", "御中"]
        .iter()
        .any(|t| name.ends_with(t) && name.chars().count() <= t.chars().count() + 1)
        || name.chars().all(|c| c == 'ー')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_with_every_separator_are_redacted() {
        for t in [
            "電話は090-1234-5678です",
            "電話は０９０－１２３４－５６７８です",
            "電話は090ー1234ー5678です",
            "03(1234)5678まで",
            "0312345678",
            "+81 90 1234 5678",
            "０３　１２３４　５６７８",
        ] {
            let r = redact(t);
            assert!(r.contains(PHONE), "{t} → {r}");
            let d = digits_of(&r);
            assert!(d.len() < 6, "{t} → {r}");
        }
    }

    #[test]
    fn hotline_is_not_pii() {
        let t = "緊急相談窓口 0120-179-066 へお電話ください";
        assert_eq!(redact(t), t);
        assert_eq!(redact("０１２０－１７９－０６６"), "０１２０－１７９－０６６");
    }

    #[test]
    fn named_ids_are_redacted_but_amounts_and_dates_kept() {
        let r = redact("医籍番号は123456、会員番号：1234567890です");
        assert_eq!(r, format!("医籍番号は{DOCTOR_ID}、会員番号：{MEMBER_ID}です"));
        let r = redact("医籍 １２３４５６");
        assert_eq!(r, format!("医籍 {DOCTOR_ID}"));
        let t = "医籍番号（6桁）または会員番号（10桁）、2022-06-01以降、100,000円、150000円、6日間休業";
        assert_eq!(redact(t), t);
    }

    #[test]
    fn emails_are_redacted() {
        assert_eq!(redact("taro.yamada@example.co.jp に連絡を"), format!("{EMAIL} に連絡を"));
        assert_eq!(redact("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"), EMAIL);
    }

    #[test]
    fn names_before_sensei_sama_are_redacted_titles_kept() {
        assert_eq!(redact("山田先生の診療所です"), format!("{NAME}先生の診療所です"));
        assert_eq!(redact("院長の佐藤様から"), format!("院長の{NAME}様から"));
        assert_eq!(redact("院長先生が"), "院長先生が");
        assert_eq!(redact("皆様へ"), "皆様へ");
        assert_eq!(redact("お客様"), "お客様");
        assert_eq!(redact("担当の先生に"), "担当の先生に");
    }

    #[test]
    fn off_leaves_text_alone() {
        let t = "090-1234-5678";
        assert_eq!(Redactor::new(false).apply(t), t);
        assert_ne!(Redactor::new(true).apply(t), t);
    }
}
