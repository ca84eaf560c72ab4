//! [`Tx`]: one transaction as custom code sees it, and the typed per-collection API over it.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

use super::{Access, Creates, Field, FilterOf, HookContext, IdOf, Number, QuerySpec, SortOf, Store, TypedRecord};

/// One transaction: reads and writes that commit or roll back together. It acts as the caller
/// (the collections' rules apply exactly as over HTTP); [`Tx::system`] gives the same
/// transaction with system access.
///
/// ```ignore
/// // in a hook: keep a post's comment count exact, in the comment's transaction
/// fn after_create(&self, comment: &Comment, tx: &Tx<'_>) -> ApiResult<()> {
///     tx.system().of::<Post>().patch(&comment.post).add(post::comment_count, 1).save()?;
///     Ok(())
/// }
/// ```
#[derive(Clone, Copy)]
pub struct Tx<'a> {
    store: &'a dyn Store,
    access: Access,
}

impl<'a> Tx<'a> {
    /// The transaction `store` runs, acting as its caller.
    pub fn new(store: &'a dyn Store) -> Tx<'a> {
        Tx { store, access: Access::Caller }
    }

    /// The same transaction with system access: every rule passes, hidden fields are read.
    ///
    /// ```ignore
    /// let draft = tx.system().of::<Post>().get(&id)?; // whatever the caller may see
    /// ```
    pub fn system(&self) -> Tx<'a> {
        Tx { store: self.store, access: Access::System }
    }

    /// Whether this handle has system access.
    ///
    /// ```ignore
    /// if !tx.is_system() { /* acting as the caller */ }
    /// ```
    pub fn is_system(&self) -> bool {
        self.access == Access::System
    }

    /// The caller and the request this transaction serves.
    ///
    /// ```ignore
    /// let signed_in = tx.context().auth.is_some();
    /// ```
    pub fn context(&self) -> HookContext<'a> {
        self.store.context()
    }

    /// The records of the collection whose record type is `R`.
    ///
    /// ```ignore
    /// let post: Post = tx.of::<Post>().get(&id)?;
    /// ```
    pub fn of<R: TypedRecord>(&self) -> Table<'a, R> {
        Table { tx: *self, record: PhantomData }
    }

    /// Runs `f` once the transaction has committed; never when it rolls back.
    ///
    /// ```ignore
    /// tx.after_commit(move || tracing::info!(%id, "published"));
    /// ```
    pub fn after_commit(&self, f: impl FnOnce() + Send + 'static) {
        self.store.after_commit(Box::new(f));
    }

    /// Sends `mail` once the transaction has committed; never when it rolls back. It is written
    /// to the outbox in this transaction and retried until the mail server takes it, across
    /// restarts (`serve --smtp` says where mail goes).
    ///
    /// ```ignore
    /// tx.send_mail(Mail { to: user.email.clone(), subject: "Welcome".into(), html, text })?;
    /// ```
    pub fn send_mail(&self, mail: crate::mail::Mail) -> ApiResult<()> {
        self.store.send_mail(&mail)
    }

    /// Sends `data` to the realtime subscribers of `topic`, a topic the crate declared
    /// (`Backend::topic`, which also says who may hear it), once the transaction has committed;
    /// never when it rolls back. The SDK receives it with `pb.realtime.subscribe(topic, …)`.
    ///
    /// ```ignore
    /// tx.publish("announcements", json!({"text": "Maintenance at noon"}))?;
    /// ```
    pub fn publish(&self, topic: &str, data: impl Serialize) -> ApiResult<()> {
        let data = serde_json::to_value(data).map_err(ApiError::internal)?;
        self.store.publish(topic, data)
    }
}

/// The records of one collection within a [`Tx`], typed as `R`.
pub struct Table<'a, R> {
    tx: Tx<'a>,
    record: PhantomData<fn() -> R>,
}

impl<'a, R: TypedRecord> Table<'a, R> {
    /// The record `id`: a 404 error when it does not exist or the caller may not view it.
    ///
    /// ```ignore
    /// let post = tx.of::<Post>().get("k2j9d8f7g6h5j4k")?;
    /// ```
    pub fn get(&self, id: impl IdOf<R>) -> ApiResult<R> {
        self.find(id)?.ok_or_else(ApiError::not_found)
    }

    /// The record `id`, or `None` when it does not exist or the caller may not view it.
    ///
    /// ```ignore
    /// if let Some(post) = tx.of::<Post>().find(&comment.post)? { /* … */ }
    /// ```
    pub fn find(&self, id: impl IdOf<R>) -> ApiResult<Option<R>> {
        match self.tx.store.get(self.tx.access, R::COLLECTION, id.id_str())? {
            Some(record) => record.typed().map(Some),
            None => Ok(None),
        }
    }

