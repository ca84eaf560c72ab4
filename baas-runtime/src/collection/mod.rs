//! Collections as the runtime sees them: the record type, each collection's compiled rules and
//! hooks, and what generated code says about a collection. The bottom layer: everything else
//! in the runtime builds on it.

mod hooks;
mod rules;

use std::sync::Arc;

use baas_schema::ir::Collection;

pub use crate::data::{HookContext, Record, TypedRecord};
pub use hooks::{
    CollectionHooks, Committed, Event, Hook, HookDefaults, NoHooks, RecordHooks, Requested, Typed, WriteRequest,
};
pub use rules::{Bind, CompiledRule, Filter, Rule, RuleSet, Rules, Source, SqlTy};

/// One collection as generated code describes it.
pub struct CollectionSpec {
    pub name: &'static str,
    pub rules: RuleSet,
    pub hooks: Arc<dyn RecordHooks>,
}

impl CollectionSpec {
    /// The collection whose records are `R`, with its generated rules and the user's hooks.
    pub fn typed<R: TypedRecord>(rules: &'static Rules, hooks: &Arc<impl CollectionHooks<R>>) -> Self {
        CollectionSpec {
            name: R::COLLECTION,
            rules: rules.compile(R::COLLECTION),
            hooks: Arc::new(Typed::<R, _>::new(hooks.clone())),
        }
    }
}

/// A collection at runtime.
pub struct Coll {
    pub ir: Collection,
    pub rules: RuleSet,
    pub hooks: Arc<dyn RecordHooks>,
    /// `"posts"."id", "posts"."title", …`: every column, in field order.
    pub columns: String,
    /// The list rule, typed: client filters reaching this collection through a relation are
    /// joined through it. `None`: superusers only.
    pub list_rule: Option<baas_schema::check::TExpr>,
}
