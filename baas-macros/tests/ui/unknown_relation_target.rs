#[baas_runtime::schema]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(auth)]
    pub struct User {}

    #[derive(Collection)]
    pub struct Post {
        pub author: Relation<Usr>,
    }
}

fn main() {}
