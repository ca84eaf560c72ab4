//! The `baas` command line: check a schema, generate a backend, run it in development.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use baas::schema::{SourceFile, ir::CollectionKind};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "baas", version, about = "One declarative schema in, one Rust backend out")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a schema: every error and warning with its place, or a one-line summary.
    Check {
        /// The schema: a YAML file, or a Rust file with a `#[schema]` module.
        schema: PathBuf,
        /// How to print diagnostics: for people, or as JSON for editors and tools.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Generate the backend crate for a schema (or, with --check, verify it is up to date).
    Generate {
        #[command(flatten)]
        args: GenerateArgs,
        /// Change nothing; exit 1 when a generated file is missing or stale (for CI).
        #[arg(long)]
        check: bool,
    },
    /// Print a schema in the YAML format: a `#[schema]` module of a Rust file (or a YAML
    /// schema, normalised).
    Export {
        /// The schema: a Rust file with a `#[schema]` module, or a YAML file.
        schema: PathBuf,
    },
    /// Bring a migrations folder up to a schema: write the initial migration, or the next one
    /// when the schema changed since `<dir>/schema.json` (for the derive flow, whose macro
    /// never writes files).
    Migrations {
        /// The schema: a Rust file with a `#[schema]` module, or a YAML file.
        schema: PathBuf,
        /// The migrations folder.
        #[arg(long, default_value = "migrations")]
        dir: PathBuf,
        /// Write a migration even when it loses data (drops a collection or field, …).
        #[arg(long)]
        allow_destructive: bool,
        /// Change nothing; exit 1 when a migration is missing (for CI).
        #[arg(long)]
        check: bool,
    },
    /// Generate, build and run the backend on SQLite, for development.
    Dev {
        /// The schema file (YAML).
        schema: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        http: String,
        /// Database URL.
        #[arg(long, default_value = "sqlite://.baas/dev/data.db")]
        db: String,
        /// Working folder for the generated crate [default: .baas/dev/<name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Build the backend optimised [default: in the profile this command was built with,
        /// so `cargo run -- dev` reuses the dependencies it already compiled].
        #[arg(long, conflicts_with = "debug")]
        release: bool,
        /// Build the backend without optimisations (faster builds, slower server).
        #[arg(long)]
        debug: bool,
    },
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// The schema file (YAML).
    schema: PathBuf,
    /// The crate's folder; created if missing.
    #[arg(long, short)]
    out: PathBuf,
    /// The crate's package name [default: the schema file's stem + "-backend"].
    #[arg(long)]
    name: Option<String>,
    /// Where the generated crate finds baas-runtime: a path (default: this workspace's).
    #[arg(long)]
    runtime_path: Option<PathBuf>,
    /// Depend on this published version of baas-runtime instead of a path.
    #[arg(long, conflicts_with = "runtime_path")]
    runtime_version: Option<String>,
    /// Generate a migration even when it loses data (drops a collection or field, changes a
    /// field's type, adds a required field to existing records).
    #[arg(long)]
    allow_destructive: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { schema, format } => check(&schema, format),
        Command::Generate { args, check } => generate(&args, check),
        Command::Export { schema } => export(&schema),
        Command::Migrations { schema, dir, allow_destructive, check } => {
            migrations(&schema, &dir, allow_destructive, check)
        }
        Command::Dev { schema, http, db, out, release, debug } => {
            let release = if release || debug { release } else { !cfg!(debug_assertions) };
            dev(&schema, &http, &db, out, release)
        }
    }
}

/// Reads a schema file, or explains why it can't.
fn read(path: &Path) -> Result<SourceFile, ExitCode> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(SourceFile::new(path.display().to_string(), text)),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            Err(ExitCode::from(2))
        }
    }
}

