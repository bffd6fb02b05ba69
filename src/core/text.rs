//! Text normalisation: NFKC, width, case, long vowels, variant spellings and kana folding.
//!
//! Every piece of member text enters the core through [`Normalizer::normalize`], which
//! returns a [`NormalizedText`]; the rest of the core only accepts that newtype, so no
//! stage can forget a step. The variant table is data (`dictionaries/variants.tsv`).

use std::fmt;

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Longest message the core looks at, in characters. Longer input is cut here and the
/// reply says so (a member pasting a whole log should not slow the bot down).
pub const MAX_CHARS: usize = 2000;

/// Text that went through [`Normalizer::normalize`]. Cannot be built any other way.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NormalizedText {
    text: String,
    truncated: bool,
}

impl NormalizedText {
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// True when the input was longer than [`MAX_CHARS`] and was cut.
    pub fn was_truncated(&self) -> bool {
        self.truncated
    }
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }
    /// The text without spaces and punctuation: the key for character n-grams.
    pub fn compact(&self) -> String {
        self.text.chars().filter(|c| !is_separator(*c)).collect()
    }
}

impl fmt::Debug for NormalizedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl fmt::Display for NormalizedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One variant-spelling rule: every occurrence of `from` becomes `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub from: String,
    pub to: String,
}

/// Normalises member text. Built once from the variant table; cheap to share.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    /// Sorted longest `from` first so that 厚労省 wins over 労.
    variants: Vec<Variant>,
    /// For each first character, the variants starting with it (longest first).
    by_first: Vec<(char, Vec<usize>)>,
}

impl Normalizer {
    /// Builds a normaliser. The `from`/`to` strings are themselves normalised (width,
    /// case) so that table authors can write them either way.
    pub fn new(variants: Vec<Variant>) -> Self {
        let mut variants: Vec<Variant> = variants
            .into_iter()
            .map(|v| Variant {
                from: base_fold(&v.from, usize::MAX).0,
                to: base_fold(&v.to, usize::MAX).0,
            })
            .filter(|v| !v.from.is_empty() && v.from != v.to)
            .collect();
        variants.sort_by(|a, b| {
            b.from
                .chars()
                .count()
                .cmp(&a.from.chars().count())
                .then(a.from.cmp(&b.from))
        });
        let mut by_first: Vec<(char, Vec<usize>)> = Vec::new();
        for (i, v) in variants.iter().enumerate() {
            let c = v
                .from
                .chars()
                .next()
                .expect("empty variants were filtered out");
            match by_first.binary_search_by_key(&c, |e| e.0) {
                Ok(p) => by_first[p].1.push(i),
                Err(p) => by_first.insert(p, (c, vec![i])),
            }
        }
        Normalizer { variants, by_first }
    }

    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// Full normalisation of one message.
    pub fn normalize(&self, raw: &str) -> NormalizedText {
        let (folded, truncated) = base_fold(raw, MAX_CHARS);
        let text = self.apply_variants(&folded);
        NormalizedText { text, truncated }
    }

    fn apply_variants(&self, s: &str) -> String {
        if self.variants.is_empty() {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len() + 8);
        let mut rest = s;
        'outer: while let Some(c) = rest.chars().next() {
            if let Ok(p) = self.by_first.binary_search_by_key(&c, |e| e.0) {
                for v in self.by_first[p].1.iter().map(|i| &self.variants[*i]) {
                    // 個人情報保護委 → 個人情報保護委員会 must leave the full form alone
                    if v.to.starts_with(v.from.as_str()) && rest.starts_with(v.to.as_str()) {
                        out.push_str(&v.to);
                        rest = &rest[v.to.len()..];
                        continue 'outer;
                    }
                    if rest.starts_with(v.from.as_str()) {
                        out.push_str(&v.to);
                        rest = &rest[v.from.len()..];
                        continue 'outer;
                    }
                }
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }
}

/// True for characters that separate words but carry no meaning for matching.
pub fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '、' | '。'
                | '，'
                | '．'
                | ','
                | '.'
                | '!'
                | '?'
                | '！'
                | '？'
                | '・'
                | '「'
                | '」'
                | '『'
                | '』'
                | '('
                | ')'
                | '（'
                | '）'
                | '['
                | ']'
                | '【'
                | '】'
                | ':'
                | ';'
                | '"'
                | '\''
                | '…'
                | '~'
                | '〜'
                | '♪'
                | '*'
                | '#'
                | '＃'
                | '/'
                | '|'
                | '<'
                | '>'
                | '='
                | '+'
                | '_'
                | '^'
                | '`'
                | '{'
                | '}'
                | '\\'
                | '@'
                | '&'
                | '$'
                | '%'
        )
}

/// Katakana → hiragana (for kana-insensitive keys); other characters unchanged.
pub fn to_hiragana(s: &str) -> String {
    s.chars().map(hiragana_char).collect()
}

