//! Changes to `public.ho_so_can_bo` (PostgreSQL).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use sqlx::{Connection as _, PgConnection, Row as _};

use super::{
    Applied, Attempt, People, Report, WorkloadError, WorkloadOptions, classify, failed,
    take_random, weighted,
};
use crate::date::Date;
use crate::db::{DbError, postgres, redact};
use crate::organisations::organisations;
use crate::sources::Subject;
use crate::sources::attributes::rank;
use crate::sources::civil_service::{CivilServiceRows, organisation_id, status};
use crate::sources::value::{coefficient_text, utc_timestamp, vietnam_date};

/// The kinds of change, with their weights.
const KINDS: [(Kind, f64); 7] = [
    (Kind::Hire, 0.25),
    (Kind::Promotion, 0.25),
    (Kind::Transfer, 0.15),
    (Kind::Correction, 0.15),
    (Kind::Retirement, 0.08),
    (Kind::Resignation, 0.07),
    (Kind::Removal, 0.05),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hire,
    Promotion,
    Transfer,
    Correction,
    Retirement,
    Resignation,
    Removal,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Hire => "hire",
            Kind::Promotion => "promotion",
            Kind::Transfer => "transfer",
            Kind::Correction => "correction",
            Kind::Retirement => "retirement",
            Kind::Resignation => "resignation",
            Kind::Removal => "removal",
        }
    }
}

/// The civil-servant table and what the workload knows of it.
pub(super) struct CivilService {
    url: String,
    target: String,
    conn: Option<PgConnection>,
    /// No reconnection attempt before this instant.
    retry_at: Instant,
    /// Rows not changed yet by this run, by status.
    active: Vec<i64>,
    inactive: Vec<i64>,
    next_id: i64,
    rows: CivilServiceRows,
    /// ID numbers the table states (trimmed), for telling register people apart.
    pub(super) stated_ids: HashSet<String>,
}

fn statement(target: &str, what: &str) -> impl FnOnce(sqlx::Error) -> DbError + use<> {
    let (target, what) = (target.to_owned(), what.to_owned());
    move |source| DbError::Statement {
        target,
        what,
        source,
    }
}

impl CivilService {
    pub(super) async fn open(
        url: &str,
        options: &WorkloadOptions,
        now: i64,
    ) -> Result<Self, WorkloadError> {
        let target = redact(url);
        let mut conn = postgres::connect(url, false).await?;
        let rows = sqlx::query(&format!(
            "SELECT id, trang_thai, btrim(so_dinh_danh) FROM {}",
            postgres::qualified_table()
        ))
        .fetch_all(&mut conn)
        .await
        .map_err(|e| WorkloadError::Table {
            target: target.clone(),
            message: format!(
                "cannot read {} ({e}): seed it first with `lienthong datagen seed`",
                postgres::qualified_table()
            ),
        })?;
        let (mut active, mut inactive, mut stated_ids) = (Vec::new(), Vec::new(), HashSet::new());
        let mut max_id = 0;
        for row in rows {
            let id: i64 = row.try_get(0).map_err(statement(&target, "reading ids"))?;
            let state: Option<i16> = row.try_get(1).map_err(statement(&target, "reading ids"))?;
            let stated: Option<String> =
                row.try_get(2).map_err(statement(&target, "reading ids"))?;
            max_id = max_id.max(id);
            if state == Some(status::ACTIVE) {
                active.push(id);
            } else {
                inactive.push(id);
            }
            stated_ids.extend(stated);
        }
        // Sorted, so the same table and seed give the same changes.
        active.sort_unstable();
        inactive.sort_unstable();
        Ok(Self {
            url: url.to_owned(),
            target,
            conn: Some(conn),
            retry_at: Instant::now(),
            active,
            inactive,
            next_id: max_id + 1,
            rows: CivilServiceRows::new(
                options.seed ^ 0x3041_0000_0000_0008,
                options.defects.clone(),
                options.reference_date,
                now,
            ),
            stated_ids,
        })
    }

