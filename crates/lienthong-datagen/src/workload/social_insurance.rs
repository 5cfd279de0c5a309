//! Changes to `QUA_TRINH_THAM_GIA` (MariaDB).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use sqlx::{Connection as _, MySql, MySqlConnection, Row as _};

use super::{
    Applied, Attempt, People, Report, WorkloadError, WorkloadOptions, classify, failed,
    take_random, weighted,
};
use crate::db::{DbError, mariadb, redact};
use crate::sources::Subject;
use crate::sources::attributes::{ENTERPRISES, enterprise, public_employer};
use crate::sources::social_insurance::{
    Month, SocialInsuranceRows, TABLE, insurance_number, scheme,
};
use crate::sources::value::{vietnam_date, vietnam_datetime};

const KINDS: [(Kind, f64); 6] = [
    (Kind::Enrolment, 0.25),
    (Kind::SalaryChange, 0.25),
    (Kind::EmployerChange, 0.15),
    (Kind::Correction, 0.15),
    (Kind::Stop, 0.15),
    (Kind::Removal, 0.05),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Enrolment,
    SalaryChange,
    EmployerChange,
    Correction,
    Stop,
    Removal,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Enrolment => "enrolment",
            Kind::SalaryChange => "salary_change",
            Kind::EmployerChange => "employer_change",
            Kind::Correction => "correction",
            Kind::Stop => "stop",
            Kind::Removal => "removal",
        }
    }
}

/// A participant not changed yet by this run: their rows, and the open period's row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Participant {
    rows: Vec<i64>,
    open: Option<i64>,
}

/// The social-security table and what the workload knows of it.
pub(super) struct SocialInsurance {
    url: String,
    target: String,
    conn: Option<MySqlConnection>,
    retry_at: Instant,
    /// Participants with an open period, and the others.
    open: Vec<Participant>,
    closed: Vec<Participant>,
    numbers: HashSet<String>,
    next_id: i64,
    rows: SocialInsuranceRows,
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

/// The personal columns a new period copies from the participant's open one.
const COPIED: [&str; 11] = [
    "MA_SO_BHXH",
    "SO_CCCD",
    "SO_CMND",
    "HO_TEN",
    "NGAY_SINH",
    "GIOI_TINH",
    "MA_DAN_TOC",
    "MA_TINH_KS",
    "MA_TINH",
    "DIA_CHI",
    "DIEN_THOAI",
];

impl SocialInsurance {
    pub(super) async fn open(
        url: &str,
        options: &WorkloadOptions,
        now: i64,
    ) -> Result<Self, WorkloadError> {
        let target = redact(url);
        let mut conn = mariadb::connect(url, false).await?;
        let rows = sqlx::query(&format!(
            "SELECT ID, MA_SO_BHXH, DEN_THANG, TRIM(SO_CCCD) FROM {TABLE} ORDER BY ID"
        ))
        .fetch_all(&mut conn)
        .await
        .map_err(|e| WorkloadError::Table {
            target: target.clone(),
            message: format!(
                "cannot read {TABLE} ({e}): seed it first with `lienthong datagen seed`"
            ),
        })?;
        let mut by_number: BTreeMap<String, Participant> = BTreeMap::new();
        let mut stated_ids = HashSet::new();
        let mut max_id = 0;
        let read = |what| statement(&target, what);
        for row in rows {
            let id: i64 = row.try_get(0).map_err(read("reading rows"))?;
            let number: String = row.try_get(1).map_err(read("reading rows"))?;
            let until: Option<String> = row.try_get(2).map_err(read("reading rows"))?;
            let stated: Option<String> = row.try_get(3).map_err(read("reading rows"))?;
            max_id = max_id.max(id);
            stated_ids.extend(stated.filter(|s| !s.is_empty()));
            let participant = by_number.entry(number).or_insert_with(|| Participant {
                rows: Vec::new(),
                open: None,
            });
            participant.rows.push(id);
            if until.as_deref().is_none_or(|u| u.trim().is_empty()) {
                participant.open = Some(id);
            }
        }
        let numbers: HashSet<String> = by_number.keys().cloned().collect();
        let (open, closed): (Vec<Participant>, Vec<Participant>) =
            by_number.into_values().partition(|p| p.open.is_some());
        Ok(Self {
            url: url.to_owned(),
            target,
            conn: Some(conn),
            retry_at: Instant::now(),
            open,
            closed,
            numbers,
            next_id: max_id + 1,
            rows: SocialInsuranceRows::new(
                options.seed ^ 0x3041_0000_0000_0009,
                options.defects.clone(),
                options.reference_date,
                now,
            ),
            stated_ids,
        })
    }

