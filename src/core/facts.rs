//! Fact extraction from normalised member text: membership, role, institution, incident
//! kind, incident date, closure and the reports already made. One small function per
//! fact, regexes compiled once; runs on every message, so it stays cheap.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::dates::{find_dates, parse_number, DateSpan};
use super::text::NormalizedText;

/// Whether the institution has an A① member as founder or administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    /// The member is A①, or the founder/administrator is.
    A1,
    /// No A① member (not a JMA member at all, or explicitly not A①).
    NotMember,
    #[default]
    Unknown,
}

/// Who is writing (or whose role is mentioned first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 開設者
    Founder,
    /// 管理者
    Administrator,
    /// 院長 / 理事長
    Director,
    /// 勤務医
    EmployedDoctor,
    /// 職員 / スタッフ / 看護師
    Staff,
    /// 事務
    Clerk,
}

/// 病院 or 診療所 (クリニック, 医院).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Institution {
    Hospital,
    Clinic,
}

/// What happened, as far as the payment rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Ransomware, Emotet, malware, unauthorized access, defacement…
    CyberAttack,
    /// A personal-data leak caused by a cyber attack.
    AttackLeak,
    /// A personal-data leak not caused by an attack (misdirected fax, lost USB…).
    Leak,
    /// Caused by an insider (内部犯罪).
    Insider,
    #[default]
    Unknown,
}

impl IncidentKind {
    /// The id used in rules/payments.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::CyberAttack => "cyber_attack",
            IncidentKind::AttackLeak => "attack_leak",
            IncidentKind::Leak => "leak",
            IncidentKind::Insider => "insider",
            IncidentKind::Unknown => "unknown",
        }
    }
}

/// Whether (and how long) the institution closed because of the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "days")]
pub enum Closure {
    #[default]
    NotMentioned,
    /// 休業なし / 休診はしていません.
    NoClosure,
    /// 半日, a few hours: does not count.
    LessThanDay,
    /// Closed for this many whole days.
    Days(u32),
    /// A closure whose length was not given (休診しました, 診療できなかった).
    Unspecified,
    /// All new-patient (初診) consultations stopped while 再診 continued: counts.
    NewPatientsStopped,
}

impl Closure {
    /// True when the closure counts for the supplement (one day or more).
    pub fn counts(self) -> bool {
        matches!(self, Closure::Days(n) if n >= 1)
            || matches!(self, Closure::Unspecified | Closure::NewPatientsStopped)
    }
}

/// Whether a report/notice is done, as far as the text says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    #[default]
    NotMentioned,
    /// Mentioned but not confirmed as done (まだ, これから, 予定, a question…).
    NotDone,
    Done,
}

/// Everything the rules need, extracted from one or more messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Facts {
    pub membership: Membership,
    pub role: Option<Role>,
    pub institution: Option<Institution>,
    pub incident: IncidentKind,
    /// The incident date; None when not given.
    pub date: Option<DateSpan>,
    pub closure: Closure,
    /// Notification to 厚生労働省.
    pub mhlw_report: ReportStatus,
    /// Report to 個人情報保護委員会.
    pub ppc_report: ReportStatus,
    /// Notice to the people whose data leaked.
    pub victim_notice: ReportStatus,
    /// The text says it was not an attack (a correction: 「攻撃じゃなくて誤送信でした」).
    pub not_attack: bool,
}

impl Facts {
    /// `self` updated with whatever `newer` states (a correction overrides).
    pub fn merged(self, newer: Facts) -> Facts {
        fn pick<T: PartialEq + Copy>(old: T, new: T, unknown: T) -> T {
            if new == unknown {
                old
            } else {
                new
            }
        }
        Facts {
            membership: pick(self.membership, newer.membership, Membership::Unknown),
            role: newer.role.or(self.role),
            institution: newer.institution.or(self.institution),
            incident: match (self.incident, newer.incident) {
                // 「攻撃じゃなくて誤送信でした」 corrects the kind
                (_, new) if newer.not_attack && new != IncidentKind::Unknown => new,
                // "it was also leaked" after an attack: still the attack
                (IncidentKind::CyberAttack | IncidentKind::AttackLeak, IncidentKind::Leak) => {
                    IncidentKind::AttackLeak
                }
                (old, new) => pick(old, new, IncidentKind::Unknown),
            },
            date: newer.date.or(self.date),
            closure: match (self.closure, newer.closure) {
                // a later 「休診しました」 does not undo a length already given
                (
                    old @ (Closure::Days(_) | Closure::LessThanDay | Closure::NewPatientsStopped),
                    Closure::Unspecified,
                ) => old,
                (old, new) => pick(old, new, Closure::NotMentioned),
            },
            mhlw_report: pick(
                self.mhlw_report,
                newer.mhlw_report,
                ReportStatus::NotMentioned,
            ),
            ppc_report: pick(
                self.ppc_report,
                newer.ppc_report,
                ReportStatus::NotMentioned,
            ),
            victim_notice: pick(
                self.victim_notice,
                newer.victim_notice,
                ReportStatus::NotMentioned,
            ),
            not_attack: newer.not_attack,
        }
    }

