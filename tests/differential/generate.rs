//! Random filters and sorts over the blog schema: every operator, `&&`/`||` and groups,
//! string/number/bool/null/date literals, own fields, forward and back relations, multi-valued
//! fields, `:lower`/`:length`/`:each`, `@request.*`, `@collection.*`, datetime macros and
//! `strftime()`. Mostly well-typed, with some cross-type comparisons and misplaced modifiers
//! (both servers must then agree on the status).

use crate::data::{Data, TAGS};
use crate::rng::Rng;

/// The datetime macros, in the order the generator picks from.
const DATE_MACROS: [&str; 9] = [
    "@now",
    "@yesterday",
    "@tomorrow",
    "@todayStart",
    "@todayEnd",
    "@monthStart",
    "@monthEnd",
    "@yearStart",
    "@yearEnd",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Text,
    Number,
    Bool,
    Date,
    /// A relation to the named collection (its values are ids).
    Rel(&'static str),
    Select,
    File,
}

struct Field {
    name: &'static str,
    ty: Ty,
    multi: bool,
}

const fn f(name: &'static str, ty: Ty) -> Field {
    Field { name, ty, multi: false }
}

const USERS: &[Field] = &[
    f("id", Ty::Text),
    f("email", Ty::Text),
    f("name", Ty::Text),
    f("verified", Ty::Bool),
    f("emailVisibility", Ty::Bool),
    f("created", Ty::Date),
    f("updated", Ty::Date),
];
const POSTS: &[Field] = &[
    f("id", Ty::Text),
    f("title", Ty::Text),
    f("body", Ty::Text),
    f("published", Ty::Bool),
    f("author", Ty::Rel("users")),
    Field { name: "tags", ty: Ty::Select, multi: true },
    f("views", Ty::Number),
    f("attachment", Ty::File),
    f("created", Ty::Date),
    f("updated", Ty::Date),
];
const COMMENTS: &[Field] = &[
    f("id", Ty::Text),
    f("post", Ty::Rel("posts")),
    f("author", Ty::Rel("users")),
    f("text", Ty::Text),
    f("created", Ty::Date),
    f("updated", Ty::Date),
];

fn fields(collection: &str) -> &'static [Field] {
    match collection {
        "users" => USERS,
        "posts" => POSTS,
        _ => COMMENTS,
    }
}

/// Back-relations into `collection`: (path segment, the collection it lists).
fn back_relations(collection: &str) -> &'static [(&'static str, &'static str)] {
    match collection {
        "users" => &[("posts_via_author", "posts"), ("comments_via_author", "comments")],
        "posts" => &[("comments_via_post", "comments")],
        _ => &[],
    }
}

/// Sort keys per collection (a `-` may be put in front of each).
fn sort_keys(collection: &str) -> &'static [&'static str] {
    match collection {
        "users" => &[
            "name",
            "email",
            "verified",
            "emailVisibility",
            "id",
            "created",
            "name:lower",
            "posts_via_author.views",
            "@random",
        ],
        "posts" => &[
            "title",
            "body",
            "published",
            "views",
            "author",
            "tags",
            "id",
            "created",
            "updated",
            "attachment",
            "author.name",
            "author.email",
            "author.verified",
            "title:lower",
            "author.name:lower",
            "comments_via_post.text",
            "@random",
        ],
        _ => &[
            "text",
            "post",
            "author",
            "id",
            "created",
            "post.title",
            "post.views",
            "post.published",
            "post.author.name",
            "author.name",
            "text:lower",
            "@random",
        ],
    }
}

/// The literal types a comparison may use against a field of another type.
const CROSS: [Ty; 6] = [Ty::Text, Ty::Number, Ty::Bool, Ty::Date, Ty::Rel("users"), Ty::Select];

pub const OPERATORS: [&str; 16] =
    ["=", "!=", ">", ">=", "<", "<=", "~", "!~", "?=", "?!=", "?>", "?>=", "?<", "?<=", "?~", "?!~"];

