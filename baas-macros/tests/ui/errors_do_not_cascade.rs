// One bad rule is one error: the module still has its record types, hooks and
// `backend()`, so the code that uses them compiles.
#[baas_runtime::schema]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(list = "titel != ''")]
    pub struct Post {
        pub title: String,
    }
}

struct Hooks;
impl baas_runtime::CollectionHooks<blog::Post> for Hooks {}

fn main() {
    let _backend = blog::backend(Hooks);
    let _post = blog::Post::default();
}
