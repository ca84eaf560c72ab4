//! Criterion micro-benchmarks of the runtime's per-request hot paths, on the blog schema:
//! a client filter parsed, checked and compiled; a row turned into the record JSON a view
//! answers; an auth token verified.
//!
//! `cargo bench -p baas-runtime --bench hot_paths` (the side-by-side HTTP benchmark against
//! PocketBase is `bench/run`).

use std::hint::black_box;

use baas_runtime::AppState;
use baas_runtime::db::{Db, SqlValue};
use baas_runtime::schema::SourceFile;
use baas_runtime::schema::sql::Dialect;
use baas_runtime::{RequestCx, query, records, token};
use criterion::{Criterion, criterion_group, criterion_main};

const FILTER: &str = "tags ~ 'tech' && views > 10";

/// The blog schema's runtime state over a scratch SQLite file (nothing is queried).
fn blog_state() -> (AppState, tempdir::Dir) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/blog.yaml");
    let text = std::fs::read_to_string(path).expect("schemas/blog.yaml");
    let (checked, diags) = baas_runtime::schema::load_yaml(&SourceFile::new("blog.yaml", text));
    let checked = checked.unwrap_or_else(|| panic!("blog.yaml does not check: {diags:?}"));
    let json = serde_json::to_string(&checked.schema).expect("the IR serialises");
    let schema = AppState::load_schema(&json).expect("the IR loads back");
    let dir = tempdir::Dir::new();
    let db = Db::open(&format!("sqlite://{}/bench.db", dir.0.display())).expect("a scratch database");
    let storage = baas_runtime::storage::Storage::local(&dir.0.join("storage")).expect("a scratch storage folder");
    (
        AppState::new(
            db,
            schema,
            Vec::new(),
            b"bench-secret".to_vec(),
            storage,
            std::sync::Arc::new(baas_runtime::state::NoChanges),
            baas_runtime::state::Services::default(),
        ),
        dir,
    )
}

fn filter(c: &mut Criterion) {
    let (app, _dir) = blog_state();
    let posts = app.collection("posts").expect("posts");
    let mut group = c.benchmark_group("filter");
    group.bench_function("parse", |b| b.iter(|| baas_runtime::schema::expr::parse(black_box(FILTER)).unwrap()));
    group.bench_function("parse+check+compile (user)", |b| {
        b.iter(|| query::compile_filter(&app, &posts, black_box(FILTER), false, Dialect::Sqlite, 3).unwrap())
    });
    group.bench_function("parse+check+compile through a relation (user)", |b| {
        let filter = "author.name ~ 'User 1' && published = true";
        b.iter(|| query::compile_filter(&app, &posts, black_box(filter), false, Dialect::Sqlite, 3).unwrap())
    });
    group.finish();
}

fn record_json(c: &mut Criterion) {
    let (app, _dir) = blog_state();
    let posts = app.collection("posts").expect("posts");
    let body = "lorem ipsum dolor sit amet ".repeat(19);
    let row = || -> Vec<SqlValue> {
        posts
            .ir
            .fields
            .iter()
            .map(|f| match f.name.as_str() {
                "id" => SqlValue::Text("a1b2c3d4e5f6g7h".into()),
                "title" => SqlValue::Text("Post 42: rust sqlite bench".into()),
                "body" => SqlValue::Text(body.clone()),
                "published" => SqlValue::Int(1),
                "author" => SqlValue::Text("u1u2u3u4u5u6u7u".into()),
                "tags" => SqlValue::Text(r#"["news","tech"]"#.into()),
                "views" => SqlValue::Int(517),
                "created" | "updated" => SqlValue::Text("2026-11-25 12:00:00.123Z".into()),
                _ => SqlValue::Text(String::new()),
            })
            .collect()
    };
    let req = RequestCx::system();
    c.bench_function("record: row → presented JSON bytes", |b| {
        b.iter_batched(
            row,
            |row| {
                let record = records::present(&posts, records::row_to_record(&posts, row), &req);
                serde_json::to_vec(&records::shape(record, &req)).unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

fn token_verify(c: &mut Criterion) {
    let key = token::signing_key(b"an-app-secret-of-some-length-0123456789", "a-record-token-key-0123456789");
    let tok = token::issue(&token::auth_claims("u1u2u3u4u5u6u7u", "_pb_users_auth_", 432_000), &key);
    let mut group = c.benchmark_group("token");
    group.bench_function("from_header+peek+verify", |b| {
        b.iter(|| {
            let raw = token::from_header(black_box(&tok)).unwrap();
            let claims = token::peek(raw).unwrap();
            black_box(claims);
            token::verify(raw, &key).unwrap()
        })
    });
    group.bench_function("issue", |b| {
        let claims = token::auth_claims("u1u2u3u4u5u6u7u", "_pb_users_auth_", 432_000);
        b.iter(|| token::issue(black_box(&claims), &key))
    });
    group.finish();
}

/// A scratch directory removed on drop (std only).
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("baas-bench-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).expect("a temp dir");
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

criterion_group!(benches, filter, record_json, token_verify);
criterion_main!(benches);