    /// True when the text gave any fact at all.
    pub fn is_empty(&self) -> bool {
        *self == Facts::default()
    }
}

/// Extracts all facts from one normalised message.
pub fn extract(text: &NormalizedText, today: NaiveDate) -> Facts {
    extract_str(text.as_str(), today)
}

/// As [`extract`], for text already normalised by the caller.
pub fn extract_str(t: &str, today: NaiveDate) -> Facts {
    let role = role(t);
    let institution = institution(t);
    let date = incident_date(t, today);
    let (mhlw_report, ppc_report, victim_notice) = reports(t);
    Facts {
        membership: membership(t, role),
        role,
        institution,
        incident: incident_kind(t),
        date,
        closure: closure(t, today, date),
        mhlw_report,
        ppc_report,
        victim_notice,
        not_attack: NOT_ATTACK.is_match(t),
    }
}

static BARE_DAYS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:丸|まる)?\s*([0-9]{1,3}|[一二三四五六七八九十]{1,3})\s*(日|にち|週間|週)\s*(?:間|かん)?\s*(?:だけ|ほど|くらい|ぐらい|程度)?\s*(?:でした|です|だった|だよ|だ|で|$|。|!)",
    )
});

/// A length given alone (「丸2日でした」「3日です」) when the conversation is about the
/// closure: read as the closure's length.
pub fn bare_closure(t: &str) -> Option<Closure> {
    let c = BARE_DAYS.captures(t)?;
    let end = c.get(0)?.end();
    if t[end..].starts_with('前') || t[end..].starts_with("後") || t[end..].starts_with("から")
    {
        return None;
    }
    let n = parse_number(&c[1])?;
    Some(Closure::Days(unit_days(
        n,
        if c[2].starts_with('週') {
            "週"
        } else {
            "日"
        },
    )))
}

fn re(p: &str) -> Regex {
    Regex::new(p).unwrap_or_else(|e| panic!("facts regex {p:?}: {e}"))
}

// ---------------------------------------------------------------- membership

static MEMBER_UNSURE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:a1|会員)(?:会員)?(?:か|かどうか|なのか|なのかどうか)(?:は|が)?(?:分か[らり]|わか[らり]|不明|知[らり]|確認中|定か|はっきりし)|(?:会員|a1)(?:は|か)?(?:不明|分かりません|わかりません)",
    )
});
static MEMBER_NO: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:医師会|会員|a1)(?:に|へ)?(?:は|も)?(?:入って|加入して|入会して|なって)(?:い|お)?(?:ない|ません|らず|なかった)|(?:会員|a1)(?:で|じゃ)(?:は|も)?(?:ない|なく|ありません|ございません)|非会員|未入会|未加入|非加入|会員外|会員以外|(?:a2|a②|b|c)(?:会員|の会員)|(?:a1|会員)(?:会員)?(?:の(?:方|先生|医師))?(?:は|が)(?:いない|いません|おらず|おりません|一人もいない)|(?:医師会|会員)(?:に|へ)?(?:は)?(?:入っていない|入ってない|入ってません)|a1会員なし|a1はいない",
    )
});
static MEMBER_HEAD_A1: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:院長|開設者|管理者|理事長|経営者|オーナー)(?:先生)?(?:が|は|も)[^。]{0,8}a1")
});
static MEMBER_A1: LazyLock<Regex> = LazyLock::new(|| re(r"a1"));
static MEMBER_GENERIC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:日本)?医師会(?:の)?会員|日医会員|医師会に(?:入って|加入して|入会して)(?:い|お)?(?:る|ます|ります)|会員(?:の|である)(?:病院|診療所|クリニック|医院)|会員です",
    )
});