    /// The connection, reconnecting if it was lost (at most once a second).
    async fn connection(&mut self, report: &mut dyn FnMut(Report)) -> Option<&mut PgConnection> {
        if self.conn.is_none() && Instant::now() >= self.retry_at {
            match postgres::connect(&self.url, false).await {
                Ok(conn) => {
                    report(Report::Warning(format!("{}: reconnected", self.target)));
                    self.conn = Some(conn);
                }
                Err(e) => {
                    report(Report::Warning(format!("{e}; retrying")));
                    self.retry_at = Instant::now() + Duration::from_secs(1);
                }
            }
        }
        self.conn.as_mut()
    }

    /// One change, in its own transaction.
    pub(super) async fn change(
        &mut self,
        rng: &mut StdRng,
        people: &mut People,
        now: i64,
        report: &mut dyn FnMut(Report),
    ) -> Result<Attempt, WorkloadError> {
        if self.connection(report).await.is_none() {
            return Ok(Attempt::Nothing);
        }
        self.rows.set_now(now);
        let mut kind = weighted(&KINDS, rng);
        for _ in 0..4 {
            let attempt = match kind {
                Kind::Hire => self.hire(rng, people, now).await,
                Kind::Removal => self.removal(rng).await,
                Kind::Correction => self.correction(rng, people, now).await,
                other => self.update(other, rng, now).await,
            };
            let attempt = match attempt {
                Ok(attempt) => attempt,
                Err((e, committing)) => {
                    self.conn = None;
                    return classify(e, committing);
                }
            };
            match attempt {
                Attempt::Nothing => kind = Kind::Hire,
                other => return Ok(other),
            }
        }
        Ok(Attempt::Nothing)
    }

