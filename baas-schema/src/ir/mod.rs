//! The intermediate representation every front end builds and every emitter reads.
//!
//! The IR is plain data: collections in schema order, fields in schema order, system fields
//! made explicit, rules as source text with their place in the file. It serializes to JSON
//! (that is `migrations/schema.json` in a generated crate); source places are not serialized.

use serde::{Deserialize, Serialize};

use crate::source::Span;

mod auth;
mod settings;

pub use auth::*;
pub use settings::*;

/// A whole schema: settings and collections, in the order they were declared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub settings: Settings,
    pub collections: Vec<Collection>,
    /// Which indexes baas derives: recorded in the migration snapshot, so that migrations
    /// written by an older baas, which derived fewer, gain the others in the next migration.
    #[serde(default = "ImpliedIndexes::first")]
    pub implied_indexes: ImpliedIndexes,
}

/// The indexes baas creates without being asked, by the version of baas that chose them (see
/// [`Collection::implied_indexes`](crate::ir::Collection::implied_indexes)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImpliedIndexes {
    /// Single relations, `created` and unique fields: snapshots that do not say.
    Relations,
    /// Those, and the columns a list rule compares.
    #[default]
    ListRules,
}

impl ImpliedIndexes {
    fn first() -> Self {
        ImpliedIndexes::Relations
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    pub name: String,
    /// The wire id (`collectionId`): given in the schema, or `pbc_<crc32 of the name>`.
    pub id: String,
    pub kind: CollectionKind,
    /// System fields first (`id`, auth fields), then the declared ones, then `created`/`updated`.
    pub fields: Vec<Field>,
    pub indexes: Vec<Index>,
    pub rules: Rules,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Sign-in methods beyond the password (auth collections).
    #[serde(default, skip_serializing_if = "AuthOptions::is_default")]
    pub auth: AuthOptions,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CollectionKind {
    Base,
    Auth,
    /// A read-only collection defined by a SQL `SELECT`.
    View {
        query: String,
        /// Where the query text sits in the source file.
        #[serde(skip)]
        query_origin: Origin,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(flatten)]
    pub ty: FieldType,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// Never returned by the API (superusers included), like `password`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    /// Added by baas (`id`, `email`, `tokenKey`, …) rather than declared.
    #[serde(default, skip_serializing_if = "is_false")]
    pub system: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FieldType {
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
    },
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        #[serde(default, skip_serializing_if = "is_false")]
        integer: bool,
    },
    Bool,
    Email,
    Url,
    Date,
    Select {
        values: Vec<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        multiple: bool,
    },
    Relation {
        collection: String,
        #[serde(default, skip_serializing_if = "is_false")]
        multiple: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        cascade_delete: bool,
    },
    Json,
    File {
        /// Bytes; `None` means the runtime default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_size: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mime: Vec<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        multiple: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        protected: bool,
        /// Thumbnail sizes served for images (`100x100`, `0x50`, `40x40f`, …), besides
        /// `100x100`, which is always served.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        thumbs: Vec<String>,
    },
    Autodate {
        on_create: bool,
        on_update: bool,
    },
    Password,
}

impl FieldType {
    /// The name used in schemas and messages (`text`, `relation`, …).
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text { .. } => "text",
            FieldType::Number { .. } => "number",
            FieldType::Bool => "bool",
            FieldType::Email => "email",
            FieldType::Url => "url",
            FieldType::Date => "date",
            FieldType::Select { .. } => "select",
            FieldType::Relation { .. } => "relation",
            FieldType::Json => "json",
            FieldType::File { .. } => "file",
            FieldType::Autodate { .. } => "autodate",
            FieldType::Password => "password",
        }
    }

    /// Whether a value holds several items (stored as a JSON array).
    pub fn is_multiple(&self) -> bool {
        matches!(
            self,
            FieldType::Select { multiple: true, .. }
                | FieldType::Relation { multiple: true, .. }
                | FieldType::File { multiple: true, .. }
        )
    }

    /// The target collection of a relation field.
    pub fn relation_target(&self) -> Option<&str> {
        match self {
            FieldType::Relation { collection, .. } => Some(collection),
            _ => None,
        }
    }
}

/// An index over one or more fields, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    #[serde(skip)]
    pub span: Span,
}

