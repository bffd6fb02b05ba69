//! Pipeline benchmark: the full in-process pipeline (normalise → tokenise → classify →
//! urgency → reply) against raw lindera tokenisation of the same messages, plus
//! dictionary load time and cold start to first answer.
//!
//! `cargo bench --bench pipeline` runs the criterion groups and then prints a summary
//! with messages per second on one core and the pipeline/lindera ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use madoguchi::content::Content;
use madoguchi::core::dialogue::Bot;
use madoguchi::core::hours::jst;
use madoguchi::core::turn::ConversationState;
use madoguchi::engine;

use chrono::TimeZone;

fn messages(bot: &Bot) -> Vec<String> {
    // the training examples are realistic member messages of every intent
    bot.intents
        .iter()
        .flat_map(|i| i.examples.iter().map(|e| e.text.clone()))
        .collect()
}

fn bench(c: &mut Criterion) {
    let bot = engine::build(&Content::embedded()).expect("content loads");
    let msgs = messages(&bot);
    let now = jst().with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap();
    let lindera = bot.analyzer.tokenizer.lindera();
    let mut g = c.benchmark_group("per_message");
    let mut i = 0usize;
    g.bench_function("lindera_tokenize", |b| {
        b.iter(|| {
            i = (i + 1) % msgs.len();
            black_box(lindera.tokenize(&msgs[i]).map(|t| t.len()).unwrap_or(0))
        })
    });
    let mut j = 0usize;
    g.bench_function("pipeline_classify", |b| {
        b.iter(|| {
            j = (j + 1) % msgs.len();
            black_box(bot.classify(&msgs[j]).intent)
        })
    });
    let mut k = 0usize;
    let mut case_state = ConversationState::default();
    bot.respond(
        "A①会員の診療所です。先月ランサムウェアで2日休診しました",
        &mut case_state,
        now,
    );
    let mut m = 0usize;
    g.bench_function("respond_with_case_file", |b| {
        b.iter(|| {
            m = (m + 1) % msgs.len();
            let mut st = case_state.clone();
            black_box(bot.respond(&msgs[m], &mut st, now).text.len())
        })
    });
    g.bench_function("pipeline_respond", |b| {
        b.iter(|| {
            k = (k + 1) % msgs.len();
            let mut st = ConversationState::default();
            black_box(bot.respond(&msgs[k], &mut st, now).text.len())
        })
    });
    g.finish();
    c.bench_function("dictionary_load", |b| {
        b.iter(|| {
            let mut errs = Vec::new();
            black_box(engine::build_analyzer(&Content::embedded(), &mut errs).is_ok())
        })
    });
}

fn throughput(label: &str, msgs: &[String], mut f: impl FnMut(&str)) -> f64 {
    // warm up, then run whole passes for at least two seconds
    for m in msgs.iter().take(200) {
        f(m);
    }
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs(2) {
        for m in msgs {
            f(m);
        }
        n += msgs.len();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("{label:<28} {rate:>10.0} messages/s");
    rate
}

fn summary() {
    let t0 = Instant::now();
    let mut errs = Vec::new();
    let analyzer = engine::build_analyzer(&Content::embedded(), &mut errs).expect("analyzer");
    let dict_load = t0.elapsed();
    drop(analyzer);
    let t1 = Instant::now();
    let bot = engine::build(&Content::embedded()).expect("content loads");
    let now = jst().with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap();
    let first = bot.respond(
        "ランサムウェアに感染した、どうすれば",
        &mut ConversationState::default(),
        now,
    );
    let cold = t1.elapsed();
    black_box(first);
    let msgs = messages(&bot);
    println!(
        "\n== madoguchi pipeline summary ({} messages, one core)",
        msgs.len()
    );
    let lindera = bot.analyzer.tokenizer.lindera();
    let raw = throughput("lindera tokenize (raw)", &msgs, |m| {
        black_box(lindera.tokenize(m).map(|t| t.len()).unwrap_or(0));
    });
    let classify = throughput("pipeline classify", &msgs, |m| {
        black_box(bot.classify(m).intent);
    });
    let respond = throughput("pipeline respond", &msgs, |m| {
        let mut st = ConversationState::default();
        black_box(bot.respond(m, &mut st, now).text.len());
    });
    // a conversation with a case file: the member described the case two turns ago
    let mut case_state = ConversationState::default();
    bot.respond(
        "A①会員の診療所です。先月ランサムウェアで2日休診しました",
        &mut case_state,
        now,
    );
    bot.respond("厚労省には届け出ました", &mut case_state, now);
    let respond_case = throughput("respond with a case file", &msgs, |m| {
        let mut st = case_state.clone();
        black_box(bot.respond(m, &mut st, now).text.len());
    });
    // where the time goes, stage by stage
    throughput("  stage: normalize", &msgs, |m| {
        black_box(bot.analyzer.normalizer.normalize(m));
    });
    throughput("  stage: analyze", &msgs, |m| {
        black_box(bot.analyzer.analyze(m).tokens.len());
    });
    let analyses: Vec<_> = msgs.iter().map(|m| bot.analyzer.analyze(m)).collect();
    let mut ai = 0usize;
    throughput("  stage: features", &msgs, |_| {
        ai = (ai + 1) % analyses.len();
        black_box(bot.classifier.features(&analyses[ai]).len());
    });
    let feats: Vec<_> = analyses
        .iter()
        .map(|a| bot.classifier.features(a))
        .collect();
    let mut fi = 0usize;
    throughput("  stage: predict", &msgs, |_| {
        fi = (fi + 1) % feats.len();
        black_box(bot.classifier.predict_features(&feats[fi]).top());
    });
    let mut ui = 0usize;
    throughput("  stage: urgency", &msgs, |_| {
        ui = (ui + 1) % analyses.len();
        black_box(bot.urgency.assess(&analyses[ui], now.date_naive()).urgent);
    });
    let mut ci = 0usize;
    throughput("  stage: classify_analysis", &msgs, |_| {
        ci = (ci + 1) % analyses.len();
        black_box(
            bot.classify_analysis(&analyses[ci], now.date_naive())
                .intent,
        );
    });
    println!(
        "ratio classify/lindera      {:>10.2}  (goal <= 1.5)",
        raw / classify
    );
    println!("ratio respond/lindera       {:>10.2}", raw / respond);
    println!(
        "Bot::respond with case file {:>10.1} µs/message",
        1e6 / respond_case
    );
    println!(
        "pipeline classify rate      {:>10.0}  (goal >= 50000 messages/s)",
        classify
    );
    println!(
        "dictionary load             {:>10.1} ms",
        dict_load.as_secs_f64() * 1000.0
    );
    println!(
        "cold start to first answer  {:>10.1} ms  (goal < 200 ms)",
        cold.as_secs_f64() * 1000.0
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
