//! Diagnostics of the YAML front end and the checker, as the CLI renders them: one small
//! fixture per mistake under `tests/fixtures/`, each rendered and snapshotted, and for the
//! cases that matter most the line, column and covered text checked directly as well.

use std::path::Path;

use baas_schema::diag::Diagnostic;
use baas_schema::{Diagnostics, Severity, SourceFile, load_yaml};

// ---- helpers ----

/// A fixture as a source file, named by a stable relative path.
fn fixture(name: &str) -> SourceFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    SourceFile::new(format!("fixtures/{name}"), text)
}

/// One of the sample schemas of the repository, named like the CLI names it.
fn sample(name: &str) -> SourceFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    SourceFile::new(format!("schemas/{name}"), text)
}

struct Loaded {
    file: SourceFile,
    diags: Diagnostics,
    ok: bool,
}

impl Loaded {
    fn new(file: SourceFile) -> Loaded {
        let (checked, diags) = load_yaml(&file);
        assert_eq!(
            checked.is_some(),
            !diags.has_errors(),
            "a checked schema comes back exactly when there are no errors"
        );
        Loaded { ok: checked.is_some(), file, diags }
    }

    fn rendered(&self) -> String {
        self.diags.render(&self.file)
    }

    fn sorted(&self) -> Vec<Diagnostic> {
        self.diags.clone().into_sorted()
    }

    /// The only diagnostic whose message contains `needle`.
    #[track_caller]
    fn find(&self, needle: &str) -> Diagnostic {
        let found: Vec<_> = self.sorted().into_iter().filter(|d| d.message.contains(needle)).collect();
        match found.as_slice() {
            [d] => d.clone(),
            _ => panic!("expected one diagnostic containing {needle:?}, found {}:\n{}", found.len(), self.rendered()),
        }
    }

    /// The text a diagnostic's span covers.
    #[track_caller]
    fn covered(&self, d: &Diagnostic) -> &str {
        let span = d.span.unwrap_or_else(|| panic!("{:?} has no span", d.message));
        &self.file.text()[span.start..span.end]
    }

    /// `(line, column)` where a diagnostic starts.
    #[track_caller]
    fn at(&self, d: &Diagnostic) -> (usize, usize) {
        let lc = self.file.line_col(d.span.expect("a span").start);
        (lc.line, lc.col)
    }

    /// Asserts a diagnostic's severity, place, covered text and help in one go.
    #[track_caller]
    fn expect(&self, needle: &str, severity: Severity, at: (usize, usize), covered: &str, help: Option<&str>) {
        let d = self.find(needle);
        assert_eq!(d.severity, severity, "severity of {:?}", d.message);
        assert_eq!(self.at(&d), at, "line:col of {:?}", d.message);
        assert_eq!(self.covered(&d), covered, "text under {:?}", d.message);
        if let Some(h) = help {
            assert!(
                d.help.as_deref().is_some_and(|got| got.contains(h)),
                "help of {:?} is {:?}, expected it to contain {h:?}",
                d.message,
                d.help
            );
        }
    }
}

fn load(name: &str) -> Loaded {
    Loaded::new(fixture(name))
}

/// Loads a fixture, snapshots its rendered diagnostics, and returns it for further checks.
macro_rules! snapshot {
    ($name:literal) => {{
        let loaded = load(concat!($name, ".yaml"));
        insta::assert_snapshot!($name, loaded.rendered());
        loaded
    }};
}

// ---- the YAML front end ----

#[test]
fn yaml_syntax_error() {
    let l = snapshot!("yaml_syntax_error");
    assert!(!l.ok);
    assert_eq!((l.diags.error_count(), l.diags.warning_count()), (1, 0));
    let d = l.find("invalid YAML");
    // the unclosed flow mapping of line 4 is noticed where line 5 goes on without a ','
    assert_eq!(l.at(&d).0, 5);
}

