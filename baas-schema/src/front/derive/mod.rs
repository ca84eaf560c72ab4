//! The derive front end: the `#[derive(Collection)]` structs of a `#[baas::schema]` module
//! into the IR. Like the YAML front end it only builds the IR; the checker does the rest.
//!
//! ```text
//! #[baas_runtime::schema]
//! mod blog {
//!     #[derive(Collection)]
//!     #[collection(auth, list = "id = @request.auth.id")]
//!     pub struct User { #[field(max = 255)] pub name: Option<String> }
//! }
//! ```
//!
//! The IR carries byte spans (the checker's diagnostics point with them), but tokens have no
//! byte offsets in a proc macro. So every token the IR remembers is given a range in a
//! *virtual source* — the token's own text, one per line — and [`Places`] maps a span in that
//! virtual source back to the token: to a `proc_macro2` span in a macro, and to the real
//! `file:line:col` when the CLI reads a `.rs` file (`baas check src/blog.rs`).

use std::collections::BTreeSet;

use heck::ToSnakeCase;
use proc_macro2::{Span as TokenSpan, TokenStream};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Attribute, Fields, GenericArgument, Ident, Item, ItemMod, ItemStruct, LitStr, PathArguments, Type};

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::ir::{
    Action, BatchSettings, Collection, CollectionKind, Field, FieldType, Index, Origin, Rule, Rules, Schema, system,
};
use crate::source::{LineCol, SourceFile, Span};

/// A token the IR points at: its range in the virtual source, and where it really is.
#[derive(Clone, Debug)]
pub struct Place {
    pub range: Span,
    pub token: TokenSpan,
    /// The token's source text (a string literal with its quotes).
    pub text: String,
}

/// The virtual source: every remembered token's text on a line of its own.
#[derive(Clone, Debug, Default)]
pub struct Places {
    places: Vec<Place>,
    text: String,
}

impl Places {
    fn add(&mut self, token: TokenSpan, text: String) -> Span {
        let start = self.text.len();
        self.text.push_str(&text);
        self.text.push('\n');
        let range = Span::new(start, start + text.len());
        self.places.push(Place { range, token, text });
        range
    }

    /// A name (an identifier, a path).
    fn token(&mut self, spanned: &impl Spanned, text: impl Into<String>) -> Span {
        self.add(spanned.span(), text.into())
    }

    /// A string literal: its range covers the literal with its quotes; the origin maps offsets
    /// in its value to the virtual source.
    fn literal(&mut self, lit: &LitStr) -> (Span, Origin) {
        let raw = lit.token().to_string();
        let range = self.add(lit.span(), raw.clone());
        let value = lit.value();
        // `"…"`, `r"…"`, `r#"…"#`: the value starts after the first quote.
        let open = raw.find('"').map_or(0, |i| i + 1);
        let origin = crate::front::align(&value, &raw[open..], range.start + open)
            .unwrap_or_else(|| Origin::verbatim(range.start + open));
        (range, origin)
    }

    /// The place a virtual span falls in.
    pub fn find(&self, span: Span) -> Option<&Place> {
        let i = self.places.partition_point(|p| p.range.start <= span.start);
        self.places[..i].last().filter(|p| span.start <= p.range.end)
    }

    /// The virtual source, for rendering excerpts of literals.
    pub fn virtual_text(&self) -> &str {
        &self.text
    }

    /// Moves a diagnostic's span from the virtual source to the real file the tokens were
    /// parsed from (needs `proc_macro2`'s span locations, as outside a macro).
    pub fn to_file(&self, diagnostic: &Diagnostic, file: &SourceFile) -> Diagnostic {
        let mut moved = diagnostic.clone();
        moved.span = diagnostic.span.and_then(|span| {
            let place = self.find(span)?;
            let at = place.token.start();
            let start = file.offset(LineCol { line: at.line, col: at.column + 1 });
            let within = span.start - place.range.start;
            Some(Span::new(start + within, start + within + span.len()))
        });
        moved
    }
}

/// What the front end read from a schema module.
pub struct Loaded {
    /// The IR, whenever the module had a usable shape (possibly with errors).
    pub schema: Schema,
    pub places: Places,
    /// `#[schema(migrations = "…")]`: the migrations folder, relative to the crate.
    pub migrations: Option<String>,
    /// Each collection struct's name and the collection it describes, in order.
    pub structs: Vec<(Ident, String)>,
    /// The module's items that are not collections, kept as written.
    pub other_items: Vec<Item>,
}

