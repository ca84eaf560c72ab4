//! The `baas` command line: check a schema, generate a backend, run it in development.

use std::io::Write as _;
use std::path::PathBuf;
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
        /// The schema file (YAML).
        schema: PathBuf,
        /// How to print diagnostics: for people, or as JSON for editors and tools.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
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
    }
}

/// Reads a schema file, or explains why it can't.
fn read(path: &PathBuf) -> Result<SourceFile, ExitCode> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(SourceFile::new(path.display().to_string(), text)),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            Err(ExitCode::from(2))
        }
    }
}

fn check(path: &PathBuf, format: Format) -> ExitCode {
    let file = match read(path) {
        Ok(file) => file,
        Err(code) => return code,
    };
    let (checked, diags) = baas::schema::load_yaml(&file);
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
