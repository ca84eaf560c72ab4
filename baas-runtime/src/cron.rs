//! Jobs the backend runs on a schedule, PocketBase's cron jobs: declared in the crate's own
//! code ([`crate::Backend::cron`]), run with system access through the data API, listed and
//! started by superusers at `GET /api/crons` and `POST /api/crons/{id}`.
//!
//! Each tick runs once, however many instances serve the database: an instance claims the tick
//! in `_params` before it runs it (one row per job holding the last tick claimed; the update
//! that moves it forward succeeds for one instance only, on SQLite as on PostgreSQL, where the
//! row lock makes a second claimant wait and then find the tick taken). A run that outlasts its
//! interval skips the ticks it overlapped: a job never runs twice at once on one instance.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::data::Data;
use crate::db::{DbError, SqlValue};
use crate::error::{ApiError, ApiResult};
use crate::records;
use crate::request::{RequestCx, Superuser};
use crate::state::AppState;

/// A job's body: what [`crate::Backend::cron`] takes, boxed.
type Run = Arc<dyn Fn(Data) -> BoxFuture<'static, ApiResult<()>> + Send + Sync>;

/// A job and its schedule.
pub struct CronJob {
    id: String,
    expression: String,
    schedule: Result<croner::Cron, String>,
    run: Run,
}

impl CronJob {
    /// `expression` has five fields (minute, hour, day of month, month, day of week), an
    /// optional sixth for seconds first, or is a macro (`@hourly`, `@daily`, `@weekly`,
    /// `@monthly`, `@yearly`); times are UTC. A bad one is reported when the server starts.
    pub fn new<F, Fut>(id: &str, expression: &str, job: F) -> CronJob
    where
        F: Fn(Data) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<()>> + Send + 'static,
    {
        let schedule = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(expression)
            .map_err(|e| e.to_string());
        CronJob {
            id: id.to_owned(),
            expression: expression.to_owned(),
            schedule,
            run: Arc::new(move |data| Box::pin(job(data))),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The first tick strictly after `t`; `None` when the schedule never fires again.
    fn next_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let schedule = self.schedule.as_ref().ok()?;
        let t = chrono::DateTime::<chrono::Utc>::from_timestamp(t.unix_timestamp(), t.nanosecond())?;
        let next = schedule.find_next_occurrence(&t, false).ok()?;
        OffsetDateTime::from_unix_timestamp(next.timestamp()).ok()
    }
}

/// The jobs of a backend, checked: ids are unique and made of letters, digits, `_` and `-`,
/// and every expression parses.
#[derive(Clone, Default)]
pub struct Crons(Arc<Vec<CronJob>>);

impl Crons {
    pub fn new(jobs: Vec<CronJob>) -> Result<Crons, String> {
        for (i, job) in jobs.iter().enumerate() {
            if job.id.is_empty() || !job.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("cron job '{}': an id is letters, digits, '_' and '-'", job.id));
            }
            if jobs[..i].iter().any(|other| other.id == job.id) {
                return Err(format!("cron job '{}' is declared twice", job.id));
            }
            if let Err(e) = &job.schedule {
                return Err(format!("cron job '{}': '{}' is not a cron expression: {e}", job.id, job.expression));
            }
        }
        Ok(Crons(Arc::new(jobs)))
    }

    /// Starts every job's schedule on the current async runtime.
    pub fn start(&self, app: &AppState) {
        for index in 0..self.0.len() {
            tokio::spawn(on_schedule(app.clone(), self.clone(), index));
        }
    }

    /// `GET /api/crons` and `POST /api/crons/{id}`, for superusers.
    pub fn routes(&self) -> Router<AppState> {
        Router::new()
            .route("/api/crons", get(list))
            .route("/api/crons/{id}", post(run_now))
            .layer(Extension(self.clone()))
    }
}

async fn on_schedule(app: AppState, crons: Crons, index: usize) {
    let job = &crons.0[index];
    let mut after = OffsetDateTime::now_utc();
    while let Some(tick) = job.next_after(after) {
        let wait = tick - OffsetDateTime::now_utc();
        if wait.is_positive() {
            tokio::time::sleep(wait.unsigned_abs()).await;
        }
        match claim(&app, &job.id, tick).await {
            Ok(true) => run(&app, job).await,
            Ok(false) => tracing::debug!(job = %job.id, "another instance ran this tick"),
            Err(e) => tracing::error!(job = %job.id, "cannot claim a tick: {e}"),
        }
        // ticks that passed while this one ran are skipped
        after = tick.max(OffsetDateTime::now_utc());
    }
}

