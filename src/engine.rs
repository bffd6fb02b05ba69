//! Builds the core's [`Bot`] from [`Content`]: parses every content file (collecting
//! all errors, each naming its file and line), builds lindera with the domain user
//! dictionary, and trains the classifier. The only place the core is assembled.

use std::io::Write;

use lindera_core::mode::Mode;
use lindera_dictionary::{DictionaryConfig, DictionaryKind, UserDictionaryConfig};
use lindera_tokenizer::tokenizer::Tokenizer as Lindera;

use crate::content::Content;
use crate::core::analysis::{Analyzer, Synonyms};
use crate::core::assessment::Assessor;
use crate::core::classifier::{featurize, Classifier, Features, Keywords, TrainConfig};
use crate::core::dialogue::Bot;
use crate::core::intents::{check_set, parse_intent, ContentError, IntentDef};
use crate::core::label::Label;
use crate::core::rules::{parse_rules, RuleSet};
use crate::core::text::{Normalizer, Variant};
use crate::core::tokenize::Tokenizer;
use crate::core::urgency::UrgencyRules;
use crate::core::wording::Wording;

pub const VARIANTS: &str = "dictionaries/variants.tsv";
pub const USER_DICT: &str = "dictionaries/user.csv";
pub const SYNONYMS: &str = "dictionaries/synonyms.tsv";
pub const URGENCY: &str = "dictionaries/urgency.toml";
pub const PAYMENTS: &str = "rules/payments.toml";
pub const DIALOGUE: &str = "dictionaries/dialogue.toml";

/// Everything wrong with the content, or a tokenizer that would not load.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{} content error(s):\n{}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Content(Vec<ContentError>),
    #[error("lindera could not load: {0}")]
    Tokenizer(String),
}

fn required<'a>(content: &'a Content, path: &str, errs: &mut Vec<ContentError>) -> &'a str {
    match content.get(path) {
        Some(f) => &f.text,
        None => {
            errs.push(ContentError::new(
                path,
                0,
                format!("missing (looked in {})", content.origin),
            ));
            ""
        }
    }
}

/// Parses `from<TAB>to` lines.
pub fn parse_variants(file: &str, src: &str) -> Result<Vec<Variant>, Vec<ContentError>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let l = line.trim_end();
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        match l.split_once('\t') {
            Some((from, to)) if !from.trim().is_empty() && !to.contains('\t') => {
                out.push(Variant {
                    from: from.trim().to_string(),
                    to: to.trim().to_string(),
                })
            }
            _ => errs.push(ContentError::new(file, i + 1, "expected `from<TAB>to`")),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// Validates the user dictionary (`surface,pos,reading`, `#` comments) and returns the
/// rows with surfaces normalised the way member text is.
pub fn parse_user_dict(
    file: &str,
    src: &str,
    norm: &Normalizer,
) -> Result<Vec<(String, String, String)>, Vec<ContentError>> {
    let mut rows = Vec::new();
    let mut errs = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, line) in src.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = l.split(',').map(str::trim).collect();
        if cols.len() != 3 || cols.iter().any(|c| c.is_empty()) {
            errs.push(ContentError::new(
                file,
                i + 1,
                "expected `surface,part of speech,reading`",
            ));
            continue;
        }
        let surface = norm.normalize(cols[0]).as_str().to_string();
        if let Some(prev) = seen.insert(surface.clone(), i + 1) {
            errs.push(ContentError::new(
                file,
                i + 1,
                format!("{surface:?} is already on line {prev}"),
            ));
            continue;
        }
        if !cols[2].chars().all(|c| matches!(c, 'ァ'..='ヺ' | 'ー')) {
            errs.push(ContentError::new(
                file,
                i + 1,
                format!("reading {:?} must be katakana", cols[2]),
            ));
            continue;
        }
        rows.push((surface, cols[1].to_string(), cols[2].to_string()));
    }
    if errs.is_empty() {
        Ok(rows)
    } else {
        Err(errs)
    }
}

/// Builds lindera IPADIC with the given user-dictionary rows (written to a private
/// temporary CSV, since lindera 0.28 reads user dictionaries from a path).
pub fn build_lindera(rows: &[(String, String, String)]) -> Result<Lindera, EngineError> {
    let user_dictionary = if rows.is_empty() {
        None
    } else {
        let mut tmp = tempfile::Builder::new()
            .prefix("madoguchi-userdict-")
            .suffix(".csv")
            .tempfile()
            .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        for (s, p, r) in rows {
            writeln!(tmp, "{s},{p},{r}").map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        }
        tmp.flush()
            .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        let cfg = UserDictionaryConfig {
            kind: Some(DictionaryKind::IPADIC),
            path: tmp.path().to_path_buf(),
        };
        let dict = lindera_dictionary::load_user_dictionary(cfg)
            .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
        Some(dict)
    };
    let dictionary = lindera_dictionary::load_dictionary_from_config(DictionaryConfig {
        kind: Some(DictionaryKind::IPADIC),
        path: None,
    })
    .map_err(|e| EngineError::Tokenizer(e.to_string()))?;
    Ok(Lindera::new(dictionary, user_dictionary, Mode::Normal))
}