/// A filter expression, kept as a tree so that a differing filter can be shrunk.
#[derive(Clone, Debug)]
pub enum Expr {
    Atom(String),
    Group(Box<Expr>),
    /// `items[0] joins[0] items[1] …` as written (no precedence applied here).
    Chain(Vec<Expr>, Vec<&'static str>),
}

impl Expr {
    pub fn render(&self) -> String {
        match self {
            Expr::Atom(s) => s.clone(),
            Expr::Group(e) => format!("({})", e.render()),
            Expr::Chain(items, joins) => {
                let mut out = items[0].render();
                for (join, item) in joins.iter().zip(&items[1..]) {
                    out.push_str(&format!(" {join} {}", item.render()));
                }
                out
            }
        }
    }

    /// Smaller filters to try when this one differs: each operand alone, then the chain
    /// without one operand.
    pub fn smaller(&self) -> Vec<Expr> {
        match self {
            Expr::Atom(_) => vec![],
            Expr::Group(e) => vec![(**e).clone()],
            Expr::Chain(items, joins) => {
                let mut out: Vec<Expr> = items.clone();
                if items.len() > 2 {
                    for i in 0..items.len() {
                        let mut items = items.clone();
                        let mut joins = joins.clone();
                        items.remove(i);
                        joins.remove(i.saturating_sub(1).min(joins.len() - 1));
                        out.push(Expr::Chain(items, joins));
                    }
                }
                out
            }
        }
    }
}

/// One generated list request.
pub struct Query {
    pub collection: &'static str,
    pub filter: Option<Expr>,
    pub sort: String,
}

/// Whether the order of a list sorted by `sort` is fully determined by the data both servers
/// share: a unique key (`id`, users' `email`) comes before `@random`, the timestamps (which
/// differ between the servers), a back-relation (several values per record: which one sorts
/// is up to the engine) and the end of the list.
pub fn ordered(sort: &str) -> bool {
    for key in sort.split(',').map(|k| k.trim().trim_start_matches(['-', '+'])) {
        match key {
            "@random" | "created" | "updated" => return false,
            _ if key.contains("_via_") => return false,
            "id" | "email" => return true,
            _ => {}
        }
    }
    false
}

pub struct Generator<'a> {
    pub rng: Rng,
    pub data: &'a Data,
}

struct Path {
    text: String,
    ty: Ty,
    many: bool,
}