/// The five access rules. `None` means superusers only; an empty rule means everyone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    pub list: Option<Rule>,
    pub view: Option<Rule>,
    pub create: Option<Rule>,
    pub update: Option<Rule>,
    pub delete: Option<Rule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    List,
    View,
    Create,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 5] = [Action::List, Action::View, Action::Create, Action::Update, Action::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::View => "view",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

impl Rules {
    pub fn get(&self, action: Action) -> Option<&Rule> {
        match action {
            Action::List => self.list.as_ref(),
            Action::View => self.view.as_ref(),
            Action::Create => self.create.as_ref(),
            Action::Update => self.update.as_ref(),
            Action::Delete => self.delete.as_ref(),
        }
    }

    pub fn get_mut(&mut self, action: Action) -> &mut Option<Rule> {
        match action {
            Action::List => &mut self.list,
            Action::View => &mut self.view,
            Action::Create => &mut self.create,
            Action::Update => &mut self.update,
            Action::Delete => &mut self.delete,
        }
    }

    /// The rules that are present, with their action.
    pub fn iter(&self) -> impl Iterator<Item = (Action, &Rule)> {
        Action::ALL.into_iter().filter_map(|a| self.get(a).map(|r| (a, r)))
    }
}

/// A rule expression as written, with where it was written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rule {
    pub expr: String,
    #[serde(skip)]
    pub origin: Origin,
}

impl Rule {
    pub fn new(expr: impl Into<String>) -> Self {
        Rule { expr: expr.into(), origin: Origin::default() }
    }

    /// `""`: everyone may.
    pub fn is_public(&self) -> bool {
        self.expr.trim().is_empty()
    }
}

/// Maps byte offsets inside a piece of text taken from a source file (a rule string) back to
/// offsets in that file. Quoted YAML strings shift by their quotes and escapes, so the map is
/// a list of `(text offset, file offset)` anchors: an offset maps through the last anchor at or
/// before it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub anchors: Vec<(usize, usize)>,
}

impl Origin {
    /// Text that appears verbatim in the file starting at `file_offset`.
    pub fn verbatim(file_offset: usize) -> Self {
        Origin { anchors: vec![(0, file_offset)] }
    }

    pub fn map(&self, text_offset: usize) -> usize {
        let i = self.anchors.partition_point(|&(t, _)| t <= text_offset);
        match i.checked_sub(1).map(|i| self.anchors[i]) {
            Some((t, f)) => f + (text_offset - t),
            None => text_offset,
        }
    }

    pub fn map_span(&self, span: Span) -> Span {
        let start = self.map(span.start);
        let end = if span.end > span.start { self.map(span.end - 1) + 1 } else { start };
        Span::new(start, end.max(start))
    }
}

impl Schema {
    pub fn collection(&self, name: &str) -> Option<&Collection> {
        self.collections.iter().find(|c| c.name == name)
    }

    /// The auth collections, `_superusers` included when present.
    pub fn auth_collections(&self) -> impl Iterator<Item = &Collection> {
        self.collections.iter().filter(|c| c.kind == CollectionKind::Auth)
    }
}

impl Collection {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn is_auth(&self) -> bool {
        self.kind == CollectionKind::Auth
    }

    pub fn is_view(&self) -> bool {
        matches!(self.kind, CollectionKind::View { .. })
    }

    /// Fields declared by the schema author (not system fields).
    pub fn declared_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| !f.system)
    }

    /// The default wire id of a collection: `pbc_` and the CRC-32 of its name.
    pub fn default_id(name: &str) -> String {
        format!("pbc_{}", crc32fast::hash(name.as_bytes()))
    }
}

impl Field {
    pub fn new(name: impl Into<String>, ty: FieldType) -> Self {
        Field {
            name: name.into(),
            ty,
            required: false,
            unique: false,
            hidden: false,
            system: false,
            renamed_from: None,
            span: Span::default(),
        }
    }

    pub fn system(mut self) -> Self {
        self.system = true;
        self
    }
}

/// The fields every collection gets, and those auth collections add, in wire order.
pub mod system {
    use super::{Field, FieldType};

