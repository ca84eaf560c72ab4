//! [`Backend`]: everything a generated crate hands the runtime, and what the crate's own code
//! adds to it (routes, scheduled jobs, start-up work).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use futures_util::future::BoxFuture;

use crate::collection::CollectionSpec;
use crate::cron::CronJob;
use crate::data::Data;
use crate::error::ApiResult;
use crate::migrate::Migration;
use crate::realtime::Admit;
use crate::request::Caller;
use crate::state::AppState;

/// Everything a generated crate hands the runtime.
pub struct Backend {
    /// The schema IR as JSON (`src/generated/schema.json`).
    pub schema_json: &'static str,
    /// The OpenAPI document (`src/generated/openapi.json`), served at `/api/openapi.json`.
    pub openapi_json: &'static str,
    pub collections: Vec<CollectionSpec>,
    pub sqlite_migrations: &'static [Migration],
    pub postgres_migrations: &'static [Migration],
    pub routes: Router<AppState>,
    /// Jobs run on a schedule ([`Backend::cron`]).
    pub crons: Vec<CronJob>,
    /// Work run once the database is ready, before the server listens ([`Backend::on_start`]).
    pub on_start: Vec<StartHook>,
    /// Realtime topics of the crate's own, with who may hear each ([`Backend::topic`]).
    pub topics: Vec<(String, Admit)>,
}

/// What [`Backend::on_start`] takes, boxed.
pub type StartHook = Box<dyn FnOnce(Data) -> BoxFuture<'static, ApiResult<()>> + Send>;

impl Backend {
    /// Adds the user's own routes (from `src/hooks.rs`).
    pub fn routes(mut self, routes: Router<AppState>) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Runs `job` on a schedule, with system access: `expression` is a cron expression in UTC
    /// (five fields, or six with seconds first, or `@hourly`, `@daily`, `@weekly`, `@monthly`,
    /// `@yearly`). Superusers list the jobs at `GET /api/crons` and run one now with
    /// `POST /api/crons/{id}`. Each tick runs on one instance, however many serve the database.
    ///
    /// ```ignore
    /// backend.cron("purge_unverified", "0 3 * * *", hooks::purge_unverified)
    /// ```
    pub fn cron<F, Fut>(mut self, id: &str, expression: &str, job: F) -> Self
    where
        F: Fn(Data) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<()>> + Send + 'static,
    {
        self.crons.push(CronJob::new(id, expression, job));
        self
    }

    /// Declares the realtime topic `name`, which custom code publishes to with `tx.publish`
    /// and the SDK subscribes to with `pb.realtime.subscribe(name, …)`; `admit` says, for a
    /// subscriber's identity (`None`: anonymous), whether it hears the topic. Judged for each
    /// message, so a subscriber refused now may hear later messages once signed in.
    ///
    /// ```ignore
    /// backend.topic("announcements", |caller| caller.is_some())
    /// ```
    pub fn topic(mut self, name: &str, admit: impl Fn(Option<&Caller>) -> bool + Send + Sync + 'static) -> Self {
        self.topics.push((name.to_owned(), Arc::new(admit)));
        self
    }

    /// Runs `work` with system access when `serve` starts, after the migrations and before the
    /// server accepts requests; an error stops the start.
    pub fn on_start<F, Fut>(mut self, work: F) -> Self
    where
        F: FnOnce(Data) -> Fut + Send + 'static,
        Fut: Future<Output = ApiResult<()>> + Send + 'static,
    {
        self.on_start.push(Box::new(move |data| Box::pin(work(data))));
        self
    }
}
