// A collection whose hooks are not implemented: the error names its record type and the line
// to add. (This crate has no migrations folder, which is reported as well.)
#[baas_runtime::schema]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    pub struct Post {
        pub title: String,
    }
}

struct Hooks;

fn main() {
    let _backend = blog::backend(Hooks);
}
