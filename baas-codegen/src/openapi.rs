//! The OpenAPI 3.1 document of a generated backend: every collection's records endpoints,
//! auth endpoints of auth collections, health, batch and files, with a JSON Schema per record
//! type.

use baas_schema::CheckedSchema;
use baas_schema::ir::{Collection, Field, FieldType};
use serde_json::{Map, Value, json};

/// The document, pretty-printed (deterministic: keys are sorted).
pub fn document(schema: &CheckedSchema, title: &str) -> String {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["status", "message", "data"],
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "data": {"type": "object", "description": "Per-field errors: {field: {code, message, params?}}"}
            }
        }),
    );
    paths.insert("/api/health".into(), json!({"get": {
        "summary": "Health check",
        "operationId": "health",
        "responses": {"200": {"description": "The API is up", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"message": {"type": "string"}, "code": {"type": "integer"}, "data": {"type": "object"}}
        }}}}}
    }}));
    if schema.schema.settings.batch.enabled {
        paths.insert("/api/batch".into(), json!({"post": {
            "summary": "Run several record writes in one transaction",
            "operationId": "batch",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["requests"],
                "properties": {"requests": {"type": "array", "maxItems": schema.schema.settings.batch.max_requests, "items": {
                    "type": "object", "required": ["method", "url"],
                    "properties": {"method": {"enum": ["POST", "PATCH", "PUT", "DELETE"]}, "url": {"type": "string"},
                                   "headers": {"type": "object"}, "body": {"type": "object"}}
                }}}
            }}}},
            "responses": {"200": {"description": "One result per request"}, "400": error_ref("A request failed; nothing was written")}
        }}));
    }
    let has_files = |c: &Collection| c.fields.iter().any(|f| matches!(f.ty, FieldType::File { .. }));
    if schema.schema.collections.iter().any(has_files) {
        file_paths(&mut paths);
    }
    for c in &schema.schema.collections {
        let name = &c.name;
        let ty = crate::names::record_type(name).to_string();
        schemas.insert(ty.clone(), record_schema(c));
        schemas.insert(format!("{ty}Input"), input_schema(c));
        let record_ref = json!({"$ref": format!("#/components/schemas/{ty}")});
        let mut input_ref =
            json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{ty}Input")}}});
        if has_files(c) {
            schemas.insert(format!("{ty}Upload"), upload_schema(c));
            input_ref["multipart/form-data"] = json!({"schema": {"$ref": format!("#/components/schemas/{ty}Upload")}});
        }
        let ok = |what: &str| json!({"description": what, "content": {"application/json": {"schema": record_ref}}});
        let mut collection_path = Map::new();
        collection_path.insert("get".into(), json!({
            "summary": format!("List and search {name}"),
            "operationId": format!("list_{name}"),
            "tags": [name],
            "parameters": list_parameters(),
            "responses": {
                "200": {"description": "A page of records", "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"items": {"type": "array", "items": record_ref}, "page": {"type": "integer"},
                                   "perPage": {"type": "integer"}, "totalItems": {"type": "integer"}, "totalPages": {"type": "integer"}}
                }}}},
                "400": error_ref("Bad filter, sort or paging"),
                "403": error_ref("Superusers only"),
            }
        }));
        let mut one_path = Map::new();
        one_path.insert(
            "get".into(),
            json!({
                "summary": format!("View one of {name}"), "operationId": format!("view_{name}"), "tags": [name],
                "parameters": [id_parameter(), query_parameter("expand"), query_parameter("fields")],
                "responses": {"200": ok("The record"), "404": error_ref("Missing, or hidden by the view rule")}
            }),
        );
        if !c.is_view() {
            collection_path.insert("post".into(), json!({
                "summary": format!("Create one of {name}"), "operationId": format!("create_{name}"), "tags": [name],
                "requestBody": {"required": true, "content": input_ref},
                "responses": {"200": ok("The created record"), "400": error_ref("Invalid, or refused by the create rule")}
            }));
            one_path.insert("patch".into(), json!({
                "summary": format!("Update one of {name}"), "operationId": format!("update_{name}"), "tags": [name],
                "parameters": [id_parameter()],
                "requestBody": {"required": true, "content": input_ref},
                "responses": {"200": ok("The updated record"), "400": error_ref("Invalid"), "404": error_ref("Missing, or hidden by the update rule")}
            }));
            one_path.insert("delete".into(), json!({
                "summary": format!("Delete one of {name}"), "operationId": format!("delete_{name}"), "tags": [name],
                "parameters": [id_parameter()],
                "responses": {"204": {"description": "Deleted"}, "400": error_ref("Still referenced by a required relation"),
                              "404": error_ref("Missing, or hidden by the delete rule")}
            }));
        }
        paths.insert(format!("/api/collections/{name}/records"), Value::Object(collection_path));
        paths.insert(format!("/api/collections/{name}/records/{{id}}"), Value::Object(one_path));
        if c.is_auth() {
            let auth_ok = json!({"description": "A token and the record", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"token": {"type": "string"}, "record": record_ref}
            }}}});
            paths.insert(format!("/api/collections/{name}/auth-with-password"), json!({"post": {
                "summary": format!("Sign in to {name} with email and password"), "operationId": format!("auth_with_password_{name}"), "tags": [name],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["identity", "password"],
                    "properties": {"identity": {"type": "string"}, "password": {"type": "string"}}
                }}}},
                "responses": {"200": auth_ok, "400": error_ref("Failed to authenticate")}
            }}));
            paths.insert(format!("/api/collections/{name}/auth-refresh"), json!({"post": {
                "summary": "Exchange a valid token for a fresh one", "operationId": format!("auth_refresh_{name}"), "tags": [name],
                "security": [{"token": []}],
                "responses": {"200": auth_ok, "401": error_ref("No valid token")}
            }}));
            paths.insert(
                format!("/api/collections/{name}/auth-methods"),
                json!({"get": {
                    "summary": "Sign-in methods", "operationId": format!("auth_methods_{name}"), "tags": [name],
                    "responses": {"200": {"description": "The methods"}}
                }}),
            );
        }
    }
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": title, "version": "0.1.0", "description": "Generated by baas; PocketBase-compatible records API."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}}
        },
        "security": [{}, {"token": []}]
    });
    serde_json::to_string_pretty(&doc).expect("JSON serializes") + "\n"
}

