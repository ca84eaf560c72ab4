//! [`Data`]: the handle custom routes and after-commit work open transactions with.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::{ApiError, ApiResult};

use super::Tx;

/// A job run in one transaction, its result boxed (see [`Data::read`]).
pub type Job = Box<dyn for<'t> FnOnce(Tx<'t>) -> ApiResult<Box<dyn Any + Send>> + Send>;

/// A [`Job`] on its way: its boxed result once the transaction ended.
pub type Running = Pin<Box<dyn Future<Output = ApiResult<Box<dyn Any + Send>>> + Send>>;

/// Runs jobs in transactions for one caller. Implemented by the records engine.
pub trait Database: Send + Sync {
    /// Runs `job` in a read (`write: false`) or write transaction; a write commits when the
    /// job succeeds and rolls back when it fails.
    fn run(&self, write: bool, job: Job) -> Running;
}

/// Opens transactions acting as one caller: a route's (it is an axum extractor) or, in an
/// after-commit hook, the caller of the write that committed.
///
/// ```ignore
/// async fn publish(data: Data, Path(id): Path<String>) -> ApiResult<Json<Post>> {
///     let post = data.write(move |tx| tx.of::<Post>().patch(&id).set(post::published, true).save()).await?;
///     Ok(Json(post))
/// }
/// ```
#[derive(Clone)]
pub struct Data(Arc<dyn Database>);

impl Data {
    pub fn new(database: Arc<dyn Database>) -> Data {
        Data(database)
    }

    /// Runs `f` in a read transaction (writes in it fail).
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(Tx<'_>) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        self.run(false, f).await
    }

    /// Runs `f` in a write transaction: everything it writes commits together when it returns
    /// `Ok`, and nothing when it returns `Err`. After-commit hooks run once it committed.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(Tx<'_>) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        self.run(true, f).await
    }

    async fn run<T: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(Tx<'_>) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let job: Job = Box::new(move |tx| f(tx).map(|out| Box::new(out) as Box<dyn Any + Send>));
        let out = self.0.run(write, job).await?;
        out.downcast::<T>().map(|out| *out).map_err(|_| ApiError::internal("a transaction returned another type"))
    }
}
