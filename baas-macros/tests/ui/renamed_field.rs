// A field renamed in the schema (`title` → `headline`) breaks every use of the old name at
// `cargo check`, with rustc's suggestion; a value of the wrong type for a field does not
// compile either. (The migrations are written, so that nothing else is reported: the path is
// relative to the crate trybuild makes in target/tests/trybuild.)
#[baas_runtime::schema(migrations = "../../../../baas-macros/tests/ui/migrations/renamed_field")]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(list = "", view = "", create = "", update = "", delete = "")]
    pub struct Post {
        pub headline: String,
        pub views: u32,
    }
}

fn rename(tx: &baas_runtime::Tx<'_>, id: &str) -> baas_runtime::ApiResult<blog::Post> {
    tx.of::<blog::Post>().patch(id).set(blog::post::title, "Hello").save()
}

fn count(tx: &baas_runtime::Tx<'_>, id: &str) -> baas_runtime::ApiResult<blog::Post> {
    tx.of::<blog::Post>().patch(id).set(blog::post::views, "many").save()
}

fn main() {}
