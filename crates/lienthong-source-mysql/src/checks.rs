//! What `lienthong validate` verifies on a MariaDB/MySQL source, without moving data and without
//! opening a binlog stream (registering as a replica would take over a running connector's
//! connection with the same server id). Each problem is a message saying what to change.

use std::collections::BTreeSet;

use sqlx::mysql::MySqlConnection;

use crate::binlog::ServerFlavor;
use crate::binlog::charset::charset_of_collation;
use crate::catalog::{self, ServerInfo};
use crate::config::MysqlSourceConfig;

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
pub async fn run(config: &MysqlSourceConfig, url: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut conn = match catalog::connect(url).await {
        Ok(c) => c,
        Err(e) => {
            checks.push(Check::fail("connect", e.to_string()));
            return checks;
        }
    };
    if let Err(e) = sql_checks(&mut conn, config, &mut checks).await {
        checks.push(Check::fail("catalog", e.to_string()));
    }
    checks
}

/// Server settings a binlog connector needs, each with the change that fixes it.
pub fn setting_checks(
    server: &ServerInfo,
    log_bin: Option<&str>,
    binlog_format: Option<&str>,
    binlog_row_image: Option<&str>,
    binlog_row_metadata: Option<&str>,
) -> Vec<Check> {
    let on = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("ON") || v == "1");
    let mut checks = Vec::new();
    checks.push(if on(log_bin) {
        Check::pass("log_bin", "ON")
    } else {
        Check::fail(
            "log_bin",
            "binary logging is off: add log_bin (e.g. log-bin=mysql-bin) and a server_id to the server's configuration and restart it",
        )
    });
    let format = binlog_format.unwrap_or("(unknown)");
    checks.push(if format.eq_ignore_ascii_case("ROW") {
        Check::pass("binlog_format", "ROW")
    } else {
        Check::fail(
            "binlog_format",
            format!(
                "is {format}: run SET GLOBAL binlog_format = 'ROW' and set binlog_format=ROW in the server's configuration (sessions already open keep {format} until they reconnect); changes logged as statements cannot be captured"
            ),
        )
    });
    let image = binlog_row_image.unwrap_or("(unknown)");
    checks.push(if image.eq_ignore_ascii_case("FULL") {
        Check::pass("binlog_row_image", "FULL")
    } else {
        Check::fail(
            "binlog_row_image",
            format!(
                "is {image}: run SET GLOBAL binlog_row_image = 'FULL' and set binlog_row_image=FULL in the server's configuration; with {image} images, updates and deletes lack the columns they did not change"
            ),
        )
    });
    checks.push(match binlog_row_metadata {
        Some(m) if m.eq_ignore_ascii_case("FULL") => {
            Check::pass("binlog_row_metadata", "FULL: table maps carry column names and types")
        }
        Some(m) => Check::pass(
            "binlog_row_metadata",
            format!(
                "{m}: column names come from information_schema; SET GLOBAL binlog_row_metadata = 'FULL' is recommended: without it, rows written under a definition that several quick DDL statements replaced before the connector read it go to the dead-letter topic"
            ),
        ),
        None => Check::pass(
            "binlog_row_metadata",
            format!("not available on {}: column names come from information_schema", server.version),
        ),
    });
    checks
}

/// The privileges granted on `*.*` in `SHOW GRANTS` lines (upper case; `ALL PRIVILEGES` as is).
/// Grants through roles are not followed.
pub fn global_privileges(grants: &[String]) -> BTreeSet<String> {
    let mut privileges = BTreeSet::new();
    for line in grants {
        let upper = line.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix("GRANT ") else {
            continue;
        };
        let Some((list, target)) = rest.split_once(" ON ") else {
            continue;
        };
        if !target.trim_start().starts_with("*.*") {
            continue;
        }
        for privilege in list.split(',') {
            privileges.insert(privilege.trim().to_string());
        }
    }
    privileges
}

/// `'user'@'host'` from `CURRENT_USER()`'s `user@host`.
fn grantee(current_user: &str) -> String {
    match current_user.rsplit_once('@') {
        Some((user, host)) => format!("'{user}'@'{host}'"),
        None => format!("'{current_user}'"),
    }
}