    pub const ID: &str = "id";
    pub const CREATED: &str = "created";
    pub const UPDATED: &str = "updated";
    pub const EMAIL: &str = "email";
    pub const EMAIL_VISIBILITY: &str = "emailVisibility";
    pub const VERIFIED: &str = "verified";
    pub const PASSWORD: &str = "password";
    pub const TOKEN_KEY: &str = "tokenKey";
    /// The system auth collection of superusers.
    pub const SUPERUSERS: &str = "_superusers";
    /// PocketBase's fixed id of `_superusers`; the SDK's `isSuperuser` checks it.
    pub const SUPERUSERS_ID: &str = "pbc_3142635823";

    pub fn id() -> Field {
        let mut f =
            Field::new(ID, FieldType::Text { min: Some(15), max: Some(15), pattern: Some("^[a-z0-9]+$".into()) });
        f.required = true;
        f.system()
    }

    pub fn created() -> Field {
        Field::new(CREATED, FieldType::Autodate { on_create: true, on_update: false }).system()
    }

    pub fn updated() -> Field {
        Field::new(UPDATED, FieldType::Autodate { on_create: true, on_update: true }).system()
    }

    /// The built-in auth collection of superusers: no rules (superusers only), no extra fields.
    pub fn superusers() -> super::Collection {
        let mut fields = vec![id()];
        fields.extend(auth_fields());
        fields.extend([created(), updated()]);
        super::Collection {
            name: SUPERUSERS.into(),
            id: SUPERUSERS_ID.into(),
            kind: super::CollectionKind::Auth,
            fields,
            indexes: Vec::new(),
            rules: super::Rules::default(),
            renamed_from: None,
            auth: super::AuthOptions::default(),
            span: crate::source::Span::default(),
        }
    }

    /// The names a collection of this kind may not declare: they are always there.
    pub fn reserved(auth: bool) -> &'static [&'static str] {
        const BASE: &[&str] = &[ID, CREATED, UPDATED];
        const AUTH: &[&str] = &[ID, CREATED, UPDATED, EMAIL, EMAIL_VISIBILITY, VERIFIED, PASSWORD, TOKEN_KEY];
        if auth { AUTH } else { BASE }
    }

    /// A collection's fields in wire order: `id`, the auth fields (auth collections), the
    /// declared ones, then `created`/`updated` when it has `timestamps`. A view's fields are
    /// the declared ones (they only describe its query's columns).
    pub fn complete(kind: &super::CollectionKind, declared: Vec<Field>, timestamps: bool) -> Vec<Field> {
        if matches!(kind, super::CollectionKind::View { .. }) {
            return declared;
        }
        let mut fields = vec![id()];
        if *kind == super::CollectionKind::Auth {
            fields.extend(auth_fields());
        }
        fields.extend(declared);
        if timestamps {
            fields.extend([created(), updated()]);
        }
        fields
    }

    /// `password`, `tokenKey`, `email`, `emailVisibility`, `verified`.
    pub fn auth_fields() -> Vec<Field> {
        let mut password = Field::new(PASSWORD, FieldType::Password);
        password.required = true;
        password.hidden = true;
        let mut token_key = Field::new(TOKEN_KEY, FieldType::Text { min: Some(30), max: Some(60), pattern: None });
        token_key.required = true;
        token_key.hidden = true;
        let mut email = Field::new(EMAIL, FieldType::Email);
        email.required = true;
        email.unique = true;
        vec![
            password.system(),
            token_key.system(),
            email.system(),
            Field::new(EMAIL_VISIBILITY, FieldType::Bool).system(),
            Field::new(VERIFIED, FieldType::Bool).system(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_maps_through_anchors() {
        // text `a\"b` decoded as `a"b`: the quote sits at file offset 11, `b` at 13
        let origin = Origin { anchors: vec![(0, 10), (2, 13)] };
        assert_eq!(origin.map(0), 10);
        assert_eq!(origin.map(1), 11);
        assert_eq!(origin.map(2), 13);
        assert_eq!(origin.map_span(Span::new(0, 3)), Span::new(10, 14));
    }

    #[test]
    fn default_ids_are_stable_and_distinct() {
        assert_eq!(Collection::default_id("posts"), format!("pbc_{}", crc32fast::hash(b"posts")));
        assert_ne!(Collection::default_id("posts"), Collection::default_id("comments"));
    }
}
