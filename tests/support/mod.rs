//! End-to-end support: generate a backend from a schema, build it once (one shared target
//! directory for every generated test crate), start the real binary on a free port.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory all generated test crates share (apart from the workspace's own,
/// which the running `cargo test` may hold).
pub fn e2e_target() -> PathBuf {
    root().join("target").join("e2e")
}

/// Generates the crate for `schema` (relative to the workspace root) into `dir`.
pub fn generate(schema: &str, dir: &Path) {
    let file = baas::schema::SourceFile::new(schema, std::fs::read_to_string(root().join(schema)).expect("schema file"));
    let (checked, diags) = baas::schema::load_yaml(&file);
    let checked = checked.unwrap_or_else(|| panic!("{schema} has errors:\n{}", diags.render(&file)));
    let stem = Path::new(schema).file_stem().unwrap().to_str().unwrap();
    let options = baas::codegen::Options {
        name: format!("{stem}-backend"),
        source: schema.to_owned(),
        runtime: format!("{{ path = \"{}\" }}", root().join("baas-runtime").display()),
    };
    baas::codegen::write(dir, &baas::codegen::generate(&checked, &options)).expect("write the generated crate");
}

/// Builds the crate in `dir` and returns its binary.
pub fn build(dir: &Path, bin: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", e2e_target())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "the generated crate in {} did not build", dir.display());
    e2e_target().join("debug").join(bin)
}

/// The blog backend (schemas/blog.yaml), generated and built once per test process.
pub fn blog_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = e2e_target().join("crates").join("blog");
        generate("schemas/blog.yaml", &dir);
        build(&dir, "blog-backend")
    })
}

/// A running backend; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub db: String,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("baas-{tag}-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// Starts `bin` on a fresh SQLite database with one superuser, and waits until it answers.
pub fn start(bin: &Path) -> Server {
    let dir = TempDir::new("db");
    let db = format!("sqlite://{}", dir.0.join("data.db").display());
    let status = Command::new(bin)
        .args(["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD, "--db", &db])
        .stdout(Stdio::null())
        .status()
        .expect("run superuser upsert");
    assert!(status.success(), "superuser upsert failed");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let child = Command::new(bin)
        .args(["serve", "--http", &format!("127.0.0.1:{port}"), "--db", &db])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the backend");
    let server = Server { child, url, db, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the backend did not start listening on {}", server.url);
}