/// Whether this instance is the one to run `job`'s `tick`.
async fn claim(app: &AppState, job: &str, tick: OffsetDateTime) -> Result<bool, DbError> {
    let (key, tick) = (format!("cron:{job}"), crate::time::format(tick));
    app.db()
        .write(move |conn| {
            conn.transaction(|conn| {
                let (p1, p2) = (conn.placeholder(1), conn.placeholder(2));
                let sql = format!("INSERT INTO _params (key, value) VALUES ({p1}, '') ON CONFLICT DO NOTHING");
                conn.execute(&sql, &[SqlValue::Text(key.clone())])?;
                let sql = format!("UPDATE _params SET value = {p2} WHERE key = {p1} AND value < {p2}");
                Ok(conn.execute(&sql, &[SqlValue::Text(key), SqlValue::Text(tick)])? == 1)
            })
        })
        .await
}

/// Runs `job` with system access, logging how it ended (a panic included).
async fn run(app: &AppState, job: &CronJob) {
    let started = Instant::now();
    let data = records::Handle::data(app, &RequestCx::system());
    let ended = tokio::spawn((job.run)(data)).await;
    let ms = started.elapsed().as_millis();
    match ended {
        Ok(Ok(())) => tracing::info!(job = %job.id, ms, "cron job done"),
        Ok(Err(e)) => tracing::error!(job = %job.id, ms, "cron job failed: {e}"),
        Err(e) => tracing::error!(job = %job.id, ms, "cron job panicked: {e}"),
    }
}

/// `[{"id": "purge_unverified", "expression": "0 3 * * *"}, …]`.
async fn list(_: Superuser, Extension(crons): Extension<Crons>) -> Json<Value> {
    Json(crons.0.iter().map(|job| json!({"id": job.id, "expression": job.expression})).collect())
}

/// Starts a job now and answers 204 at once, as PocketBase does: the log tells how it ended.
async fn run_now(
    _: Superuser,
    State(app): State<AppState>,
    Extension(crons): Extension<Crons>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let index = crons.0.iter().position(|job| job.id == id);
    let index = index.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Missing or invalid cron job."))?;
    tokio::spawn(async move { run(&app, &crons.0[index]).await });
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(expression: &str) -> CronJob {
        CronJob::new("j", expression, |_| async { Ok(()) })
    }

    fn at(s: &str) -> OffsetDateTime {
        crate::time::parse(s).expect("a datetime")
    }

    #[test]
    fn the_next_tick_follows_the_expression_in_utc() {
        let next = job("0 3 * * *").next_after(at("2026-12-06 09:00:00Z")).map(crate::time::format);
        assert_eq!(next.as_deref(), Some("2026-12-07 03:00:00.000Z"));
        let next = job("*/2 * * * * *").next_after(at("2026-12-06 09:00:00.500Z")).map(crate::time::format);
        assert_eq!(next.as_deref(), Some("2026-12-06 09:00:02.000Z"));
        let next = job("@hourly").next_after(at("2026-12-06 09:00:00Z")).map(crate::time::format);
        assert_eq!(next.as_deref(), Some("2026-12-06 10:00:00.000Z"));
    }

    #[test]
    fn bad_jobs_are_refused_with_their_id() {
        let err = Crons::new(vec![job("0 3 * *")]).err().expect("four fields are refused");
        assert!(err.starts_with("cron job 'j': '0 3 * *' is not a cron expression"), "{err}");
        let err = Crons::new(vec![job("@daily"), job("@hourly")]).err().expect("a duplicate is refused");
        assert_eq!(err, "cron job 'j' is declared twice");
        let err = Crons::new(vec![CronJob::new("a b", "@daily", |_| async { Ok(()) })]).err();
        assert_eq!(err.as_deref(), Some("cron job 'a b': an id is letters, digits, '_' and '-'"));
    }
}
