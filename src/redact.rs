//! PII redaction applied to every text before the store writes it: phone numbers,
//! e-mail addresses, 医籍番号 / 会員番号 when named as such, long digit identifiers, and
//! names followed by 先生/様/さん/さま/せんせい/殿 (kanji, kana or romaji, with or without
//! a space). Full-width digits and hyphen variants are handled. The programme's own
//! hotline (0120-179-066) is not PII and is kept. Also: ids pseudonymised
//! ([`pseudonymize_id`]), e-mail addresses and phone numbers in staff names and chat
//! display names pseudonymised ([`display_name`]), stored member text capped
//! ([`cap_member_text`]), and database URLs shown without secrets ([`database_url`]).

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
            .map(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "off" | "false" | "0" | "no"
                )
            })
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

    /// A staff name as stored ([`display_name`]), unless redaction is off.
    pub fn staff_name<'a>(&self, name: &'a str) -> Cow<'a, str> {
        if self.enabled {
            Cow::Owned(display_name(name))
        } else {
            Cow::Borrowed(name)
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
static DIGIT_RUN_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(&format!(r"(?:[+＋]\s?)?{D}(?:{SEP}{{0,2}}{D})*")).expect("digit run regex")
});

/// A name directly before an honorific, with or without a space: up to four kanji (a
/// family and a given name may be split by one space), a katakana, hiragana or latin
/// name.
static NAME_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(concat!(
        r"(?P<name>[\p{Han}々〆ヶ]{1,4}(?:[ 　][\p{Han}々〆ヶ]{1,4})?|[ァ-ヴー]{2,10}(?:[ 　・][ァ-ヴー]{2,10})?|[ぁ-ゖ]{2,6}|[A-Za-zＡ-Ｚａ-ｚ]{2,20})",
        r"(?P<sp>[ 　]?)(?P<hon>先生|様|さま|せんせい|さん|殿)"
    ))
    .expect("name regex")
});

/// A romaji name with a romaji honorific: `Yamada-san`, `yamada sensei`, `Sato sama`.
static ROMAJI_NAME_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?-u:\b)(?P<name>[A-Za-z]{2,20}(?:[ ][A-Za-z]{2,20})?)(?P<sep>[ \-])(?P<hon>(?i:san|sama|sensei|dono))(?-u:\b)").expect("romaji name regex")
});

/// Words that come before 先生/様 but are not names.
const NOT_NAMES: &[&str] = &[
    "皆",
    "皆々",
    "各",
    "お客",
    "客",
    "患者",
    "院長",
    "副院長",
    "理事長",
    "担当",
    "医師",
    "主治医",
    "御",
    "貴",
    "貴院",
    "会員",
    "先方",
    "相手",
    "相手方",
    "外部",
    "業者",
    "事務局",
    "窓口",
    "会長",
    "部長",
    "課長",
    "係長",
    "開業医",
    "勤務医",
    "奥",
    "王",
    "神",
    "仏",
    "殿",
    "同",
    "上",
    "名",
    "今",
    "前",
    "後",
    "各位",
    "利用者",
    "ご利用者",
    "受講者",
    "職員",
    "担当者",
    "参加者",
    "関係者",
    "会社",
    "御社",
    "貴社",
    "保護者",
    "家族",
    "ご家族",
    "歯科医",
    "医",
    "スタッフ",
    "ドクター",
    "スタッフの",
    "メンバー",
    "ユーザー",
    "お客さん",
    "医者",
    "看護師",
    "薬剤師",
    "技師",
    "受付",
    "大家",
    "事務",
    "業者",
    "ベンダー",
    "メーカー",
    "エンジニア",
    "サポート",
    "お疲れ",
    "ご苦労",
    "お世話",
    "先生",
    "様",
    "父",
    "母",
    "兄",
    "姉",
    "娘",
    "息子",
    "子",
    "お子",
    "叔父",
    "叔母",
    "伯父",
    "伯母",
    "旦那",
    "先輩",
    "後輩",
    "店員",
    "歯医者",
    "獣医",
    "病院",
    "医院",
    "薬局",
    "銀行",
    "警察",
    "役所",
    "税理士",
    "弁護士",
    "社労士",
    "保険屋",
    "代理店",
    "販売店",
];