async fn sql_checks(
    conn: &mut MySqlConnection,
    config: &MysqlSourceConfig,
    checks: &mut Vec<Check>,
) -> Result<(), sqlx::Error> {
    let server = catalog::server_info(conn).await?;
    checks.push(Check::pass("server", server.version.clone()));
    let log_bin = catalog::variable(conn, "log_bin").await?;
    let format = catalog::variable(conn, "binlog_format").await?;
    let image = catalog::variable(conn, "binlog_row_image").await?;
    let metadata = catalog::variable(conn, "binlog_row_metadata").await?;
    checks.extend(setting_checks(
        &server,
        log_bin.as_deref(),
        format.as_deref(),
        image.as_deref(),
        metadata.as_deref(),
    ));

    // Server ids: ours must not be the server's, nor another replica's.
    let replicas_sql = match server.flavor {
        ServerFlavor::MariaDb => "SHOW SLAVE HOSTS",
        ServerFlavor::MySql => "SHOW REPLICAS",
    };
    let registered: Vec<(u64, String)> =
        match sqlx::raw_sql(replicas_sql).fetch_all(&mut *conn).await {
            Ok(rows) => rows
                .iter()
                .filter_map(|r| {
                    let id = catalog::text(r, 0).ok().flatten()?.parse().ok()?;
                    let host = catalog::text(r, 1).ok().flatten().unwrap_or_default();
                    Some((id, host))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
    checks.push(if config.server_id == server.server_id {
        Check::fail(
            "server_id",
            format!(
                "{} is the source server's own @@server_id: choose another server_id for this source",
                config.server_id
            ),
        )
    } else if let Some((_, host)) = registered
        .iter()
        .find(|(id, _)| *id == u64::from(config.server_id))
    {
        Check::pass(
            "server_id",
            format!(
                "{} is registered as a replica ({host}): fine if that is this connector running; if not, another replica uses it and the two would take each other's connection: choose another server_id",
                config.server_id
            ),
        )
    } else {
        Check::pass(
            "server_id",
            format!(
                "{} differs from the server's ({}) and from its {} registered replica(s)",
                config.server_id,
                server.server_id,
                registered.len()
            ),
        )
    });

    let retention = match server.flavor {
        ServerFlavor::MariaDb => catalog::variable(conn, "binlog_expire_logs_seconds").await?,
        ServerFlavor::MySql => catalog::variable(conn, "binlog_expire_logs_seconds").await?,
    };
    let retention_seconds: u64 = retention
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    checks.push(Check::pass(
        "binlog retention",
        if retention_seconds == 0 {
            "binlogs are kept until purged by hand: purge only files the connector has passed".to_string()
        } else {
            format!(
                "binlogs expire after {:.1} day(s): a connector down longer loses its position and must re-snapshot",
                retention_seconds as f64 / 86_400.0
            )
        },
    ));

    // Privileges.
    let current_user: String = sqlx::query_scalar("SELECT CURRENT_USER()")
        .fetch_one(&mut *conn)
        .await?;
    let who = grantee(&current_user);
    let grants: Vec<String> = sqlx::raw_sql("SHOW GRANTS FOR CURRENT_USER()")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .filter_map(|r| catalog::text(r, 0).ok().flatten())
        .collect();
    let privileges = global_privileges(&grants);
    let has = |name: &str| privileges.contains("ALL PRIVILEGES") || privileges.contains(name);
    let mut missing = Vec::new();
    if !has("REPLICATION SLAVE") {
        missing.push(format!("GRANT REPLICATION SLAVE ON *.* TO {who}"));
    }
    if let Err(sqlx::Error::Database(e)) = catalog::master_status(conn).await {
        let privilege = match server.flavor {
            ServerFlavor::MariaDb => "BINLOG MONITOR",
            ServerFlavor::MySql => "REPLICATION CLIENT",
        };
        missing.push(format!(
            "GRANT {privilege} ON *.* TO {who} (SHOW MASTER STATUS failed: {})",
            e.message()
        ));
    }
    if server.flavor == ServerFlavor::MySql && !has("RELOAD") {
        missing.push(format!(
            "GRANT RELOAD ON *.* TO {who} (the snapshot takes FLUSH TABLES WITH READ LOCK for an instant)"
        ));
    }
    checks.push(if missing.is_empty() {
        Check::pass("grants", format!("{who} may read the binlog"))
    } else {
        Check::fail("grants", missing.join("; "))
    });

    // Tables.
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
        let Some(info) = catalog::table_info(conn, t, server.flavor).await? else {
            continue;
        };
        if let Some(problem) = info.capture_problem() {
            problems.push(problem);
        }
        if let Some(engine) = &info.engine
            && !matches!(
                engine.to_ascii_lowercase().as_str(),
                "innodb" | "xtradb" | "rocksdb" | "tokudb"
            )
        {
            problems.push(format!(
                "table {} uses the {engine} engine, which a consistent snapshot does not cover: ALTER TABLE {} ENGINE=InnoDB",
                t.dotted(),
                t.quoted()
            ));
        }
        let unsupported: Vec<String> = info
            .columns
            .iter()
            .filter(|c| {
                c.collation
                    .is_some_and(|id| charset_of_collation(id).is_none())
            })
            .map(|c| c.name.clone())
            .collect();
        if !unsupported.is_empty() {
            problems.push(format!(
                "table {} has columns in a character set the connector does not decode ({}): ALTER TABLE {} CONVERT TO CHARACTER SET utf8mb4",
                t.dotted(),
                unsupported.join(", "),
                t.quoted()
            ));
        }
        let select = format!("SELECT 1 FROM {} LIMIT 0", t.quoted());
        if let Err(sqlx::Error::Database(e)) = sqlx::raw_sql(&select).execute(&mut *conn).await {
            problems.push(format!(
                "{who} cannot read {}: GRANT SELECT ON {}.* TO {who} ({})",
                t.dotted(),
                catalog::quote_ident(&t.database),
                e.message()
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
                    .map(|t| t.dotted())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        Check::fail("tables", problems.join("; "))
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerInfo {
        ServerInfo {
            flavor: ServerFlavor::MariaDb,
            version: "10.11.19-MariaDB".into(),
            server_id: 1,
        }
    }

    #[test]
    fn settings_say_what_to_change() {
        let checks = setting_checks(
            &server(),
            Some("ON"),
            Some("MIXED"),
            Some("MINIMAL"),
            Some("NO_LOG"),
        );
        let by_name = |n: &str| checks.iter().find(|c| c.name == n).cloned();
        assert!(by_name("log_bin").is_some_and(|c| c.ok));
        let format = by_name("binlog_format").unwrap_or_else(|| Check::pass("x", ""));
        assert!(!format.ok);
        assert!(format.detail.contains("SET GLOBAL binlog_format = 'ROW'"));
        let image = by_name("binlog_row_image").unwrap_or_else(|| Check::pass("x", ""));
        assert!(!image.ok);
        assert!(image.detail.contains("binlog_row_image = 'FULL'"));
        assert!(by_name("binlog_row_metadata").is_some_and(|c| c.ok && c.detail.contains("FULL")));
        let good = setting_checks(&server(), Some("ON"), Some("ROW"), Some("FULL"), None);
        assert!(good.iter().all(|c| c.ok), "{good:?}");
        let off = setting_checks(&server(), Some("OFF"), Some("ROW"), Some("FULL"), None);
        assert!(!off[0].ok);
    }

    #[test]
    fn grants_on_everything_are_read() {
        let grants = vec![
            "GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `cdc`@`%` IDENTIFIED BY PASSWORD '*X'".to_string(),
            "GRANT ALL PRIVILEGES ON `bhxh`.* TO `cdc`@`%`".to_string(),
            "GRANT `reader` TO `cdc`@`%`".to_string(),
        ];
        let privileges = global_privileges(&grants);
        assert!(privileges.contains("REPLICATION SLAVE"));
        assert!(privileges.contains("BINLOG MONITOR"));
        assert!(!privileges.contains("ALL PRIVILEGES"));
        let all = global_privileges(&["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`".into()]);
        assert!(all.contains("ALL PRIVILEGES"));
        assert_eq!(grantee("cdc@10.0.0.%"), "'cdc'@'10.0.0.%'");
    }
}