const SCHEMA_KEYS: &[&str] = &["migrations", "batch", "auth_token_duration", "superuser_token_duration"];
const BATCH_KEYS: &[&str] = &["enabled", "max_requests", "timeout"];
const COLLECTION_KEYS: &[&str] = &[
    "name",
    "id",
    "auth",
    "query",
    "timestamps",
    "renamed_from",
    "index",
    "unique_index",
    "list",
    "view",
    "create",
    "update",
    "delete",
];
const COMMON_FIELD_KEYS: &[&str] = &["name", "required", "unique", "hidden", "renamed_from"];
const FIELD_TYPES: &[&str] = &[
    "String", "bool", "i64", "u32", "f64", "Email", "Url", "DateTime", "Select", "Relation", "Json", "File", "AutoDate",
];
const INTEGERS: &[&str] = &["i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize"];

/// Reads the schema module `module` with the attribute arguments `args` (`#[schema(args)]`).
pub fn load(args: TokenStream, module: &ItemMod, diags: &mut Diagnostics) -> Loaded {
    let mut cx = Loader { places: Places::default(), diags };
    let mut loaded = Loaded {
        schema: Schema::default(),
        places: Places::default(),
        migrations: None,
        structs: Vec::new(),
        other_items: Vec::new(),
    };
    cx.schema_args(args, &mut loaded);
    let Some((_, items)) = &module.content else {
        cx.diags.push(
            Diagnostic::error(cx.places.token(&module.ident, module.ident.to_string()), "a schema module needs a body")
                .with_help(format!("write the collections inside it: `mod {} {{ … }}`", module.ident)),
        );
        loaded.places = cx.places;
        return loaded;
    };
    let collection_structs: Vec<&ItemStruct> = items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) if derives_collection(&s.attrs) => Some(s),
            _ => None,
        })
        .collect();
    // Names first: relations may point at structs declared further down.
    let names: Vec<(Ident, String)> =
        collection_structs.iter().map(|s| (s.ident.clone(), collection_name(s))).collect();
    for s in &collection_structs {
        if let Some(c) = cx.collection(s, &names, &loaded.schema.collections) {
            loaded.schema.collections.push(c);
        }
    }
    if collection_structs.is_empty() {
        cx.diags.push(
            Diagnostic::error(
                cx.places.token(&module.ident, module.ident.to_string()),
                "the schema declares no collections",
            )
            .with_help("add a struct with `#[derive(Collection)]` to the module"),
        );
    }
    loaded.structs = names;
    loaded.other_items =
        items.iter().filter(|item| !matches!(item, Item::Struct(s) if derives_collection(&s.attrs))).cloned().collect();
    loaded.places = cx.places;
    loaded
}

/// The first `#[…schema]` module of a file, searched through inline modules.
pub fn find_module(items: &[Item]) -> Option<(&ItemMod, TokenStream)> {
    items.iter().find_map(|item| match item {
        Item::Mod(m) => match m.attrs.iter().find(|a| a.path().segments.last().is_some_and(|s| s.ident == "schema")) {
            Some(attr) => {
                let args = match &attr.meta {
                    syn::Meta::List(list) => list.tokens.clone(),
                    _ => TokenStream::new(),
                };
                Some((m, args))
            }
            None => m.content.as_ref().and_then(|(_, items)| find_module(items)),
        },
        _ => None,
    })
}

fn derives_collection(attrs: &[Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|meta| {
            found |= meta.path.segments.last().is_some_and(|s| s.ident == "Collection");
            Ok(())
        });
        found
    })
}

/// `#[collection(name = "…")]`, or the struct's name in snake case, pluralised.
fn collection_name(s: &ItemStruct) -> String {
    let mut name = None;
    for attr in s.attrs.iter().filter(|a| a.path().is_ident("collection")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.parse_nested_meta(|inner| Ok(drop(inner.path)));
            }
            Ok(())
        });
    }
    name.unwrap_or_else(|| plural(&s.ident.to_string().to_snake_case()))
}

/// English plural of a snake_case name, on its last word: `post` → `posts`, `category` →
/// `categories`, `box` → `boxes`.
pub fn plural(name: &str) -> String {
    let consonant_y = name.ends_with('y') && !name.ends_with(['a', 'e', 'i', 'o', 'u']) && {
        let before = name.chars().rev().nth(1);
        before.is_some_and(|c| !"aeiou".contains(c))
    };
    if consonant_y {
        format!("{}ies", &name[..name.len() - 1])
    } else if name.ends_with(['s', 'x', 'z']) || name.ends_with("ch") || name.ends_with("sh") {
        format!("{name}es")
    } else {
        format!("{name}s")
    }
}