/// Hiragana that ends a run before an honorific but is a word, not a name
/// (たくさん, みなさん, おつかれさま, 「について先生」…).
const NOT_KANA_NAME_ENDINGS: &[&str] = &[
    "たく",
    "みな",
    "おじ",
    "おば",
    "おとう",
    "おかあ",
    "おにい",
    "おねえ",
    "おばあ",
    "おじい",
    "おく",
    "おきゃく",
    "おいしゃ",
    "おつかれ",
    "ごくろう",
    "おせわ",
    "おかげ",
    "ぜひ",
    "また",
    "いつも",
    "どうぞ",
    "よろしく",
    "せい",
    "けい",
    "よ",
    "はっ",
    "かい",
    "こう",
    "しん",
    "にい",
    "ねえ",
    "いっ",
    "に",
    "は",
    "が",
    "を",
    "も",
    "て",
    "で",
    "へ",
    "と",
    "の",
    "ご",
    "お",
];

/// Romaji words before san/sama/sensei that are not names.
const NOT_ROMAJI_NAMES: &[&str] = &[
    "mina", "minna", "otsukare", "gokurou", "okyaku", "the", "a", "an", "my", "our", "your",
    "dear", "hi", "hello",
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

/// The hotline's digits, which are never redacted.
static HOTLINE_DIGITS: Lazy<String> = Lazy::new(|| digits_of(HOTLINE));

/// Whether a run of digits (as [`DIGIT_RUN_RE`] finds it) is a phone number: 10 or 11
/// digits starting with 0, `+` and at least 10 digits, or `81…` without the `+`; never
/// the programme's own hotline.
fn is_phone_number(run: &str, hotline: &str) -> bool {
    let d = digits_of(run);
    if d.len() < 10 || d == hotline {
        return false;
    }
    let international = run.starts_with('+') || run.starts_with('＋');
    international
        || ((d.len() == 10 || d.len() == 11) && d.starts_with('0'))
        || ((d.len() == 11 || d.len() == 12) && d.starts_with("81"))
}

/// Whether a run of digits in a name or an id may be a phone number: one by
/// [`is_phone_number`], or any run of 10 digits or more that starts with 0 or is split
/// by separators (「内線12 090-1234-5678」 reads as one run). What is kept is an unbroken
/// number not starting with 0, like a Discord id (18 digits).
fn is_contact_number(run: &str, hotline: &str) -> bool {
    let d = digits_of(run);
    if d.len() < 10 || d == hotline {
        return false;
    }
    let separated = run
        .chars()
        .any(|c| !(c.is_ascii_digit() || ('０'..='９').contains(&c)));
    is_phone_number(run, hotline) || d.starts_with('0') || separated
}

/// E-mail addresses and phone numbers only: what may hide in a user id or a display
/// name. Names and other numbers (a Discord id is 18 digits) are kept.
pub fn redact_contacts(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if EMAIL_RE.is_match(&out) {
        out = Cow::Owned(EMAIL_RE.replace_all(&out, EMAIL).into_owned());
    }
    let hot = HOTLINE_DIGITS.as_str();
    if DIGIT_RUN_RE
        .find_iter(&out)
        .any(|m| is_contact_number(m.as_str(), hot))
    {
        let replaced = DIGIT_RUN_RE
            .replace_all(&out, |c: &Captures| {
                if is_contact_number(&c[0], hot) {
                    PHONE.to_string()
                } else {
                    c[0].to_string()
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

/// What each pass of [`redact`] cannot match without: an at sign, a label of a member
/// or doctor number, a digit, an honorific, an ASCII letter. Taken from the original
/// text: a pass only removes text, and the tokens it writes (`[メール]`, `[会員番号]`,
/// …) hold nothing a later pass needs.
#[derive(Debug, Clone, Copy)]
struct Needs {
    email: bool,
    named_id: bool,
    digits: bool,
    honorific: bool,
    ascii_letters: bool,
}

impl Needs {
    fn of(text: &str) -> Needs {
        Needs {
            email: text.contains(['@', '＠']),
            named_id: text.contains("医籍") || text.contains("会員"),
            digits: text
                .chars()
                .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c)),
            honorific: ["先生", "様", "さま", "せんせい", "さん", "殿"]
                .iter()
                .any(|h| text.contains(h)),
            ascii_letters: text.bytes().any(|b| b.is_ascii_alphabetic()),
        }
    }
}

/// Redacts PII from `text`. Never panics; returns the input unchanged (borrowed) when
/// there is nothing to redact.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    // each pass runs only when the text holds what its pattern cannot match without
    // (most member messages and answers hold none of it: a scan of the bytes is far
    // cheaper than a regex search over Japanese text)
    let needs = Needs::of(text);

    if needs.email && EMAIL_RE.is_match(&out) {
        out = Cow::Owned(EMAIL_RE.replace_all(&out, EMAIL).into_owned());
    }

    if needs.named_id && NAMED_ID_RE.is_match(&out) {
        let replaced = NAMED_ID_RE
            .replace_all(&out, |c: &Captures| {
                let label = &c["label"];
                // 「医籍番号（6桁）」: a digit count, not a number
                if digits_of(&c["num"]).len() < 4 {
                    return c[0].to_string();
                }
                let token = if label.starts_with("医籍") {
                    DOCTOR_ID
                } else {
                    MEMBER_ID
                };
                format!("{}{}{}", label, &c["gap"], token)
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }

    let hot = HOTLINE_DIGITS.as_str();
    let needs_digit_pass = needs.digits
        && DIGIT_RUN_RE.find_iter(&out).any(|m| {
            let d = digits_of(m.as_str());
            d.len() >= 10 && d.as_str() != hot
        });
    if needs_digit_pass {
        let replaced = DIGIT_RUN_RE
            .replace_all(&out, |c: &Captures| {
                let run = &c[0];
                let d = digits_of(run);
                if d.len() < 10 || d == hot {
                    return run.to_string();
                }
                if is_phone_number(run, hot) {
                    PHONE.to_string()
                } else {
                    IDENTIFIER.to_string()
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }

    if needs.honorific && NAME_RE.is_match(&out) {
        let replaced = NAME_RE
            .replace_all(&out, |c: &Captures| {
                let name = c["name"].trim();
                if is_not_name(name) {
                    c[0].to_string()
                } else {
                    format!("{NAME}{}{}", &c["sp"], &c["hon"])
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }

    if needs.ascii_letters && ROMAJI_NAME_RE.is_match(&out) {
        let replaced = ROMAJI_NAME_RE
            .replace_all(&out, |c: &Captures| {
                let name = c["name"].to_ascii_lowercase();
                let last = name.rsplit(' ').next().unwrap_or(&name);
                if NOT_ROMAJI_NAMES.contains(&last) {
                    c[0].to_string()
                } else {
                    format!("{NAME}{}{}", &c["sep"], &c["hon"])
                }
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

/// A member or conversation id as stored: unchanged unless it holds PII (an e-mail
/// address, a phone number…), which is redacted and followed by `#` and a short hash of
/// the original, so different members stay different and the same one stays the same.
pub fn pseudonymize_id(id: &str) -> String {
    use sha2::{Digest, Sha256};
    let r = redact(id);
    if r == id {
        return id.to_string();
    }
    let h = hex::encode(Sha256::digest(id.as_bytes()));
    format!("{r}#{}", &h[..16])
}

/// A staff name or a chat display name (Slack `users.info`, a Discord user name, a
/// name given with `madoguchi staff … --as`, a chat-platform staff id) fit for a table,
/// a log line or a staff post: unchanged unless it holds an e-mail address or a phone
/// number, which are redacted and followed by `#` and a tag of the original (16
/// letters a–p from its SHA-256), so two people stay two and one stays one. The name
/// itself is kept: staff names are shown to staff on purpose. Idempotent (the tag has
/// no digits, so it never looks like a phone number).
pub fn display_name(name: &str) -> String {
    let r = redact_contacts(name);
    if r == name {
        return name.to_string();
    }
    format!("{r}#{}", letter_tag(name))
}

/// 16 letters a–p from the SHA-256 of `s`.
fn letter_tag(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())[..8]
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0f])
        .map(|n| char::from(b'a' + n))
        .collect()
}

/// Member text as stored: at most what the bot reads ([`crate::core::text::MAX_CHARS`]
/// characters), with a note saying how much was cut.
pub fn cap_member_text(text: &str) -> Cow<'_, str> {
    let max = crate::core::text::MAX_CHARS;
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => {
            let dropped = text[cut..].chars().count();
            Cow::Owned(format!("{}…［以下 {dropped} 文字省略］", &text[..cut]))
        }
    }
}

/// A database URL fit for a log line or an error: the password of `user:password@`
/// and the value of every query parameter that may hold a secret (`password`,
/// `sslpassword`, `passfile`, keys, tokens…) are replaced by `***`.
pub fn database_url(url: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match main.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            // userinfo ends at the last '@' before the path
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split(':').next().unwrap_or("");
                    out.push_str(user);
                    if userinfo.contains(':') {
                        out.push_str(":***");
                    }
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(main),
    }
    if let Some(q) = query {
        out.push('?');
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| {
                let (k, _) = kv.split_once('=').unwrap_or((kv, ""));
                let kl = k.to_ascii_lowercase();
                let safe = [
                    "sslmode",
                    "application_name",
                    "connect_timeout",
                    "host",
                    "port",
                    "dbname",
                    "user",
                    "options",
                    "mode",
                    "statement-cache-capacity",
                ];
                if safe.contains(&kl.as_str()) {
                    kv.to_string()
                } else {
                    format!("{k}=***")
                }
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

fn is_not_name(name: &str) -> bool {
    if NOT_NAMES.contains(&name) {
        return true;
    }
    if name.chars().all(|c| ('ぁ'..='ゖ').contains(&c)) {
        return NOT_KANA_NAME_ENDINGS.iter().any(|w| name.ends_with(w));
    }
    // 「院長先生」「担当医師様」: a title ending the run is not a name
    [
        "院長",
        "理事長",
        "担当",
        "医師",
        "主治医",
        "会員",
        "事務局",
        "職員",
        "患者",
        "業者",
        "関係者",
        "者",
        "会社",
        "御中",
    ]
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
        assert_eq!(
            redact("０１２０－１７９－０６６"),
            "０１２０－１７９－０６６"
        );
    }

    #[test]
    fn named_ids_are_redacted_but_amounts_and_dates_kept() {
        let r = redact("医籍番号は123456、会員番号：1234567890です");
        assert_eq!(
            r,
            format!("医籍番号は{DOCTOR_ID}、会員番号：{MEMBER_ID}です")
        );
        let r = redact("医籍 １２３４５６");
        assert_eq!(r, format!("医籍 {DOCTOR_ID}"));
        let t =
            "医籍番号（6桁）または会員番号（10桁）、2022-06-01以降、100,000円、150000円、6日間休業";
        assert_eq!(redact(t), t);
    }

    #[test]
    fn emails_are_redacted() {
        assert_eq!(
            redact("taro.yamada@example.co.jp に連絡を"),
            format!("{EMAIL} に連絡を")
        );
        assert_eq!(redact("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"), EMAIL);
    }

    #[test]
    fn names_before_sensei_sama_are_redacted_titles_kept() {
        assert_eq!(
            redact("山田先生の診療所です"),
            format!("{NAME}先生の診療所です")
        );
        assert_eq!(redact("院長の佐藤様から"), format!("院長の{NAME}様から"));
        assert_eq!(redact("院長先生が"), "院長先生が");
        assert_eq!(redact("皆様へ"), "皆様へ");
        assert_eq!(redact("お客様"), "お客様");
        assert_eq!(redact("担当の先生に"), "担当の先生に");
    }

    #[test]
    fn names_with_every_honorific_script_and_spacing_are_redacted() {
        for (t, gone) in [
            ("山田さんから電話", "山田"),
            ("山田 先生の診療所", "山田"),
            ("山田　太郎様", "山田"),
            ("山田 太郎 さん", "太郎"),
            ("やまだせんせいに", "やまだ"),
            ("やまださんが", "やまだ"),
            ("ヤマダさま", "ヤマダ"),
            ("鈴木殿", "鈴木"),
            ("Yamada-san said", "Yamada"),
            ("yamada sensei", "yamada"),
            ("Sato sama", "Sato"),
            ("Yamada先生", "Yamada"),
        ] {
            let r = redact(t);
            assert!(!r.contains(gone) && r.contains(NAME), "{t} → {r}");
        }
    }

    #[test]
    fn common_words_before_honorifics_are_kept() {
        for t in [
            "たくさんの",
            "みなさんへ",
            "お客さん",
            "おつかれさまです",
            "患者さん",
            "業者さん",
            "院長先生",
            "皆様",
            "について先生に相談",
        ] {
            assert_eq!(redact(t), t);
        }
    }

    #[test]
    fn ids_with_pii_are_pseudonymised_stably_and_distinctly() {
        assert_eq!(pseudonymize_id("u-123"), "u-123");
        let a = pseudonymize_id("taro@example.jp");
        assert!(a.starts_with(EMAIL) && !a.contains("taro"), "{a}");
        assert_eq!(a, pseudonymize_id("taro@example.jp"));
        assert_ne!(a, pseudonymize_id("jiro@example.jp"));
        let p = pseudonymize_id("090-1234-5678");
        assert!(p.starts_with(PHONE) && !p.contains("1234"), "{p}");
    }

    #[test]
    fn display_names_lose_emails_and_phones_but_keep_names_and_platform_ids() {
        for plain in [
            "鈴木",
            "鈴木 花子",
            "suzuki",
            "slack:U0123ABCD",
            "discord:123456789012345678",
            "山田先生",
            "窓口 0120-179-066",
        ] {
            assert_eq!(display_name(plain), plain);
        }
        let e = display_name("yamada@example.jp");
        assert!(e.starts_with(EMAIL) && !e.contains("yamada"), "{e}");
        let p = display_name("山田 090-1234-5678");
        assert!(p.starts_with(&format!("山田 {PHONE}#")), "{p}");
        for t in [
            "山田（内線12 090-1234-5678）",
            "Taro +81 90 1234 5678",
            "０９０１２３４５６７８",
            "tel:09012345678",
            "81-90-1234-5678 Taro",
            "yamada＠example．jp",
        ] {
            let d = display_name(t);
            assert!(
                !digits_of(&d).contains("1234") && !d.contains("yamada"),
                "{t} → {d}"
            );
        }
        // stable, distinct, idempotent
        assert_eq!(e, display_name("yamada@example.jp"));
        assert_ne!(e, display_name("sato@example.jp"));
        assert_eq!(display_name(&e), e);
        assert_eq!(display_name(&p), p);
        // the same rule when stored as a staff name, unless redaction is off
        assert_eq!(Redactor::new(true).staff_name("yamada@example.jp"), e);
        assert_eq!(
            Redactor::new(false).staff_name("yamada@example.jp"),
            "yamada@example.jp"
        );
    }

    #[test]
    fn member_text_is_capped_with_a_note() {
        let long = "あ".repeat(70_000);
        let c = cap_member_text(&long);
        assert!(c.chars().count() < crate::core::text::MAX_CHARS + 30);
        assert!(c.contains("68000 文字省略"), "{}", &c[c.len() - 40..]);
        assert_eq!(cap_member_text("短い"), "短い");
    }

    #[test]
    fn database_urls_lose_every_secret() {
        for (u, secret) in [
            (
                "postgres://app:hunter2secret@db.example:5432/madoguchi",
                "hunter2secret",
            ),
            (
                "postgres://db.example/madoguchi?password=hunter2secret&sslmode=require",
                "hunter2secret",
            ),
            (
                "postgresql://app@db/m?sslpassword=hunter2secret",
                "hunter2secret",
            ),
            ("postgres://app:p%40ss@w0rd@db/m", "w0rd"),
            (
                "postgres:///m?host=/run/pg&password=hunter2secret",
                "hunter2secret",
            ),
        ] {
            let d = database_url(u);
            assert!(!d.contains(secret), "{u} → {d}");
        }
        assert_eq!(
            database_url("postgres://app:x@db:5432/m?sslmode=require"),
            "postgres://app:***@db:5432/m?sslmode=require"
        );
    }

    proptest::proptest! {
        /// The byte scans that let [`redact`] skip a pass never skip one whose regex
        /// would have matched.
        #[test]
        fn a_pass_is_skipped_only_when_its_pattern_cannot_match(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "山田", "様", "さん", "先生", "せんせい", "さま", "殿", "会員番号", "医籍", "番号",
                "0120", "090", "-", "ー", "１２３４", "5678", " ", "　", "@", "＠", "mail", "example.jp",
                "Yamada", " san", "-sama", "の", "。", "、", "ランサムウェア", "x", "Ｙａｍａｄａ",
            ]), 0..12),
        ) {
            let t: String = parts.concat();
            let n = Needs::of(&t);
            proptest::prop_assert!(!EMAIL_RE.is_match(&t) || n.email, "{}", t);
            proptest::prop_assert!(!NAMED_ID_RE.is_match(&t) || n.named_id, "{}", t);
            proptest::prop_assert!(!DIGIT_RUN_RE.is_match(&t) || n.digits, "{}", t);
            proptest::prop_assert!(!NAME_RE.is_match(&t) || n.honorific, "{}", t);
            proptest::prop_assert!(!ROMAJI_NAME_RE.is_match(&t) || n.ascii_letters, "{}", t);
        }

        #[test]
        fn generated_names_emails_and_phones_never_survive(
            name in proptest::sample::select(vec!["山田", "佐藤太郎", "鈴木", "やまだ", "たなか", "ヤマダ", "タナカ", "Yamada", "Sato"]),
            hon in proptest::sample::select(vec!["さん", "様", "先生", "せんせい", "さま", "殿"]),
            space in proptest::sample::select(vec!["", " ", "　"]),
            before in "[、。は]{0,2}",
            user in "[a-z]{2,8}",
            phone in "0[1-9]0-[0-9]{4}-[0-9]{4}",
        ) {
            let t = format!("{before}{name}{space}{hon}に連絡を。{user}.x@example.jp または {phone} まで");
            let r = redact(&t);
            proptest::prop_assert!(!r.contains(name), "{} → {}", t, r);
            proptest::prop_assert!(!r.contains("example.jp") && !r.contains(&phone), "{} → {}", t, r);
            proptest::prop_assert!(r.contains(hon));
        }

        #[test]
        fn emails_and_phones_in_display_names_never_survive(
            name in proptest::sample::select(vec!["鈴木", "山田 花子", "ヤマダ", "suzuki", "Taro Yamada", ""]),
            user in "[a-z][a-z0-9._]{1,10}",
            domain in proptest::sample::select(vec!["example.jp", "mail.example.co.jp", "ｅｘａｍｐｌｅ．ｊｐ"]),
            at in proptest::sample::select(vec!["@", "＠"]),
            phone in "0[1-9]0[-ー－ ]?[0-9]{4}[-ー－ ]?[0-9]{4}",
            around in proptest::sample::select(vec![" ", "（", " / ", "｜", "・"]),
            order in proptest::bool::ANY,
        ) {
            let contact = if order { format!("{user}{at}{domain}") } else { phone.clone() };
            let t = format!("{name}{around}{contact}");
            let d = display_name(&t);
            proptest::prop_assert!(!d.contains(&contact), "{} → {}", t, d);
            proptest::prop_assert!(!EMAIL_RE.is_match(&d), "{} → {}", t, d);
            proptest::prop_assert!(!digits_of(&d).contains(&digits_of(&phone)[3..]), "{} → {}", t, d);
            proptest::prop_assert!(d.starts_with(name), "the name is kept: {} → {}", t, d);
            proptest::prop_assert_eq!(display_name(&d), d.clone(), "idempotent");
            proptest::prop_assert_eq!(display_name(&t), d, "stable");
        }

        #[test]
        fn display_names_of_two_addresses_stay_two(a in "[a-z]{3,8}", b in "[a-z]{3,8}") {
            proptest::prop_assume!(a != b);
            proptest::prop_assert_ne!(
                display_name(&format!("{a}@example.jp")),
                display_name(&format!("{b}@example.jp"))
            );
        }

        #[test]
        fn display_name_never_panics_and_is_idempotent(text in "\\PC{0,80}") {
            let once = display_name(&text);
            proptest::prop_assert_eq!(display_name(&once), once.clone());
            proptest::prop_assert!(!EMAIL_RE.is_match(&once), "{} → {}", text, once);
        }

        #[test]
        fn redaction_never_panics_and_is_stable(text in "\\PC{0,80}") {
            let once = redact(&text).into_owned();
            proptest::prop_assert_eq!(redact(&once).into_owned(), once.clone());
            let id = pseudonymize_id(&text);
            proptest::prop_assert_eq!(id, pseudonymize_id(&text));
        }
    }

    #[test]
    fn off_leaves_text_alone() {
        let t = "090-1234-5678";
        assert_eq!(Redactor::new(false).apply(t), t);
        assert_ne!(Redactor::new(true).apply(t), t);
    }
}
