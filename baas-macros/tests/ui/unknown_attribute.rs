#[baas_runtime::schema]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(lsit = "")]
    pub struct Post {
        #[field(maxx = 200)]
        pub title: String,
    }
}

fn main() {}
