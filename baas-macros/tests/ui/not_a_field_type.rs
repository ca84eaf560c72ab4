#[baas_runtime::schema]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    pub struct Post {
        pub tags: Vec<String>,
        pub score: Decimal,
    }
}

fn main() {}