struct Loader<'d> {
    places: Places,
    diags: &'d mut Diagnostics,
}

/// One `key = value` or `key` or `key(…)` of an attribute, with its place.
struct Opt<'a, 'm> {
    key: String,
    span: Span,
    meta: &'a syn::meta::ParseNestedMeta<'m>,
}

impl Loader<'_> {
    fn unknown(&mut self, span: Span, what: &str, found: &str, expected: &[&str]) {
        let mut d = Diagnostic::error(span, format!("unknown {what} '{found}'"));
        d.help = did_you_mean(found, expected.iter().copied())
            .or_else(|| Some(format!("expected one of: {}", expected.join(", "))));
        self.diags.push(d);
    }

    /// Runs `each` over the options of an attribute list, reporting syntax errors and options
    /// given twice.
    fn options(
        &mut self,
        tokens: TokenStream,
        what: &str,
        mut each: impl FnMut(&mut Self, Opt<'_, '_>) -> syn::Result<()>,
    ) {
        let mut seen = BTreeSet::new();
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.get_ident().map(Ident::to_string).unwrap_or_else(|| path_text(&meta.path));
            let span = self.places.token(&meta.path, key.clone());
            if !seen.insert(key.clone()) && key != "index" && key != "unique_index" {
                self.diags.push(Diagnostic::error(span, format!("'{key}' is given twice in {what}")));
            }
            each(self, Opt { key, span, meta: &meta })
        });
        if let Err(e) = parser.parse2(tokens) {
            let span = self.places.token(&e.span(), "?");
            self.diags.push(Diagnostic::error(span, format!("{e} in {what}")));
        }
    }

    fn schema_args(&mut self, args: TokenStream, loaded: &mut Loaded) {
        self.options(args, "#[schema]", |cx, opt| {
            match opt.key.as_str() {
                "migrations" => loaded.migrations = Some(opt.meta.value()?.parse::<LitStr>()?.value()),
                "auth_token_duration" => loaded.schema.settings.auth_token_duration = int(opt.meta)?,
                "superuser_token_duration" => loaded.schema.settings.superuser_token_duration = int(opt.meta)?,
                "batch" => {
                    let mut batch = BatchSettings::default();
                    opt.meta.parse_nested_meta(|inner| {
                        match inner.path.get_ident().map(Ident::to_string).as_deref() {
                            Some("enabled") => batch.enabled = flag(&inner)?,
                            Some("max_requests") => batch.max_requests = int(&inner)? as u32,
                            Some("timeout") => batch.timeout = int(&inner)? as u32,
                            other => {
                                let found = other.map(str::to_owned).unwrap_or_else(|| path_text(&inner.path));
                                let span = cx.places.token(&inner.path, found.clone());
                                cx.unknown(span, "batch setting", &found, BATCH_KEYS);
                                skip_value(&inner)?;
                            }
                        }
                        Ok(())
                    })?;
                    loaded.schema.settings.batch = batch;
                }
                other => {
                    cx.unknown(opt.span, "schema setting", other, SCHEMA_KEYS);
                    skip_value(opt.meta)?;
                }
            }
            Ok(())
        });
    }

    fn collection(&mut self, s: &ItemStruct, names: &[(Ident, String)], before: &[Collection]) -> Option<Collection> {
        let name = names.iter().find(|(i, _)| *i == s.ident).map(|(_, n)| n.clone())?;
        let span = self.places.token(&s.ident, s.ident.to_string());
        if before.iter().any(|c| c.name == name) {
            self.diags.push(
                Diagnostic::error(span, format!("duplicate collection '{name}'"))
                    .with_help("give one of the structs another name, or `#[collection(name = \"…\")]`"),
            );
            return None;
        }
        if name.starts_with('_') {
            self.diags.push(
                Diagnostic::error(span, format!("collection name '{name}' starts with '_'"))
                    .with_help("names starting with '_' are reserved for system collections such as _superusers"),
            );
        }
        let mut c = Collection {
            name: name.clone(),
            id: Collection::default_id(&name),
            kind: CollectionKind::Base,
            fields: Vec::new(),
            indexes: Vec::new(),
            rules: Rules::default(),
            renamed_from: None,
            span,
        };
        let mut timestamps = true;
        let mut auth: Option<Span> = None;
        let mut query: Option<(Span, String, Origin)> = None;
        for attr in s.attrs.iter().filter(|a| a.path().is_ident("collection")) {
            let tokens = match &attr.meta {
                syn::Meta::List(list) => list.tokens.clone(),
                other => {
                    let at = self.places.token(other, "collection");
                    self.diags.push(
                        Diagnostic::error(at, "expected options: `#[collection(…)]`")
                            .with_help("for example `#[collection(list = \"\", view = \"\")]`"),
                    );
                    continue;
                }
            };
            self.options(tokens, "#[collection]", |cx, opt| {
                let action = match opt.key.as_str() {
                    "list" => Some(Action::List),
                    "view" => Some(Action::View),
                    "create" => Some(Action::Create),
                    "update" => Some(Action::Update),
                    "delete" => Some(Action::Delete),
                    _ => None,
                };
                if let Some(action) = action {
                    let lit: LitStr = opt.meta.value()?.parse()?;
                    let (_, origin) = cx.places.literal(&lit);
                    *c.rules.get_mut(action) = Some(Rule { expr: lit.value(), origin });
                    return Ok(());
                }
                match opt.key.as_str() {
                    "name" => drop(opt.meta.value()?.parse::<LitStr>()?),
                    "id" => c.id = opt.meta.value()?.parse::<LitStr>()?.value(),
                    "renamed_from" => c.renamed_from = Some(opt.meta.value()?.parse::<LitStr>()?.value()),
                    "auth" => {
                        if flag(opt.meta)? {
                            auth = Some(opt.span);
                        }
                    }
                    "timestamps" => timestamps = flag(opt.meta)?,
                    "query" => {
                        let lit: LitStr = opt.meta.value()?.parse()?;
                        let (range, origin) = cx.places.literal(&lit);
                        query = Some((range, lit.value(), origin));
                    }
                    "index" | "unique_index" => {
                        let mut index = Index { fields: Vec::new(), unique: opt.key == "unique_index", span: opt.span };
                        opt.meta.parse_nested_meta(|inner| {
                            index.fields.push(inner.path.get_ident().map(Ident::to_string).unwrap_or_default());
                            Ok(())
                        })?;
                        if index.fields.is_empty() {
                            cx.diags.push(Diagnostic::error(opt.span, "an index needs at least one field"));
                        }
                        c.indexes.push(index);
                    }
                    other => {
                        cx.unknown(opt.span, "option", other, COLLECTION_KEYS);
                        skip_value(opt.meta)?;
                    }
                }
                Ok(())
            });
        }
        match (auth, &query) {
            (Some(at), Some(_)) => self.diags.push(
                Diagnostic::error(at, "a collection cannot be both `auth` and a view (`query = …`)")
                    .with_help("remove `auth`, or remove `query`"),
            ),
            (Some(_), None) => c.kind = CollectionKind::Auth,
            (None, Some((_, q, origin))) => {
                c.kind = CollectionKind::View { query: q.clone(), query_origin: origin.clone() }
            }
            (None, None) => {}
        }

        let declared = self.fields(s, &c, names);
        c.fields = system::complete(&c.kind, declared, timestamps);
        Some(c)
    }

    fn fields(&mut self, s: &ItemStruct, c: &Collection, names: &[(Ident, String)]) -> Vec<Field> {
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

fn path_text(path: &syn::Path) -> String {
    path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

/// `key = ["a", "b"]`.
fn strings(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Vec<String>> {
    let list = meta.value()?.parse::<syn::ExprArray>()?;
    list.elems
        .into_iter()
        .map(|item| match item {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Ok(s.value()),
            other => Err(syn::Error::new(other.span(), "expected a string")),
        })
        .collect()
}

/// `key` (true) or `key = true|false`.
fn flag(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) { Ok(meta.value()?.parse::<syn::LitBool>()?.value) } else { Ok(true) }
}

fn int(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<u64> {
    meta.value()?.parse::<syn::LitInt>()?.base10_parse()
}

fn number(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<f64> {
    let value = meta.value()?;
    let negative = value.peek(syn::Token![-]);
    if negative {
        value.parse::<syn::Token![-]>()?;
    }
    let n = match value.parse::<syn::Lit>()? {
        syn::Lit::Int(i) => i.base10_parse::<f64>()?,
        syn::Lit::Float(f) => f.base10_parse::<f64>()?,
        other => return Err(syn::Error::new(other.span(), "expected a number")),
    };
    Ok(if negative { -n } else { n })
}

/// Consumes whatever follows an unknown key, so parsing goes on with the next option.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}
