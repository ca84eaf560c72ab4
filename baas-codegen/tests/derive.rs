//! The derive flow's expansion, through the library function the proc macro calls: snapshots
//! of what a schema module becomes, and the errors it reports instead of panicking.

use baas_codegen::derive::expand_in;
use proc_macro2::TokenStream;
use quote::quote;

fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens.clone()).unwrap_or_else(|e| panic!("invalid expansion ({e}):\n{tokens}"));
    prettyplease::unparse(&file)
}

/// A migrations folder reaching the schema of `module`, written as `baas migrations` would.
fn crate_with_migrations(module: &TokenStream) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baas-derive-{}-{}", std::process::id(), rand_suffix()));
    let file = baas_schema::SourceFile::new("src/lib.rs", format!("#[baas_runtime::schema] {module}"));
    let (checked, diags) = baas_schema::front::derive::load_file(&file);
    let checked = checked.unwrap_or_else(|| panic!("{}", diags.render(&file)));
    let history = baas_codegen::migrations(&checked, None, false, "src/lib.rs").unwrap();
    for (rel, contents) in history.files {
        let path = dir.join("migrations").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn notes() -> TokenStream {
    quote! {
        pub mod notes {
            use baas_runtime::Collection;

            #[derive(Collection)]
            #[collection(auth, view = "id = @request.auth.id")]
            pub struct Member {
                #[field(max = 50)]
                pub name: Option<String>,
            }

            #[derive(Collection)]
            #[collection(list = "owner = @request.auth.id", create = "@request.auth.id != ''")]
            pub struct Note {
                pub text: String,
                pub owner: Relation<Member>,
                pub pinned: bool,
            }
        }
    }
}

#[test]
fn a_schema_module_expands_into_the_backend_module() {
    let module = notes();
    let dir = crate_with_migrations(&module);
    // The folder's name (process id, temp dir) is replaced before formatting, so that its
    // length does not decide where lines wrap.
    let tokens = expand_in(quote! {}, module, Some(&dir)).to_string().replace(&dir.display().to_string(), "$CRATE");
    let expanded = pretty(tokens.parse().expect("the expansion still parses"));
    std::fs::remove_dir_all(&dir).ok();
    assert!(!expanded.contains("compile_error"), "{expanded}");
    insta::assert_snapshot!(expanded);
}

#[test]
fn errors_expand_to_compile_errors_beside_a_backend_without_the_bad_rules() {
    let module = quote! {
        mod notes {
            #[derive(Collection)]
            #[collection(list = "titel != ''")]
            pub struct Note { pub title: String }
        }
    };
    let expanded = pretty(expand_in(quote! {}, module, None));
    assert!(expanded.contains("compile_error!"), "{expanded}");
    assert!(expanded.contains("unknown field 'titel'"), "{expanded}");
    assert!(expanded.contains("did you mean 'title'?"), "{expanded}");
    assert!(expanded.contains("pub fn backend<H: Hooks>"), "the backend is still generated:\n{expanded}");
    assert!(expanded.contains("pub use notes::Note as Note;"), "{expanded}");
}

#[test]
fn a_schema_module_without_migrations_says_which_command_writes_them() {
    let dir = std::env::temp_dir().join(format!("baas-derive-empty-{}", std::process::id()));
    let expanded = pretty(expand_in(quote! {}, notes(), Some(&dir)));
    assert!(expanded.contains("the schema has no migrations yet"), "{expanded}");
    assert!(expanded.contains("baas migrations"), "{expanded}");
}

#[test]
fn a_changed_schema_asks_for_the_next_migration() {
    let dir = crate_with_migrations(&notes());
    let changed = quote! {
        pub mod notes {
            #[derive(Collection)]
            #[collection(auth, view = "id = @request.auth.id")]
            pub struct Member { #[field(max = 50)] pub name: Option<String> }
            #[derive(Collection)]
            #[collection(list = "owner = @request.auth.id", create = "@request.auth.id != ''")]
            pub struct Note { pub text: String, pub owner: Relation<Member>, pub pinned: bool, pub color: Option<String> }
        }
    };
    let expanded = pretty(expand_in(quote! {}, changed, Some(&dir)));
    std::fs::remove_dir_all(&dir).ok();
    assert!(expanded.contains("the schema changed since the last migration"), "{expanded}");
    assert!(expanded.contains("color"), "{expanded}");
}

#[test]
fn garbage_input_is_an_error_not_a_panic() {
    for (args, item) in [
        (quote! {}, quote! { fn not_a_module() {} }),
        (quote! { bogus = 1 }, quote! { mod m {} }),
        (quote! {}, quote! { mod m; }),
        (quote! {}, quote! { mod m { #[derive(Collection)] struct T(u32); } }),
        (quote! {}, quote! { mod m { #[derive(Collection)] #[collection(list = 5)] struct T { a: String } } }),
        (quote! {}, quote! { mod m { #[derive(Collection)] struct T { #[field(values = [1])] a: Select } } }),
        (quote! {}, quote! { mod m { #[derive(Collection)] struct T { a: Relation } } }),
    ] {
        let out = expand_in(args, item, None).to_string();
        assert!(out.contains("compile_error"), "{out}");
    }
}

#[test]
fn auth_options_come_from_the_collection_attribute() {
    let module = quote! {
        pub mod team {
            use baas_runtime::Collection;

            #[derive(Collection)]
            #[collection(auth(
                otp(enabled, length = 6),
                mfa(enabled, duration = 600),
                tokens(auth = 3600, password_reset = 900),
                oauth2(provider(name = "google", client_id = "abc.apps"), provider(name = "corp", client_id = "team", issuer = "https://id.corp.example"))
            ))]
            pub struct Member {
                pub name: Option<String>,
            }
        }
    };
    let file = baas_schema::SourceFile::new("src/lib.rs", format!("#[baas_runtime::schema] {module}"));
    let (checked, diags) = baas_schema::front::derive::load_file(&file);
    let checked = checked.unwrap_or_else(|| panic!("{}", diags.render(&file)));
    let members = checked.schema.collection("members").expect("members");
    assert!(members.is_auth());
    let auth = &members.auth;
    assert_eq!((auth.otp.enabled, auth.otp.length, auth.otp.duration), (true, 6, 180));
    assert_eq!((auth.mfa.enabled, auth.mfa.duration), (true, 600));
    assert_eq!((auth.tokens.auth, auth.tokens.password_reset, auth.tokens.verification), (Some(3600), Some(900), None));
    let names: Vec<&str> = auth.oauth2.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["google", "corp"]);
    assert_eq!(auth.oauth2.providers[1].issuer.as_deref(), Some("https://id.corp.example"));

    for (bad, expected) in [
        (quote! { #[collection(auth(mfa(enabled)))] }, "MFA needs a second sign-in method"),
        (quote! { #[collection(auth(oauth2(provider(name = "corp", client_id = "x"))))] }, "unknown provider 'corp'"),
        (quote! { #[collection(auth(otp(enabeld)))] }, "expected `enabled`, `duration` or `length`"),
    ] {
        let module = quote! {
            pub mod team {
                use baas_runtime::Collection;
                #[derive(Collection)]
                #bad
                pub struct Member {}
            }
        };
        let file = baas_schema::SourceFile::new("src/lib.rs", format!("#[baas_runtime::schema] {module}"));
        let (checked, diags) = baas_schema::front::derive::load_file(&file);
        assert!(checked.is_none());
        let rendered = diags.render(&file);
        assert!(rendered.contains(expected), "{expected}: {rendered}");
    }
}
