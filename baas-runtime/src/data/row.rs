//! Typed records straight from rows: [`Row`], one record's columns in field order as the
//! records engine read them, and [`FromColumn`], how each type a generated record field has
//! reads its column. A generated `TypedRecord::from_row` takes each field's column by index,
//! so a read through the data API builds the struct without a JSON record in between.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::db::SqlValue;
use crate::error::{ApiError, ApiResult};

use super::{DateTime, Id};

/// The columns of one record, in its collection's field order. What the caller may not see
/// (hidden fields, passwords, a private email) is already `NULL`.
#[derive(Debug)]
pub struct Row(Vec<SqlValue>);

impl Row {
    pub(crate) fn new(cells: Vec<SqlValue>) -> Row {
        Row(cells)
    }

    /// Column `i` (the field `name`) read as `T`. Each column is taken once.
    pub fn take<T: FromColumn>(&mut self, i: usize, name: &str) -> ApiResult<T> {
        let cell = self.0.get_mut(i).map(std::mem::take).unwrap_or_default();
        T::from_column(cell).map_err(|why| ApiError::internal(format!("the column {name} does not read: {why}")))
    }
}

/// A record field's type read from its column. `NULL` reads as the field's empty value, as
/// PocketBase serves a missing value.
pub trait FromColumn: Sized {
    fn from_column(cell: SqlValue) -> Result<Self, String>;
}

impl FromColumn for String {
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        Ok(match cell {
            SqlValue::Null => String::new(),
            SqlValue::Text(s) => s,
            SqlValue::Int(i) => i.to_string(),
            SqlValue::Real(f) => f.to_string(),
            SqlValue::Bool(b) => b.to_string(),
        })
    }
}

impl FromColumn for bool {
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        match cell {
            SqlValue::Null => Ok(false),
            SqlValue::Bool(b) => Ok(b),
            SqlValue::Int(i) => Ok(i != 0),
            other => Err(format!("{other:?} is not a bool")),
        }
    }
}

impl FromColumn for f64 {
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        match cell {
            SqlValue::Null => Ok(0.0),
            SqlValue::Int(i) => Ok(i as f64),
            SqlValue::Real(f) => Ok(f),
            other => Err(format!("{other:?} is not a number")),
        }
    }
}

impl FromColumn for i64 {
    /// An integer field: PostgreSQL stores numbers as `double precision`.
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        match cell {
            SqlValue::Null => Ok(0),
            SqlValue::Int(i) => Ok(i),
            SqlValue::Real(f) if f.fract() == 0.0 => Ok(f as i64),
            other => Err(format!("{other:?} is not an integer")),
        }
    }
}

impl FromColumn for Value {
    /// A JSON field: its text parsed; `NULL` (and text that does not parse) is JSON's `null`.
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        Ok(match cell {
            SqlValue::Text(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
            _ => Value::Null,
        })
    }
}

impl FromColumn for DateTime {
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        match String::from_column(cell)? {
            text if text.is_empty() => Ok(DateTime::default()),
            text => crate::time::parse(&text).map(DateTime).ok_or_else(|| format!("'{text}' is not a datetime")),
        }
    }
}

impl<R> FromColumn for Id<R> {
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        String::from_column(cell).map(Id::new)
    }
}

impl<T: DeserializeOwned> FromColumn for Vec<T> {
    /// A multi-valued field (relations, selects, files): a JSON array in one column.
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        match cell {
            SqlValue::Null => Ok(Vec::new()),
            SqlValue::Text(s) if s.is_empty() => Ok(Vec::new()),
            SqlValue::Text(s) => serde_json::from_str(&s).map_err(|e| format!("'{s}' is not a list: {e}")),
            other => Err(format!("{other:?} is not a list")),
        }
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    /// An optional field: PocketBase's empty value (`""`, or `NULL`) is `None`.
    fn from_column(cell: SqlValue) -> Result<Self, String> {
        match cell {
            SqlValue::Null => Ok(None),
            SqlValue::Text(s) if s.is_empty() => Ok(None),
            cell => T::from_column(cell).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_as_the_field_types_with_null_as_the_empty_value() {
        let mut row = Row::new(vec![
            SqlValue::Text("a1".into()),
            SqlValue::Null,
            SqlValue::Real(3.0),
            SqlValue::Int(1),
            SqlValue::Text(r#"["x","y"]"#.into()),
            SqlValue::Text(String::new()),
            SqlValue::Text("2026-11-25 08:29:46.654Z".into()),
            SqlValue::Text(r#"{"k":1}"#.into()),
        ]);
        assert_eq!(row.take::<Id<()>>(0, "id").expect("id").as_str(), "a1");
        assert_eq!(row.take::<String>(1, "title").expect("title"), "");
        assert_eq!(row.take::<i64>(2, "views").expect("views"), 3);
        assert!(row.take::<bool>(3, "published").expect("bool"));
        assert_eq!(row.take::<Vec<String>>(4, "tags").expect("tags"), ["x", "y"]);
        assert_eq!(row.take::<Option<String>>(5, "body").expect("body"), None);
        assert_eq!(row.take::<DateTime>(6, "created").expect("date").to_string(), "2026-11-25 08:29:46.654Z");
        assert_eq!(row.take::<Value>(7, "meta").expect("json"), serde_json::json!({"k": 1}));
        // taken once: a second read is the empty value
        assert_eq!(row.take::<String>(0, "id").expect("again"), "");
    }

    #[test]
    fn a_column_of_the_wrong_kind_is_an_error_naming_the_field() {
        let mut row = Row::new(vec![SqlValue::Real(2.5), SqlValue::Text("soon".into())]);
        let error = row.take::<i64>(0, "views").expect_err("2.5 is no integer");
        assert!(error.to_string().contains("views") || format!("{error:?}").contains("views"), "{error:?}");
        assert!(row.take::<DateTime>(1, "created").is_err());
    }
}
