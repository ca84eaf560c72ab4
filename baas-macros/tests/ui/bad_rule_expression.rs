#[baas_runtime::schema]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(auth)]
    pub struct User {}

    #[derive(Collection)]
    #[collection(
        list = "published = true || autor = @request.auth.id",
        view = "published = = true"
    )]
    pub struct Post {
        pub published: bool,
        pub author: Relation<User>,
    }
}

fn main() {}
