//! Load test of the real server, bounded and loopback only: starts `madoguchi serve`'s
//! [`Application`] on 127.0.0.1:0 with a fresh store (a temporary SQLite file, or a
//! fresh database on the PostgreSQL server of `LOADTEST_PG=postgres://…/postgres`),
//! drives it with N keep-alive HTTP/1.1 connections for a few seconds each on
//! `GET /healthz` and `POST /v1/messages`, prints requests/s and latency percentiles,
//! then checks that every answered turn is durable (in the database or the spool).
//!
//! ```sh
//! cargo run --release --example loadtest -- [--connections 64] [--seconds 10] [--mix mixed|urgent|calm] [--postgres]
//! ```
//!
//! `--target 127.0.0.1:8080 --key KEY` drives a running `madoguchi serve` instead (a
//! loopback address only; give it rate limits that let the load through, see
//! BENCHMARKS.md); the durability check is then left to the database.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use madoguchi::app::Application;
use madoguchi::config::{Config, RateLimit};
use madoguchi::content::Content;
use madoguchi::core::hours::{Clock, SystemClock};
use madoguchi::service::{Service, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Typical member messages (written for this test; a few are urgent and escalate).
const TEXTS: &[&str] = &[
    "緊急相談窓口の電話番号を教えてください",
    "支援金はいくらもらえますか",
    "この制度の対象は誰ですか",
    "登録はどうやってするの",
    "土日も電話はつながりますか",
    "申請に必要な書類は",
    "サイバーポートって何ですか",
    "ありがとうございました",
    "こんにちは",
    "明日の天気は",
    "職員がメールの添付ファイルを開いてしまったかもしれない、いまどうすれば",
    "ランサムウェアに感染して電子カルテが開けません",
];

/// Which of [`TEXTS`] the members send.
#[derive(Clone, Copy)]
enum Mix {
    /// All twelve in rotation (one turn in six urgent).
    Mixed,
    /// Only the urgent ones: every turn opens or joins an escalation (a synchronous
    /// commit on PostgreSQL).
    Urgent,
    /// None of the urgent ones.
    Calm,
}

impl Mix {
    fn texts(self) -> Vec<&'static str> {
        let urgent = |t: &&str| t.contains("ランサムウェア") || t.contains("添付ファイル");
        match self {
            Mix::Mixed => TEXTS.to_vec(),
            Mix::Urgent => TEXTS.iter().copied().filter(urgent).collect(),
            Mix::Calm => TEXTS.iter().copied().filter(|t| !urgent(t)).collect(),
        }
    }
}

struct Args {
    connections: usize,
    mix: Mix,
    seconds: u64,
    postgres: Option<String>,
    /// A running server on loopback and its API key.
    target: Option<(std::net::SocketAddr, String)>,
}

fn args() -> Args {
    let mut a = Args {
        connections: 64,
        mix: Mix::Mixed,
        seconds: 10,
        postgres: None,
        target: None,
    };
    let mut key = std::env::var("MADOGUCHI_API_KEY").ok();
    let mut target = None;
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--connections" => {
                a.connections = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--connections N")
            }
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds N"),
            "--target" => {
                let addr: std::net::SocketAddr = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--target IP:PORT");
                assert!(
                    addr.ip().is_loopback(),
                    "--target must be a loopback address"
                );
                target = Some(addr);
            }
            "--key" => key = Some(it.next().expect("--key KEY")),
            "--mix" => {
                a.mix = match it.next().as_deref() {
                    Some("mixed") => Mix::Mixed,
                    Some("urgent") => Mix::Urgent,
                    Some("calm") => Mix::Calm,
                    _ => panic!("--mix mixed|urgent|calm"),
                }
            }
            "--postgres" => {
                a.postgres = Some(
                    std::env::var("LOADTEST_PG")
                        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
                )
            }
            other => {
                panic!("unknown argument {other:?} (--connections N, --seconds N, --mix mixed|urgent|calm, --postgres, --target IP:PORT --key KEY)")
            }
        }
    }
    a.seconds = a.seconds.clamp(1, 120);
    a.target = target.map(|t| {
        (
            t,
            key.expect("--target needs --key KEY (or MADOGUCHI_API_KEY)"),
        )
    });
    a
}

/// One HTTP/1.1 exchange on a kept-alive connection; returns the status.
async fn exchange(s: &mut TcpStream, req: &[u8], buf: &mut Vec<u8>) -> std::io::Result<u16> {
    s.write_all(req).await?;
    buf.clear();
    let mut tmp = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed"));
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(h) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..h]).map_err(std::io::Error::other)?;
            let status: u16 = head
                .get(9..12)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| std::io::Error::other("bad status line"))?;
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < h + 4 + len {
                let n = s.read(&mut tmp).await?;
                if n == 0 {
                    return Err(std::io::Error::other("closed"));
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            return Ok(status);
        }
    }
}

