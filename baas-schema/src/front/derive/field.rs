//! A collection struct's fields: the field type each Rust type stands for (`String`,
//! `Option<…>`, `Vec<Relation<Post>>`…), the `#[field(…)]` options every field and each type
//! takes, and the mistakes a field can hold (a reserved name, `Option` and `required` at once,
//! min above max).

use syn::spanned::Spanned;
use syn::{Attribute, Fields, GenericArgument, Ident, ItemStruct, LitStr, PathArguments, Type};

use super::Loader;
use super::options::{Opt, flag, int, number, skip_value, strings};
use crate::diag::{Diagnostic, did_you_mean};
use crate::ir::{Collection, Field, FieldType, system};
use crate::source::Span;

const COMMON_FIELD_KEYS: &[&str] = &["name", "required", "unique", "hidden", "renamed_from"];

const FIELD_TYPES: &[&str] = &[
    "String", "bool", "i64", "u32", "f64", "Email", "Url", "DateTime", "Select", "Relation", "Json", "File", "AutoDate",
];

const INTEGERS: &[&str] = &["i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize"];

impl Loader<'_> {
    pub(super) fn fields(&mut self, s: &ItemStruct, c: &Collection, names: &[(Ident, String)]) -> Vec<Field> {
        let Fields::Named(named) = &s.fields else {
            if !matches!(s.fields, Fields::Unit) {
                let at = self.places.token(&s.ident, s.ident.to_string());
                self.diags.push(
                    Diagnostic::error(at, "a collection struct needs named fields")
                        .with_help(format!("write `struct {} {{ title: String, … }}`", s.ident)),
                );
            }
            return Vec::new();
        };
        let reserved = system::reserved(c.is_auth());
        let mut out: Vec<Field> = Vec::new();
        for f in &named.named {
            let Some(ident) = &f.ident else { continue };
            let Some(field) = self.field(ident, &f.ty, &f.attrs, names) else { continue };
            if reserved.contains(&field.name.as_str()) && !c.is_view() {
                let what = if c.is_auth() { "auth collections" } else { "every collection" };
                self.diags.push(
                    Diagnostic::error(
                        field.span,
                        format!("'{}' is a system field of {what}; it cannot be declared", field.name),
                    )
                    .with_help(format!("remove it, or give the field another name; '{}' is always there", field.name)),
                );
                continue;
            }
            if out.iter().any(|o| o.name == field.name) {
                self.diags.push(Diagnostic::error(field.span, format!("duplicate field '{}'", field.name)));
                continue;
            }
            out.push(field);
        }
        out
    }

    fn field(&mut self, ident: &Ident, ty: &Type, attrs: &[Attribute], names: &[(Ident, String)]) -> Option<Field> {
        let rust_name = ident.to_string().trim_start_matches("r#").to_owned();
        let span = self.places.token(ident, rust_name.clone());
        let shape = self.shape(ty, names)?;
        let mut field = Field::new(rust_name, shape.ty.clone());
        field.span = span;
        field.required = shape.required_by_default();
        let mut required_given: Option<Span> = None;
        let options: &[&str] = match &shape.ty {
            FieldType::Text { .. } => &["min", "max", "pattern"],
            FieldType::Number { .. } => &["min", "max"],
            FieldType::Select { .. } => &["values"],
            FieldType::Relation { .. } => &["cascade_delete"],
            FieldType::File { .. } => &["max_size", "mime", "protected", "thumbs"],
            FieldType::Autodate { .. } => &["on_create", "on_update"],
            _ => &[],
        };
        let ty_name = shape.ty.name();
        let mut min_max: (Option<(f64, Span)>, Option<(f64, Span)>) = (None, None);
        for attr in attrs.iter().filter(|a| a.path().is_ident("field")) {
            let Ok(list) = attr.meta.require_list() else {
                let at = self.places.token(&attr.meta, "field");
                self.diags.push(
                    Diagnostic::error(at, "expected options: `#[field(…)]`")
                        .with_help("for example `#[field(max = 200)]`"),
                );
                continue;
            };
            self.options(list.tokens.clone(), "#[field]", |cx, opt| {
                match opt.key.as_str() {
                    "name" => {
                        let lit: LitStr = opt.meta.value()?.parse()?;
                        field.name = lit.value();
                        field.span = cx.places.literal(&lit).0;
                    }
                    "required" => {
                        field.required = flag(opt.meta)?;
                        required_given = Some(opt.span);
                    }
                    "unique" => field.unique = flag(opt.meta)?,
                    "hidden" => field.hidden = flag(opt.meta)?,
                    "renamed_from" => field.renamed_from = Some(opt.meta.value()?.parse::<LitStr>()?.value()),
                    k if options.contains(&k) => cx.type_option(&mut field.ty, &opt, &mut min_max)?,
                    k => {
                        let all: Vec<&str> = COMMON_FIELD_KEYS.iter().chain(options).copied().collect();
                        let mut d = Diagnostic::error(opt.span, format!("unknown option '{k}' for a {ty_name} field"));
                        d.help = did_you_mean(k, all.iter().copied())
                            .or_else(|| Some(format!("{ty_name} fields take: {}", all.join(", "))));
                        cx.diags.push(d);
                        skip_value(opt.meta)?;
                    }
                }
                Ok(())
            });
        }
        if let (Some(at), true) = (required_given, shape.optional && field.required) {
            self.diags.push(
                Diagnostic::error(at, format!("field '{}' is `Option<…>` and `required` at once", field.name))
                    .with_help("a required field is written without `Option`: drop one of the two"),
            );
        }
        if let (Some((lo, _)), Some((hi, at))) = min_max
            && lo > hi
        {
            self.diags.push(Diagnostic::error(at, format!("'max' ({hi}) is less than 'min' ({lo})")));
        }
        if let FieldType::Select { values, .. } = &field.ty
            && values.is_empty()
        {
            self.diags.push(
                Diagnostic::error(field.span, format!("select field '{}' needs 'values'", field.name))
                    .with_help("add `#[field(values = [\"a\", \"b\"])]`"),
            );
        }
        if let FieldType::Autodate { on_create: false, on_update: false } = field.ty {
            self.diags.push(
                Diagnostic::error(
                    field.span,
                    format!("autodate field '{}' is set neither on create nor on update", field.name),
                )
                .with_help("set `on_create`, `on_update` or both"),
            );
        }
        Some(field)
    }

    fn type_option(
        &mut self,
        ty: &mut FieldType,
        opt: &Opt<'_, '_>,
        min_max: &mut (Option<(f64, Span)>, Option<(f64, Span)>),
    ) -> syn::Result<()> {
        match (ty, opt.key.as_str()) {
            (FieldType::Text { min, .. }, "min") => {
                let n = int(opt.meta)?;
                *min = Some(n as u32);
                min_max.0 = Some((n as f64, opt.span));
            }
            (FieldType::Text { max, .. }, "max") => {
                let n = int(opt.meta)?;
                *max = Some(n as u32);
                min_max.1 = Some((n as f64, opt.span));
            }
            (FieldType::Text { pattern, .. }, "pattern") => {
                let lit: LitStr = opt.meta.value()?.parse()?;
                let (range, _) = self.places.literal(&lit);
                match regex::Regex::new(&lit.value()) {
                    Ok(_) => *pattern = Some(lit.value()),
                    Err(e) => self.diags.push(Diagnostic::error(range, format!("invalid pattern: {e}"))),
                }
            }
            (FieldType::Number { min, .. }, "min") => {
                let n = number(opt.meta)?;
                *min = Some(n);
                min_max.0 = Some((n, opt.span));
            }
            (FieldType::Number { max, .. }, "max") => {
                let n = number(opt.meta)?;
                *max = Some(n);
                min_max.1 = Some((n, opt.span));
            }
            (FieldType::Select { values, .. }, "values") => {
                let list = opt.meta.value()?.parse::<syn::ExprArray>()?;
                for item in list.elems {
                    match item {
                        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => {
                            if values.contains(&s.value()) {
                                let (range, _) = self.places.literal(&s);
                                self.diags.push(Diagnostic::error(
                                    range,
                                    format!("select value '{}' is listed twice", s.value()),
                                ));
                            }
                            values.push(s.value());
                        }
                        other => return Err(syn::Error::new(other.span(), "expected a string")),
                    }
                }
            }
            (FieldType::Relation { cascade_delete, .. }, "cascade_delete") => *cascade_delete = flag(opt.meta)?,
            (FieldType::File { max_size, .. }, "max_size") => {
                let value = opt.meta.value()?;
                if value.peek(LitStr) {
                    let lit: LitStr = value.parse()?;
                    let (range, _) = self.places.literal(&lit);
                    match crate::front::parse_size(&lit.value()) {
                        Some(n) => *max_size = Some(n),
                        None => self.diags.push(
                            Diagnostic::error(range, format!("'{}' is not a size", lit.value()))
                                .with_help("write a number of bytes, or a size like \"500KB\" or \"1MiB\""),
                        ),
                    }
                } else {
                    *max_size = Some(value.parse::<syn::LitInt>()?.base10_parse()?);
                }
            }
            (FieldType::File { mime, .. }, "mime") => *mime = strings(opt.meta)?,
            (FieldType::File { thumbs, .. }, "thumbs") => *thumbs = strings(opt.meta)?,
            (FieldType::File { protected, .. }, "protected") => *protected = flag(opt.meta)?,
            (FieldType::Autodate { on_create, .. }, "on_create") => *on_create = flag(opt.meta)?,
            (FieldType::Autodate { on_update, .. }, "on_update") => *on_update = flag(opt.meta)?,
            _ => unreachable!("options are matched against the type's list"),
        }
        Ok(())
    }

    /// The field type a Rust type stands for.
    fn shape(&mut self, ty: &Type, names: &[(Ident, String)]) -> Option<Shape> {
        let (inner, optional) = match generic_of(ty, "Option") {
            Some(inner) => (inner, true),
            None => (ty, false),
        };
        let (base, multiple) = match generic_of(inner, "Vec") {
            Some(item) => (item, true),
            None => (inner, false),
        };
        let written = type_text(ty);
        let Some((name, arg)) = last_segment(base) else {
            let at = self.places.token(ty, written.clone());
            self.diags.push(self.not_a_field_type(at, &written));
            return None;
        };
        let ty = match name.as_str() {
            "String" => FieldType::Text { min: None, max: None, pattern: None },
            "bool" => FieldType::Bool,
            n if INTEGERS.contains(&n) => {
                FieldType::Number { min: n.starts_with('u').then_some(0.0), max: None, integer: true }
            }
            "f32" | "f64" => FieldType::Number { min: None, max: None, integer: false },
            "Email" => FieldType::Email,
            "Url" => FieldType::Url,
            "DateTime" => FieldType::Date,
            "Json" | "Value" => FieldType::Json,
            "AutoDate" => FieldType::Autodate { on_create: true, on_update: false },
            "Select" => FieldType::Select { values: Vec::new(), multiple },
            "File" => {
                FieldType::File { max_size: None, mime: Vec::new(), multiple, protected: false, thumbs: Vec::new() }
            }
            "Relation" => {
                let Some(target) = arg.as_ref().and_then(last_segment).map(|(t, _)| t) else {
                    let at = self.places.token(base, type_text(base));
                    self.diags.push(
                        Diagnostic::error(at, "a relation names its target: `Relation<Post>`")
                            .with_help("write the collection struct the relation points at between `<` and `>`"),
                    );
                    return None;
                };
                let Some((_, collection)) = names.iter().find(|(i, _)| *i == target) else {
                    let arg = arg.expect("checked above");
                    let at = self.places.token(&arg, target.clone());
                    let idents: Vec<String> = names.iter().map(|(i, _)| i.to_string()).collect();
                    let mut d = Diagnostic::error(at, format!("unknown relation target '{target}'"));
                    d.help = did_you_mean(&target, idents.iter().map(String::as_str)).or_else(|| {
                        Some(format!(
                            "a relation points at a `#[derive(Collection)]` struct of this module: {}",
                            idents.join(", ")
                        ))
                    });
                    self.diags.push(d);
                    return None;
                };
                FieldType::Relation { collection: collection.clone(), multiple, cascade_delete: false }
            }
            _ => {
                let at = self.places.token(base, type_text(base));
                self.diags.push(self.not_a_field_type(at, &name));
                return None;
            }
        };
        if multiple && !ty.is_multiple() {
            let at = self.places.token(inner, type_text(inner));
            self.diags.push(
                Diagnostic::error(at, format!("`{}` is not a field type", type_text(inner)))
                    .with_help("lists are `Vec<Select>`, `Vec<Relation<T>>` or `Vec<File>`; other lists are `Json`"),
            );
            return None;
        }
        Some(Shape { ty, optional, multiple })
    }

    fn not_a_field_type(&self, at: Span, written: &str) -> Diagnostic {
        let mut d = Diagnostic::error(at, format!("`{written}` is not a field type"));
        d.help = did_you_mean(written, FIELD_TYPES.iter().copied())
            .or_else(|| Some(format!("field types: {} (each may be wrapped in `Option`)", FIELD_TYPES.join(", "))));
        d
    }
}

/// A field's Rust type, read.
struct Shape {
    ty: FieldType,
    optional: bool,
    multiple: bool,
}

impl Shape {
    /// Non-`Option` fields are required, except those whose Rust type always holds a value
    /// PocketBase counts as set (`false`, `0`) and lists, which may be empty.
    fn required_by_default(&self) -> bool {
        !self.optional
            && !self.multiple
            && !matches!(self.ty, FieldType::Bool | FieldType::Number { .. } | FieldType::Autodate { .. })
    }
}

/// `T` when `ty` is `wrapper<T>` (by the last path segment).
fn generic_of<'t>(ty: &'t Type, wrapper: &str) -> Option<&'t Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != wrapper {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// The last path segment's name and its first type argument.
fn last_segment(ty: &Type) -> Option<(String, Option<Type>)> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    let arg = match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    };
    Some((last.ident.to_string(), arg))
}

fn type_text(ty: &Type) -> String {
    quote::ToTokens::to_token_stream(ty).to_string().replace(" < ", "<").replace(" >", ">").replace("< ", "<")
}
