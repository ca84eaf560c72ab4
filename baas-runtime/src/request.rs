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

use crate::collection::Coll;
use crate::data::{HookContext, Record};
use crate::files::Upload;

/// The authenticated caller.
#[derive(Clone)]
pub struct Caller {
    pub collection: Arc<Coll>,
    /// The caller's record, secrets included (never sent as is).
    pub record: Record,
}

/// A superuser caller, for a custom route only superusers may call (an axum extractor):
/// 401 without a valid token, 403 for a caller of another collection.
#[derive(Clone)]
pub struct Superuser(pub Caller);

/// The caller, signed in as a record of the auth collection whose record type is `R`, typed
/// (an axum extractor; the generated `users::Auth` names it for `users`): 401 without a valid
/// token, 403 for a caller of another collection. `Option<Auth<R>>` accepts anyone.
#[derive(Clone, Debug)]
pub struct Auth<R>(pub R);

impl Caller {
    /// The name of the caller's auth collection (`users`, `_superusers`).
    pub fn collection_name(&self) -> &str {
        &self.collection.ir.name
    }
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
    /// System access (custom code's `tx.system()`, jobs): every rule passes, as for a
    /// superuser, whoever the caller is.
    pub system: bool,
}

impl RequestCx {
    /// A request with no caller and nothing in it: an anonymous guest's.
    pub fn anonymous() -> RequestCx {
        RequestCx {
            auth: None,
            query: HashMap::new(),
            headers: HashMap::new(),
            method: "GET".into(),
            body: None,
            uploads: Vec::new(),
            now: time::OffsetDateTime::now_utc(),
            system: false,
        }
    }

    /// System access with no caller: jobs, the runtime's own work.
    pub fn system() -> RequestCx {
        RequestCx { system: true, ..RequestCx::anonymous() }
    }

    /// The same caller, query and headers, with `body` (and no files): a write from custom
    /// code on this request's behalf.
    pub fn with_body(&self, body: Option<Map<String, Value>>) -> RequestCx {
        RequestCx {
            auth: self.auth.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            method: self.method.clone(),
            body,
            uploads: Vec::new(),
            now: self.now,
            system: self.system,
        }
    }

    /// The same request with system access.
    pub fn as_system(&self) -> RequestCx {
        RequestCx { system: true, ..self.with_body(self.body.clone()) }
    }

    /// What custom code sees of this request.
    pub fn hook_context(&self) -> HookContext<'_> {
        HookContext {
            auth: self.auth.as_ref().map(|a| &a.record),
            auth_collection: self.auth.as_ref().map(|a| a.collection.ir.name.as_str()),
            superuser: self.is_superuser(),
            method: &self.method,
            headers: &self.headers,
            query: &self.query,
        }
    }

    /// Applies the request's `fields=` to a response body (a record, or `{token, record}`).
    pub fn shape(&self, mut body: Value) -> Value {
        if let Some(fields) = self.query.get("fields") {
            crate::query::pick_fields(&mut body, fields);
        }
        body
    }

    /// A superuser's request, or system access: every rule passes.
    pub fn is_superuser(&self) -> bool {
        self.system || self.auth.as_ref().is_some_and(|a| a.collection.ir.name == system::SUPERUSERS)
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
