//! What a rule can see of a request — the caller, query, headers, method, body — gathered
//! once per request by the [`RequestCx`] extractor.
//!
//! Bad or expired tokens are ignored, not rejected (pocketbase-api.md §1): the request just
//! becomes anonymous. Endpoints that need a caller answer 401 themselves.

use std::collections::HashMap;
use std::sync::Arc;

use baas_schema::ir::system;
use baas_schema::sql::BindValue;
use serde_json::{Map, Value};

use crate::collection::{Coll, Record};
use crate::files::Upload;

/// The authenticated caller.
#[derive(Clone)]
pub struct Caller {
    pub collection: Arc<Coll>,
    /// The caller's record, secrets included (never sent as is).
    pub record: Record,
}

/// A request as rules and the records engine see it.
pub struct RequestCx {
    pub auth: Option<Caller>,
    pub query: HashMap<String, String>,
    /// Header names lower-cased with `-` turned into `_`, as rules spell them.
    pub headers: HashMap<String, String>,
    pub method: String,
    /// The JSON (or multipart) body, when there is one.
    pub body: Option<Map<String, Value>>,
    /// The files of a multipart body.
    pub uploads: Vec<Upload>,
    pub now: time::OffsetDateTime,
}

impl RequestCx {
    /// A context with no caller and no request, for the runtime's own reads.
    pub fn system() -> RequestCx {
        RequestCx {
            auth: None,
            query: HashMap::new(),
            headers: HashMap::new(),
            method: "GET".into(),
            body: None,
            uploads: Vec::new(),
            now: time::OffsetDateTime::now_utc(),
        }
    }

    /// Applies the request's `fields=` to a response body (a record, or `{token, record}`).
    pub fn shape(&self, mut body: Value) -> Value {
        if let Some(fields) = self.query.get("fields") {
            crate::query::pick_fields(&mut body, fields);
        }
        body
    }

    pub fn is_superuser(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.collection.ir.name == system::SUPERUSERS)
    }

    /// `@request.auth.<field>`: `""` (or the field's zero) for anonymous callers.
    pub fn auth_value(&self, field: &str) -> Value {
        let Some(auth) = &self.auth else {
            return Value::String(String::new());
        };
        match field {
            "collectionId" => Value::String(auth.collection.ir.id.clone()),
            "collectionName" => Value::String(auth.collection.ir.name.clone()),
            system::PASSWORD | system::TOKEN_KEY => Value::String(String::new()),
            _ => auth.record.get(field).cloned().unwrap_or(Value::String(String::new())),
        }
    }
}

/// What a rule reads of the request, for the SQL parameters and the in-memory evaluator alike.
impl baas_schema::eval::Request for RequestCx {
    fn value(&self, of: &BindValue) -> Value {
        match of {
            BindValue::Auth(field) => self.auth_value(field),
            BindValue::Body(field) => self.body.as_ref().and_then(|b| b.get(field)).cloned().unwrap_or(Value::Null),
            BindValue::BodyIsSet(field) => Value::Bool(self.body.as_ref().is_some_and(|b| b.contains_key(field))),
            BindValue::BodyLength(field) => {
                let len = match self.body.as_ref().and_then(|b| b.get(field)) {
                    Some(Value::Array(items)) => items.len(),
                    Some(Value::Null) | None => 0,
                    Some(_) => 1,
                };
                Value::from(len)
            }
            BindValue::Query(name) => Value::String(self.query.get(name).cloned().unwrap_or_default()),
            BindValue::Header(name) => Value::String(self.headers.get(name).cloned().unwrap_or_default()),
            BindValue::Method => Value::String(self.method.clone()),
            BindValue::Context => Value::String("default".into()),
            BindValue::Macro(m) => crate::time::macro_value(*m, self.now),
            BindValue::Literal(_) | BindValue::LikePattern(_) | BindValue::Placeholder(_) => Value::Null,
        }
    }
}
