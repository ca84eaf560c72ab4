//! Structural rules: what must hold of a schema whichever front end built it, before any
//! rule is typed against it. One function per rule, each saying what mistake it catches and
//! what would break without it.

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::ir::{Action, Collection, Field, FieldType, Index, Rule, Schema, system};
use crate::source::Span;

/// Runs every structural rule, collection by collection.
pub(super) fn check(schema: &Schema, diags: &mut Diagnostics) {
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    for collection in &schema.collections {
        unique_id(collection, &mut ids, diags);
        superusers_built_in(collection, diags);
        for field in &collection.fields {
            relation_target_exists(schema, collection, field, diags);
            relation_target_is_table(schema, collection, field, diags);
        }
        for index in &collection.indexes {
            index_fields_exist(collection, index, diags);
            no_index_on_view(collection, index, diags);
        }
    }
}

/// Two collections with one id: records answer with their `collectionId`, and migrations
/// follow a collection through renames by its id, so the two would be taken for each other.
/// `ids` holds the ids seen so far.
fn unique_id<'s>(collection: &'s Collection, ids: &mut BTreeMap<&'s str, &'s str>, diags: &mut Diagnostics) {
    if let Some(other) = ids.insert(&collection.id, &collection.name) {
        diags.push(Diagnostic::error(
            collection.span,
            format!("collection '{}' has the same id '{}' as '{other}'", collection.name, collection.id),
        ));
    }
}

/// A collection named `_superusers`: that is the runtime's own auth collection, whose
/// accounts administer the backend; a schema must not redefine it.
fn superusers_built_in(collection: &Collection, diags: &mut Diagnostics) {
    if collection.name == system::SUPERUSERS {
        diags.push(Diagnostic::error(collection.span, "'_superusers' is built in"));
    }
}

/// A relation to a collection the schema does not have (a typo, most often): its joins,
/// reference checks and expansions would read a table that does not exist.
fn relation_target_exists(schema: &Schema, collection: &Collection, field: &Field, diags: &mut Diagnostics) {
    if let FieldType::Relation { collection: target, .. } = &field.ty
        && !target.is_empty()
        && schema.collection(target).is_none()
    {
        let mut d = Diagnostic::error(
            field.span,
            format!("relation '{}.{}' points at unknown collection '{target}'", collection.name, field.name),
        );
        d.help = did_you_mean(target, schema.collections.iter().map(|c| c.name.as_str())).or_else(|| {
            Some(format!(
                "collections: {}",
                schema.collections.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        });
        diags.push(d);
    }
}

/// A relation to a view: a view's rows are a query's output, not stored records, so there
/// is nothing a stored id could keep pointing at.
fn relation_target_is_table(schema: &Schema, collection: &Collection, field: &Field, diags: &mut Diagnostics) {
    if let FieldType::Relation { collection: target, .. } = &field.ty
        && schema.collection(target).is_some_and(Collection::is_view)
    {
        diags.push(
            Diagnostic::error(
                field.span,
                format!("relation '{}.{}' points at view collection '{target}'", collection.name, field.name),
            )
            .with_help("relations must point at base or auth collections"),
        );
    }
}

/// An index naming a field its collection does not have: the migration's `CREATE INDEX`
/// would fail on the database instead of here.
fn index_fields_exist(collection: &Collection, index: &Index, diags: &mut Diagnostics) {
    for name in &index.fields {
        if collection.field(name).is_none() {
            let mut d =
                Diagnostic::error(index.span, format!("index of '{}' names unknown field '{name}'", collection.name));
            d.help = did_you_mean(name, collection.fields.iter().map(|f| f.name.as_str()));
            diags.push(d);
        }
    }
}

/// An index on a view: a view is a query, not a table, and the database cannot index it.
fn no_index_on_view(collection: &Collection, index: &Index, diags: &mut Diagnostics) {
    if collection.is_view() {
        diags.push(Diagnostic::error(index.span, "view collections cannot have indexes"));
    }
}

/// A create, update or delete rule on a view: views are read-only, and such a rule would
/// promise writes the backend never serves. Returns whether `rule` was refused (it is then
/// not typed).
pub(super) fn write_rule_on_view(
    collection: &Collection,
    action: Action,
    rule: &Rule,
    diags: &mut Diagnostics,
) -> bool {
    let refused = collection.is_view() && !matches!(action, Action::List | Action::View);
    if refused {
        diags.push(
            Diagnostic::error(
                rule.origin.map_span(Span::new(0, rule.expr.len())),
                format!("view collection '{}' is read-only: it cannot have a {} rule", collection.name, action.name()),
            )
            .with_help("remove the rule; views take only list and view rules"),
        );
    }
    refused
}
