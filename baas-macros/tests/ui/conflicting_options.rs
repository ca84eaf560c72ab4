#[baas_runtime::schema]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(auth, query = "SELECT id FROM posts")]
    pub struct Member {
        pub name: Option<String>,
    }

    #[derive(Collection)]
    pub struct Post {
        #[field(required)]
        pub title: Option<String>,
        #[field(min = 10, max = 5)]
        pub body: String,
    }
}

fn main() {}
