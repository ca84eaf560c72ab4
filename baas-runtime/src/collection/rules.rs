//! A collection's access rules as the generator compiled them: SQL per dialect, with binds.

use baas_schema::sql::{Dialect, Fragment};

/// A collection's rule, compiled by the generator.
#[derive(Clone, Debug)]
pub enum CompiledRule {
    /// `""`: everyone.
    Public,
    /// A predicate, per dialect.
    Filter { sqlite: Fragment, postgres: Fragment },
}

impl CompiledRule {
    pub fn fragment(&self, dialect: Dialect) -> Option<&Fragment> {
        match (self, dialect) {
            (CompiledRule::Public, _) => None,
            (CompiledRule::Filter { sqlite, .. }, Dialect::Sqlite) => Some(sqlite),
            (CompiledRule::Filter { postgres, .. }, Dialect::Postgres) => Some(postgres),
        }
    }
}

/// The five rules; `None` means superusers only.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub list: Option<CompiledRule>,
    pub view: Option<CompiledRule>,
    pub create: Option<CompiledRule>,
    pub update: Option<CompiledRule>,
    pub delete: Option<CompiledRule>,
}