    /// A query over the records the caller may list.
    ///
    /// ```ignore
    /// let drafts: Vec<Post> = tx.of::<Post>().query().filter("published = false").sort(post::created.desc()).limit(10).all()?;
    /// ```
    pub fn query(&self) -> Query<'a, R> {
        Query { tx: self.tx, spec: QuerySpec::default(), error: None, record: PhantomData }
    }

    /// Creates `record` through the create pipeline: validation, relation checks, the create
    /// rule, hooks and realtime. `record` is the collection's `New…` type, whose constructor
    /// takes the required fields, or the record type itself (an empty `id` gets a new one).
    ///
    /// ```ignore
    /// let post = tx.of::<Post>().create(NewPost { body: "…".into(), ..NewPost::new("Hello", me) })?;
    /// ```
    pub fn create(&self, record: impl Creates<R>) -> ApiResult<R> {
        let created = self.tx.store.create(self.tx.access, R::COLLECTION, record.to_body()?)?;
        R::from_record(&created)
    }

    /// A change to record `id`, written by [`Patch::save`].
    ///
    /// ```ignore
    /// tx.of::<Post>().patch(&id).set(post::published, true).add(post::views, 1).save()?;
    /// ```
    pub fn patch(&self, id: impl IdOf<R>) -> Patch<'a, R> {
        Patch { tx: self.tx, id: id.id_str().to_owned(), body: super::Record::new(), error: None, record: PhantomData }
    }

    /// Deletes record `id` through the delete pipeline (rule, hooks, cascades, files).
    ///
    /// ```ignore
    /// tx.system().of::<User>().delete(&user.id)?;
    /// ```
    pub fn delete(&self, id: impl IdOf<R>) -> ApiResult<()> {
        self.tx.store.delete(self.tx.access, R::COLLECTION, id.id_str())
    }
}

/// A query under construction: filter, placeholders, sort, limit and offset.
pub struct Query<'a, R> {
    tx: Tx<'a>,
    spec: QuerySpec,
    /// A mistake in building the query, reported when it runs.
    error: Option<String>,
    record: PhantomData<fn() -> R>,
}

impl<R: TypedRecord> Query<'_, R> {
    /// Only records matching `filter`: the collection's `filter!` (checked when the crate
    /// compiled, its placeholders' values with it), or text in the rule language, checked when
    /// the query runs, whose `{:name}` placeholders take their values from [`Query::bind`].
    ///
    /// ```ignore
    /// tx.of::<Post>().query().filter(posts::filter!("author = {:me}", me = id)).all()?;
    /// ```
    pub fn filter(mut self, filter: impl FilterOf) -> Self {
        let (collection, text, params) = filter.into_parts();
        if collection.is_some_and(|c| c != R::COLLECTION) {
            self.error = Some(format!("a filter! of {} used on {}", collection.unwrap_or_default(), R::COLLECTION));
        }
        self.spec.filter = Some(text);
        self.spec.params.extend(params);
        self
    }

    /// The value of the filter's `{:name}`.
    ///
    /// ```ignore
    /// let mine = tx.of::<Post>().query().filter("author = {:me}").bind("me", &me).all()?;
    /// ```
    pub fn bind(mut self, name: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.spec.params.push((name.to_owned(), value));
        self
    }

    /// The order: typed (`post::created.desc().then(post::title.asc())`) or in PocketBase's
    /// sort syntax (`"-created,title"`).
    ///
    /// ```ignore
    /// let posts = tx.of::<Post>().query().sort(post::created.desc().then(post::title.asc())).all()?;
    /// ```
    pub fn sort(mut self, sort: impl SortOf<R>) -> Self {
        self.spec.sort = Some(sort.into_sort());
        self
    }

    /// At most `n` records.
    ///
    /// ```ignore
    /// let latest = tx.of::<Post>().query().sort(post::created.desc()).limit(10).all()?;
    /// ```
    pub fn limit(mut self, n: u64) -> Self {
        self.spec.limit = Some(n);
        self
    }

    /// Skips the first `n` records.
    ///
    /// ```ignore
    /// let page_3 = tx.of::<Post>().query().sort(post::created.desc()).offset(20).limit(10).all()?;
    /// ```
    pub fn offset(mut self, n: u64) -> Self {
        self.spec.offset = n;
        self
    }

    fn checked(&self) -> ApiResult<()> {
        self.error.as_ref().map_or(Ok(()), |e| Err(ApiError::internal(e)))
    }

    /// Every record the query selects.
    ///
    /// ```ignore
    /// let drafts: Vec<Post> = tx.of::<Post>().query().filter("published = false").all()?;
    /// ```
    pub fn all(&self) -> ApiResult<Vec<R>> {
        self.checked()?;
        let records = self.tx.store.list(self.tx.access, R::COLLECTION, &self.spec)?;
        records.into_iter().map(super::Fetched::typed).collect()
    }

    /// The first record the query selects.
    ///
    /// ```ignore
    /// let latest: Option<Post> = tx.of::<Post>().query().sort(post::created.desc()).first()?;
    /// ```
    pub fn first(&self) -> ApiResult<Option<R>> {
        self.checked()?;
        let spec = QuerySpec { limit: Some(1), ..self.spec.clone() };
        let records = self.tx.store.list(self.tx.access, R::COLLECTION, &spec)?;
        records.into_iter().next().map(super::Fetched::typed).transpose()
    }

    /// How many of the records the query selects hold each value of the multi-valued `field`
    /// (select, relation or file names), in the order of the values; counted in the database,
    /// with the collection's list rule as for [`Query::all`].
    ///
    /// ```ignore
    /// let per_tag: Vec<(String, u64)> = tx.of::<Post>().query().count_by(post::tags)?;
    /// ```
    pub fn count_by<T: DeserializeOwned>(&self, field: Field<R, Vec<T>>) -> ApiResult<Vec<(T, u64)>> {
        self.checked()?;
        let counts = self.tx.store.count_by(self.tx.access, R::COLLECTION, &self.spec, field.name())?;
        counts
            .into_iter()
            .map(|(value, n)| Ok((serde_json::from_value(Value::String(value)).map_err(ApiError::internal)?, n)))
            .collect()
    }

    /// How many records the query selects (limit and offset aside).
    ///
    /// ```ignore
    /// let published: u64 = tx.of::<Post>().query().filter("published = true").count()?;
    /// ```
    pub fn count(&self) -> ApiResult<u64> {
        self.checked()?;
        self.tx.store.count(self.tx.access, R::COLLECTION, &self.spec)
    }
}