/// Membership from the text; a generic "JMA member" counts as A① when the writer
/// founds or runs the institution (A① is exactly that class of member).
pub fn membership(t: &str, role: Option<Role>) -> Membership {
    if MEMBER_UNSURE.is_match(t) {
        return Membership::Unknown;
    }
    // 「院長はA①会員ではありません」: the negation wins over the head being named
    if MEMBER_NO.is_match(t) {
        return Membership::NotMember;
    }
    if MEMBER_HEAD_A1.is_match(t) {
        return Membership::A1;
    }
    if MEMBER_A1.is_match(t) {
        return Membership::A1;
    }
    if let Some(m) = MEMBER_GENERIC.find(t) {
        let institution_member =
            m.as_str().starts_with("会員の") || m.as_str().starts_with("会員である");
        if institution_member
            || matches!(
                role,
                Some(Role::Founder | Role::Administrator | Role::Director)
            )
        {
            return Membership::A1;
        }
    }
    Membership::Unknown
}

// ---------------------------------------------------------------- role, institution

static ROLE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"開設者|管理者|院長|理事長|勤務医|勤務している医師|事務長|事務員|事務職|事務の|医療事務|職員|スタッフ|看護師",
    )
});

pub fn role(t: &str) -> Option<Role> {
    let m = ROLE.find(t)?;
    Some(match m.as_str() {
        "開設者" => Role::Founder,
        "管理者" => Role::Administrator,
        "院長" | "理事長" => Role::Director,
        "勤務医" | "勤務している医師" => Role::EmployedDoctor,
        "職員" | "スタッフ" | "看護師" => Role::Staff,
        _ => Role::Clerk,
    })
}

static INSTITUTION: LazyLock<Regex> = LazyLock::new(|| re(r"病院|診療所|クリニック|医院"));

pub fn institution(t: &str) -> Option<Institution> {
    INSTITUTION.find(t).map(|m| {
        if m.as_str() == "病院" {
            Institution::Hospital
        } else {
            Institution::Clinic
        }
    })
}

// ---------------------------------------------------------------- incident kind

static INSIDER_STRONG: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"内部犯行|内部犯罪|内部不正|内部の(?:人|者|職員|人間)|横領|故意に|わざと|悪用|売却|転売|売った|売って|売られ|売り渡|横流し|名簿屋|こっそり|無断で(?:持ち?出|コピー|複製|送|閲覧)|(?:元職員|元従業員|元スタッフ|退職者|退職した|辞めた|やめた|職員|事務員|従業員|スタッフ|看護師|医師|派遣|委託|業者の|外注|パート|アルバイト|バイト)(?:さん)?(?:が|による|の)[^。]{0,20}(?:不正アクセス|不正ログイン|持ち?出|盗ん|盗み|売|漏らし|流出させ|コピーして|持って帰|持ち帰|勝手に)",
    )
});
static INSIDER_TAKEOUT: LazyLock<Regex> =
    LazyLock::new(|| re(r"持ち?出(?:し|さ|す|した|せ)|持ち帰"));
static LOSS: LazyLock<Regex> = LazyLock::new(|| {
    re(r"紛失|なくし|無くし|失くし|落とし|置き忘れ|盗難|盗まれ|ひったくり|車上荒らし|空き巣")
});
static NOT_ATTACK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:攻撃|ウイルス|マルウェア|不正アクセス|ハッキング|サイバー)(?:に|で|が原因|によるもの|とは)?(?:は|も)?(?:よら|ではな|じゃな|でな|以外|関係な|ではありません|ではございません|無関係)|感染(?:は|も)?(?:していない|してない|していません|しておらず|なし|無し|ありません)|攻撃(?:は|も)?(?:受けていない|されていない|ない)",
    )
});
static ATTACK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"ランサム|らんさむ|エモテット|emotet|マルウェア|ウイルス|ういるす|感染|かんせん|不正アクセス|不正ログイン|改ざん|書き換え|書き換わ|書き換えられ|標的型|ハッキング|ハッカー|乗っ取|サイバー攻撃|攻撃|ddos|身代金|暗号化され|暗号化されて|フィッシング|トロイ|ワーム|スパイウェア|バックドア|不正侵入|侵入され|脆弱性を突|ボット",
    )
});
static LEAK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"漏えい|流出|漏れ|誤送信|別の(?:方|人|患者|宛先|住所|病院|医療機関)|違う(?:方|人|宛先|住所)|誤送付|誤送|誤配|誤交付|誤発送|誤って|間違えて|間違って|紛失|なくし|無くし|失くし|落とし|置き忘れ|盗難|盗まれ|取り違え|別の患者|別人|他の患者|違う患者|誤廃棄|見られ|閲覧され|晒され|さらされ",
    )
});

