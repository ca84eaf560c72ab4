use baas_runtime::Collection;

#[derive(Collection)]
pub struct Post {
    pub title: String,
}

fn main() {}
