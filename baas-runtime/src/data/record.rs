//! Records as custom code sees them: the runtime's JSON form, the typed form generated code
//! declares per collection, and what a hook sees of the request.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

use super::Row;

/// A record as the runtime handles it: canonical API JSON by field name.
pub type Record = Map<String, Value>;

/// A collection's record type, as generated code declares it (`posts` → `Post`): what typed
/// hooks and the data API hand out.
pub trait TypedRecord: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The collection's name.
    const COLLECTION: &'static str;

    /// Reads the typed record from its row, each field from its column (generated: the
    /// data API's reads build the struct without a JSON record in between).
    fn from_row(row: Row) -> ApiResult<Self>;

    /// Reads the typed record from the runtime's JSON record.
    fn from_record(record: &Record) -> ApiResult<Self> {
        serde_json::from_value(Value::Object(record.clone())).map_err(ApiError::internal)
    }

    /// Writes the typed fields back over `record` (secrets and system keys stay).
    fn write_to(&self, record: &mut Record) -> ApiResult<()> {
        record.extend(self.to_record()?);
        Ok(())
    }

    /// The typed record as a JSON record.
    fn to_record(&self) -> ApiResult<Record> {
        match serde_json::to_value(self).map_err(ApiError::internal)? {
            Value::Object(fields) => Ok(fields),
            _ => Err(ApiError::internal("a record serialized to a non-object")),
        }
    }
}

/// What custom code sees of the request a hook or a transaction serves: the caller and,
/// where there is a request, its method, headers and query.
#[derive(Clone, Copy)]
pub struct HookContext<'a> {
    /// The authenticated record, if any.
    pub auth: Option<&'a Record>,
    /// The authenticated record's collection, if any.
    pub auth_collection: Option<&'a str>,
    pub superuser: bool,
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// Header names lower-cased with `-` turned into `_`, as rules spell them.
    pub headers: &'a HashMap<String, String>,
    pub query: &'a HashMap<String, String>,
}

/// What [`super::Table::create`] takes: the record type itself (an empty `id` gets a new one),
/// or its generated `New…` type, whose constructor takes the collection's required fields.
pub trait Creates<R> {
    /// The fields to write.
    fn to_body(&self) -> ApiResult<Record>;
}

impl<R: TypedRecord> Creates<R> for &R {
    fn to_body(&self) -> ApiResult<Record> {
        let mut body = self.to_record()?;
        if body.get("id").and_then(Value::as_str) == Some("") {
            body.remove("id");
        }
        Ok(body)
    }
}

/// The body a generated `New…` value writes: its fields, and for an auth collection the
/// password confirmation the create pipeline asks for.
#[doc(hidden)]
pub fn new_body(record: &impl Serialize, auth: bool) -> ApiResult<Record> {
    let mut body = match serde_json::to_value(record).map_err(ApiError::internal)? {
        Value::Object(body) => body,
        _ => return Err(ApiError::internal("a new record serializes to an object")),
    };
    if auth {
        let password = body.get("password").cloned().unwrap_or(Value::Null);
        body.insert("passwordConfirm".into(), password);
    }
    Ok(body)
}
