//! `@request.auth.*` (a field of the authenticated record, looked up across the auth
//! collections) and `@request.body.*` (a field of the record being written, only in create
//! and update rules), with the modifiers each allows.

use super::Typer;
use crate::check::typed::{Arity, TOperand, TValue, Ty, field_ty};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{Action, FieldType, system};
use crate::rule::expr::ast::{Modifier, Path};
use crate::source::Span;

impl Typer<'_, '_> {
    pub(super) fn auth(&mut self, path: &Path, span: Span) -> Option<TOperand> {
        let first = path.segments.first()?;
        if path.segments.len() > 1 {
            self.diags.push(
                Diagnostic::error(path.segments[1].span, "baas does not follow relations of @request.auth yet")
                    .with_help(format!("compare @request.auth.{} itself", first.name)),
            );
            return None;
        }
        self.no_modifier(path, &[Modifier::Lower])?;
        let name = first.name.as_str();
        let ty = match name {
            "id" | "collectionId" | "collectionName" => Ty::Text,
            system::PASSWORD | system::TOKEN_KEY => {
                self.diags.push(Diagnostic::error(first.span, format!("'{name}' is secret: rules cannot read it")));
                return None;
            }
            _ => {
                let found = self.cx.schema.auth_collections().find_map(|c| c.field(name));
                match found {
                    Some(field) => field_ty(&field.ty),
                    None => {
                        let mut names = vec!["id", "collectionId", "collectionName"];
                        names.extend(
                            self.cx
                                .schema
                                .auth_collections()
                                .flat_map(|c| c.fields.iter().filter(|f| !f.hidden))
                                .map(|f| f.name.as_str()),
                        );
                        let mut d = Diagnostic::error(first.span, format!("no auth collection has a field '{name}'"));
                        d.help = did_you_mean(name, names.iter().copied());
                        self.diags.push(d);
                        return None;
                    }
                }
            }
        };
        Some(TOperand { value: TValue::Auth(name.to_owned()), ty, arity: Arity::One, span })
    }

    pub(super) fn body(&mut self, path: &Path, span: Span) -> Option<TOperand> {
        let first = path.segments.first()?;
        match self.cx.action {
            Some(Action::Create | Action::Update) => {}
            _ => {
                let place = match self.cx.action {
                    Some(a) => format!("a {} rule", a.name()),
                    None => "a filter".to_owned(),
                };
                self.diags.push(
                    Diagnostic::error(span, format!("@request.body is not available in {place}"))
                        .with_help("the request body exists only in create and update rules"),
                );
                return None;
            }
        }
        if path.segments.len() > 1 {
            self.diags.push(
                Diagnostic::error(path.segments[1].span, "baas does not follow relations of @request.body yet")
                    .with_help(format!("compare @request.body.{} itself", first.name)),
            );
            return None;
        }
        let collection = self.cx.collection;
        let extra = collection.is_auth() && matches!(first.name.as_str(), "passwordConfirm" | "oldPassword");
        let ty = match collection.field(&first.name) {
            Some(f) if f.name != system::TOKEN_KEY => f.ty.clone(),
            _ if extra => FieldType::Password,
            _ => {
                let mut d = Diagnostic::error(
                    first.span,
                    format!("unknown field '{}' in collection '{}'", first.name, collection.name),
                );
                d.help = did_you_mean(&first.name, collection.fields.iter().map(|f| f.name.as_str()));
                self.diags.push(d);
                return None;
            }
        };
        let modifier = path.modifier;
        let multiple = ty.is_multiple();
        let (value_ty, arity) = match modifier {
            None => (field_ty(&ty), Arity::One),
            Some((Modifier::Isset, _)) => (Ty::Bool, Arity::One),
            Some((Modifier::Changed, m_span)) => {
                if self.cx.action != Some(Action::Update) {
                    self.diags.push(Diagnostic::error(m_span, "':changed' is only meaningful in update rules"));
                    return None;
                }
                (Ty::Bool, Arity::One)
            }
            Some((Modifier::Length, m_span)) if !multiple => {
                self.diags.push(Diagnostic::error(
                    m_span,
                    format!("':length' needs a field with several values; '{}' holds one", first.name),
                ));
                return None;
            }
            Some((Modifier::Length, _)) => (Ty::Number, Arity::One),
            Some((Modifier::Each, m_span)) if !multiple => {
                self.diags.push(Diagnostic::error(
                    m_span,
                    format!("':each' needs a field with several values; '{}' holds one", first.name),
                ));
                return None;
            }
            Some((Modifier::Each, _)) => (field_ty(&ty), Arity::Many),
            Some((Modifier::Lower, m_span)) => {
                if !matches!(field_ty(&ty), Ty::Text | Ty::Any) || multiple {
                    self.diags.push(Diagnostic::error(
                        m_span,
                        format!("':lower' needs a text value; '{}' is a {}", first.name, ty.name()),
                    ));
                    return None;
                }
                (Ty::Text, Arity::One)
            }
        };
        let value_ty = if multiple && modifier.is_none() { Ty::Any } else { value_ty };
        Some(TOperand {
            value: TValue::Body { field: first.name.clone(), ty, modifier: modifier.map(|(m, _)| m) },
            ty: value_ty,
            arity,
            span,
        })
    }
}
