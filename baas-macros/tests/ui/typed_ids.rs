// Ids are typed by their collection: a post's author is an `Id<User>`, which a table of
// posts does not take. Select values are an enum: a value the schema does not list does not
// compile.
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
        #[field(values = ["draft", "live"])]
        pub labels: Vec<Select>,
    }
}

fn author(tx: &baas_runtime::Tx<'_>, post: &blog::Post) -> baas_runtime::ApiResult<blog::User> {
    tx.of::<blog::User>().get(&post.author)
}

fn wrong(tx: &baas_runtime::Tx<'_>, post: &blog::Post) -> baas_runtime::ApiResult<blog::Post> {
    tx.of::<blog::Post>().get(&post.author)
}

fn labelled(post: &blog::Post) -> bool {
    post.labels.contains(&blog::posts::PostLabel::Live)
}

fn archived(post: &blog::Post) -> bool {
    post.labels.contains(&blog::posts::PostLabel::Archived)
}

fn main() {}
