//! Tokenisation and urgency over the shipped dictionaries (no intents needed).

use madoguchi::content::Content;
use madoguchi::core::analysis::Analyzer;
use madoguchi::engine;

fn analyzer() -> Analyzer {
    let mut errs = Vec::new();
    let a = engine::build_analyzer(&Content::embedded(), &mut errs).expect("lindera loads");
    assert!(errs.is_empty(), "{errs:?}");
    a
}

#[test]
fn domain_words_stay_whole_tokens() {
    let a = analyzer();
    for (text, word) in [
        ("ランサムウェアに感染した", "ランサムウェア"),
        ("電子カルテが動かない", "電子カルテ"),
        ("A①会員です", "a1会員"),
        ("個人情報保護委員会に報告", "個人情報保護委員会"),
        ("Emotetかも", "emotet"),
        ("一時支援金はいくら", "一時支援金"),
    ] {
        let toks = a.analyze(text).tokens;
        assert!(
            toks.iter().any(|t| t.surface == word),
            "{text}: {:?}",
            toks.iter().map(|t| &t.surface).collect::<Vec<_>>()
        );
    }
}

#[test]
fn lemmas_and_readings_come_from_ipadic() {
    let a = analyzer();
    let toks = a.analyze("感染しました").tokens;
    assert_eq!(&*toks[0].lemma, "感染");
    assert_eq!(&*toks[0].reading, "かんせん");
    assert!(toks.iter().any(|t| &*t.lemma == "する"));
}

#[test]
fn hiragana_only_input_is_folded_to_the_kanji_spelling() {
    let a = analyzer();
    let an = a.analyze("かんせんした どうすれば");
    assert!(an.text.as_str().starts_with("感染した"));
    assert!(
        an.tokens.iter().any(|t| &*t.lemma == "感染"),
        "{:?}",
        an.tokens
    );
}

#[test]
fn synonyms_tag_concepts() {
    let a = analyzer();
    let an = a.analyze("ウィルスに感染、漏洩もあるかも");
    assert!(an.has_concept("malware"), "{:?}", an.concepts);
    assert!(an.has_concept("leak"), "{:?}", an.concepts);
}

/// Our tokenizer runs lindera's Viterbi search on a reused lattice: it must cut every
/// message exactly as lindera's own `tokenize` does.
#[test]
fn reused_lattice_tokenises_exactly_like_lindera() {
    let bot = engine::build(&Content::embedded()).expect("content");
    let a = &bot.analyzer;
    let mut n = 0;
    for i in &bot.intents {
        for ex in &i.examples {
            let norm = a.normalizer.normalize(&ex.text);
            let ours: Vec<String> = a
                .tokenizer
                .tokenize(&norm)
                .into_iter()
                .map(|t| t.surface)
                .collect();
            let theirs: Vec<String> = a
                .tokenizer
                .lindera()
                .tokenize(norm.as_str())
                .unwrap()
                .into_iter()
                .map(|t| t.text.to_string())
                .filter(|s| !s.chars().all(madoguchi::core::text::is_separator))
                .collect();
            assert_eq!(ours, theirs, "{}", ex.text);
            n += 1;
        }
    }
    assert!(n > 500);
}
