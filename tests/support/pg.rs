//! A fresh PostgreSQL database per test (127.0.0.1:5432, trust auth), dropped at the
//! end. Under CI=true a missing server fails the test instead of skipping it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::Connection;

pub const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct PgDb {
    name: String,
}

impl PgDb {
    pub async fn create() -> Option<PgDb> {
        let mut admin = match tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(ADMIN_URL),
        )
        .await
        {
            Ok(Ok(c)) => c,
            _ => {
                if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
                    panic!("CI=true but PostgreSQL at 127.0.0.1:5432 is unreachable (bash .ci/run starts it)");
                }
                eprintln!("NOTICE: PostgreSQL at 127.0.0.1:5432 unreachable: skipping (this fails under CI=true)");
                return None;
            }
        };
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "madoguchi_test_{}_{}_{}",
            std::process::id(),
            nanos % 1_000_000_000_000,
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        Some(PgDb { name })
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(ADMIN_URL).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            })
        })
        .join();
    }
}