fn check(path: &Path, format: Format) -> ExitCode {
    let file = match read(path) {
        Ok(file) => file,
        Err(code) => return code,
    };
    let (checked, diags) = baas::codegen::load_schema(&file);
    let sorted = diags.clone().into_sorted();
    match format {
        Format::Json => {
            let json: Vec<_> = sorted.iter().map(|d| d.to_json(&file)).collect();
            let text = serde_json::to_string_pretty(&json).expect("diagnostics serialize");
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
        Format::Human => {
            for d in &sorted {
                eprintln!("{}", d.render(&file));
            }
        }
    }
    let Some(checked) = checked else {
        if let Format::Human = format {
            let (e, w) = (diags.error_count(), diags.warning_count());
            eprintln!("{}: {e} error{}, {w} warning{}", file.name(), plural(e), plural(w));
        }
        return ExitCode::FAILURE;
    };
    if let Format::Human = format {
        let schema = &checked.schema;
        let fields: usize = schema.collections.iter().map(|c| c.declared_fields().count()).sum();
        let views = schema.collections.iter().filter(|c| matches!(c.kind, CollectionKind::View { .. })).count();
        let rules = checked.rules.len();
        let w = diags.warning_count();
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}: ok — {} collection{} ({} view{}), {} field{}, {} rule{}{}",
            file.name(),
            schema.collections.len(),
            plural(schema.collections.len()),
            views,
            plural(views),
            fields,
            plural(fields),
            rules,
            plural(rules),
            if w > 0 { format!(", {w} warning{}", plural(w)) } else { String::new() }
        );
    }
    ExitCode::SUCCESS
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Loads and checks a schema, printing diagnostics; `None` when it has errors.
fn load(path: &Path) -> Result<(SourceFile, baas::schema::CheckedSchema), ExitCode> {
    let file = read(path)?;
    let (checked, diags) = baas::codegen::load_schema(&file);
    for d in diags.clone().into_sorted() {
        eprintln!("{}", d.render(&file));
    }
    match checked {
        Some(checked) => Ok((file, checked)),
        None => {
            eprintln!("{}: {} error(s); nothing generated", file.name(), diags.error_count());
            Err(ExitCode::FAILURE)
        }
    }
}

fn export(path: &Path) -> ExitCode {
    let (file, checked) = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    print!("{}", baas::codegen::export::yaml(&checked.schema, file.name()));
    ExitCode::SUCCESS
}

fn migrations(path: &Path, dir: &Path, allow_destructive: bool, check_only: bool) -> ExitCode {
    let (file, checked) = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let previous = match baas::codegen::Previous::read_dir(dir) {
        Ok(previous) => previous,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let history = match baas::codegen::migrations(&checked, previous.as_ref(), allow_destructive, file.name()) {
        Ok(history) => history,
        Err(e) => return report_generate_error(&e),
    };
    if history.files.is_empty() {
        println!("{}: up to date with {} ({} migrations)", dir.display(), file.name(), history.names.len());
        return ExitCode::SUCCESS;
    }
    if check_only {
        eprintln!(
            "{}: behind {}; run `baas migrations {} --dir {}`",
            dir.display(),
            file.name(),
            path.display(),
            dir.display()
        );
        for change in &history.changes {
            eprintln!("  - {change}");
        }
        return ExitCode::FAILURE;
    }
    for change in &history.changes {
        println!("  - {change}");
    }
    match history.write(dir) {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", dir.display());
            ExitCode::from(2)
        }
    }
}

fn report_generate_error(e: &baas::codegen::GenerateError) -> ExitCode {
    match e {
        baas::codegen::GenerateError::Destructive(changes) => {
            eprintln!("error: the schema change loses data, so no migration was generated:");
            for change in changes {
                eprintln!("  - {change}");
            }
            eprintln!(
                "  = help: if that is intended, run again with --allow-destructive; \
                 to rename instead, keep the data with `renamed_from: <old name>`"
            );
        }
        e => eprintln!("error: {e}"),
    }
    ExitCode::FAILURE
}

fn options(args: &GenerateArgs, file: &SourceFile) -> baas::codegen::Options {
    let stem = args.schema.file_stem().and_then(|s| s.to_str()).unwrap_or("app").to_owned();
    let runtime = match (&args.runtime_version, &args.runtime_path) {
        (Some(v), _) => format!("version = \"{v}\""),
        // Relative to the crate, so the pair can move together (a checked-in example).
        (None, Some(p)) => format!("path = \"{}\"", relative_to(&absolute(p), &absolute(&args.out)).display()),
        (None, None) => {
            format!("path = \"{}\"", Path::new(env!("CARGO_MANIFEST_DIR")).join("baas-runtime").display())
        }
    };
    baas::codegen::Options {
        name: args.name.clone().unwrap_or_else(|| format!("{stem}-backend")),
        source: file.name().to_owned(),
        runtime,
    }
}

