//! Paths: a field of the record, followed through relations (`post.author.name`) and
//! back-relations (`comments_via_post`), of an `@collection` root, or one of the request's
//! plain values, each with its modifier typed. Secret fields are refused here.

use super::Typer;
use crate::check::typed::{Arity, CollectionRoot, ColumnRef, Step, TOperand, TValue, Ty, field_ty};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{Collection, Field, FieldType, Schema, system};
use crate::rule::expr::ast::{Modifier, Op, Path, Root, Segment};
use crate::source::Span;

impl<'c> Typer<'c, '_> {
    pub(super) fn path(&mut self, path: &Path, span: Span, op: Op) -> Option<TOperand> {
        let modifier = path.modifier;
        let single = |value, ty| Some(TOperand { value, ty, arity: Arity::One, span });
        match &path.root {
            Root::Record => {
                let column = self.resolve(self.cx.collection, None, &path.segments)?;
                self.column(column, modifier, span, op)
            }
            Root::Collection { name, alias } => {
                if self.cx.filter {
                    // allowed syntactically; the runtime refuses it for non-superusers
                }
                let Some(target) = self.cx.schema.collection(&name.name) else {
                    self.unknown_collection(name);
                    return None;
                };
                if path.segments.is_empty() {
                    self.diags.push(
                        Diagnostic::error(span, format!("name a field of '{}' after it", name.name))
                            .with_help(format!("e.g. @collection.{}.id", name.name)),
                    );
                    return None;
                }
                let root = CollectionRoot {
                    collection: target.name.clone(),
                    alias: alias.as_ref().map_or_else(|| target.name.clone(), |a| a.name.clone()),
                };
                let column = self.resolve(target, Some(root), &path.segments)?;
                let mut operand = self.column(column, modifier, span, op)?;
                operand.arity = Arity::Many;
                Some(operand)
            }
            Root::Auth => self.auth(path, span),
            Root::Body => self.body(path, span),
            Root::Query | Root::Headers => {
                self.no_modifier(path, &[Modifier::Lower])?;
                let name = path.segments.first()?.name.clone();
                if path.segments.len() > 1 {
                    self.diags
                        .push(Diagnostic::error(path.segments[1].span, "query parameters and headers have no fields"));
                    return None;
                }
                let value = if path.root == Root::Query { TValue::Query(name) } else { TValue::Header(name) };
                single(value, Ty::Any)
            }
            Root::Method => {
                self.no_modifier(path, &[])?;
                single(TValue::Method, Ty::Text)
            }
            Root::Context => {
                self.no_modifier(path, &[])?;
                single(TValue::Context, Ty::Text)
            }
        }
    }

    /// Types a resolved column with its modifier.
    fn column(
        &mut self,
        mut column: ColumnRef,
        modifier: Option<(Modifier, Span)>,
        span: Span,
        op: Op,
    ) -> Option<TOperand> {
        let through_many = column.steps.iter().any(Step::is_multiple);
        let multiple = column.field_ty.is_multiple();
        let mut ty = field_ty(&column.field_ty);
        let mut arity = if through_many { Arity::Many } else { Arity::One };
        match modifier {
            None if multiple && !op.kind.is_like() => {
                // `tags ?= "x"` compares items; `tags = "x"` is refused by the caller.
                column.each = true;
                arity = Arity::Many;
            }
            None => {
                if multiple {
                    ty = Ty::Text; // `tags ~ "x"` matches the stored JSON text, as PocketBase does
                }
            }
            Some((Modifier::Each, m_span)) => {
                if !multiple {
                    self.diags.push(
                        Diagnostic::error(
                            m_span,
                            format!("':each' needs a field with several values; '{}' holds one", column.field),
                        )
                        .with_help("compare the field directly"),
                    );
                    return None;
                }
                column.each = true;
                arity = Arity::Many;
            }
            Some((Modifier::Length, m_span)) => {
                if !multiple {
                    self.diags.push(
                        Diagnostic::error(
                            m_span,
                            format!("':length' needs a field with several values; '{}' holds one", column.field),
                        )
                        .with_help("':length' counts the items of a multiple select, relation or file field"),
                    );
                    return None;
                }
                ty = Ty::Number;
            }
            Some((Modifier::Lower, m_span)) => {
                if !matches!(ty, Ty::Text | Ty::Any) || multiple {
                    self.diags.push(Diagnostic::error(
                        m_span,
                        format!("':lower' needs a text value; '{}' is a {}", column.field, column.field_ty.name()),
                    ));
                    return None;
                }
            }
            Some((m @ (Modifier::Isset | Modifier::Changed), m_span)) => {
                self.diags.push(
                    Diagnostic::error(m_span, format!("':{}' applies to @request.body fields only", m.name()))
                        .with_help(format!("write @request.body.{}:{}", column.field, m.name())),
                );
                return None;
            }
        }
        column.modifier = modifier.map(|(m, _)| m);
        Some(TOperand { value: TValue::Column(column), ty, arity, span })
    }

    /// Follows `segments` from `start` to a field.
    pub(in crate::check) fn resolve(
        &mut self,
        start: &'c Collection,
        root: Option<CollectionRoot>,
        segments: &[Segment],
    ) -> Option<ColumnRef> {
        let mut current = start;
        let mut steps = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if let Some(field) = current.field(&seg.name) {
                if field.hidden && matches!(field.ty, FieldType::Password) || field.name == system::TOKEN_KEY {
                    self.diags.push(Diagnostic::error(
                        seg.span,
                        format!("'{}' is secret: rules and filters cannot read it", seg.name),
                    ));
                    return None;
                }
                if last {
                    // `author.id` is the relation's own value: no join, as in PocketBase
                    if let (system::ID, Some(Step::Forward { from, field: relation, multiple: false, .. })) =
                        (field.name.as_str(), steps.last())
                        && let Some(holder) = self.cx.schema.collection(from)
                        && let Some(relation) = holder.field(relation)
                    {
                        let relation = relation.clone();
                        steps.pop();
                        return Some(ColumnRef {
                            root,
                            steps,
                            collection: holder.name.clone(),
                            field: relation.name,
                            field_ty: relation.ty,
                            modifier: None,
                            each: false,
                        });
                    }
                    return Some(ColumnRef {
                        root,
                        steps,
                        collection: current.name.clone(),
                        field: field.name.clone(),
                        field_ty: field.ty.clone(),
                        modifier: None,
                        each: false,
                    });
                }
                let FieldType::Relation { collection: target, multiple, .. } = &field.ty else {
                    self.diags.push(
                        Diagnostic::error(
                            segments[i + 1].span.to(seg.span),
                            format!(
                                "'{}' is a {} field, not a relation: there is no '{}' to follow",
                                seg.name,
                                field.ty.name(),
                                segments[i + 1].name
                            ),
                        )
                        .with_help(format!(
                            "only relation fields can be followed with '.'; compare '{}' itself",
                            seg.name
                        )),
                    );
                    return None;
                };
                let next = self.cx.schema.collection(target)?;
                steps.push(Step::Forward {
                    from: current.name.clone(),
                    field: field.name.clone(),
                    to: next.name.clone(),
                    multiple: *multiple,
                });
                current = next;
                continue;
            }
            if let Some((back, via)) = self.back_relation(current, seg)? {
                steps.push(Step::Back {
                    from: current.name.clone(),
                    to: back.name.clone(),
                    field: via.name.clone(),
                    multiple: via.ty.is_multiple(),
                });
                current = back;
                if last {
                    let id = back.field(system::ID).cloned().unwrap_or_else(system::id);
                    return Some(ColumnRef {
                        root,
                        steps,
                        collection: back.name.clone(),
                        field: id.name,
                        field_ty: id.ty,
                        modifier: None,
                        each: false,
                    });
                }
                continue;
            }
            let mut d =
                Diagnostic::error(seg.span, format!("unknown field '{}' in collection '{}'", seg.name, current.name));
            d.help = did_you_mean(&seg.name, current.fields.iter().filter(|f| !f.hidden).map(|f| f.name.as_str()))
                .or_else(|| {
                    Some(format!(
                        "'{}' has: {}",
                        current.name,
                        current
                            .fields
                            .iter()
                            .filter(|f| !f.hidden)
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                });
            self.diags.push(d);
            return None;
        }
        None
    }

    /// `<collection>_via_<field>`: `Ok(None)` when the name is not of that form.
    fn back_relation(&mut self, current: &Collection, seg: &Segment) -> Option<Option<(&'c Collection, &'c Field)>> {
        let Some((name, field)) = seg.name.split_once("_via_") else { return Some(None) };
        let schema: &'c Schema = self.cx.schema;
        let Some(back) = schema.collection(name) else {
            let mut d =
                Diagnostic::error(seg.span, format!("unknown collection '{name}' in back-relation '{}'", seg.name));
            d.help = did_you_mean(name, schema.collections.iter().map(|c| c.name.as_str()));
            self.diags.push(d);
            return None;
        };
        match back.field(field) {
            Some(f) if f.ty.relation_target() == Some(current.name.as_str()) => Some(Some((back, f))),
            _ => {
                self.diags.push(
                    Diagnostic::error(seg.span, format!("'{name}' has no relation field '{field}' pointing at '{}'", current.name))
                        .with_help(format!("a back-relation is written <collection>_via_<relation field of that collection that targets '{}'>", current.name)),
                );
                None
            }
        }
    }

    pub(super) fn no_modifier(&mut self, path: &Path, allowed: &[Modifier]) -> Option<()> {
        match path.modifier {
            Some((m, span)) if !allowed.contains(&m) => {
                self.diags.push(Diagnostic::error(span, format!("':{}' cannot be used here", m.name())));
                None
            }
            _ => Some(()),
        }
    }

    fn unknown_collection(&mut self, name: &Segment) {
        let mut d = Diagnostic::error(name.span, format!("unknown collection '{}'", name.name));
        d.help = did_you_mean(&name.name, self.cx.schema.collections.iter().map(|c| c.name.as_str()));
        self.diags.push(d);
    }
}
