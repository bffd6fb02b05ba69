//! The hand-off notice: what the member is told about passing the conversation to the
//! secretariat, decided by the service from what was really kept (pure text, no I/O).
//! The hotline number and hours are FACTS.md (1) 緊急相談窓口.

use super::hours::HOTLINE;
use super::turn::Reply;

/// Whether the escalation was kept durably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// In the database (`Some(id)`), or fsynced to the spool (`None`: no number yet).
    Kept { id: Option<i64> },
    /// Neither the database nor the spool took it.
    NotKept,
}

/// The sentence for a hand-off.
pub fn notice(h: Handoff) -> String {
    match h {
        Handoff::Kept { id: Some(id) } => format!("事務局の担当者に引き継ぎました（引き継ぎ番号 #{id}）。担当者からこの会話でご連絡します。"),
        Handoff::Kept { id: None } => "事務局の担当者に引き継ぎました。担当者からこの会話でご連絡します。".to_string(),
        Handoff::NotKept => format!("事務局への引き継ぎができませんでした。お電話でご相談ください（緊急相談窓口 {HOTLINE}、年中無休 9:00〜21:00）。"),
    }
}

impl Reply {
    /// Adds the hand-off notice: right after the first paragraph (the hotline) of an
    /// urgent reply, so the hotline stays first; at the end of any other.
    pub fn add_handoff(&mut self, h: Handoff) {
        let n = notice(h);
        if self.urgent {
            if let Some(i) = self.text.find("\n\n") {
                self.text.insert_str(i, &format!("\n\n{n}"));
                return;
            }
        }
        if self.text.is_empty() {
            self.text = n;
        } else {
            self.text.push_str("\n\n");
            self.text.push_str(&n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::label::Label;
    use crate::core::turn::ReplyKind;

    fn reply(text: &str, urgent: bool) -> Reply {
        Reply {
            text: text.into(),
            intent: Label::Incident,
            confidence: 1.0,
            urgent,
            kind: ReplyKind::Answer,
            choices: Vec::new(),
            escalate: None,
            sources: Vec::new(),
        }
    }

    #[test]
    fn notices_say_exactly_what_was_kept() {
        assert_eq!(notice(Handoff::Kept { id: Some(12) }), "事務局の担当者に引き継ぎました（引き継ぎ番号 #12）。担当者からこの会話でご連絡します。");
        assert_eq!(
            notice(Handoff::Kept { id: None }),
            "事務局の担当者に引き継ぎました。担当者からこの会話でご連絡します。"
        );
        let not = notice(Handoff::NotKept);
        assert!(not.starts_with("事務局への引き継ぎができませんでした。お電話でご相談ください"));
        assert!(not.contains(HOTLINE) && !not.contains("引き継ぎました"));
    }

    #[test]
    fn urgent_notice_goes_after_the_hotline_paragraph() {
        let mut r = reply(
            "【至急】0120-179-066 へ\nただいま受付中です。\n\n一般的な初動",
            true,
        );
        r.add_handoff(Handoff::Kept { id: Some(3) });
        assert_eq!(r.text, "【至急】0120-179-066 へ\nただいま受付中です。\n\n事務局の担当者に引き継ぎました（引き継ぎ番号 #3）。担当者からこの会話でご連絡します。\n\n一般的な初動");
    }

    #[test]
    fn other_notices_are_appended() {
        let mut r = reply("承知しました。", false);
        r.add_handoff(Handoff::NotKept);
        assert!(r
            .text
            .starts_with("承知しました。\n\n事務局への引き継ぎができませんでした。"));
        let mut r = reply("【至急】一段落だけ", true);
        r.add_handoff(Handoff::Kept { id: None });
        assert_eq!(r.text, "【至急】一段落だけ\n\n事務局の担当者に引き継ぎました。担当者からこの会話でご連絡します。");
    }
}
