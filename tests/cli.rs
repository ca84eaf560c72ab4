//! The `baas` binary, run as a user runs it: `baas check` on the sample schemas and on broken
//! copies of them, both output formats, exit codes, and `--help`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn baas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baas"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the baas binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("UTF-8 stderr")
}

/// A file in a directory of its own under the system temp directory (tests run in parallel).
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("baas-cli-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp directory");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("the temp file is written");
        TempFile { path }
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn blog_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/blog.yaml")).expect("schemas/blog.yaml")
}

/// blog.yaml with `author` misspelled `autor` in the posts list rule (line 28).
fn misspelled_blog() -> String {
    let text = blog_text();
    let line = "      list:   \"published = true || author = @request.auth.id\"";
    assert_eq!(text.lines().nth(27), Some(line), "line 28 of blog.yaml is the posts list rule");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[27] = line.replace("|| author", "|| autor");
    lines.join("\n") + "\n"
}

#[test]
fn check_of_the_blog_succeeds_with_a_summary() {
    let out = baas(&["check", "schemas/blog.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = stdout(&out);
    assert_eq!(stdout.lines().count(), 1, "one summary line: {stdout:?}");
    assert!(stdout.starts_with("schemas/blog.yaml: ok"), "{stdout:?}");
    assert!(stdout.contains("3 collections"), "{stdout:?}");
    assert!(stdout.contains("15 rules"), "{stdout:?}");
    // the warnings go to stderr, in the compiler format
    let stderr = stderr(&out);
    assert!(
        stderr.contains("schemas/blog.yaml:31:16: warning: this update rule checks only the current 'author'"),
        "{stderr}"
    );
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn every_sample_checks() {
    for name in ["todo.yaml", "chat.yaml"] {
        let path = format!("schemas/{name}");
        let out = baas(&["check", &path]);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", stderr(&out));
        assert!(stdout(&out).starts_with(&format!("{path}: ok")), "{}", stdout(&out));
    }
    let out = baas(&["check", "schemas/chat.yaml"]);
    assert!(stdout(&out).contains("(1 view)"), "{}", stdout(&out));
}

#[test]
fn a_misspelled_field_fails_with_its_place_and_a_suggestion() {
    let file = TempFile::new("blog.yaml", &misspelled_blog());
    let out = baas(&["check", file.arg()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "", "nothing on stdout when the check fails");
    let stderr = stderr(&out);
    let header = format!("{}:28:36: error: unknown field 'autor' in collection 'posts'", file.arg());
    assert!(stderr.contains(&header), "{stderr}");
    assert!(stderr.contains(":28:36: error: unknown field 'autor'"), "{stderr}");
    assert!(stderr.contains("did you mean 'author'?"), "{stderr}");
    // the source line, and a caret under exactly the five letters
    assert!(stderr.contains("28 |       list:   \"published = true || autor = @request.auth.id\""), "{stderr}");
    assert!(stderr.contains(&format!("   | {}^^^^^\n", " ".repeat(35))), "{stderr}");
    // the last line counts what was found
    assert!(stderr.trim_end().ends_with(&format!("{}: 1 error, 2 warnings", file.arg())), "{stderr}");
}

#[test]
fn json_format_gives_positions() {
    let file = TempFile::new("blog.yaml", &misspelled_blog());
    let out = baas(&["check", file.arg(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    let items = json.as_array().expect("an array of diagnostics");
    assert_eq!(items.len(), 3, "{json:#}");
    let first_error = items.iter().find(|d| d["severity"] == "error").expect("an error");
    assert_eq!(first_error["file"], file.arg());
    assert_eq!(first_error["message"], "unknown field 'autor' in collection 'posts'");
    assert_eq!(first_error["line"], 28);
    assert_eq!(first_error["column"], 36);
    assert_eq!(first_error["end_line"], 28);
    assert_eq!(first_error["end_column"], 41);
    assert_eq!(first_error["help"], "did you mean 'author'?");
    assert_eq!(items.iter().filter(|d| d["severity"] == "warning").count(), 2);
    // in source order
    let lines: Vec<u64> = items.iter().map(|d| d["line"].as_u64().expect("a line")).collect();
    assert_eq!(lines, [28, 31, 42]);
}

#[test]
fn json_format_of_a_clean_schema() {
    let out = baas(&["check", "schemas/todo.yaml", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    assert_eq!(json, serde_json::json!([]));
}

#[test]
fn a_yaml_syntax_error_fails() {
    let file = TempFile::new("broken.yaml", "collections:\n  posts:\n    fields: { title: text\n");
    let out = baas(&["check", file.arg()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr(&out);
    assert!(stderr.contains("error: invalid YAML"), "{stderr}");
    assert!(stderr.contains("1 error, 0 warnings"), "{stderr}");
}

#[test]
fn a_missing_file_exits_2() {
    let out = baas(&["check", "schemas/does-not-exist.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let stderr = stderr(&out);
    assert!(stderr.contains("cannot read schemas/does-not-exist.yaml"), "{stderr}");
}

#[test]
fn help() {
    let out = baas(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("Usage: baas"), "{text}");
    assert!(text.contains("check"), "{text}");

    let out = baas(&["check", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("Usage: baas check"), "{text}");
    assert!(text.contains("--format"), "{text}");
    assert!(text.contains("human") && text.contains("json"), "{text}");
}

#[test]
fn bad_usage_exits_2() {
    let out = baas(&["check"]);
    assert_eq!(out.status.code(), Some(2), "a missing argument is a usage error");
    let out = baas(&["check", "schemas/blog.yaml", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("xml"), "{}", stderr(&out));
}

// --- the derive flow from the CLI: check, export and migrations read `#[schema]` modules ----

fn derive_blog_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/blog-derive/src/main.rs"))
        .expect("the derive example")
}

#[test]
fn check_reads_a_schema_module_and_points_into_its_rule_strings() {
    let out = baas(&["check", "examples/blog-derive/src/main.rs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("ok — 3 collections"), "{}", stdout(&out));

    let broken =
        TempFile::new("main.rs", &derive_blog_text().replacen("published = true ||", "publisehd = true ||", 1));
    let out = baas(&["check", broken.arg()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    // Line and column of the misspelled name inside the string literal, as for YAML.
    let line = derive_blog_text().lines().position(|l| l.contains("list = \"published = true ||")).unwrap() + 1;
    let col = derive_blog_text().lines().nth(line - 1).unwrap().find("published").unwrap() + 1;
    assert!(err.contains(&format!("main.rs:{line}:{col}: error: unknown field 'publisehd'")), "{err}");
    assert!(err.contains("did you mean 'published'?"), "{err}");
}

#[test]
fn export_prints_yaml_that_checks() {
    let out = baas(&["export", "examples/blog-derive/src/main.rs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = stdout(&out);
    assert!(yaml.contains("  posts:\n"), "{yaml}");
    let file = TempFile::new("exported.yaml", &yaml);
    let out = baas(&["check", file.arg()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn migrations_writes_the_history_then_reports_it_current() {
    let schema = TempFile::new("main.rs", &derive_blog_text());
    let dir = schema.path.parent().unwrap().join("migrations");
    let dir = dir.to_str().unwrap();
    let out = baas(&["migrations", schema.arg(), "--dir", dir, "--check"]);
    assert_eq!(out.status.code(), Some(1), "a missing history fails --check");
    let out = baas(&["migrations", schema.arg(), "--dir", dir]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(Path::new(dir).join("sqlite/0001_init.sql").is_file());
    let out = baas(&["migrations", schema.arg(), "--dir", dir, "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    std::fs::write(
        &schema.path,
        derive_blog_text().replace("pub text: String,", "pub text: String,\n        pub mood: Option<String>,"),
    )
    .unwrap();
    let out = baas(&["migrations", schema.arg(), "--dir", dir]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("0002_"), "{}", stdout(&out));
    assert!(std::fs::read_dir(Path::new(dir).join("postgres")).unwrap().count() == 2);
}