struct Run {
    ok: u64,
    failed: u64,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn report(&self, what: &str) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let rps = self.ok as f64 / self.elapsed.as_secs_f64();
        println!(
            "{what:<18} {rps:>9.0} req/s  ok {:>7}  failed {:>4}  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
            self.ok,
            self.failed,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            l.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
        rps
    }
}

/// Drives `conns` connections for `secs` seconds; `make` builds request i of connection c.
fn drive(
    addr: std::net::SocketAddr,
    conns: usize,
    secs: u64,
    make: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>,
) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..conns {
            let (stop, ok, failed, make) = (stop.clone(), ok.clone(), failed.clone(), make.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(100_000);
                let mut buf = Vec::with_capacity(16 * 1024);
                let mut s = TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let req = make(c, i);
                    i += 1;
                    let t = Instant::now();
                    match exchange(&mut s, &req, &mut buf).await {
                        Ok(200) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            lat.push(t.elapsed());
                        }
                        Ok(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            s = TcpStream::connect(addr).await.unwrap();
                        }
                    }
                }
                lat
            }));
        }
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        Run {
            ok: ok.load(Ordering::Relaxed),
            failed: failed.load(Ordering::Relaxed),
            latencies,
            elapsed: start.elapsed(),
        }
    })
}

/// `GET /healthz`, then `POST /v1/messages`, each for `a.seconds`; prints both and
/// their ratio; returns the messages run.
fn both_endpoints(addr: std::net::SocketAddr, a: &Args, key: &str) -> Run {
    let health: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> =
        Arc::new(|_, _| b"GET /healthz HTTP/1.1\r\nHost: l\r\n\r\n".to_vec());
    let h = drive(addr, a.connections, a.seconds, health).report("GET /healthz");
    let key = key.to_string();
    let texts = a.mix.texts();
    let messages: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> = Arc::new(move |c, i| {
        let body = serde_json::json!({
            "user": format!("load-{c}-{}", i % 50),
            "channel": "web",
            "text": texts[((c as u64 * 7 + i) % texts.len() as u64) as usize],
        })
        .to_string();
        format!("POST /v1/messages HTTP/1.1\r\nHost: l\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    });
    let run = drive(addr, a.connections, a.seconds, messages);
    let m = run.report("POST /v1/messages");
    println!(
        "ratio /v1/messages to /healthz: {:.3} ({:.1}x slower)",
        m / h,
        h / m
    );
    run
}

fn main() {
    // the server's warnings (spooling, timeouts) show on stderr; RUST_LOG for more
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let a = args();
    if let Some((addr, key)) = &a.target {
        println!(
            "madoguchi load test: the server at {addr}, {} connections, {} s per endpoint",
            a.connections, a.seconds
        );
        both_endpoints(*addr, &a, key);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut pg_name = None;
    let mut store = match &a.postgres {
        None => StoreConfig::sqlite(dir.path().join("madoguchi.db")),
        Some(admin) => {
            let name = format!("madoguchi_load_{}", std::process::id());
            server_rt.block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect(admin)
                    .await
                    .expect("PostgreSQL reachable");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .unwrap();
            });
            let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
            pg_name = Some((admin.clone(), name));
            StoreConfig::url(url)
        }
    };
    store.spool_path = Some(dir.path().join("spool.jsonl"));
    let backend = if a.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    let bot = Arc::new(madoguchi::engine::build(&Content::embedded()).expect("content builds"));
    let (app, service, key) = server_rt.block_on(async {
        let service = Service::build(bot, store, Arc::new(SystemClock))
            .await
            .expect("service");
        let key = madoguchi::accounts::Accounts::new(service.store().clone())
            .add_api_key("load", SystemClock.now())
            .await
            .expect("API key");
        let config = Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            // the load comes from few users at a high rate: no per-user limit here
            rate_limit: RateLimit {
                burst: u32::MAX / 2,
                per_minute: u32::MAX / 2,
            },
            ..Config::default()
        };
        (
            Application::build_with(config, service.clone())
                .await
                .expect("app"),
            service,
            key,
        )
    });
    let addr = app.local_addr();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = server_rt.spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    println!("madoguchi load test: {backend}, {} connections, {} s per endpoint, server and load generator on this machine", a.connections, a.seconds);

    let run = both_endpoints(addr, &a, &key);
    let _ = stop_tx.send(());
    server_rt.block_on(async {
        let _ = server.await;
        // durable: every answered turn is in the database or the spool
        for _ in 0..100 {
            if service.spool().pending() == 0 {
                break;
            }
            let _ = service.flush_spool().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stored = service.stats().await.map(|s| s.messages).unwrap_or(-1);
        let spooled = service.spool().pending();
        println!(
            "durable: {stored} member messages in the database + {spooled} in the spool for {} answered ({})",
            run.ok,
            if stored as u64 + spooled as u64 >= run.ok { "all kept" } else { "MISSING TURNS" }
        );
        service.store().close().await;
        if let Some((admin, name)) = pg_name {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await;
            }
        }
    });
}
