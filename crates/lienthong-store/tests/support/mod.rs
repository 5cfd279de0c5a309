//! A database of its own for each test, in the local stack's PostgreSQL
//! (`LIENTHONG_TEST_PG_URL`), dropped when the test ends.

use sqlx::{Connection as _, Executor as _, PgConnection};

pub fn admin_url() -> String {
    std::env::var("LIENTHONG_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://lienthong:lienthong@127.0.0.1:55432/lienthong".into())
}

/// A fresh database named `lt_store_<random>`.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("{e}: is the local stack up? (`make up`)"));
        let name = format!("lt_store_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDatabase {
    /// Dropped from a thread of its own: `Drop` cannot await, and the test's runtime may be
    /// shutting down.
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}
