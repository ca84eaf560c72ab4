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
        assert_eq!(checked.is_some(), !diags.has_errors(), "a checked schema comes back exactly when there are no errors");
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
        match help {
            Some(h) => assert!(
                d.help.as_deref().is_some_and(|got| got.contains(h)),
                "help of {:?} is {:?}, expected it to contain {h:?}",
                d.message,
                d.help
            ),
            None => {}
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
}

#[test]
fn unknown_top_level_key() {
    let l = snapshot!("unknown_top_level_key");
    assert!(!l.ok);
}

#[test]
fn unknown_collection_key() {
    let l = snapshot!("unknown_collection_key");
    assert!(!l.ok);
}

#[test]
fn unknown_field_option() {
    let l = snapshot!("unknown_field_option");
    assert!(!l.ok);
}

#[test]
fn wrong_value_type() {
    let l = snapshot!("wrong_value_type");
    assert!(!l.ok);
}

#[test]
fn unknown_field_type() {
    let l = snapshot!("unknown_field_type");
    assert!(!l.ok);
}

#[test]
fn duplicate_names() {
    let l = snapshot!("duplicate_names");
    assert!(!l.ok);
}

#[test]
fn reserved_system_field() {
    let l = snapshot!("reserved_system_field");
    assert!(!l.ok);
}

#[test]
fn relation_unknown_collection() {
    let l = snapshot!("relation_unknown_collection");
    assert!(!l.ok);
}

#[test]
fn unknown_index_field() {
    let l = snapshot!("unknown_index_field");
    assert!(!l.ok);
}

#[test]
fn select_without_values() {
    let l = snapshot!("select_without_values");
    assert!(!l.ok);
}

#[test]
fn bad_pattern() {
    let l = snapshot!("bad_pattern");
    assert!(!l.ok);
}

// ---- rules ----

#[test]
fn rule_misspelled_field() {
    let l = snapshot!("rule_misspelled_field");
    assert!(!l.ok);
}

#[test]
fn rule_misspelled_single_quoted() {
    let l = snapshot!("rule_misspelled_single_quoted");
    assert!(!l.ok);
}

#[test]
fn rule_misspelled_double_escapes() {
    let l = snapshot!("rule_misspelled_double_escapes");
    assert!(!l.ok);
}

#[test]
fn rule_path_through_non_relation() {
    let l = snapshot!("rule_path_through_non_relation");
    assert!(!l.ok);
}

#[test]
fn rule_unknown_back_relation() {
    let l = snapshot!("rule_unknown_back_relation");
    assert!(!l.ok);
}

#[test]
fn rule_incompatible_types() {
    let l = snapshot!("rule_incompatible_types");
    assert!(!l.ok);
}

#[test]
fn rule_body_in_list() {
    let l = snapshot!("rule_body_in_list");
    assert!(!l.ok);
}

#[test]
fn rule_changed_in_create() {
    let l = snapshot!("rule_changed_in_create");
    assert!(!l.ok);
}

#[test]
fn rule_each_on_single() {
    let l = snapshot!("rule_each_on_single");
    assert!(!l.ok);
}

#[test]
fn rule_multi_valued_eq() {
    let l = snapshot!("rule_multi_valued_eq");
    assert!(!l.ok);
}

#[test]
fn rule_path_through_multiple_eq() {
    let l = snapshot!("rule_path_through_multiple_eq");
    assert!(!l.ok);
}

#[test]
fn rule_constant() {
    let l = snapshot!("rule_constant");
    assert!(l.ok);
}

#[test]
fn blog_warnings() {
    let l = Loaded::new(sample("blog.yaml"));
    insta::assert_snapshot!("blog_warnings", l.rendered());
    assert!(l.ok);
}

// ---- views ----

#[test]
fn view_unknown_table() {
    let l = snapshot!("view_unknown_table");
    assert!(!l.ok);
}

#[test]
fn view_unknown_column() {
    let l = snapshot!("view_unknown_column");
    assert!(!l.ok);
}

#[test]
fn view_missing_id() {
    let l = snapshot!("view_missing_id");
    assert!(!l.ok);
}

#[test]
fn view_computed_without_alias() {
    let l = snapshot!("view_computed_without_alias");
    assert!(!l.ok);
}

#[test]
fn view_write_rule() {
    let l = snapshot!("view_write_rule");
    assert!(!l.ok);
}

// ---- all at once ----

#[test]
fn many_errors() {
    let l = snapshot!("many_errors");
    assert!(!l.ok);
}
