//! The blog backend, described with derive macros: the same API as `schemas/blog.yaml`.

use baas_runtime::CollectionHooks;

#[baas_runtime::schema(batch(enabled = true, max_requests = 50))]
pub mod blog {
    use baas_runtime::Collection;

    /// Email/password auth: `email`, `password`, `verified`, `tokenKey`… come with `auth`.
    #[derive(Collection)]
    #[collection(
        auth,
        list = "id = @request.auth.id",
        view = "id = @request.auth.id",
        create = "",
        update = "id = @request.auth.id",
        delete = "id = @request.auth.id"
    )]
    pub struct User {
        #[field(max = 255)]
        pub name: Option<String>,
    }

    #[derive(Collection)]
    #[collection(
        index(author, created),
        list = "published = true || author = @request.auth.id",
        view = "published = true || author = @request.auth.id",
        create = "@request.auth.id != '' && author = @request.auth.id",
        update = "author = @request.auth.id",
        delete = "author = @request.auth.id"
    )]
    pub struct Post {
        #[field(max = 200)]
        pub title: String,
        pub body: Option<String>,
        pub published: bool,
        pub author: Relation<User>,
        #[field(values = ["news", "tech", "life"])]
        pub tags: Vec<Select>,
        pub views: u32,
        #[field(max_size = "1MiB")]
        pub attachment: Option<File>,
    }

    #[derive(Collection)]
    #[collection(
        list = "post.published = true || post.author = @request.auth.id",
        view = "post.published = true || post.author = @request.auth.id",
        create = "@request.auth.id != '' && author = @request.auth.id",
        update = "author = @request.auth.id",
        delete = "author = @request.auth.id"
    )]
    pub struct Comment {
        pub post: Relation<Post>,
        pub author: Relation<User>,
        pub text: String,
    }
}

/// Hooks: every method has a default; override what you need.
struct Hooks;
impl CollectionHooks<blog::User> for Hooks {}
impl CollectionHooks<blog::Post> for Hooks {}
impl CollectionHooks<blog::Comment> for Hooks {}

fn main() -> std::process::ExitCode {
    baas_runtime::run(blog::backend(Hooks))
}