/// `GET /api/files/{collection}/{record}/{name}` and `POST /api/files/token`.
fn file_paths(paths: &mut Map<String, Value>) {
    let path = |name: &str, description: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": description});
    paths.insert("/api/files/{collection}/{record}/{name}".into(), json!({"get": {
        "summary": "Download a file", "operationId": "file", "tags": ["files"],
        "parameters": [
            path("collection", "The collection's id or name"), path("record", "The record's id"), path("name", "The stored file name"),
            {"name": "thumb", "in": "query", "schema": {"type": "string"}, "description": "A thumbnail size of the field's `thumbs` (or 100x100), for images"},
            {"name": "download", "in": "query", "schema": {"type": "boolean"}, "description": "Serve as an attachment"},
            {"name": "token", "in": "query", "schema": {"type": "string"}, "description": "A file token, for protected files"}
        ],
        "responses": {
            "200": {"description": "The file", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
            "206": {"description": "The requested byte range"},
            "404": error_ref("No such file, or a protected file without a valid token")
        }
    }}));
    paths.insert(
        "/api/files/token".into(),
        json!({"post": {
            "summary": "A short-lived token for protected files", "operationId": "file_token", "tags": ["files"],
            "security": [{"token": []}],
            "responses": {
                "200": {"description": "The token", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"token": {"type": "string"}}
                }}}},
                "401": error_ref("No valid token")
            }
        }}),
    );
}

fn error_ref(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn id_parameter() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-z0-9]{15}$"}})
}

fn query_parameter(name: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}})
}

fn list_parameters() -> Value {
    json!([
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "perPage", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 30}},
        {"name": "sort", "in": "query", "schema": {"type": "string"}, "description": "e.g. -created,title"},
        {"name": "filter", "in": "query", "schema": {"type": "string", "maxLength": 3500}},
        {"name": "expand", "in": "query", "schema": {"type": "string"}},
        {"name": "fields", "in": "query", "schema": {"type": "string"}},
        {"name": "skipTotal", "in": "query", "schema": {"type": "boolean"}}
    ])
}

fn value_schema(f: &Field) -> Value {
    let one = match &f.ty {
        FieldType::Number { integer: true, min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        FieldType::Number { min, max, .. } => json!({"type": "number", "minimum": min, "maximum": max}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Json => json!({}),
        FieldType::Select { values, .. } => {
            let mut values: Vec<Value> = values.iter().map(|v| json!(v)).collect();
            values.push(json!(""));
            json!({"enum": values})
        }
        FieldType::Text { min, max, pattern } => {
            json!({"type": "string", "minLength": min, "maxLength": max, "pattern": pattern})
        }
        FieldType::Email => json!({"type": "string", "format": "email"}),
        FieldType::Url => json!({"type": "string", "format": "uri"}),
        _ => json!({"type": "string"}),
    };
    let one = strip_nulls(one);
    if f.ty.is_multiple() { json!({"type": "array", "items": one}) } else { one }
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        v => v,
    }
}

fn record_schema(c: &Collection) -> Value {
    let mut props = Map::new();
    for f in c.fields.iter().filter(|f| !f.hidden && !matches!(f.ty, FieldType::Password)) {
        props.insert(f.name.clone(), value_schema(f));
    }
    props.insert("collectionId".into(), json!({"type": "string", "const": c.id}));
    props.insert("collectionName".into(), json!({"type": "string", "const": c.name}));
    props.insert("expand".into(), json!({"type": "object"}));
    json!({"type": "object", "properties": props})
}

/// A multipart body: files under their field's name (`field+`/`+field` append and prepend),
/// other values as text parts, JSON values in `@jsonPayload`.
fn upload_schema(c: &Collection) -> Value {
    let mut props = Map::new();
    for f in c.fields.iter().filter(|f| matches!(f.ty, FieldType::File { .. })) {
        let file = json!({"type": "string", "format": "binary"});
        props.insert(f.name.clone(), if f.ty.is_multiple() { json!({"type": "array", "items": file}) } else { file });
    }
    props.insert(
        "@jsonPayload".into(),
        json!({"type": "string", "description": "A JSON object merged into the body (arrays, objects, null)"}),
    );
    json!({"type": "object", "properties": props, "additionalProperties": {"type": "string"}})
}

fn input_schema(c: &Collection) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in c.fields.iter().filter(|f| !matches!(f.ty, FieldType::Autodate { .. })) {
        if f.name == "tokenKey" {
            continue;
        }
        props.insert(f.name.clone(), value_schema(f));
        if f.required && f.name != "id" {
            required.push(f.name.clone());
        }
    }
    if c.is_auth() {
        props.insert("passwordConfirm".into(), json!({"type": "string"}));
        props.insert("oldPassword".into(), json!({"type": "string"}));
    }
    json!({"type": "object", "properties": props, "required": required})
}
