//! The indexes baas creates without being asked, beside those a schema declares: the DDL
//! emitter writes them into the initial migration, and the migration differ adds the ones an
//! older snapshot's [`ImpliedIndexes`] did not have. The checker relies on them too: it does
//! not warn about list rules that compare unindexed columns, because none are.

use crate::ir::{Collection, FieldType, ImpliedIndexes, system};
use crate::rule::expr::ast::{OpKind, Root};

impl Collection {
    /// Single-column indexes baas creates without being asked: every single relation (joins
    /// and reference checks), `created` (default sort), unique fields, and (from
    /// [`ImpliedIndexes::ListRules`] on) every column the list rule compares with `=`, `<`, `>`,
    /// `<=` or `>=` (every list and its total filter on it).
    pub fn implied_indexes(&self, implied: ImpliedIndexes) -> Vec<&str> {
        let ruled = if implied >= ImpliedIndexes::ListRules { self.list_rule_columns() } else { Vec::new() };
        self.fields
            .iter()
            .filter(|f| {
                matches!(f.ty, FieldType::Relation { multiple: false, .. })
                    || f.name == system::CREATED
                    || f.unique
                    || ruled.contains(&f.name.as_str())
            })
            .map(|f| f.name.as_str())
            .collect()
    }

    /// The record's own columns the list rule compares in a way a B-tree index serves: not
    /// `!=` or `~`, not JSON, files or multi-valued fields, not through `@collection`. Empty for
    /// views (they have no indexes) and for a rule that does not parse (the checker reports it).
    fn list_rule_columns(&self) -> Vec<&str> {
        let Some(rule) = self.rules.list.as_ref().filter(|_| !self.is_view()) else { return Vec::new() };
        let Ok(expr) = crate::rule::expr::parse(&rule.expr) else { return Vec::new() };
        let mut out = Vec::new();
        for c in expr.comparisons() {
            if matches!(c.op.kind, OpKind::Neq | OpKind::Like | OpKind::NotLike) {
                continue;
            }
            for o in [&c.lhs, &c.rhs] {
                let Some(p) = o.as_path().filter(|p| p.root == Root::Record && p.modifier.is_none()) else { continue };
                let Some(field) = p.segments.first().and_then(|s| self.field(&s.name)) else { continue };
                let indexable =
                    !field.ty.is_multiple() && !matches!(field.ty, FieldType::Json | FieldType::File { .. });
                if indexable && !out.contains(&field.name.as_str()) {
                    out.push(field.name.as_str());
                }
            }
        }
        out
    }
}