impl Generator<'_> {
    pub fn query(&mut self) -> Query {
        let collection = match self.rng.below(20) {
            0..=10 => "posts",
            11..=16 => "comments",
            _ => "users",
        };
        let filter = if self.rng.chance(0.92) { Some(self.chain(collection, 0)) } else { None };
        let sort = self.sort(collection);
        Query { collection, filter, sort }
    }

    fn chain(&mut self, collection: &'static str, depth: usize) -> Expr {
        let n = match self.rng.below(20) {
            0..=10 => 1,
            11..=16 => 2,
            _ => 3,
        };
        let mut items = Vec::new();
        let mut joins = Vec::new();
        for i in 0..n {
            if i > 0 {
                joins.push(if self.rng.chance(0.5) { "&&" } else { "||" });
            }
            items.push(if depth < 1 && n > 1 && self.rng.chance(0.2) {
                Expr::Group(Box::new(self.chain(collection, depth + 1)))
            } else {
                self.atom(collection)
            });
        }
        if n == 1 { items.pop().unwrap() } else { Expr::Chain(items, joins) }
    }

    fn atom(&mut self, collection: &'static str) -> Expr {
        match self.rng.below(100) {
            // (`@request.*` and `@collection.*` are for superusers only: the other two callers
            // get a 403 from both servers, so they come less often)
            0..=79 => Expr::Atom(self.comparison(collection)),
            80..=84 => Expr::Atom(self.request_atom(collection)),
            85..=91 => self.collection_atom(collection),
            92..=96 => Expr::Atom(self.macro_atom(collection)),
            _ => Expr::Atom(self.strftime_atom(collection)),
        }
    }

    fn op(&mut self, ty: Ty, many: bool) -> &'static str {
        // Any-of operators more often where several values stand behind the operand.
        if many && self.rng.chance(0.6) {
            return OPERATORS[8 + self.rng.below(8)];
        }
        if matches!(ty, Ty::Text | Ty::Select | Ty::File) && self.rng.chance(0.3) {
            return *self.rng.pick(&["~", "!~", "?~", "?!~"]);
        }
        *self.rng.pick(&OPERATORS)
    }

    /// `path op value`, `value op path` or `path op path`.
    fn comparison(&mut self, collection: &'static str) -> String {
        let left = self.path(collection, 2);
        let op = self.op(left.ty, left.many);
        // The timestamps differ between the servers: a date is compared with literals and
        // macros only, never with another field or with a text that could match its digits.
        let date = left.ty == Ty::Date;
        let right = match self.rng.below(100) {
            0..=79 => self.literal(left.ty, op),
            80..=89 => {
                let types: &[Ty] = if date { &[Ty::Number, Ty::Bool, Ty::Rel("users"), Ty::Select] } else { &CROSS };
                let ty = *self.rng.pick(types);
                self.literal(ty, op)
            }
            _ => match self.path(collection, 1) {
                path if !date && path.ty != Ty::Date => path.text,
                _ => self.literal(left.ty, op),
            },
        };
        if self.rng.chance(0.08) {
            format!("{right} {op} {}", left.text)
        } else {
            format!("{} {op} {right}", left.text)
        }
    }

    /// A field path from `collection`: an own field, through forward relations, through
    /// back-relations, or a bare relation; sometimes with a modifier.
    fn path(&mut self, collection: &'static str, depth: usize) -> Path {
        let mut path = self.walk(collection, depth, String::new(), false);
        match path.ty {
            Ty::Text | Ty::File | Ty::Select if !path.many && self.rng.chance(0.15) => {
                path.text.push_str(":lower");
            }
            _ if path.many && self.rng.chance(0.3) => {
                if self.rng.chance(0.5) {
                    path.text.push_str(":length");
                    path.ty = Ty::Number;
                } else {
                    path.text.push_str(":each");
                }
                path.many = false;
            }
            _ if self.rng.chance(0.03) => {
                // a modifier where it does not belong
                path.text.push_str(*self.rng.pick(&[":lower", ":length", ":each", ":isset"]));
            }
            _ => {}
        }
        path
    }

    fn walk(&mut self, collection: &'static str, depth: usize, prefix: String, many: bool) -> Path {
        let own = fields(collection);
        let back = back_relations(collection);
        let roll = self.rng.below(100);
        if roll >= 80 && depth > 0 && !back.is_empty() {
            let (segment, from) = *self.rng.pick(back);
            if self.rng.chance(0.2) {
                return Path { text: format!("{prefix}{segment}"), ty: Ty::Rel(from), many: true };
            }
            return self.walk(from, depth - 1, format!("{prefix}{segment}."), true);
        }
        let relations: Vec<&Field> = own.iter().filter(|f| matches!(f.ty, Ty::Rel(_))).collect();
        if roll >= 50 && !relations.is_empty() {
            let field = *self.rng.pick(&relations);
            let Ty::Rel(target) = field.ty else { unreachable!() };
            if depth == 0 || self.rng.chance(0.3) {
                return Path { text: format!("{prefix}{}", field.name), ty: field.ty, many };
            }
            return self.walk(target, depth - 1, format!("{prefix}{}.", field.name), many);
        }
        let field = self.rng.pick(own);
        Path { text: format!("{prefix}{}", field.name), ty: field.ty, many: many || field.multi }
    }

    fn literal(&mut self, ty: Ty, op: &str) -> String {
        if self.rng.chance(0.08) {
            return "null".into();
        }
        let like = op.contains('~');
        let data = self.data;
        match ty {
            Ty::Text => {
                let s: String = match self.rng.below(10) {
                    0 => self.rng.pick(&data.users).name.into(),
                    1 => self.rng.pick(&data.posts).title.clone(),
                    2 if like => {
                        let title = &self.rng.pick(&data.posts).title;
                        let chars: Vec<char> = title.chars().collect();
                        let start = self.rng.below(chars.len());
                        let len = 1 + self.rng.below(3.min(chars.len() - start));
                        chars[start..start + len].iter().collect()
                    }
                    2 => self.rng.pick(&data.comments).text.clone(),
                    3 => self.rng.pick(&data.users).email.clone(),
                    4 => self.rng.pick(&data.posts).id.clone(),
                    _ => (*self.rng.pick(&[
                        "",
                        "%",
                        "_",
                        "a_b",
                        "50%",
                        "%li%",
                        "A%",
                        "%o",
                        "e",
                        "o",
                        "null",
                        "true",
                        "0",
                        "rust",
                        "RUST",
                        "hello world",
                        "ünïcode",
                        "example",
                        "alice",
                        "2026",
                    ]))
                    .into(),
                };
                quote(&s)
            }
            Ty::Number => (*self.rng.pick(&[
                "0", "1", "5", "10", "42", "100", "500", "999", "1000", "-1", "2.5", "\"42\"", "\"0\"", "\"\"", "true",
            ]))
            .into(),
            Ty::Bool => {
                (*self.rng.pick(&["true", "false", "true", "false", "1", "0", "\"true\"", "\"false\"", "\"\""])).into()
            }
            Ty::Date => {
                let dates = [
                    &[
                        "\"2026\"",
                        "\"2027\"",
                        "\"2000\"",
                        "\"2026-12\"",
                        "\"2000-01-01\"",
                        "\"2000-01-01 00:00:00\"",
                        "\"2100-01-01 00:00:00.000Z\"",
                        "\"2100-01-01T00:00:00Z\"",
                        "\"\"",
                    ][..],
                    &DATE_MACROS,
                    &["2026", "0"],
                ]
                .concat();
                (*self.rng.pick(&dates)).into()
            }
            Ty::Rel(target) => match self.rng.below(10) {
                0..=5 => quote(&match target {
                    "users" => self.rng.pick(&data.users).id.clone(),
                    "posts" => self.rng.pick(&data.posts).id.clone(),
                    _ => self.rng.pick(&data.comments).id.clone(),
                }),
                6 => "\"\"".into(),
                7 => "\"zzzzzzzzzzzzzzz\"".into(),
                _ => "@request.auth.id".into(),
            },
            Ty::Select => {
                let tag = if self.rng.chance(0.7) {
                    *self.rng.pick(&TAGS)
                } else {
                    *self.rng.pick(&["", "other", "Tech", "e"])
                };
                quote(tag)
            }
            Ty::File => (*self.rng.pick(&["\"\"", "\"x\"", "\"png\""])).into(),
        }
    }

    fn request_atom(&mut self, collection: &'static str) -> String {
        let own: &[&str] = match collection {
            "posts" => &[
                "author = @request.auth.id",
                "@request.auth.id = author",
                "author.name = @request.auth.name",
                "comments_via_post.author ?= @request.auth.id",
                "author != @request.auth.id",
            ],
            "comments" => &[
                "author = @request.auth.id",
                "post.author = @request.auth.id",
                "post.author.name = @request.auth.name",
            ],
            _ => &[
                "id = @request.auth.id",
                "name = @request.auth.name",
                "email = @request.auth.email",
                "posts_via_author.author ?= @request.auth.id",
            ],
        };
        if self.rng.chance(0.5) {
            return (*self.rng.pick(own)).into();
        }
        (*self.rng.pick(&[
            "@request.auth.id != \"\"",
            "@request.auth.id = \"\"",
            "@request.auth.id = null",
            "@request.auth.name = \"Alice\"",
            "@request.auth.name ~ \"li\"",
            "@request.auth.verified = true",
            "@request.auth.email ~ \"example\"",
            "@request.auth.collectionName = \"users\"",
            "@request.auth.collectionName = \"_superusers\"",
            "@request.method = \"GET\"",
            "@request.context = \"default\"",
            "@request.query.perPage = \"500\"",
            "@request.headers.x_missing = \"\"",
        ]))
        .into()
    }

    /// `@collection.<name>[:alias]` conditions: a link to the current record plus conditions on
    /// the same reference (PocketBase joins one row per reference name).
    fn collection_atom(&mut self, collection: &'static str) -> Expr {
        let links: &[(&str, &str, &str)] = match collection {
            "posts" => &[
                ("comments", "post", "id"),
                ("comments", "author", "author"),
                ("users", "id", "author"),
                ("posts", "author", "author"),
            ],
            "comments" => &[("posts", "id", "post"), ("users", "id", "author"), ("comments", "post", "post")],
            _ => &[("posts", "author", "id"), ("comments", "author", "id")],
        };
        let &(other, field, local) = self.rng.pick(links);
        let other: &'static str = match other {
            "users" => "users",
            "posts" => "posts",
            _ => "comments",
        };
        let prefix =
            if self.rng.chance(0.4) { format!("@collection.{other}:x") } else { format!("@collection.{other}") };
        let mut items = Vec::new();
        let mut joins = Vec::new();
        if self.rng.chance(0.8) {
            let op = if self.rng.chance(0.5) { "=" } else { "?=" };
            items.push(Expr::Atom(format!("{prefix}.{field} {op} {local}")));
        }
        for _ in 0..1 + self.rng.below(2) {
            let path = self.walk(other, 1, format!("{prefix}."), true);
            let op = self.op(path.ty, true);
            let value = self.literal(path.ty, op);
            if !items.is_empty() {
                joins.push("&&");
            }
            items.push(Expr::Atom(format!("{} {op} {value}", path.text)));
        }
        if items.len() == 1 { items.pop().unwrap() } else { Expr::Chain(items, joins) }
    }

    /// Datetime macros: against the timestamps (all records were created moments ago) and
    /// the numeric macros against bounds that hold whenever the test runs.
    fn macro_atom(&mut self, collection: &'static str) -> String {
        let field = if collection == "posts" && self.rng.chance(0.3) { "author.created" } else { "created" };
        match self.rng.below(3) {
            0 => {
                let m = self.rng.pick(&DATE_MACROS);
                let op = self.rng.pick(&["<", "<=", ">", ">=", "=", "!="]);
                format!("{field} {op} {m}")
            }
            1 => (*self.rng.pick(&[
                "@year >= 2026",
                "@year = 1999",
                "@month <= 12",
                "@month > 12",
                "@day >= 1",
                "@weekday < 7",
                "@hour >= 0",
                "@minute < 60",
                "@second >= 0",
                "@now > \"2000-01-01\"",
                "@now < \"2000\"",
                "@todayStart <= @now",
            ]))
            .into(),
            _ => {
                let m = self.rng.pick(&["@year", "@month", "@day", "@weekday"]);
                format!(
                    "{} {} {m}",
                    if collection == "posts" { "views" } else { "0" },
                    self.rng.pick(&[">", "<", "=", "!="])
                )
            }
        }
    }

    fn strftime_atom(&mut self, collection: &'static str) -> String {
        let field = match collection {
            "posts" if self.rng.chance(0.3) => "author.created",
            "comments" if self.rng.chance(0.3) => "post.created",
            _ => "created",
        };
        let format = self.rng.pick(&["'%Y'", "'%Y-%m'", "'%Y-%m-%d'", "'%j'", "'%H'"]);
        let (op, value) = *self.rng.pick(&[
            ("=", "\"2026\""),
            (">", "\"2000\""),
            ("<", "\"2000\""),
            ("!=", "\"\""),
            ("=", "\"\""),
            ("~", "\"20\""),
        ]);
        format!("strftime({format}, {field}) {op} {value}")
    }

    fn sort(&mut self, collection: &'static str) -> String {
        if self.rng.chance(0.15) {
            return String::new();
        }
        let keys = sort_keys(collection);
        let mut out: Vec<String> = Vec::new();
        for _ in 0..1 + self.rng.below(2) {
            let key = *self.rng.pick(keys);
            let desc = key != "@random" && self.rng.chance(0.5);
            out.push(format!("{}{key}", if desc { "-" } else { "" }));
        }
        if self.rng.chance(0.8) {
            out.push(if self.rng.chance(0.5) { "id" } else { "-id" }.into());
        }
        out.join(",")
    }
}

/// A string literal: double quotes unless the text holds one.
fn quote(s: &str) -> String {
    if s.contains('"') { format!("'{s}'") } else { format!("\"{s}\"") }
}