/// Builds the analyzer (normaliser, lindera, synonyms) from content.
pub fn build_analyzer(
    content: &Content,
    errs: &mut Vec<ContentError>,
) -> Result<Analyzer, EngineError> {
    let variants = match parse_variants(VARIANTS, required(content, VARIANTS, errs)) {
        Ok(v) => v,
        Err(e) => {
            errs.extend(e);
            Vec::new()
        }
    };
    let normalizer = Normalizer::new(variants);
    let rows = match parse_user_dict(USER_DICT, required(content, USER_DICT, errs), &normalizer) {
        Ok(r) => r,
        Err(e) => {
            errs.extend(e);
            Vec::new()
        }
    };
    let synonyms = match Synonyms::parse(SYNONYMS, required(content, SYNONYMS, errs), &normalizer) {
        Ok(s) => s,
        Err(e) => {
            errs.extend(e);
            Synonyms::empty()
        }
    };
    let tokenizer = Tokenizer::new(build_lindera(&rows)?);
    Ok(Analyzer {
        normalizer,
        tokenizer,
        synonyms,
    })
}

/// Parses and validates the payment rules.
pub fn build_rules(content: &Content, errs: &mut Vec<ContentError>) -> Option<RuleSet> {
    match parse_rules(PAYMENTS, required(content, PAYMENTS, errs)) {
        Ok(r) => Some(r),
        Err(e) => {
            errs.extend(e);
            None
        }
    }
}

/// What `madoguchi assess` needs: the normaliser and the rules, without lindera or
/// the classifier.
pub fn build_assessor(content: &Content) -> Result<Assessor, EngineError> {
    let mut errs = Vec::new();
    let variants = match parse_variants(VARIANTS, required(content, VARIANTS, &mut errs)) {
        Ok(v) => v,
        Err(e) => {
            errs.extend(e);
            Vec::new()
        }
    };
    let rules = build_rules(content, &mut errs);
    match rules {
        Some(rules) if errs.is_empty() => Ok(Assessor {
            normalizer: Normalizer::new(variants),
            rules,
        }),
        _ => Err(EngineError::Content(errs)),
    }
}

/// Parses, validates and trains everything. All content errors are reported at once.
pub fn build(content: &Content) -> Result<Bot, EngineError> {
    let mut errs = Vec::new();
    let analyzer = build_analyzer(content, &mut errs)?;
    let urgency = match UrgencyRules::parse(URGENCY, required(content, URGENCY, &mut errs)) {
        Ok(u) => Some(u),
        Err(e) => {
            errs.extend(e);
            None
        }
    };
    let wording = match Wording::parse(DIALOGUE, required(content, DIALOGUE, &mut errs)) {
        Ok(w) => Some(w),
        Err(e) => {
            errs.extend(e);
            None
        }
    };
    let rules = build_rules(content, &mut errs);
    let mut intents = Vec::new();
    for f in content.files_in("intents", ".toml") {
        match parse_intent(&f.path, &f.text, &analyzer.normalizer) {
            Ok(mut i) => {
                if let Some(r) = &rules {
                    errs.extend(fill_amounts(&mut i, &f.text, r));
                }
                intents.push(i)
            }
            Err(e) => errs.extend(e),
        }
    }
    errs.extend(check_set(&intents, &analyzer.normalizer));
    if !errs.is_empty() {
        return Err(EngineError::Content(errs));
    }
    intents.sort_by_key(|i| i.label);
    let keywords = keywords_of(&intents);
    let data = training_data(&analyzer, &intents, &keywords);
    let classifier = Classifier::train(&data, keywords, TrainConfig::default());
    let facet_readings = facet_readings(&analyzer, &intents);
    Ok(Bot {
        analyzer,
        classifier,
        intents,
        urgency: urgency.expect("no errors means urgency parsed"),
        rules: rules.expect("no errors means rules parsed"),
        wording: wording.expect("no errors means wording parsed"),
        facet_readings,
    })
}

/// 100000 → 「10万円」 (the answers' style); amounts not in whole 万 as 「12,500円」.
fn man_yen(y: crate::core::rules::Yen) -> String {
    let n = y.get();
    if n.is_multiple_of(10_000) && n > 0 {
        format!("{}万円", n / 10_000)
    } else {
        y.to_string()
    }
}