pub fn incident_kind(t: &str) -> IncidentKind {
    if INSIDER_STRONG.is_match(t) || (INSIDER_TAKEOUT.is_match(t) && !LOSS.is_match(t)) {
        return IncidentKind::Insider;
    }
    let attack = !NOT_ATTACK.is_match(t)
        && ATTACK
            .find_iter(t)
            .any(|m| !t[m.end()..].starts_with("対策"));
    let leak = LEAK.is_match(t);
    match (attack, leak) {
        (true, true) => IncidentKind::AttackLeak,
        (true, false) => IncidentKind::CyberAttack,
        (false, true) => IncidentKind::Leak,
        (false, false) => IncidentKind::Unknown,
    }
}

// ---------------------------------------------------------------- date

static NOT_INCIDENT_DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\s*(?:以降|以前|より前|より後|から始|に始ま|施行|開始)"));

/// The incident date: the first date mentioned that is not about the programme itself.
pub fn incident_date(t: &str, today: NaiveDate) -> Option<DateSpan> {
    find_dates(t, today)
        .into_iter()
        .find(|d| !NOT_INCIDENT_DATE.is_match(&t[d.end..]))
        .map(|d| d.span)
}

// ---------------------------------------------------------------- closure

const CLOSED: &str = r"(?:休業|休診|臨時休診|閉院|診療(?:を|が|は)?(?:全部|すべて|全て)?(?:停止|中止|休止|休み|ストップ|止め|とめ|やめ|閉め|しめ|でき(?:ず|な|ませ))|(?:外来|診察|受付|診療科|病棟|クリニック|医院|病院|院)(?:を|が|は)?(?:全部|すべて|全て)?(?:停止|休止|中止|ストップ|止め|とめ|閉め|しめ|やめ|休み|休ん|閉じ)|閉め|しめ|休み|休んだ|休ん|休ま|やすみ|やすん|やすま)";
const UNIT: &str = r"(日|週間|週|か月|ヶ月|カ月|ケ月|ヵ月)";
const NUM: &str = r"([0-9]{1,3}|[一二三四五六七八九十]{1,3})";

static NEW_PATIENTS_STOPPED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:初診|新患|新規(?:の)?(?:患者|受診))[^。]{0,14}(?:停止|中止|止め|受け付けず|受け付けない|受付(?:を)?(?:停止|中止)|断|お断り|受け入れ(?:を|が)?(?:停止|中止|でき)|見合わせ|休止|できな|できず)|再診(?:のみ|だけ)",
    )
});
static DAYS_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"{NUM}\s*{UNIT}\s*(?:半)?\s*(?:間)?\s*(?:ほど|くらい|ぐらい|程度|近く|以上|ちょっと)?\s*[、,]?\s*(?:の)?\s*(?:間)?\s*{CLOSED}"
    ))
});
static DAYS_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"{CLOSED}(?:した)?(?:日数|期間)?(?:は|を|が|して|しました|した|し)?\s*(?:計|合計|約|およそ)?\s*{NUM}\s*{UNIT}"
    ))
});
static FULL_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?:丸一日|丸1日|終日|一日中|1日中|まる一日|まるいちにち)[^。]{{0,10}}{CLOSED}"
    ))
});
static LESS_THAN_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?:半日|はんにち|午前(?:中)?|午後|数時間|[0-9]+(?:〜[0-9]+)?時間|夕方|昼から|昼まで|夜間|夜だけ)(?:だけ|のみ|ほど|くらい|ぐらい)?(?:の)?[^。]{{0,8}}{CLOSED}|{CLOSED}(?:した(?:の)?|んだ(?:の)?|だ(?:の)?)?(?:は|が|を|も)?(?:半日|はんにち|午前中?|午後|数時間|[0-9]+時間)"
    ))
});
static NO_CLOSURE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:休業|休診|閉院|診療停止|休み|やすみ)(?:に|まで)?(?:は|も|を)?(?:して(?:い|お)?(?:ない|ません|らず)|してない|してません|せず|なし|無し|なく|ありません|しなかった|しませんでした|していなかった|の必要はな|はない)|(?:通常|普段|ふだん|いつも)(?:通り|どおり)(?:の)?(?:診療|営業|外来|診察)?|(?:診療|営業|外来|診察)(?:は|も)?(?:通常|いつも|普段|ふだん|普通に)(?:通り|どおり)?|普通に(?:診|診療|診察|営業|外来|やって|開けて)|(?:診療|診察|外来)(?:は|を)?(?:継続|続けて|続け|止めず|止めてい?ない)|休まず|休んで(?:い)?(?:ない|ません)|休業等?はなし|やすんで(?:い)?(?:ない|ません)|やすまず",
    )
});
static ONGOING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:休業|休診|閉院|診療停止|診療を?停止|診療を?休止)(?:中|して(?:い|お)(?:る|ます|ります)|が続い|を続け|しっぱなし)",
    )
});
static ANY_CLOSURE: LazyLock<Regex> = LazyLock::new(|| re(CLOSED));
static SINCE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*(?:から|より|以来)"));

