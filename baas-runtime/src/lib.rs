//! The runtime generated backends link against. Generic plumbing only: nothing here knows any
//! particular schema; generated code hands it the schema IR and the rules it compiled.

pub mod error;

pub use baas_schema as schema;
pub use error::{ApiError, ApiResult, FieldError, FieldErrors};