/// Each facet keyword's reading in hiragana (lindera), so that all-hiragana messages
/// find their facet.
fn facet_readings(analyzer: &Analyzer, intents: &[IntentDef]) -> Vec<(Label, usize, Vec<String>)> {
    let mut out = Vec::new();
    for def in intents {
        for (i, f) in def.facets.iter().enumerate() {
            let rs = f
                .keywords
                .iter()
                .map(|k| {
                    analyzer
                        .analyze(k)
                        .tokens
                        .iter()
                        .map(|t| &*t.reading)
                        .collect::<String>()
                })
                .filter(|r| !r.is_empty())
                .collect();
            out.push((def.label, i, rs));
        }
    }
    out
}

/// Amounts in answer texts come from the rules: `{amount:cyberattack}`,
/// `{amount:leak}`, `{amount:closure}` (the supplement) and
/// `{amount:cyberattack+closure}`, written as 「10万円」. An unknown placeholder is an
/// error naming the intent file and line.
pub fn fill_amounts(def: &mut IntentDef, src: &str, rules: &RuleSet) -> Vec<ContentError> {
    use crate::core::rules::{PaymentKind, Yen};
    let attack = rules.payment(PaymentKind::CyberAttack).amount.get();
    let leak = rules.payment(PaymentKind::Leak).amount.get();
    let closure = rules
        .supplements
        .first()
        .map(|s| s.amount.get())
        .unwrap_or(0);
    let values = [
        ("{amount:cyberattack}", Yen(attack)),
        ("{amount:leak}", Yen(leak)),
        ("{amount:closure}", Yen(closure)),
        ("{amount:cyberattack+closure}", Yen(attack + closure)),
    ];
    let mut errs = Vec::new();
    let mut fill = |text: &mut String| {
        for (k, v) in &values {
            if text.contains(k) {
                *text = text.replace(k, &man_yen(*v));
            }
        }
        if let Some(i) = text.find("{amount:") {
            let bad: String = text[i..].chars().take_while(|c| *c != '}').collect();
            let line = src
                .find(&bad)
                .map(|b| src[..b].lines().count())
                .unwrap_or(0);
            errs.push(ContentError::new(
                &def.file,
                line,
                format!(
                    "unknown placeholder {bad}}} (known: {})",
                    values.iter().map(|v| v.0).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    };
    fill(&mut def.answer);
    for f in &mut def.facets {
        fill(&mut f.answer);
    }
    errs
}

fn keywords_of(intents: &[IntentDef]) -> Keywords {
    Keywords::new(
        intents
            .iter()
            .map(|i| (i.label, i.keywords.clone()))
            .collect(),
    )
}

/// Every example as (label, features), in file order: the classifier's training set.
pub fn training_data(
    analyzer: &Analyzer,
    intents: &[IntentDef],
    keywords: &Keywords,
) -> Vec<(Label, Features)> {
    intents
        .iter()
        .flat_map(|i| i.examples.iter().map(move |ex| (i.label, ex)))
        .map(|(l, ex)| (l, featurize(&analyzer.analyze(&ex.text), keywords)))
        .collect()
}

/// One held-out prediction of a cross-validation run.
#[derive(Debug, Clone)]
pub struct CvMiss {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub want: Label,
    pub got: Label,
    pub confidence: f32,
}

/// k-fold cross-validation over the examples (fold = example index mod k): shows
/// editors which examples the others do not support. Returns (accuracy, misses).
pub fn cross_validate(bot: &Bot, k: usize) -> (f64, Vec<CvMiss>) {
    let k = k.max(2);
    let keywords = bot.classifier.keywords().clone();
    let data = training_data(&bot.analyzer, &bot.intents, &keywords);
    let refs: Vec<(&IntentDef, &crate::core::intents::Example)> = bot
        .intents
        .iter()
        .flat_map(|i| i.examples.iter().map(move |e| (i, e)))
        .collect();
    let mut misses = Vec::new();
    for fold in 0..k {
        let train: Vec<(Label, Features)> = data
            .iter()
            .enumerate()
            .filter(|(n, _)| n % k != fold)
            .map(|(_, d)| d.clone())
            .collect();
        let model = Classifier::train(&train, keywords.clone(), TrainConfig::default());
        for (n, (want, f)) in data.iter().enumerate().filter(|(n, _)| n % k == fold) {
            let p = model.predict_features(f);
            if p.top() != *want {
                let (def, ex) = refs[n];
                misses.push(CvMiss {
                    file: def.file.clone(),
                    line: ex.line,
                    text: ex.text.clone(),
                    want: *want,
                    got: p.top(),
                    confidence: p.confidence(),
                });
            }
        }
    }
    let acc = 1.0 - misses.len() as f64 / data.len().max(1) as f64;
    (acc, misses)
}
