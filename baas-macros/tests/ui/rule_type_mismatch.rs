#[baas_runtime::schema]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(list = "views > 'ten'")]
    pub struct Post {
        pub views: u32,
    }
}

fn main() {}
