//! [`Field`]: a field of one collection, typed by its values. The generated code declares one
//! constant per field (`post::title`), so that patches, sorts and field errors name fields the
//! compiler checks: a field renamed or removed in the schema breaks `cargo check` at every use.

use std::marker::PhantomData;

use serde_json::Value;

use crate::error::ApiError;

/// The field `name` of the collection whose record type is `R`, holding values of type `T`
/// (the record struct's field type).
///
/// ```ignore
/// tx.of::<Post>().patch(&id).set(post::title, "Hello").add(post::views, 1).save()?;
/// let latest = tx.of::<Post>().query().sort(post::created.desc()).first()?;
/// return Err(post::title.invalid("validation_title_taken", "The title is taken."));
/// ```
pub struct Field<R, T> {
    name: &'static str,
    of: PhantomData<fn() -> (R, T)>,
}

impl<R, T> Clone for Field<R, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R, T> Copy for Field<R, T> {}

impl<R, T> std::fmt::Debug for Field<R, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl<R, T> Field<R, T> {
    /// The field `name`; generated code declares these, one per field.
    pub const fn new(name: &'static str) -> Self {
        Field { name, of: PhantomData }
    }

    /// The field's name in the schema.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// A 400 refusing this field, in PocketBase's shape (`data.<field>.code`, `.message`):
    /// returned by a hook, it is worded as the write it stopped.
    pub fn invalid(&self, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(self.name, code, message)
    }

    /// Ascending by this field, for [`super::Query::sort`].
    pub fn asc(self) -> Order<R> {
        Order { sort: self.name.to_owned(), of: PhantomData }
    }

    /// Descending by this field, for [`super::Query::sort`].
    pub fn desc(self) -> Order<R> {
        Order { sort: format!("-{}", self.name), of: PhantomData }
    }
}

/// A sort over the records of `R`: a field's [`Field::asc`] or [`Field::desc`], or several
/// joined with [`Order::then`].
pub struct Order<R> {
    sort: String,
    of: PhantomData<fn() -> R>,
}

impl<R> Order<R> {
    /// This order, then `next` among records it ranks equal.
    pub fn then(self, next: Order<R>) -> Order<R> {
        Order { sort: format!("{},{}", self.sort, next.sort), of: PhantomData }
    }
}

/// What [`super::Query::sort`] takes: a typed [`Order`], or PocketBase's sort syntax
/// (`"-created,title"`), checked when the query runs.
pub trait SortOf<R> {
    fn into_sort(self) -> String;
}

impl<R> SortOf<R> for Order<R> {
    fn into_sort(self) -> String {
        self.sort
    }
}

impl<R> SortOf<R> for &str {
    fn into_sort(self) -> String {
        self.to_owned()
    }
}

/// The Rust numbers the data API takes: what [`super::Patch::add`] adds to a number field, and
/// what a `filter!` number placeholder binds.
pub trait Number: Copy {
    fn to_f64(self) -> f64;
    fn to_json(self) -> Value;
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Number for $t {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn to_f64(self) -> f64 {
                self as f64
            }

            fn to_json(self) -> Value {
                Value::from(self)
            }
        }
    )*};
}

numbers!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