/// `target` as a path relative to the folder `base` (both absolute).
fn relative_to(target: &Path, base: &Path) -> PathBuf {
    let (t, b): (Vec<_>, Vec<_>) = (target.components().collect(), base.components().collect());
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out: PathBuf = b[common..].iter().map(|_| "..").collect();
    out.extend(&t[common..]);
    out
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn generate(args: &GenerateArgs, check_only: bool) -> ExitCode {
    let (file, checked) = match load(&args.schema) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let previous = match baas::codegen::Previous::read(&args.out) {
        Ok(previous) => previous,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let files = match baas::codegen::generate_from(
        &checked,
        &options(args, &file),
        previous.as_ref(),
        args.allow_destructive,
    ) {
        Ok(files) => files,
        Err(e) => return report_generate_error(&e),
    };
    if check_only {
        let stale = baas::codegen::stale(&args.out, &files);
        if stale.is_empty() {
            println!("{}: generated files are up to date", args.out.display());
            return ExitCode::SUCCESS;
        }
        for path in &stale {
            eprintln!("stale: {}", args.out.join(path).display());
        }
        eprintln!(
            "{} generated file(s) differ from {}; run `baas generate {} --out {}`",
            stale.len(),
            file.name(),
            args.schema.display(),
            args.out.display()
        );
        return ExitCode::FAILURE;
    }
    match baas::codegen::write(&args.out, &files) {
        Ok(report) => {
            for path in &report.written {
                println!("wrote {}", args.out.join(path).display());
            }
            println!(
                "{}: {} written, {} unchanged, {} of yours kept",
                args.out.display(),
                report.written.len(),
                report.unchanged.len(),
                report.kept.len()
            );
            for line in baas::codegen::realtime::realtime_report(&checked) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", args.out.display());
            ExitCode::from(2)
        }
    }
}

fn dev(schema: &Path, http: &str, db: &str, out: Option<PathBuf>, release: bool) -> ExitCode {
    let stem = schema.file_stem().and_then(|s| s.to_str()).unwrap_or("app").to_owned();
    let out = out.unwrap_or_else(|| PathBuf::from(".baas/dev").join(&stem));
    let args = GenerateArgs {
        schema: schema.to_path_buf(),
        out: out.clone(),
        name: None,
        runtime_path: None,
        runtime_version: None,
        allow_destructive: false,
    };
    let code = generate(&args, false);
    if code != ExitCode::SUCCESS {
        return code;
    }
    // The backend depends on this checkout's runtime: with this checkout's lock file and
    // target folder, cargo reuses every dependency already compiled for the CLI.
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !out.join("Cargo.lock").exists() {
        let _ = std::fs::copy(checkout.join("Cargo.lock"), out.join("Cargo.lock"));
    }
    let target = dev_target_dir().unwrap_or_else(|| out.join("target"));
    // The S3 client only when the files go to a bucket: it is most of a cold build.
    let s3 = std::env::var("BAAS_STORAGE").is_ok_and(|s| s.starts_with("s3://"));
    let profile = if release { "release" } else { "debug" };
    eprintln!("building {} ({profile}) into {} — cargo shows its progress below", out.display(), target.display());
    let mut build = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.arg("build").arg("--manifest-path").arg(out.join("Cargo.toml")).env("CARGO_TARGET_DIR", &target);
    if release {
        build.arg("--release");
    }
    if !s3 {
        build.arg("--no-default-features");
    }
    match build.status() {
        Ok(s) if s.success() => {}
        Ok(_) => {
            eprintln!("error: the generated crate did not build");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: cannot run cargo: {e}");
            return ExitCode::FAILURE;
        }
    }
    let bin = target.join(profile).join(format!("{stem}-backend"));
    eprintln!("starting {} — stop with Ctrl-C", bin.display());
    match std::process::Command::new(&bin).args(["serve", "--http", http, "--db", db]).status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: cannot start {}: {e}", bin.display());
            ExitCode::FAILURE
        }
    }
}

/// Where `dev` builds: `CARGO_TARGET_DIR`, else the cargo target folder this command runs
/// from (`cargo run` puts it in `<target>/<profile>/baas`), so one build serves both.
fn dev_target_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(absolute(Path::new(&dir)));
    }
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?;
    target.join("CACHEDIR.TAG").exists().then(|| target.to_path_buf())
}
