//! The checker: validates a [`Schema`] as a whole and types every rule against it.
//!
//! Its output, a [`CheckedSchema`], is what emitters consume: the IR plus each rule resolved
//! into a [`TExpr`] (fields looked up, relation paths turned into join steps, every operand
//! typed). Client filters go through the same [`check_expr`] at request time.
//!
//! [`check`] runs the passes in order: view fields derived from their queries (`view`), the
//! structural rules any front end's schema must keep (`structure`, one function per rule),
//! then every rule typed (`typer`, into the forms of `typed`) and linted (`lints`). `columns`
//! answers what request-time code asks about columns: sort keys, what an expression reads,
//! whether it reads a hidden field.

mod columns;
mod lints;
mod structure;
mod typed;
mod typer;
mod view;

use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{Action, Collection, Origin, Schema};
use crate::rule::expr::ast::Expr;
use crate::rule::expr::{ParseError, parse};
pub use columns::{columns, reads_hidden, sort_column};
pub use typed::{Arity, CollectionRoot, ColumnRef, Step, TCompare, TExpr, TOperand, TValue, Ty, field_ty};
pub use typer::STRFTIME;
use typer::Typer;

/// A schema that passed every check, with its rules resolved.
#[derive(Clone, Debug)]
pub struct CheckedSchema {
    pub schema: Schema,
    /// Resolved rules by collection name and action; absent rules are absent here too, and
    /// an empty rule (everyone) is [`TExpr::True`].
    pub rules: BTreeMap<(String, Action), TExpr>,
}

impl CheckedSchema {
    pub fn rule(&self, collection: &str, action: Action) -> Option<&TExpr> {
        self.rules.get(&(collection.to_owned(), action))
    }
}

/// Checks a whole schema: structure first, then every rule. Returns the checked schema when
/// there were no errors (warnings may have been pushed).
pub fn check(schema: &Schema, diags: &mut Diagnostics) -> Option<CheckedSchema> {
    let errors_before = diags.error_count();
    let mut schema = schema.clone();
    view::derive_fields(&mut schema, diags);
    let schema = &schema;
    structure::check(schema, diags);
    let mut rules = BTreeMap::new();
    for collection in &schema.collections {
        for (action, rule) in collection.rules.iter() {
            if structure::write_rule_on_view(collection, action, rule, diags) {
                continue;
            }
            if rule.is_public() {
                rules.insert((collection.name.clone(), action), TExpr::True);
                continue;
            }
            let cx = Context { schema, collection, action: Some(action), filter: false };
            let mut local = Diagnostics::new();
            let checked = check_parsed(&cx, &rule.expr, &mut local);
            for d in local {
                diags.push(map_diagnostic(d, &rule.origin));
            }
            if let Some((expr, texpr)) = checked {
                lints::lint(&cx, &rule.expr, &expr, &texpr, &rule.origin, diags);
                rules.insert((collection.name.clone(), action), texpr);
            }
        }
    }
    (diags.error_count() == errors_before).then(|| CheckedSchema { schema: schema.clone(), rules })
}

fn map_diagnostic(mut d: Diagnostic, origin: &Origin) -> Diagnostic {
    d.span = d.span.map(|s| origin.map_span(s));
    d
}

/// Where an expression is checked: which collection its bare names refer to, and whether it
/// is a rule for `action` or a client filter.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub schema: &'a Schema,
    pub collection: &'a Collection,
    /// The rule's action; `None` for a client filter.
    pub action: Option<Action>,
    /// A client `?filter=`: `@request.body` is not available.
    pub filter: bool,
}

impl<'a> Context<'a> {
    /// The context of a client filter on `collection`.
    pub fn filter(schema: &'a Schema, collection: &'a Collection) -> Self {
        Context { schema, collection, action: None, filter: true }
    }
}

/// Parses and types one expression. Diagnostics carry spans into `text`.
pub fn check_expr(cx: &Context<'_>, text: &str, diags: &mut Diagnostics) -> Option<TExpr> {
    check_parsed(cx, text, diags).map(|(_, texpr)| texpr)
}

/// [`check_expr`], also returning the syntax tree (the lints walk it).
fn check_parsed(cx: &Context<'_>, text: &str, diags: &mut Diagnostics) -> Option<(Expr, TExpr)> {
    let expr = match parse(text) {
        Ok(expr) => expr,
        Err(ParseError { message, span, help }) => {
            let mut d = Diagnostic::error(span, message);
            d.help = help;
            diags.push(d);
            return None;
        }
    };
    let before = diags.error_count();
    let texpr = Typer { cx, text, diags }.expr(&expr);
    (diags.error_count() == before).then_some(texpr).flatten().map(|texpr| (expr, texpr))
}
