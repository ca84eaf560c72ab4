//! The runtime generated backends link against. Generic plumbing only: nothing here knows
//! any particular schema. Filled in by issue 3 (HTTP server, pools, auth, list queries).

pub use baas_schema as schema;