    async fn hire(
        &mut self,
        rng: &mut StdRng,
        people: &mut People,
        now: i64,
    ) -> Result<Attempt, (DbError, bool)> {
        let (person, in_register) = people.newcomer(rng);
        let (stated, errors) = people.state(&person, in_register);
        let organisation = rng.random_range(0..organisations().len());
        let id = self.next_id;
        let subject = Subject {
            person: &person,
            in_register,
            stated: &stated,
            errors: &errors,
        };
        let generated = self.rows.hire(id, subject, organisation, vietnam_date(now));
        let values = generated.row.values();
        let sql = postgres::insert_sql();
        let mut query = sqlx::query(&sql);
        for value in &values {
            query = query.bind(value.to_sql_text());
        }
        let target = self.target.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Attempt::Nothing);
        };
        let done =
            query
                .execute(&mut *conn)
                .await
                .map_err(failed(&target, "inserting a hire", true))?;
        self.next_id += 1;
        people
            .recent_hires
            .push((person, in_register, organisation));
        if people.recent_hires.len() > 1_000 {
            people.recent_hires.remove(0);
        }
        Ok(Attempt::Committed(Applied {
            kind: Kind::Hire.name(),
            inserted: done.rows_affected(),
            updated: 0,
            deleted: 0,
            with_errors: !generated.is_clean(),
        }))
    }

    async fn removal(&mut self, rng: &mut StdRng) -> Result<Attempt, (DbError, bool)> {
        let from_active = !self.active.is_empty()
            && (self.inactive.is_empty()
                || rng.random_bool(
                    self.active.len() as f64 / (self.active.len() + self.inactive.len()) as f64,
                ));
        let picked = if from_active {
            take_random(&mut self.active, rng)
        } else {
            take_random(&mut self.inactive, rng)
        };
        let Some(id) = picked else {
            return Ok(Attempt::Nothing);
        };
        let target = self.target.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Attempt::Nothing);
        };
        let done = sqlx::query(&format!(
            "DELETE FROM {} WHERE id = $1",
            postgres::qualified_table()
        ))
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(failed(&target, "deleting a file", true))?;
        Ok(committed(Kind::Removal, 0, 0, done.rows_affected()))
    }

    /// Promotion, transfer, retirement, resignation: one active row updated.
    async fn update(
        &mut self,
        kind: Kind,
        rng: &mut StdRng,
        now: i64,
    ) -> Result<Attempt, (DbError, bool)> {
        let Some(id) = take_random(&mut self.active, rng) else {
            return Ok(Attempt::Nothing);
        };
        let target = self.target.clone();
        let table = postgres::qualified_table();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Attempt::Nothing);
        };
        let mut tx = conn
            .begin()
            .await
            .map_err(failed(&target, "starting a change", false))?;
        let updated_at = utc_timestamp(now);
        let sql: String;
        let mut binds: Vec<Option<String>> = Vec::new();
        match kind {
            Kind::Promotion => {
                let row = sqlx::query(&format!(
                    "SELECT ma_ngach, bac_luong, he_so_luong::text FROM {table} WHERE id = $1 FOR UPDATE"
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(failed(&target, "reading a file", false))?;
                let Some(row) = row else {
                    return Ok(Attempt::Nothing);
                };
                let code: Option<String> =
                    row.try_get(0)
                        .map_err(failed(&target, "reading a file", false))?;
                let step: Option<i16> =
                    row.try_get(1)
                        .map_err(failed(&target, "reading a file", false))?;
                let coefficient: Option<String> =
                    row.try_get(2)
                        .map_err(failed(&target, "reading a file", false))?;
                let Some(current) = code.as_deref().and_then(rank) else {
                    self.active.push(id);
                    return Ok(Attempt::Nothing);
                };
                let step = u8::try_from(step.unwrap_or(1).max(1)).unwrap_or(1);
                let hundredths = coefficient
                    .as_deref()
                    .and_then(parse_hundredths)
                    .unwrap_or_else(|| current.coefficient(step));
                let next = current.next.and_then(rank);
                let (new_rank, new_step, appointed) = match next {
                    // Up a rank when the scale is done, or three times in ten anyway.
                    Some(next) if step >= current.steps || rng.random_bool(0.3) => {
                        (next, next.step_for(hundredths), Some(vietnam_date(now)))
                    }
                    _ if step < current.steps => (current, step + 1, None),
                    _ => {
                        self.active.push(id);
                        return Ok(Attempt::Nothing);
                    }
                };
                sql = format!(
                    "UPDATE {table} SET ma_ngach = $2, ten_ngach = $3, bac_luong = $4::smallint, \
                     he_so_luong = $5::numeric, ngay_bo_nhiem_ngach = coalesce($6::date, ngay_bo_nhiem_ngach), \
                     cap_nhat_luc = $7::timestamptz WHERE id = $1"
                );
                binds.extend([
                    Some(new_rank.code.to_owned()),
                    Some(new_rank.name.to_owned()),
                    Some(new_step.to_string()),
                    Some(coefficient_text(new_rank.coefficient(new_step))),
                    appointed.map(|d: Date| d.to_string()),
                    Some(updated_at),
                ]);
            }
            Kind::Transfer => {
                let current: Option<i64> = sqlx::query_scalar(&format!(
                    "SELECT don_vi_id FROM {table} WHERE id = $1 FOR UPDATE"
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(failed(&target, "reading a file", false))?
                .flatten();
                let all = organisations();
                let mut index = rng.random_range(0..all.len());
                if Some(organisation_id(index)) == current {
                    index = (index + 1) % all.len();
                }
                sql = format!(
                    "UPDATE {table} SET don_vi_id = $2::bigint, ten_don_vi = $3, ma_chuc_vu = NULL, \
                     ten_chuc_vu = NULL, he_so_phu_cap_cv = NULL, cap_nhat_luc = $4::timestamptz WHERE id = $1"
                );
                binds.extend([
                    Some(organisation_id(index).to_string()),
                    Some(all[index].name.clone()),
                    Some(updated_at),
                ]);
            }
            Kind::Retirement | Kind::Resignation => {
                let new_status = if kind == Kind::Retirement {
                    status::RETIRED
                } else {
                    status::RESIGNED
                };
                sql = format!(
                    "UPDATE {table} SET trang_thai = $2::smallint, cap_nhat_luc = $3::timestamptz WHERE id = $1"
                );
                binds.extend([Some(new_status.to_string()), Some(updated_at)]);
            }
            Kind::Hire | Kind::Correction | Kind::Removal => return Ok(Attempt::Nothing),
        }
        let mut query = sqlx::query(&sql).bind(id);
        for bind in binds {
            query = query.bind(bind);
        }
        let done =
            query
                .execute(&mut *tx)
                .await
                .map_err(failed(&target, "updating a file", false))?;
        tx.commit()
            .await
            .map_err(failed(&target, "committing", true))?;
        // Changed: the row stays out of the pools, whatever its status now.
        Ok(committed(kind, 0, done.rows_affected(), 0))
    }

    /// A superseded ID number, a name or a birth date set to what the register holds.
    async fn correction(
        &mut self,
        rng: &mut StdRng,
        people: &People,
        now: i64,
    ) -> Result<Attempt, (DbError, bool)> {
        let target = self.target.clone();
        let table = postgres::qualified_table();
        // Most files are right: look at a few before giving up.
        for _ in 0..20 {
            let Some(id) = take_random(&mut self.active, rng) else {
                return Ok(Attempt::Nothing);
            };
            let Some(conn) = self.conn.as_mut() else {
                self.active.push(id);
                return Ok(Attempt::Nothing);
            };
            let mut tx = conn
                .begin()
                .await
                .map_err(failed(&target, "starting a change", false))?;
            let row = sqlx::query(&format!(
                "SELECT btrim(so_dinh_danh), ho_ten, ngay_sinh::text FROM {table} WHERE id = $1 FOR UPDATE"
            ))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed(&target, "reading a file", false))?;
            let Some(row) = row else { continue };
            let stated_id: Option<String> =
                row.try_get(0)
                    .map_err(failed(&target, "reading a file", false))?;
            let name: String = row
                .try_get(1)
                .map_err(failed(&target, "reading a file", false))?;
            let born: Option<String> =
                row.try_get(2)
                    .map_err(failed(&target, "reading a file", false))?;
            let Some((person, superseded)) = stated_id.as_deref().and_then(|s| people.by_id(s))
            else {
                self.active.push(id);
                continue;
            };
            let registered_name = person.full_name();
            let (column, value, cast) = if superseded {
                ("so_dinh_danh", person.personal_id.clone(), "char(12)")
            } else if name != registered_name {
                ("ho_ten", registered_name, "varchar(100)")
            } else if born.as_deref().and_then(|b| b.parse::<Date>().ok())
                != Some(person.birth_date)
            {
                ("ngay_sinh", person.birth_date.to_string(), "date")
            } else {
                // Nothing to correct: the row stays unchanged and can be picked again.
                self.active.push(id);
                drop(tx);
                continue;
            };
            let done = sqlx::query(&format!(
                "UPDATE {table} SET {column} = $2::{cast}, cap_nhat_luc = $3::timestamptz WHERE id = $1"
            ))
            .bind(id)
            .bind(value)
            .bind(utc_timestamp(now))
            .execute(&mut *tx)
            .await
            .map_err(failed(&target, "correcting a file", false))?;
            tx.commit()
                .await
                .map_err(failed(&target, "committing", true))?;
            return Ok(committed(Kind::Correction, 0, done.rows_affected(), 0));
        }
        Ok(Attempt::Nothing)
    }

    /// `pg_current_wal_lsn()` now, if the connection is up.
    pub(super) async fn position(&mut self) -> Option<String> {
        let conn = self.conn.as_mut()?;
        sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(conn)
            .await
            .ok()
    }
}

fn committed(kind: Kind, inserted: u64, updated: u64, deleted: u64) -> Attempt {
    Attempt::Committed(Applied {
        kind: kind.name(),
        inserted,
        updated,
        deleted,
        with_errors: false,
    })
}

/// `4.98` → 498.
fn parse_hundredths(text: &str) -> Option<u16> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), "0"));
    let whole: u16 = whole.parse().ok()?;
    let fraction: u16 = format!("{fraction:0<2}").get(..2)?.parse().ok()?;
    whole.checked_mul(100)?.checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::attributes::RANKS;

    #[test]
    fn coefficients_read_back_in_hundredths() {
        assert_eq!(parse_hundredths("4.98"), Some(498));
        assert_eq!(parse_hundredths("2.3"), Some(230));
        assert_eq!(parse_hundredths("6"), Some(600));
        assert_eq!(parse_hundredths("x"), None);
        // Every rank the workload promotes to exists in the scales.
        assert!(
            RANKS
                .iter()
                .all(|r| r.next.is_none_or(|n| rank(n).is_some()))
        );
    }
}
