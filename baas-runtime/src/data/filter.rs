//! [`CheckedFilter`]: what a collection's `filter!` expands to, a filter the schema's checker
//! accepted when the crate compiled, with its placeholders' values; [`bind`]: the typed
//! conversions those values go through, which is where a value of the wrong type fails to
//! compile.

use serde::Serialize;
use serde_json::Value;

/// A filter of `collection` checked when the crate compiled (`posts::filter!(…)`), with the
/// values of its `{:placeholders}`.
#[derive(Clone, Debug)]
pub struct CheckedFilter {
    collection: &'static str,
    text: &'static str,
    params: Vec<(&'static str, Value)>,
}

impl CheckedFilter {
    /// Made by `filter!`, which has checked `text` against the schema.
    #[doc(hidden)]
    pub fn new(collection: &'static str, text: &'static str, params: Vec<(&'static str, Value)>) -> Self {
        CheckedFilter { collection, text, params }
    }
}

/// What [`super::Query::filter`] takes: a collection's `filter!`, or a filter in the rule
/// language, checked when the query runs (`{:name}` values from [`super::Query::bind`]).
pub trait FilterOf {
    /// The collection the filter was checked for (`None`: unchecked), its text and values.
    fn into_parts(self) -> (Option<&'static str>, String, Vec<(String, Value)>);
}

impl FilterOf for &str {
    fn into_parts(self) -> (Option<&'static str>, String, Vec<(String, Value)>) {
        (None, self.to_owned(), Vec::new())
    }
}

impl FilterOf for &String {
    fn into_parts(self) -> (Option<&'static str>, String, Vec<(String, Value)>) {
        self.as_str().into_parts()
    }
}

impl FilterOf for String {
    fn into_parts(self) -> (Option<&'static str>, String, Vec<(String, Value)>) {
        (None, self, Vec::new())
    }
}

impl FilterOf for CheckedFilter {
    fn into_parts(self) -> (Option<&'static str>, String, Vec<(String, Value)>) {
        let params = self.params.into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
        (Some(self.collection), self.text.to_owned(), params)
    }
}

/// The values a `filter!` placeholder takes, by what it is compared with.
pub mod bind {
    use super::{Serialize, Value};
    use crate::data::Number;

    /// Compared with text (text, email, url, select and relation fields, ids).
    pub fn text(value: &(impl AsRef<str> + ?Sized)) -> Value {
        Value::String(value.as_ref().to_owned())
    }

    /// Compared with a number.
    pub fn number(value: impl Number) -> Value {
        value.to_json()
    }

    /// Compared with a bool.
    pub fn boolean(value: bool) -> Value {
        Value::Bool(value)
    }

    /// Compared with a date: an `OffsetDateTime`, or text in PocketBase's form.
    pub fn date(value: impl Date) -> Value {
        Value::String(value.to_canonical())
    }

    /// Compared with a JSON field or another placeholder: any serializable value.
    pub fn any(value: impl Serialize) -> Value {
        serde_json::to_value(value).unwrap_or(Value::Null)
    }

    /// The values a date placeholder takes.
    pub trait Date {
        fn to_canonical(self) -> String;
    }

    impl Date for time::OffsetDateTime {
        fn to_canonical(self) -> String {
            crate::time::format(self)
        }
    }

    impl Date for &str {
        fn to_canonical(self) -> String {
            crate::time::normalize(self).unwrap_or_else(|| self.to_owned())
        }
    }

    impl Date for &String {
        fn to_canonical(self) -> String {
            self.as_str().to_canonical()
        }
    }
}