/// One katakana character → hiragana; other characters unchanged.
pub fn hiragana_char(c: char) -> char {
    match c {
        'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Hiragana → katakana; other characters unchanged.
pub fn to_katakana(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ぁ'..='ゖ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// True when the text has kana or kanji (it is worth tokenising as Japanese).
pub fn has_japanese(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, 'ぁ'..='ゖ' | 'ァ'..='ヺ' | 'ー' | '一'..='鿿' | '々'))
}

/// NFKC, lower case, control characters dropped, dashes and long vowels unified,
/// repeated punctuation and spaces squeezed. Returns the text and whether it was cut.
fn base_fold(raw: &str, max_chars: usize) -> (String, bool) {
    // most messages are already NFKC (full-width kana, kanji, ASCII): skip the
    // decomposition machinery for them
    if is_nfkc_quick(raw.chars()) == IsNormalized::Yes {
        fold_chars(raw.chars(), raw.len(), max_chars)
    } else {
        fold_chars(raw.nfkc(), raw.len(), max_chars)
    }
}

fn fold_chars(
    chars: impl Iterator<Item = char>,
    len_hint: usize,
    max_chars: usize,
) -> (String, bool) {
    let mut truncated = false;
    let mut out = String::with_capacity(len_hint.min(max_chars.saturating_mul(4)));
    let mut count = 0usize;
    let mut prev: Option<char> = None;
    for c in chars {
        if count >= max_chars {
            truncated = true;
            break;
        }
        let c = match c {
            // control characters (but keep line breaks as spaces)
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => continue,
            '\u{200b}'..='\u{200f}' | '\u{feff}' | '\u{2060}' => continue,
            // dashes and long-vowel look-alikes
            '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '﹣' => {
                if prev.is_some_and(is_kana) {
                    'ー'
                } else {
                    '-'
                }
            }
            '〜' | '~' if prev.is_some_and(is_kana) => 'ー',
            '-' if prev.is_some_and(|p| matches!(p, 'ァ'..='ヺ')) => 'ー',
            c => c,
        };
        // squeeze runs of spaces and of the same punctuation mark
        if let Some(p) = prev {
            if (c == ' ' && p == ' ') || (c == p && is_separator(c) && c != ' ') {
                continue;
            }
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c); // kana, kanji: no case
        }
        prev = Some(c);
        count += 1;
    }
    let trimmed = out.trim();
    (
        if trimmed.len() == out.len() {
            out
        } else {
            trimmed.to_string()
        },
        truncated,
    )
}

fn is_kana(c: char) -> bool {
    matches!(c, 'ぁ'..='ゖ' | 'ァ'..='ヺ' | 'ー')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Normalizer {
        Normalizer::new(vec![
            Variant {
                from: "漏洩".into(),
                to: "漏えい".into(),
            },
            Variant {
                from: "ウィルス".into(),
                to: "ウイルス".into(),
            },
            Variant {
                from: "厚労省".into(),
                to: "厚生労働省".into(),
            },
            Variant {
                from: "e-mail".into(),
                to: "メール".into(),
            },
            Variant {
                from: "個人情報保護委".into(),
                to: "個人情報保護委員会".into(),
            },
        ])
    }

    #[test]
    fn half_width_kana_and_full_width_digits_fold() {
        assert_eq!(
            n().normalize("ｾｲﾄﾞの説明 ０１２０").as_str(),
            "セイドの説明 0120"
        );
    }

    #[test]
    fn variants_are_unified_longest_first() {
        assert_eq!(
            n().normalize("厚労省に漏洩を報告、ウィルスも").as_str(),
            "厚生労働省に漏えいを報告、ウイルスも"
        );
        assert_eq!(n().normalize("E-Mailで").as_str(), "メールで");
    }

    #[test]
    fn variant_that_is_a_prefix_of_its_target_leaves_the_full_form_alone() {
        assert_eq!(
            n().normalize("個人情報保護委員会と個人情報保護委").as_str(),
            "個人情報保護委員会と個人情報保護委員会"
        );
    }

    #[test]
    fn control_characters_and_zero_width_are_dropped() {
        assert_eq!(
            n().normalize("感\u{0007}染\u{200b}した").as_str(),
            "感染した"
        );
    }

    #[test]
    fn long_vowel_lookalikes_after_katakana_become_choonpu() {
        assert_eq!(n().normalize("サ－バ〜").as_str(), "サーバー");
    }

    #[test]
    fn long_input_is_truncated_and_flagged() {
        let t = n().normalize(&"あ".repeat(MAX_CHARS + 10));
        assert!(t.was_truncated());
        assert_eq!(t.as_str().chars().count(), MAX_CHARS);
    }

    #[test]
    fn repeated_punctuation_is_squeezed() {
        assert_eq!(n().normalize("助けて！！！！").as_str(), "助けて!");
    }

    #[test]
    fn kana_conversions_round_trip() {
        assert_eq!(to_katakana("かんせん"), "カンセン");
        assert_eq!(to_hiragana("カンセン"), "かんせん");
    }
}