#[test]
fn unknown_top_level_key() {
    let l = snapshot!("unknown_top_level_key");
    assert!(!l.ok);
    l.expect("'setings'", Severity::Error, (1, 1), "setings", Some("did you mean 'settings'?"));
    l.expect("'colections'", Severity::Error, (3, 1), "colections", Some("did you mean 'collections'?"));
    l.find("a schema needs a 'collections' mapping");
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn unknown_collection_key() {
    let l = snapshot!("unknown_collection_key");
    assert!(!l.ok);
    l.expect("'feilds'", Severity::Error, (3, 5), "feilds", Some("did you mean 'fields'?"));
    l.expect("'index'", Severity::Error, (7, 5), "index", Some("did you mean 'indexes'?"));
    assert_eq!(l.diags.error_count(), 2);
}

#[test]
fn unknown_field_option() {
    let l = snapshot!("unknown_field_option");
    assert!(!l.ok);
    l.expect("'requird'", Severity::Error, (4, 28), "requird", Some("did you mean 'required'?"));
    l.expect("'maxx'", Severity::Error, (4, 43), "maxx", Some("did you mean 'max'?"));
    // nothing close: the help lists what a number field takes
    l.expect(
        "'values' for a number field",
        Severity::Error,
        (5, 45),
        "values",
        Some("number fields take: type, required"),
    );
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn wrong_value_type() {
    let l = snapshot!("wrong_value_type");
    assert!(!l.ok);
    l.expect("for 'required', found a string", Severity::Error, (4, 38), "\"yes\"", Some("without quotes"));
    l.expect("for 'max', found a list", Severity::Error, (5, 33), "[1, 2]", None);
    l.expect("for 'min', found a string", Severity::Error, (6, 35), "many", None);
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn unknown_field_type() {
    let l = snapshot!("unknown_field_type");
    assert!(!l.ok);
    l.expect("'txt'", Severity::Error, (4, 14), "txt", Some("did you mean 'text'?"));
    l.expect("'integer'", Severity::Error, (5, 22), "integer", Some("expected one of: text, number"));
}

#[test]
fn duplicate_names() {
    let l = snapshot!("duplicate_names");
    assert!(!l.ok);
    l.expect("duplicate field 'title'", Severity::Error, (6, 7), "title", None);
    l.expect("duplicate collection 'posts'", Severity::Error, (9, 3), "posts", None);
    assert_eq!(l.find("duplicate collection").notes, ["'posts' is first defined on line 2"]);
    assert_eq!(l.diags.error_count(), 2);
}

#[test]
fn reserved_system_field() {
    let l = snapshot!("reserved_system_field");
    assert!(!l.ok);
    l.expect("'email' is a system field of auth collections", Severity::Error, (5, 7), "email", None);
    l.expect("'password' is a system field", Severity::Error, (7, 7), "password", None);
    l.expect("'id' is a system field of every collection", Severity::Error, (10, 7), "id", None);
    l.expect("'created' is a system field", Severity::Error, (11, 7), "created", None);
    // `email` is an ordinary name in a base collection
    assert_eq!(l.diags.error_count(), 4);
}

#[test]
fn relation_unknown_collection() {
    let l = snapshot!("relation_unknown_collection");
    assert!(!l.ok);
    l.expect("unknown collection 'user'", Severity::Error, (6, 7), "author", Some("did you mean 'users'?"));
    l.expect("unknown collection 'zzzzzz'", Severity::Error, (7, 7), "editor", Some("collections: users, posts"));
    l.expect("'owner' needs a target 'collection'", Severity::Error, (8, 7), "owner", None);
}

#[test]
fn unknown_index_field() {
    let l = snapshot!("unknown_index_field");
    assert!(!l.ok);
    l.expect("unknown field 'autor'", Severity::Error, (7, 9), "[autor, created]", Some("did you mean 'author'?"));
    l.expect("unknown field 'body'", Severity::Error, (8, 9), "{ fields: [title, body], unique: true }", None);
    assert_eq!(l.diags.error_count(), 2);
}

#[test]
fn select_without_values() {
    let l = snapshot!("select_without_values");
    assert!(!l.ok);
    l.expect("select field 'status' needs 'values'", Severity::Error, (4, 7), "status", Some("values: [a, b, c]"));
    l.expect("at least one value", Severity::Error, (5, 39), "[]", None);
    l.expect("'red' is listed twice", Severity::Error, (6, 39), "[red, green, red]", None);
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn bad_pattern() {
    let l = snapshot!("bad_pattern");
    assert!(!l.ok);
    l.expect("unclosed character class", Severity::Error, (4, 36), "\"^[a-z0-9-+$\"", None);
    l.expect("unclosed group", Severity::Error, (5, 36), "\"(a|b\"", None);
    assert!(l.sorted().iter().all(|d| d.message.starts_with("invalid pattern: ") && !d.message.contains("error:")));
    // `^[A-Z]{3}$` is fine
    assert_eq!(l.diags.error_count(), 2);
}

// ---- rules ----

#[test]
fn rule_misspelled_field() {
    let l = snapshot!("rule_misspelled_field");
    assert!(!l.ok);
    l.expect(
        "unknown field 'autor' in collection 'posts'",
        Severity::Error,
        (14, 34),
        "autor",
        Some("did you mean 'author'?"),
    );
    // through a relation: the name is looked up in the related collection
    l.expect(
        "unknown field 'nme' in collection 'users'",
        Severity::Error,
        (15, 21),
        "nme",
        Some("did you mean 'name'?"),
    );
    l.expect("no auth collection has a field 'nam'", Severity::Error, (16, 30), "nam", Some("did you mean 'name'?"));
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn rule_misspelled_single_quoted() {
    let l = snapshot!("rule_misspelled_single_quoted");
    assert!(!l.ok);
    // `''` (YAML) and `\'` (the expression's own escape) come before the mistake
    l.expect("unknown field 'titel'", Severity::Error, (9, 37), "titel", Some("did you mean 'title'?"));
    l.expect("unknown field 'autor'", Severity::Error, (10, 35), "autor", Some("did you mean 'author'?"));
    assert_eq!(l.diags.error_count(), 2);
}

#[test]
fn rule_misspelled_double_escapes() {
    let l = snapshot!("rule_misspelled_double_escapes");
    assert!(!l.ok);
    // four `\"` and two `\\` escapes come before the mistake
    l.expect("unknown field 'autor'", Severity::Error, (9, 52), "autor", Some("did you mean 'author'?"));
    assert_eq!(l.diags.error_count(), 1);
}

#[test]
fn rule_plain_and_block() {
    let l = snapshot!("rule_plain_and_block");
    assert!(!l.ok);
    l.expect("'autor'", Severity::Error, (7, 28), "autor", Some("did you mean 'author'?"));
    l.expect("'autr'", Severity::Error, (9, 24), "autr", None);
    // a folded scalar: the mistake is on the second line, after the indentation
    l.expect("'athor'", Severity::Error, (12, 12), "athor", Some("did you mean 'author'?"));
}

#[test]
fn rule_path_through_non_relation() {
    let l = snapshot!("rule_path_through_non_relation");
    assert!(!l.ok);
    l.expect("'title' is a text field, not a relation", Severity::Error, (7, 14), "title.length", None);
    l.expect("'views' is a number field, not a relation", Severity::Error, (8, 16), "views.id", None);
}

#[test]
fn rule_unknown_back_relation() {
    let l = snapshot!("rule_unknown_back_relation");
    assert!(!l.ok);
    l.expect(
        "unknown collection 'commments'",
        Severity::Error,
        (7, 16),
        "commments_via_post",
        Some("did you mean 'comments'?"),
    );
    l.expect("no relation field 'text'", Severity::Error, (8, 16), "comments_via_text", None);
    l.expect("no relation field 'autor'", Severity::Error, (9, 16), "comments_via_autor", None);
    // `comments_via_post.text ?= 'x'` on line 6 is fine
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn rule_incompatible_types() {
    let l = snapshot!("rule_incompatible_types");
    assert!(!l.ok);
    l.expect("boolean 'published' with text \"false\"", Severity::Error, (8, 26), "=", Some("without quotes: false"));
    l.expect("text 'title' with number '5'", Severity::Error, (9, 22), "=", Some("quote the value"));
    l.expect("number 'views' with text \"abc\"", Severity::Error, (10, 22), ">", Some("compare numbers with numbers"));
    l.expect("boolean 'published' with number '1'", Severity::Error, (11, 26), "=", Some("true or false"));
    l.expect("'soon' is not a datetime", Severity::Error, (11, 43), "'soon'", None);
    assert_eq!(l.diags.error_count(), 5);
}

#[test]
fn rule_body_in_list() {
    let l = snapshot!("rule_body_in_list");
    assert!(!l.ok);
    l.expect("not available in a list rule", Severity::Error, (6, 14), "@request.body.title", None);
    l.expect("not available in a view rule", Severity::Error, (7, 14), "@request.body.title:isset", None);
    // the create rule may read the body
    assert_eq!(l.diags.error_count(), 2);
}

#[test]
fn rule_changed_in_create() {
    let l = snapshot!("rule_changed_in_create");
    assert!(!l.ok);
    l.expect("only meaningful in update rules", Severity::Error, (6, 35), ":changed", None);
    l.expect(
        "applies to @request.body fields only",
        Severity::Error,
        (8, 21),
        ":changed",
        Some("@request.body.title:changed"),
    );
    // the update rule may use it
    assert_eq!(l.diags.error_count(), 2);
}

#[test]
fn rule_each_on_single() {
    let l = snapshot!("rule_each_on_single");
    assert!(!l.ok);
    let eaches: Vec<_> = l.sorted().into_iter().filter(|d| d.message.starts_with("':each' needs")).collect();
    assert_eq!(eaches.len(), 2);
    assert_eq!((l.at(&eaches[0]), l.covered(&eaches[0])), ((7, 21), ":each"));
    assert_eq!((l.at(&eaches[1]), l.covered(&eaches[1])), ((8, 35), ":each"));
    l.expect("':length' needs", Severity::Error, (9, 21), ":length", None);
    // `tags:each` on a multiple select is what ':each' is for
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn rule_multi_valued_eq() {
    let l = snapshot!("rule_multi_valued_eq");
    assert!(!l.ok);
    l.expect(
        "'tags' stands for several values",
        Severity::Error,
        (7, 16),
        "tags",
        Some("use '?=' to match when any of them matches, or ':each'"),
    );
    // `tags ?= "tech"` (any item) and `tags ~ "tech"` (the JSON text) are fine
    assert_eq!(l.diags.error_count(), 1);
}

#[test]
fn rule_path_through_multiple_eq() {
    let l = snapshot!("rule_path_through_multiple_eq");
    assert!(!l.ok);
    l.expect("'members.name' stands for several values", Severity::Error, (10, 16), "members.name", Some("use '?='"));
    l.expect("'@collection.users.name' stands for several", Severity::Error, (12, 16), "@collection.users.name", None);
    l.expect("'messages_via_room.text' stands for several", Severity::Error, (13, 16), "messages_via_room.text", None);
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn rule_constant() {
    let l = snapshot!("rule_constant");
    assert!(l.ok, "warnings do not fail the check");
    let expected = [
        ("list", "always true", "\"1 = 1\""),
        ("view", "always false", "\"'a' = 'b'\""),
        ("create", "always true", "\"title = title\""),
        ("update", "always true", "\"2 >= 1\""),
        ("delete", "always false", "\"title != title && @request.auth.id != ''\""),
    ];
    let warnings = l.sorted();
    assert_eq!(warnings.len(), expected.len(), "{}", l.rendered());
    for (d, (action, what, rule)) in warnings.iter().zip(expected) {
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!(d.message, format!("this {action} rule is {what}"));
        // the whole rule, without its quotes
        assert_eq!(l.covered(d), rule.trim_matches('"'));
    }
}

#[test]
fn blog_warnings() {
    let l = Loaded::new(sample("blog.yaml"));
    insta::assert_snapshot!("blog_warnings", l.rendered());
    assert!(l.ok);
    assert_eq!((l.diags.error_count(), l.diags.warning_count()), (0, 2));
    // the list rule's `published` needs no index advice: baas indexes it
    assert!(l.sorted().iter().all(|d| !d.message.contains("index")), "{}", l.rendered());
    let owner: Vec<_> =
        l.sorted().into_iter().filter(|d| d.message.contains("hand the record to someone else")).collect();
    assert_eq!(owner.len(), 2, "the update rules of posts and comments");
    for (d, line) in owner.iter().zip([31, 42]) {
        assert_eq!((l.at(d), l.covered(d)), ((line, 16), "author"));
        assert_eq!(
            d.help.as_deref(),
            Some(
                "add `&& (@request.body.author:isset = false || @request.body.author = @request.auth.id)` to keep 'author' fixed"
            )
        );
    }
}

/// The fix the owner-reassign warning suggests silences it, and the samples that apply it
/// load without that warning.
#[test]
fn owner_reassign_fix_silences_the_warning() {
    let blog = sample("blog.yaml");
    let fixed = blog.text().replace(
        "update: \"author = @request.auth.id\"",
        "update: \"author = @request.auth.id && (@request.body.author:isset = false || @request.body.author = @request.auth.id)\"",
    );
    let l = Loaded::new(SourceFile::new("schemas/blog.yaml", fixed));
    assert!(l.ok);
    assert!(l.sorted().iter().all(|d| !d.message.contains("hand the record")), "{}", l.rendered());
    assert_eq!(l.diags.warning_count(), 0, "{}", l.rendered());
}

// ---- views ----

#[test]
fn view_unknown_table() {
    let l = snapshot!("view_unknown_table");
    assert!(!l.ok);
    l.expect(
        "unknown collection 'post' in view query",
        Severity::Error,
        (7, 39),
        "post",
        Some("did you mean 'posts'?"),
    );
    assert_eq!(l.diags.error_count(), 1, "reported once, not once per walk over the query");
}

#[test]
fn view_unknown_column() {
    let l = snapshot!("view_unknown_column");
    assert!(!l.ok);
    l.expect(
        "unknown column 'titel' in collection 'posts'",
        Severity::Error,
        (8, 36),
        "titel",
        Some("did you mean 'title'?"),
    );
    l.expect("unknown column 'veiws' in view", Severity::Error, (8, 43), "veiws", Some("did you mean 'views'?"));
    assert_eq!(l.diags.error_count(), 2);
}

#[test]
fn view_missing_id() {
    let l = snapshot!("view_missing_id");
    assert!(!l.ok);
    l.expect("must select an 'id' column", Severity::Error, (7, 13), "SELECT posts.title FROM posts", None);
    assert_eq!(l.diags.error_count(), 1);
}

#[test]
fn view_computed_without_alias() {
    let l = snapshot!("view_computed_without_alias");
    assert!(!l.ok);
    let d = l.find("every computed column of view 'post_stats' needs a name");
    assert_eq!(l.at(&d), (10, 13));
    assert_eq!(d.help.as_deref(), Some("add `AS name` after the expression"));
    assert_eq!(l.diags.error_count(), 1);
}

#[test]
fn view_write_rule() {
    let l = snapshot!("view_write_rule");
    assert!(!l.ok);
    l.expect(
        "cannot have a create rule",
        Severity::Error,
        (10, 16),
        "title != ''",
        Some("views take only list and view rules"),
    );
    // an empty rule has no characters: the caret sits inside its quotes, not at the top of the file
    let d = l.find("cannot have a delete rule");
    assert_eq!(l.at(&d), (11, 16));
    // views have no indexes, so their list rules get no advice to add one
    assert_eq!((l.diags.error_count(), l.diags.warning_count()), (2, 0));
}

// ---- all at once ----

#[test]
fn many_errors() {
    let l = snapshot!("many_errors");
    assert!(!l.ok);
    assert_eq!((l.diags.error_count(), l.diags.warning_count()), (10, 0));
    let lines: Vec<usize> = l.sorted().iter().map(|d| l.at(d).0).collect();
    assert_eq!(lines, [1, 6, 9, 10, 13, 15, 16, 17, 18, 19], "in source order, one per mistake");
}

/// Every fixture: the rendered text has exactly one header per counted diagnostic, every span
/// lies on character boundaries inside the file, and the samples load cleanly.
#[test]
fn every_fixture_renders_every_diagnostic_once() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/fixtures exists")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "{names:?}");
    for name in names {
        let l = load(&name);
        let rendered = l.rendered();
        let headers = rendered.lines().filter(|line| line.starts_with(&format!("fixtures/{name}:"))).count();
        assert_eq!(headers, l.diags.error_count() + l.diags.warning_count(), "{name}:\n{rendered}");
        for d in l.sorted() {
            let span = d.span.unwrap_or_else(|| panic!("{name}: {:?} has no place", d.message));
            assert!(span.end <= l.file.text().len() && span.start <= span.end, "{name}: {span}");
            assert!(l.file.text().get(span.start..span.end).is_some(), "{name}: {span} splits a character");
        }
    }
}

#[test]
fn rule_strftime() {
    let l = snapshot!("rule_strftime");
    assert!(!l.ok);
    l.expect("format of strftime() must be a quoted string", Severity::Error, (8, 25), "title", None);
    l.expect("does not support '%w'", Severity::Error, (9, 25), "\"%w\"", Some("use %Y %m %d %H %M %S %f %j %%"));
    l.expect("'tags' stands for several values; strftime() takes one", Severity::Error, (10, 31), "tags", None);
    l.expect("strftime takes 2 arguments", Severity::Error, (11, 16), "strftime(\"%Y\")", None);
    l.expect("geoDistance() is not supported", Severity::Error, (11, 43), "geoDistance(1, 2, 3, 4)", None);
    // the list rule is fine
    assert_eq!(l.diags.error_count(), 5);
}

// ---- implied indexes ----

use baas_schema::ir::ImpliedIndexes;

/// The columns a list rule compares in a way an index serves get one; `!=`, `~`, multi-valued
/// and JSON fields, `@collection` paths and the other rules' columns do not.
#[test]
fn list_rule_columns_are_indexed() {
    let file = SourceFile::new(
        "implied.yaml",
        r#"collections:
  users:
    type: auth
  notes:
    fields:
      status: { type: select, values: [draft, live] }
      rank:   { type: number }
      title:  { type: text }
      kind:   { type: text }
      tags:   { type: select, values: [a, b], multiple: true }
      meta:   { type: json }
      owner:  { type: relation, collection: users }
      secret: { type: text }
    indexes:
      - [kind, title]
    rules:
      list: "status = 'live' && rank >= 3 && title != '' && kind = 'x' && tags ~ 'a' && meta = 1 && owner = @request.auth.id || @collection.users.email ?= 'x'"
      view: "secret = 'x'"
"#
        .to_owned(),
    );
    let (checked, diags) = load_yaml(&file);
    let checked = checked.unwrap_or_else(|| panic!("{}", diags.render(&file)));
    let notes = checked.schema.collection("notes").unwrap();
    // `kind` starts a declared index; `owner` is a relation (indexed anyway)
    assert_eq!(notes.implied_indexes(ImpliedIndexes::ListRules), ["status", "rank", "kind", "owner", "created"]);
    // what a baas before list-rule indexes derived (its migration snapshots say nothing)
    assert_eq!(notes.implied_indexes(ImpliedIndexes::Relations), ["owner", "created"]);
}

#[test]
fn rate_limit_rules_are_checked_where_they_are_written() {
    let l = snapshot!("rate_limits");
    assert!(!l.ok);
    let action = l.find("unknown rate-limit action 'signin'");
    assert_eq!(l.at(&action).0, 5);
    let zero = l.find("at least 1");
    assert_eq!(l.at(&zero).0, 6);
    let audience = l.find("unknown audience '@everyone'");
    assert_eq!(l.at(&audience).0, 7);
    assert_eq!(l.diags.error_count(), 3);
}

#[test]
fn auth_options_are_checked_where_they_are_written() {
    let l = snapshot!("auth_options");
    assert!(!l.ok);
    l.expect(
        "'auth' is only allowed on auth collections",
        Severity::Error,
        (3, 11),
        "{ otp: { enabled: true } }",
        Some("add `type: auth`, or remove 'auth'"),
    );
    l.find("MFA needs a second sign-in method");
    l.expect("'length' must be at least 4", Severity::Error, (9, 22), "2", None);
    l.expect("unknown key 'enabeld'", Severity::Error, (9, 25), "enabeld", Some("did you mean 'enabled'?"));
    assert_eq!(l.diags.error_count(), 4);
}

#[test]
fn mail_templates_are_checked_when_the_schema_loads() {
    let l = snapshot!("mail_templates");
    assert!(!l.ok);
    l.find("'verification' must be at least 1 second");
    l.expect(
        "unknown placeholder '{APP_NAM}'",
        Severity::Warning,
        (8, 20),
        "\"Welcome to {APP_NAM}\"",
        Some("placeholders: {APP_NAME}, {APP_URL}, {TOKEN}, {OTP}, {OTP_ID}, {RECORD:field}"),
    );
    l.find("the verification mail's text body has no {TOKEN}");
    l.find("cannot read the template fixtures/no/such/file.html");
    assert_eq!((l.diags.error_count(), l.diags.warning_count()), (2, 2));
}

#[test]
fn identity_fields_are_unique_text_fields() {
    let l = snapshot!("identity_fields");
    assert!(!l.ok);
    l.find("identity field 'nick' is not a unique text field of 'members'");
    assert_eq!(l.diags.error_count(), 1, "email and a unique text field are identity fields:\n{}", l.rendered());
}
