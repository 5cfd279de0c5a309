//! What `lienthong validate` verifies on a PostgreSQL source, without moving data: each
//! problem as a specific message saying what to change.

use sqlx::PgConnection;

use crate::catalog::{self, TableRef};
use crate::config::PostgresSourceConfig;
use crate::walsender::{ConnectOptions, ReplicationConnection};

/// One verified fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            ok: true,
            detail: detail.into(),
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            ok: false,
            detail: detail.into(),
        }
    }
}

/// Runs every check; stops early only when the database cannot be reached at all.
pub async fn run(source_id: &str, config: &PostgresSourceConfig, url: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut conn = match catalog::connect(url).await {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::fail("connect", e.to_string()));
            return checks;
        }
    };
    match sql_checks(&mut conn, config, &mut checks).await {
        Ok(()) => {}
        Err(e) => checks.push(Check::fail("catalog", e.to_string())),
    }
    match ConnectOptions::from_url(url, &format!("lienthong-validate-{source_id}")) {
        Ok(options) => match ReplicationConnection::connect(&options).await {
            Ok(mut replication) => match replication.identify_system().await {
                Ok(id) => checks.push(Check::pass(
                    "replication connection",
                    format!("system {} timeline {}", id.system_id, id.timeline),
                )),
                Err(e) => checks.push(Check::fail("replication connection", e.to_string())),
            },
            Err(e) => checks.push(Check::fail(
                "replication connection",
                format!("{e} (pg_hba.conf needs a `replication` line for this user and host)"),
            )),
        },
        Err(e) => checks.push(Check::fail("replication connection", e.to_string())),
    }
    checks
}

async fn sql_checks(
    conn: &mut PgConnection,
    config: &PostgresSourceConfig,
    checks: &mut Vec<Check>,
) -> Result<(), sqlx::Error> {
    let wal_level: String = sqlx::query_scalar("SHOW wal_level")
        .fetch_one(&mut *conn)
        .await?;
    checks.push(if wal_level == "logical" {
        Check::pass("wal_level", "logical")
    } else {
        Check::fail(
            "wal_level",
            format!(
                "is {wal_level}: set wal_level = logical in postgresql.conf and restart PostgreSQL"
            ),
        )
    });

    let (user, replication, superuser): (String, bool, bool) = sqlx::query_as(
        "SELECT rolname::text, rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *conn)
    .await?;
    checks.push(if replication || superuser {
        Check::pass("replication privilege", format!("role {user}"))
    } else {
        Check::fail(
            "replication privilege",
            format!("role {user} lacks REPLICATION: run ALTER ROLE {user} REPLICATION"),
        )
    });

    let (max_slots, used_slots): (i64, i64) = sqlx::query_as(
        "SELECT current_setting('max_replication_slots')::int8, (SELECT count(*) FROM pg_replication_slots)",
    )
    .fetch_one(&mut *conn)
    .await?;
    let slot = catalog::slot_info(conn, &config.slot).await?;
    checks.push(match &slot {
        None if used_slots >= max_slots => Check::fail(
            "replication slot",
            format!(
                "{} does not exist and all {max_slots} slots (max_replication_slots) are used: raise max_replication_slots or drop an unused slot",
                config.slot
            ),
        ),
        None => Check::pass("replication slot", format!("{} will be created", config.slot)),
        Some(s) if s.plugin.as_deref() != Some("pgoutput") => Check::fail(
            "replication slot",
            format!("{} uses plugin {:?}; lienthong needs pgoutput: drop it or choose another slot name", config.slot, s.plugin),
        ),
        Some(s) if s.wal_status.as_deref() == Some("lost") => Check::fail(
            "replication slot",
            format!("{} lost WAL it needed (wal_status = lost): drop it; the connector will re-snapshot", config.slot),
        ),
        Some(s) => Check::pass(
            "replication slot",
            format!(
                "{} exists (confirmed {}, {})",
                config.slot,
                s.confirmed_flush_lsn.as_deref().unwrap_or("-"),
                if s.active { "in use by a connector" } else { "idle" }
            ),
        ),
    });

    let tables = catalog::captured_tables(conn, config).await?;
    if tables.is_empty() {
        checks.push(Check::fail(
            "tables",
            format!("no table matches {:?}", config.tables),
        ));
        return Ok(());
    }
    let mut problems = Vec::new();
    for t in &tables {
        let info = catalog::table_info(conn, t).await?;
        if let Some(p) = info.identity_problem() {
            problems.push(p);
        }
        let can_select: bool = sqlx::query_scalar("SELECT has_table_privilege($1, 'SELECT')")
            .bind(t.quoted())
            .fetch_one(&mut *conn)
            .await?;
        if !can_select {
            problems.push(format!(
                "role {user} cannot SELECT from {}: GRANT SELECT ON {} TO {user}",
                t.dotted(),
                t.quoted()
            ));
        }
    }
    checks.push(if problems.is_empty() {
        Check::pass(
            "tables",
            format!(
                "{} table(s): {}",
                tables.len(),
                tables
                    .iter()
                    .map(TableRef::dotted)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        Check::fail("tables", problems.join("; "))
    });

    let publication_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)")
            .bind(&config.publication)
            .fetch_one(&mut *conn)
            .await?;
    let mut missing = Vec::new();
    if publication_exists {
        let all_tables: bool =
            sqlx::query_scalar("SELECT puballtables FROM pg_publication WHERE pubname = $1")
                .bind(&config.publication)
                .fetch_one(&mut *conn)
                .await?;
        if !all_tables {
            let published: Vec<String> = sqlx::query_scalar(
                "SELECT schemaname::text || '.' || tablename::text FROM pg_publication_tables WHERE pubname = $1",
            )
            .bind(&config.publication)
            .fetch_all(&mut *conn)
            .await?;
            missing = tables
                .iter()
                .filter(|t| !published.contains(&t.dotted()))
                .collect();
        }
    }
    checks.push(match (publication_exists, config.create_publication) {
        (true, _) if missing.is_empty() => {
            Check::pass("publication", format!("{} exists", config.publication))
        }
        (true, true) => Check::pass(
            "publication",
            format!(
                "{} exists; the connector will add {}",
                config.publication,
                missing.iter().map(|t| t.dotted()).collect::<Vec<_>>().join(", ")
            ),
        ),
        (true, false) => Check::fail(
            "publication",
            format!(
                "{} lacks {} and create_publication is false: ALTER PUBLICATION {} ADD TABLE {}",
                config.publication,
                missing.iter().map(|t| t.dotted()).collect::<Vec<_>>().join(", "),
                crate::walsender::quote_ident(&config.publication),
                missing.iter().map(|t| t.quoted()).collect::<Vec<_>>().join(", ")
            ),
        ),
        (false, true) => {
            let can_create: bool = sqlx::query_scalar(
                "SELECT has_database_privilege(current_database(), 'CREATE')",
            )
            .fetch_one(&mut *conn)
            .await?;
            if can_create || superuser {
                Check::pass("publication", format!("{} will be created", config.publication))
            } else {
                Check::fail(
                    "publication",
                    format!(
                        "{} does not exist and role {user} cannot create it: GRANT CREATE ON DATABASE to {user}, or create the publication",
                        config.publication
                    ),
                )
            }
        }
        (false, false) => Check::fail(
            "publication",
            format!(
                "{} does not exist and create_publication is false: CREATE PUBLICATION {} FOR TABLE ...",
                config.publication, config.publication
            ),
        ),
    });
    Ok(())
}
