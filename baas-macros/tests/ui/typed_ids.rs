// Ids are typed by their collection: a post's author is an `Id<User>`, which a table of
// posts does not take.
#[baas_runtime::schema(migrations = "../../../../baas-macros/tests/ui/migrations/typed_ids")]
mod blog {
    use baas_runtime::Collection;

    #[derive(Collection)]
    #[collection(auth)]
    pub struct User {}

    #[derive(Collection)]
    #[collection(list = "", view = "", create = "", update = "", delete = "")]
    pub struct Post {
        pub title: String,
        pub author: Relation<User>,
    }
}

fn author(tx: &baas_runtime::Tx<'_>, post: &blog::Post) -> baas_runtime::ApiResult<blog::User> {
    tx.of::<blog::User>().get(&post.author)
}

fn wrong(tx: &baas_runtime::Tx<'_>, post: &blog::Post) -> baas_runtime::ApiResult<blog::Post> {
    tx.of::<blog::Post>().get(&post.author)
}

fn main() {}
