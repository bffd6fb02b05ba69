//! The hotline's opening hours (every day 09:00–21:00 JST) and whether it is open at a
//! given instant. Time is always passed in, never read from the system clock here.

use chrono::{DateTime, Datelike, FixedOffset, NaiveTime, TimeZone, Timelike, Utc};

/// The hotline number, as FACTS.md gives it.
pub const HOTLINE: &str = "0120-179-066";
/// The official programme page, the source of every answer.
pub const OFFICIAL_URL: &str = "https://www.med.or.jp/doctor/sys/cybersecurity/001566.html";

const OPEN_HOUR: u32 = 9;
const CLOSE_HOUR: u32 = 21;

/// Japan Standard Time (UTC+9, no daylight saving).
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// Something that tells the time. The real one reads the system clock; tests fix it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<FixedOffset>;
}

/// The system clock, in JST.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<FixedOffset> {
        Utc::now().with_timezone(&jst())
    }
}

/// A clock stopped at one instant (tests, `--now` on the CLI).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<FixedOffset>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<FixedOffset> {
        self.0
    }
}

/// Whether the hotline answers at `now`, and when that changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotlineStatus {
    /// Open now; closes at 21:00 JST today.
    Open,
    /// Closed now; opens at the given JST time (today or tomorrow 09:00).
    Closed {
        opens_at: DateTime<FixedOffset>,
        tomorrow: bool,
    },
}

pub fn hotline_status(now: DateTime<FixedOffset>) -> HotlineStatus {
    let now = now.with_timezone(&jst());
    let h = now.hour();
    if (OPEN_HOUR..CLOSE_HOUR).contains(&h) {
        return HotlineStatus::Open;
    }
    let tomorrow = h >= CLOSE_HOUR;
    let day = if tomorrow {
        now.date_naive().succ_opt().unwrap_or(now.date_naive())
    } else {
        now.date_naive()
    };
    let opens = day.and_time(NaiveTime::from_hms_opt(OPEN_HOUR, 0, 0).expect("valid time"));
    let opens_at = jst()
        .from_local_datetime(&opens)
        .single()
        .expect("JST has no gaps");
    HotlineStatus::Closed { opens_at, tomorrow }
}

/// One Japanese sentence describing the status, for the top of urgent replies.
pub fn status_sentence(now: DateTime<FixedOffset>) -> String {
    let now = now.with_timezone(&jst());
    match hotline_status(now) {
        HotlineStatus::Open => format!(
            "ただいま受付中です（年中無休 9:00〜21:00、現在 {:02}:{:02}）。",
            now.hour(),
            now.minute()
        ),
        HotlineStatus::Closed { opens_at, tomorrow } => format!(
            "ただいま受付時間外です（現在 {:02}:{:02}）。{}{}月{}日 9:00 から受け付けます（年中無休 9:00〜21:00）。",
            now.hour(),
            now.minute(),
            if tomorrow { "明日 " } else { "本日 " },
            opens_at.month(),
            opens_at.day()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<FixedOffset> {
        jst().with_ymd_and_hms(2026, 11, 26, h, m, 0).unwrap()
    }

    #[test]
    fn open_from_nine_to_before_twenty_one() {
        assert_eq!(hotline_status(at(9, 0)), HotlineStatus::Open);
        assert_eq!(hotline_status(at(20, 59)), HotlineStatus::Open);
    }

    #[test]
    fn closed_at_night_opens_next_morning() {
        match hotline_status(at(21, 0)) {
            HotlineStatus::Closed { opens_at, tomorrow } => {
                assert!(tomorrow);
                assert_eq!(
                    opens_at,
                    jst().with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
                );
            }
            s => panic!("{s:?}"),
        }
        assert!(status_sentence(at(23, 30)).contains("明日 11月27日 9:00"));
    }

    #[test]
    fn closed_early_morning_opens_same_day() {
        assert!(status_sentence(at(6, 5)).contains("本日 11月26日 9:00"));
    }

    #[test]
    fn utc_instants_are_judged_in_jst() {
        // 01:00 UTC = 10:00 JST: open.
        let t = Utc
            .with_ymd_and_hms(2026, 11, 26, 1, 0, 0)
            .unwrap()
            .fixed_offset();
        assert_eq!(hotline_status(t), HotlineStatus::Open);
    }
}
