//! The build-script flow: the backend is generated into `OUT_DIR` on every build, so no
//! generated Rust is checked in. Only the migration history is: it records what databases
//! have been through, so it is kept beside the schema (`migrations/`) and grows by one file
//! per schema change.
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     baas_codegen::Builder::new().schema("schemas/blog.yaml").compile();
//! }
//! ```
//!
//! and in the crate, `mod generated { baas_runtime::include_generated!(); }`.

use std::fmt;
use std::path::{Path, PathBuf};

use baas_schema::SourceFile;

use crate::{GenerateError, Previous, emit, openapi, schema_json};

/// The file `include_generated!` includes, in `OUT_DIR`.
pub const OUTPUT_FILE: &str = "baas_generated.rs";

/// Generates a backend from a build script. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Builder {
    schema: Option<PathBuf>,
    migrations: Option<PathBuf>,
    allow_destructive: bool,
    out_dir: Option<PathBuf>,
    crate_dir: Option<PathBuf>,
}

/// What a build produced.
#[derive(Clone, Debug)]
pub struct Built {
    /// The generated Rust file.
    pub output: PathBuf,
    /// Migration files written by this build (the schema changed).
    pub written: Vec<PathBuf>,
    /// Warnings about the schema, rendered.
    pub warnings: Vec<String>,
}

/// Why a build failed; its `Display` is what the build prints.
#[derive(Clone, Debug)]
pub enum BuildError {
    /// A setting or environment variable is missing.
    Setup(String),
    /// The schema has errors: every one of them, rendered `file:line:col: error: …`.
    Schema(String),
    /// The schema change loses data, or baas produced SQL it cannot parse back.
    Generate(GenerateError),
    Io(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Setup(e) | BuildError::Io(e) => write!(f, "error: {e}"),
            BuildError::Schema(rendered) => write!(f, "{rendered}"),
            BuildError::Generate(e @ GenerateError::Destructive(_)) => write!(
                f,
                "error: {e}\n  = help: to write the migration anyway, build once with BAAS_ALLOW_DESTRUCTIVE=1 \
                 or call `.allow_destructive(true)` on the Builder"
            ),
            BuildError::Generate(e) => write!(f, "error: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The YAML schema, relative to the crate (`CARGO_MANIFEST_DIR`).
    pub fn schema(mut self, path: impl AsRef<Path>) -> Self {
        self.schema = Some(path.as_ref().to_owned());
        self
    }

    /// The migrations folder, relative to the crate [default: `migrations`].
    pub fn migrations(mut self, dir: impl AsRef<Path>) -> Self {
        self.migrations = Some(dir.as_ref().to_owned());
        self
    }

    /// Writes a migration that loses data (dropped collections or fields) instead of failing.
    /// The environment variable `BAAS_ALLOW_DESTRUCTIVE=1` does the same for one build.
    pub fn allow_destructive(mut self, allow: bool) -> Self {
        self.allow_destructive = allow;
        self
    }

    /// Where the generated file goes [default: `OUT_DIR`].
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The crate the paths are relative to [default: `CARGO_MANIFEST_DIR`].
    pub fn crate_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.crate_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Generates, tells cargo when to run again, and on any error prints every diagnostic
    /// and fails the build.
    pub fn compile(self) {
        for input in self.inputs() {
            println!("cargo:rerun-if-changed={}", input.display());
        }
        println!("cargo:rerun-if-env-changed=BAAS_ALLOW_DESTRUCTIVE");
        match self.try_compile() {
            Ok(built) => {
                for warning in built.warnings.iter().flat_map(|w| w.lines()) {
                    println!("cargo:warning={warning}");
                }
                for path in &built.written {
                    println!("cargo:warning=baas wrote the migration {}", path.display());
                }
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }

    /// The files whose change should re-run the build script.
    pub fn inputs(&self) -> Vec<PathBuf> {
        let Ok(crate_dir) = self.resolved_crate_dir() else { return Vec::new() };
        let mut inputs: Vec<PathBuf> = self.schema.iter().map(|s| crate_dir.join(s)).collect();
        inputs.push(self.migrations_dir(&crate_dir));
        inputs
    }

    /// [`compile`](Self::compile) without printing or exiting.
    pub fn try_compile(&self) -> Result<Built, BuildError> {
        let crate_dir = self.resolved_crate_dir()?;
        let schema_path = self
            .schema
            .as_ref()
            .ok_or_else(|| BuildError::Setup("no schema given: call `.schema(\"schemas/blog.yaml\")`".into()))?;
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| BuildError::Setup("OUT_DIR is not set: run the Builder from build.rs".into()))?,
        };
        let full = crate_dir.join(schema_path);
        let text = std::fs::read_to_string(&full)
            .map_err(|e| BuildError::Setup(format!("cannot read the schema {}: {e}", full.display())))?;
        let file = SourceFile::new(schema_path.display().to_string(), text);
        let (checked, diags) = baas_schema::load_yaml(&file);
        let Some(checked) = checked else { return Err(BuildError::Schema(diags.render(&file))) };
        let warnings: Vec<String> = diags.into_sorted().iter().map(|d| d.render(&file)).collect();

        let migrations_dir = self.migrations_dir(&crate_dir);
        let previous = Previous::read_dir(&migrations_dir).map_err(BuildError::Io)?;
        let allow = self.allow_destructive || std::env::var("BAAS_ALLOW_DESTRUCTIVE").is_ok_and(|v| v == "1");
        let source = schema_path.display().to_string();
        let history = crate::migrations(&checked, previous.as_ref(), allow, &source).map_err(BuildError::Generate)?;
        let written = history
            .write(&migrations_dir)
            .map_err(|e| BuildError::Io(format!("cannot write {}: {e}", migrations_dir.display())))?;

        let json = schema_json(&checked);
        let openapi = openapi::document(&checked, &crate_name());
        let layout = emit::Layout::Inline { schema_json: &json, openapi_json: &openapi, migrations: &migrations_dir };
        let header = format!(
            "// @generated by baas {} from {source} in a build script — do not edit.\n\n",
            env!("CARGO_PKG_VERSION")
        );
        let code = emit::file(&header, emit::generated_mod(&checked, &history.names, &layout));
        let output = out_dir.join(OUTPUT_FILE);
        write_file(&output, &code)?;
        Ok(Built { output, written, warnings })
    }

    fn resolved_crate_dir(&self) -> Result<PathBuf, BuildError> {
        match &self.crate_dir {
            Some(dir) => Ok(dir.clone()),
            None => std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).ok_or_else(|| {
                BuildError::Setup("CARGO_MANIFEST_DIR is not set: run the Builder from build.rs".into())
            }),
        }
    }

    fn migrations_dir(&self, crate_dir: &Path) -> PathBuf {
        crate_dir.join(self.migrations.as_deref().unwrap_or(Path::new("migrations")))
    }
}

fn crate_name() -> String {
    std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "backend".to_owned())
}

/// Writes `contents` unless the file already holds exactly that (so cargo sees no change).
fn write_file(path: &Path, contents: &str) -> Result<(), BuildError> {
    if std::fs::read(path).ok().as_deref() == Some(contents.as_bytes()) {
        return Ok(());
    }
    let io = |e: std::io::Error| BuildError::Io(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, contents).map_err(io)
}