    async fn connection(&mut self, report: &mut dyn FnMut(Report)) -> Option<&mut MySqlConnection> {
        if self.conn.is_none() && Instant::now() >= self.retry_at {
            match mariadb::connect(&self.url, false).await {
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
                Kind::Enrolment => self.enrolment(rng, people, now).await,
                Kind::SalaryChange | Kind::EmployerChange => self.new_period(kind, rng, now).await,
                Kind::Stop => self.stop(rng, now).await,
                Kind::Correction => self.correction(rng, people, now).await,
                Kind::Removal => self.removal(rng).await,
            };
            let attempt = match attempt {
                Ok(attempt) => attempt,
                Err((e, committing)) => {
                    self.conn = None;
                    return classify(e, committing);
                }
            };
            match attempt {
                Attempt::Nothing => kind = Kind::Enrolment,
                other => return Ok(other),
            }
        }
        Ok(Attempt::Nothing)
    }

    /// A new participant: often a civil servant this run just hired, otherwise a newcomer
    /// working for an enterprise.
    async fn enrolment(
        &mut self,
        rng: &mut StdRng,
        people: &mut People,
        now: i64,
    ) -> Result<Attempt, (DbError, bool)> {
        let recent = if !people.recent_hires.is_empty() && rng.random_bool(0.5) {
            let i = rng.random_range(0..people.recent_hires.len());
            Some(people.recent_hires.swap_remove(i))
        } else {
            None
        };
        let (person, in_register, employer) = match recent {
            Some((person, in_register, organisation)) => {
                (person, in_register, public_employer(organisation))
            }
            None => {
                let (person, in_register) = people.newcomer(rng);
                (
                    person,
                    in_register,
                    enterprise(rng.random_range(0..ENTERPRISES)),
                )
            }
        };
        let (stated, errors) = people.state(&person, in_register);
        let number = loop {
            let candidate =
                insurance_number(person.birth_province, rng.random_range(0..100_000_000));
            if !self.numbers.contains(&candidate) {
                break candidate;
            }
        };
        let id = self.next_id;
        let subject = Subject {
            person: &person,
            in_register,
            stated: &stated,
            errors: &errors,
        };
        let generated = self.rows.enrolment(
            id,
            number.clone(),
            subject,
            &employer,
            Month::of(vietnam_date(now)),
        );
        let sql = mariadb::insert_sql();
        let mut query = sqlx::query::<MySql>(&sql);
        for value in generated.row.values() {
            query = match value {
                crate::sources::value::SqlValue::Int(i) => query.bind(i),
                other => query.bind(other.to_sql_text()),
            };
        }
        let target = self.target.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Attempt::Nothing);
        };
        let done = query.execute(&mut *conn).await.map_err(failed(
            &target,
            "inserting an enrolment",
            true,
        ))?;
        self.next_id += 1;
        self.numbers.insert(number);
        Ok(Attempt::Committed(Applied {
            kind: Kind::Enrolment.name(),
            inserted: done.rows_affected(),
            updated: 0,
            deleted: 0,
            with_errors: !generated.is_clean(),
        }))
    }

    /// A salary or employer change: the open period closes last month and a new one opens
    /// this month; a period that began this month is changed in place instead.
    async fn new_period(
        &mut self,
        kind: Kind,
        rng: &mut StdRng,
        now: i64,
    ) -> Result<Attempt, (DbError, bool)> {
        let Some(participant) = take_random(&mut self.open, rng) else {
            return Ok(Attempt::Nothing);
        };
        let Some(open_id) = participant.open else {
            return Ok(Attempt::Nothing);
        };
        let target = self.target.clone();
        let this_month = Month::of(vietnam_date(now));
        let updated_at = vietnam_datetime(now);
        let new_id = self.next_id;
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Attempt::Nothing);
        };
        let mut tx = conn
            .begin()
            .await
            .map_err(failed(&target, "starting a change", false))?;
        let row = sqlx::query(&format!(
            "SELECT TU_THANG, CAST(MUC_LUONG AS CHAR), MA_DON_VI, TEN_DON_VI, LOAI_BH FROM {TABLE} WHERE ID = ? FOR UPDATE"
        ))
        .bind(open_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(failed(&target, "reading a period", false))?;
        let Some(row) = row else {
            return Ok(Attempt::Nothing);
        };
        let from: Option<String> =
            row.try_get(0)
                .map_err(failed(&target, "reading a period", false))?;
        let salary: Option<String> =
            row.try_get(1)
                .map_err(failed(&target, "reading a period", false))?;
        let mut employer_code: Option<String> =
            row.try_get(2)
                .map_err(failed(&target, "reading a period", false))?;
        let mut employer_name: Option<String> =
            row.try_get(3)
                .map_err(failed(&target, "reading a period", false))?;
        let mut loai_bh: Option<String> =
            row.try_get(4)
                .map_err(failed(&target, "reading a period", false))?;
        let salary: u64 = salary
            .as_deref()
            .and_then(|s| s.split('.').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(5_000_000);
        let new_salary = if kind == Kind::SalaryChange {
            (salary + salary * rng.random_range(5..16u64) / 100) / 1_000 * 1_000
        } else {
            let employer = enterprise(rng.random_range(0..ENTERPRISES));
            employer_code = Some(employer.code);
            employer_name = Some(employer.name);
            // A job with an employer is compulsory insurance, whatever the period before was.
            loai_bh = Some(scheme::COMPULSORY.to_owned());
            (salary * rng.random_range(90..130u64) / 100) / 1_000 * 1_000
        };
        // An unreadable first month cannot be closed before this one: change it in place.
        let began = from.as_deref().and_then(Month::parse);
        let (inserted, updated) = if began.is_some_and(|m| m < this_month) {
            let closed = sqlx::query(&format!(
                "UPDATE {TABLE} SET DEN_THANG = ?, NGAY_CAP_NHAT = ? WHERE ID = ?"
            ))
            .bind(this_month.plus(-1).to_string())
            .bind(&updated_at)
            .bind(open_id)
            .execute(&mut *tx)
            .await
            .map_err(failed(&target, "closing a period", false))?;
            let copied = COPIED.join(", ");
            let opened = sqlx::query(&format!(
                "INSERT INTO {TABLE} (ID, {copied}, LOAI_BH, MA_DON_VI, TEN_DON_VI, MUC_LUONG, TU_THANG, DEN_THANG, NGAY_CAP_NHAT) \
                 SELECT ?, {copied}, ?, ?, ?, ?, ?, '', ? FROM {TABLE} WHERE ID = ?"
            ))
            .bind(new_id)
            .bind(loai_bh)
            .bind(employer_code)
            .bind(employer_name)
            .bind(new_salary.to_string())
            .bind(this_month.to_string())
            .bind(&updated_at)
            .bind(open_id)
            .execute(&mut *tx)
            .await
            .map_err(failed(&target, "opening a period", false))?;
            (opened.rows_affected(), closed.rows_affected())
        } else {
            let changed = sqlx::query(&format!(
                "UPDATE {TABLE} SET LOAI_BH = ?, MA_DON_VI = ?, TEN_DON_VI = ?, MUC_LUONG = ?, NGAY_CAP_NHAT = ? WHERE ID = ?"
            ))
            .bind(loai_bh)
            .bind(employer_code)
            .bind(employer_name)
            .bind(new_salary.to_string())
            .bind(&updated_at)
            .bind(open_id)
            .execute(&mut *tx)
            .await
            .map_err(failed(&target, "changing a period", false))?;
            (0, changed.rows_affected())
        };
        tx.commit()
            .await
            .map_err(failed(&target, "committing", true))?;
        if inserted > 0 {
            self.next_id += 1;
        }
        Ok(committed(kind, inserted, updated, 0))
    }

    /// The open period closes this month (retirement, resignation, the end of a contract).
    async fn stop(&mut self, rng: &mut StdRng, now: i64) -> Result<Attempt, (DbError, bool)> {
        let Some(participant) = take_random(&mut self.open, rng) else {
            return Ok(Attempt::Nothing);
        };
        let Some(open_id) = participant.open else {
            return Ok(Attempt::Nothing);
        };
        let target = self.target.clone();
        let this_month = Month::of(vietnam_date(now));
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Attempt::Nothing);
        };
        // A period that begins after this month (or cannot be read) ends when it begins.
        let done = sqlx::query(&format!(
            "UPDATE {TABLE} SET DEN_THANG = CASE \
               WHEN TU_THANG REGEXP '^(0[1-9]|1[0-2])/[0-9]{{4}}$' \
                AND CONCAT(SUBSTRING(TU_THANG, 4, 4), SUBSTRING(TU_THANG, 1, 2)) > ? THEN TU_THANG \
               ELSE ? END, \
             NGAY_CAP_NHAT = ? WHERE ID = ?"
        ))
        .bind(format!("{:04}{:02}", this_month.year, this_month.month))
        .bind(this_month.to_string())
        .bind(vietnam_datetime(now))
        .bind(open_id)
        .execute(&mut *conn)
        .await
        .map_err(failed(&target, "closing a period", true))?;
        Ok(committed(Kind::Stop, 0, done.rows_affected(), 0))
    }

    /// A superseded ID number or a misspelt name, set to the register's on every row of the
    /// participant.
    async fn correction(
        &mut self,
        rng: &mut StdRng,
        people: &People,
        now: i64,
    ) -> Result<Attempt, (DbError, bool)> {
        let target = self.target.clone();
        for _ in 0..20 {
            let from_open =
                !self.open.is_empty() && (self.closed.is_empty() || rng.random_bool(0.5));
            let pool = if from_open {
                &mut self.open
            } else {
                &mut self.closed
            };
            let Some(participant) = take_random(pool, rng) else {
                return Ok(Attempt::Nothing);
            };
            let Some(&first) = participant.rows.first() else {
                continue;
            };
            let Some(conn) = self.conn.as_mut() else {
                return Ok(Attempt::Nothing);
            };
            let mut tx = conn
                .begin()
                .await
                .map_err(failed(&target, "starting a change", false))?;
            let row = sqlx::query(&format!(
                "SELECT TRIM(SO_CCCD), HO_TEN FROM {TABLE} WHERE ID = ? FOR UPDATE"
            ))
            .bind(first)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed(&target, "reading a participant", false))?;
            let Some(row) = row else { continue };
            let stated_id: Option<String> =
                row.try_get(0)
                    .map_err(failed(&target, "reading a participant", false))?;
            let name: String =
                row.try_get(1)
                    .map_err(failed(&target, "reading a participant", false))?;
            let put_back = |this: &mut Self, participant: Participant| {
                if participant.open.is_some() {
                    this.open.push(participant);
                } else {
                    this.closed.push(participant);
                }
            };
            let Some((person, superseded)) = stated_id.as_deref().and_then(|s| people.by_id(s))
            else {
                drop(tx);
                put_back(self, participant);
                continue;
            };
            // The system writes names in capitals.
            let registered_name = person.full_name().to_uppercase();
            let (column, value) = if superseded {
                ("SO_CCCD", person.personal_id.clone())
            } else if name.to_uppercase() != registered_name {
                ("HO_TEN", registered_name)
            } else {
                drop(tx);
                put_back(self, participant);
                continue;
            };
            let ids: Vec<String> = participant.rows.iter().map(i64::to_string).collect();
            let done = sqlx::query(&format!(
                "UPDATE {TABLE} SET {column} = ?, NGAY_CAP_NHAT = ? WHERE ID IN ({})",
                ids.join(", ")
            ))
            .bind(value)
            .bind(vietnam_datetime(now))
            // The id list makes each statement new: do not fill the statement cache with them.
            .persistent(false)
            .execute(&mut *tx)
            .await
            .map_err(failed(&target, "correcting a participant", false))?;
            tx.commit()
                .await
                .map_err(failed(&target, "committing", true))?;
            return Ok(committed(Kind::Correction, 0, done.rows_affected(), 0));
        }
        Ok(Attempt::Nothing)
    }

    /// A period recorded by mistake is deleted: a closed one when the participant has several.
    async fn removal(&mut self, rng: &mut StdRng) -> Result<Attempt, (DbError, bool)> {
        let total = self.open.len() + self.closed.len();
        if total == 0 {
            return Ok(Attempt::Nothing);
        }
        let pool = if rng.random_range(0..total) < self.open.len() {
            &mut self.open
        } else {
            &mut self.closed
        };
        let Some(participant) = take_random(pool, rng) else {
            return Ok(Attempt::Nothing);
        };
        let closed: Vec<i64> = participant
            .rows
            .iter()
            .copied()
            .filter(|id| Some(*id) != participant.open)
            .collect();
        let id = if closed.is_empty() {
            participant.rows[rng.random_range(0..participant.rows.len())]
        } else {
            closed[rng.random_range(0..closed.len())]
        };
        let target = self.target.clone();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Attempt::Nothing);
        };
        let done = sqlx::query(&format!("DELETE FROM {TABLE} WHERE ID = ?"))
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(failed(&target, "deleting a period", true))?;
        Ok(committed(Kind::Removal, 0, 0, done.rows_affected()))
    }

    /// The binlog GTID position now (MariaDB, then MySQL), if the connection is up.
    pub(super) async fn position(&mut self) -> Option<String> {
        let conn = self.conn.as_mut()?;
        for query in [
            "SELECT CAST(@@gtid_binlog_pos AS CHAR)",
            "SELECT CAST(@@gtid_executed AS CHAR)",
        ] {
            if let Ok(Some(position)) = sqlx::query_scalar::<_, Option<String>>(query)
                .fetch_one(&mut *conn)
                .await
            {
                return Some(position);
            }
        }
        None
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::social_insurance::COLUMNS;

    #[test]
    fn a_new_period_copies_every_personal_column() {
        // Every column but the period's own is copied, so both rows state the same person.
        let own = [
            "ID",
            "LOAI_BH",
            "MA_DON_VI",
            "TEN_DON_VI",
            "MUC_LUONG",
            "TU_THANG",
            "DEN_THANG",
            "NGAY_CAP_NHAT",
        ];
        for column in COLUMNS {
            assert!(
                COPIED.contains(&column.name) != own.contains(&column.name),
                "{}",
                column.name
            );
        }
    }
}