fn unit_days(n: u32, unit: &str) -> u32 {
    match unit {
        "日" => n,
        "週間" | "週" => n * 7,
        _ => n * 30,
    }
}

pub fn closure(t: &str, today: NaiveDate, incident: Option<DateSpan>) -> Closure {
    if NEW_PATIENTS_STOPPED.is_match(t) {
        return Closure::NewPatientsStopped;
    }
    for c in DAYS_BEFORE.captures_iter(t) {
        if let Some(n) = parse_number(&c[1]) {
            return Closure::Days(unit_days(n, &c[2]));
        }
    }
    for c in DAYS_AFTER.captures_iter(t) {
        let end = c.get(0).expect("group 0").end();
        // 「休診は3日前から」: a date, not a length
        if t[end..].starts_with('前')
            || t[end..].starts_with("から")
            || t[end..].starts_with("以来")
        {
            continue;
        }
        if let Some(n) = parse_number(&c[1]) {
            return Closure::Days(unit_days(n, &c[2]));
        }
    }
    if FULL_DAY.is_match(t) {
        return Closure::Days(1);
    }
    if NO_CLOSURE.is_match(t) {
        return Closure::NoClosure;
    }
    if LESS_THAN_DAY.is_match(t) {
        return Closure::LessThanDay;
    }
    if ONGOING.is_match(t) {
        // closed since a date ("6月3日から休診中") or since the incident
        let since = find_dates(t, today)
            .into_iter()
            .find(|d| SINCE.is_match(&t[d.end..]))
            .map(|d| d.span)
            .or(incident);
        return match since {
            Some(s) if s.first < today => Closure::Days((today - s.first).num_days().max(1) as u32),
            _ => Closure::Unspecified,
        };
    }
    if ANY_CLOSURE.is_match(t) {
        return Closure::Unspecified;
    }
    Closure::NotMentioned
}

// ---------------------------------------------------------------- reports

static MHLW: LazyLock<Regex> = LazyLock::new(|| re(r"厚生労働省|厚労|労働省"));
static PPC: LazyLock<Regex> = LazyLock::new(|| re(r"個人情報保護委員会|保護委員会|委員会"));
static VICTIM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"本人|被害者|該当者|対象者|該当する(?:方|患者)|対象の(?:方|患者)|患者(?:さん|様)?(?:全員|の方々?|たち|本人)?(?:へ|に)|漏えい(?:した|の)(?:対象の)?(?:方|人|患者)|ご家族|関係者",
    )
});
static BARE_FILING: LazyLock<Regex> = LazyLock::new(|| re(r"届(?:け)?出"));
static REPORT_ACTION: LazyLock<Regex> = LazyLock::new(|| re(r"届|報告|連絡|提出|通知"));
static NOTICE_ACTION: LazyLock<Regex> =
    LazyLock::new(|| re(r"通知|連絡|知らせ|説明|謝罪|詫び|わび|周知|案内|報告"));