/// A change to one record under construction; [`Patch::save`] writes it through the update
/// pipeline (the update rule, validation, hooks, realtime), in one statement per record.
pub struct Patch<'a, R> {
    tx: Tx<'a>,
    id: String,
    body: super::Record,
    error: Option<String>,
    record: PhantomData<fn() -> R>,
}

impl<R: TypedRecord> Patch<'_, R> {
    /// Sets `field` to `value`.
    ///
    /// ```ignore
    /// tx.of::<Post>().patch(&id).set(post::title, "Hello").save()?;
    /// ```
    pub fn set<T: Serialize>(self, field: Field<R, T>, value: impl Into<T>) -> Self {
        self.set_named(field.name(), value.into())
    }

    /// Sets the field named `field` to `value`: for names known only at run time (a body
    /// passed on), checked when the patch is saved. Prefer [`Patch::set`] and the field
    /// constants, which the compiler checks.
    ///
    /// ```ignore
    /// tx.of::<Post>().patch(&id).set_named("title", "Hello").save()?;
    /// ```
    pub fn set_named(mut self, field: &str, value: impl Serialize) -> Self {
        match serde_json::to_value(value) {
            Ok(v) => {
                self.body.insert(field.to_owned(), v);
            }
            Err(e) => self.error = Some(format!("{field}: {e}")),
        }
        self
    }

    /// Adds `n` (negative: subtracts) to the number `field`, relative to its value in the
    /// transaction: concurrent additions are not lost.
    ///
    /// ```ignore
    /// tx.system().of::<Post>().patch(&comment.post).add(post::comment_count, 1).save()?;
    /// ```
    pub fn add<T: Number>(mut self, field: Field<R, T>, n: T) -> Self {
        let (n, name) = (n.to_f64(), field.name());
        let (key, n) = if n < 0.0 { (format!("{name}-"), -n) } else { (format!("{name}+"), n) };
        self.body.insert(key, serde_json::json!(n));
        self
    }

    /// Appends `items` to the multi-valued `field` (select, relation, file names).
    ///
    /// ```ignore
    /// tx.of::<Post>().patch(&id).append(post::tags, [PostTag::News]).save()?;
    /// ```
    pub fn append<T: Serialize>(self, field: Field<R, Vec<T>>, items: impl IntoIterator<Item = impl Into<T>>) -> Self {
        self.modify(format!("{}+", field.name()), items)
    }

    /// Removes `items` from the multi-valued `field`.
    ///
    /// ```ignore
    /// tx.of::<Post>().patch(&id).remove(post::tags, [PostTag::Life]).save()?;
    /// ```
    pub fn remove<T: Serialize>(self, field: Field<R, Vec<T>>, items: impl IntoIterator<Item = impl Into<T>>) -> Self {
        self.modify(format!("{}-", field.name()), items)
    }

    fn modify<T: Serialize>(mut self, key: String, items: impl IntoIterator<Item = impl Into<T>>) -> Self {
        let items: Vec<T> = items.into_iter().map(Into::into).collect();
        match serde_json::to_value(items) {
            Ok(v) => {
                self.body.insert(key, v);
            }
            Err(e) => self.error = Some(format!("{key}: {e}")),
        }
        self
    }

    /// Writes the change and returns the record as it now is.
    ///
    /// ```ignore
    /// let post: Post = tx.of::<Post>().patch(&id).set(post::published, true).save()?;
    /// ```
    pub fn save(self) -> ApiResult<R> {
        if let Some(e) = self.error {
            return Err(ApiError::internal(format!("cannot serialize the patch of {}: {e}", R::COLLECTION)));
        }
        let updated = self.tx.store.update(self.tx.access, R::COLLECTION, &self.id, self.body)?;
        R::from_record(&updated)
    }
}