static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"まだ|て(?:い|お)?ない|てない|ていません|てません|ておらず|てなく|できていな|できてな|これから|未(?:届|報告|通知|提出|実施|了|済|対応)|予定|今後|つもり|しなければ|しないと|必要|べき|ですか|ますか|でしょうか|どう|方法|忘れ|しない|せず|ません|なし|無し|いない|\?",
    )
});
static DONE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"済|した|ました|した|ている|ています|てある|てあります|ておいた|完了|終え|終わ|行った|いたしました|出した|届けた|伝えた|送った|知らせた|詫びた|た(?:$|[。、,!\s])|たので|たが|たけど|たところ",
    )
});

fn sentence_end(t: &str, from: usize) -> usize {
    t[from..]
        .find(['。', '!', '?', '\n'])
        .map(|i| from + i)
        .unwrap_or(t.len())
}

/// The status of one report from its mentions. `others` are the mentions of the other
/// reports: a clause stops where another report is named.
fn report_status(t: &str, mentions: &[usize], others: &[usize], action: &Regex) -> ReportStatus {
    let mut status = ReportStatus::NotMentioned;
    for &p in mentions {
        let end_sentence = sentence_end(t, p);
        let stop = others
            .iter()
            .copied()
            .filter(|&o| o > p && o < end_sentence)
            .min()
            .unwrap_or(end_sentence);
        let window = &t[p..stop];
        let rest = &t[stop..end_sentence];
        // 「厚労省と委員会に報告しました」: a list shares the verb that follows
        let joined = ["と", "や", "・", "および", "及び", "、", "とも", "にも"]
            .iter()
            .any(|j| window.ends_with(j))
            && window.chars().count() <= 14;
        let window_has_action = action.is_match(window) || (joined && action.is_match(rest));
        if !window_has_action && !action.is_match(rest) {
            continue;
        }
        let s = if NEGATED.is_match(window) {
            ReportStatus::NotDone
        } else if window_has_action && DONE.is_match(window) {
            ReportStatus::Done
        } else {
            // 「委員会へ報告、本人にも通知しました」: the tense comes later in the sentence
            match (DONE.find(rest), NEGATED.find(rest)) {
                (Some(_), None) if window_has_action => ReportStatus::Done,
                (Some(d), Some(n)) if window_has_action && d.start() < n.start() => {
                    ReportStatus::Done
                }
                _ => ReportStatus::NotDone,
            }
        };
        status = s;
    }
    status
}

fn positions(re: &Regex, t: &str) -> Vec<usize> {
    re.find_iter(t).map(|m| m.start()).collect()
}

/// (MHLW notification, PPC report, victim notice).
pub fn reports(t: &str) -> (ReportStatus, ReportStatus, ReportStatus) {
    let mhlw = positions(&MHLW, t);
    let ppc = positions(&PPC, t);
    // 「別の患者さんに渡した」 names the wrong recipient, not the people to notify
    let victim: Vec<usize> = VICTIM
        .find_iter(t)
        .map(|m| m.start())
        .filter(|&p| {
            !["別の", "他の", "違う", "ほかの", "別"]
                .iter()
                .any(|w| t[..p].ends_with(w))
        })
        .collect();
    let all: Vec<usize> = mhlw.iter().chain(&ppc).chain(&victim).copied().collect();
    let others = |own: &[usize]| -> Vec<usize> {
        all.iter().copied().filter(|p| !own.contains(p)).collect()
    };
    let mut m = report_status(t, &mhlw, &others(&mhlw), &REPORT_ACTION);
    let p = report_status(t, &ppc, &others(&ppc), &REPORT_ACTION);
    let v = report_status(t, &victim, &others(&victim), &NOTICE_ACTION);
    if mhlw.is_empty() && ppc.is_empty() {
        // a bare 届出 is the MHLW notification (the PPC one is called 報告)
        let bare = positions(&BARE_FILING, t);
        let bare: Vec<usize> = bare
            .into_iter()
            .filter(|b| !victim.iter().any(|v| v < b && sentence_end(t, *v) > *b))
            .collect();
        m = report_status(t, &bare, &victim, &REPORT_ACTION);
    }
    (m, p, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_counts() {
        assert!(Closure::Days(1).counts());
        assert!(!Closure::Days(0).counts());
        assert!(!Closure::LessThanDay.counts());
        assert!(Closure::NewPatientsStopped.counts());
        assert!(!Closure::NoClosure.counts());
    }
}
