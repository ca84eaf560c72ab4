//! The blog backend, described with derive macros: the same API as `schemas/blog.yaml`.

use baas_runtime::deps::axum::extract::Path;
use baas_runtime::deps::axum::routing::{get, post};
use baas_runtime::deps::axum::{Json, Router};
use baas_runtime::deps::serde_json::{Value, json};
use baas_runtime::deps::time::{Duration, OffsetDateTime};
use baas_runtime::deps::tracing;
use baas_runtime::{ApiResult, Auth, CollectionHooks, Data, Mail, Tx, mail};

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
        /// Kept by the comment hooks below.
        pub comment_count: u32,
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
        #[field(cascade_delete)]
        pub author: Relation<User>,
        pub text: String,
    }
}

/// The blog's custom logic, as examples/blog-yaml/src/hooks.rs has it (README, "Custom
/// logic"): `comment_count` kept by the comment hooks, no comments on drafts, a publish route
/// and per-tag statistics, through the data API only.
struct Hooks;

impl CollectionHooks<blog::User> for Hooks {
    /// A welcome mail, written to the outbox in the signup's transaction: sent once the signup
    /// committed, never for one that rolled back (a failed batch, say).
    fn after_create(&self, user: &blog::User, tx: &Tx<'_>) -> ApiResult<()> {
        let name = user.name.as_deref().unwrap_or("there");
        tx.send_mail(Mail {
            to: user.email.clone(),
            subject: "Welcome to the blog".into(),
            html: format!("<p>Hello {},</p><p>welcome to the blog.</p>", mail::escape_html(name)),
            text: format!("Hello {name},\n\nwelcome to the blog.\n"),
        })
    }
}

impl CollectionHooks<blog::Post> for Hooks {}

impl CollectionHooks<blog::Comment> for Hooks {
    fn before_create(&self, comment: &mut blog::Comment, tx: &Tx<'_>) -> ApiResult<()> {
        // system access: the commenter may not see a draft
        let post = tx.system().of::<blog::Post>().find(&comment.post)?;
        if post.is_some_and(|post| !post.published) {
            return Err(blog::comment::post.invalid("validation_post_not_published", "The post is not published."));
        }
        Ok(())
    }

    fn after_create(&self, comment: &blog::Comment, tx: &Tx<'_>) -> ApiResult<()> {
        tx.system().of::<blog::Post>().patch(&comment.post).add(blog::post::comment_count, 1).save()?;
        Ok(())
    }

    fn after_delete(&self, comment: &blog::Comment, tx: &Tx<'_>) -> ApiResult<()> {
        // when the post itself is being deleted there is nothing left to count
        if tx.system().of::<blog::Post>().find(&comment.post)?.is_some() {
            tx.system().of::<blog::Post>().patch(&comment.post).add(blog::post::comment_count, -1).save()?;
        }
        Ok(())
    }
}

/// Publishes a post as the caller: the posts update rule decides.
async fn publish(_: Auth<blog::User>, data: Data, Path(id): Path<String>) -> ApiResult<Json<blog::Post>> {
    Ok(Json(data.write(move |tx| tx.of::<blog::Post>().patch(&id).set(blog::post::published, true).save()).await?))
}

/// `[{"tag": "news", "posts": 2}, …]` over the posts the caller may list.
async fn posts_per_tag(data: Data) -> ApiResult<Json<Value>> {
    let counts = data.read(|tx| tx.of::<blog::Post>().query().count_by(blog::post::tags)).await?;
    Ok(Json(counts.into_iter().map(|(tag, posts)| json!({"tag": tag, "posts": posts})).collect()))
}

/// Deletes the accounts left unverified a week after signing up (cron `0 3 * * *`, or now
/// with `POST /api/crons/purge_unverified` as a superuser), one transaction each, through the
/// data API with system access: their comments go with them (a cascade, whose hooks keep
/// `comment_count` right). An account that still has posts stays (a post's author is
/// required); the refusal is logged.
async fn purge_unverified(data: Data) -> ApiResult<()> {
    let cutoff = OffsetDateTime::now_utc() - Duration::days(7);
    let stale = blog::users::filter!("verified = false && created < {:cutoff}", cutoff = cutoff);
    let stale = data.read(move |tx| tx.of::<blog::User>().query().filter(stale).all()).await?;
    for user in stale {
        let id = user.id.clone();
        if let Err(e) = data.write(move |tx| tx.of::<blog::User>().delete(&id)).await {
            tracing::warn!(user = %user.id, "not purged: {e}");
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let routes = Router::new()
        .route("/api/posts/{id}/publish", post(publish))
        .route("/api/stats/posts-per-tag", get(posts_per_tag));
    baas_runtime::run(blog::backend(Hooks).routes(routes).cron("purge_unverified", "0 3 * * *", purge_unverified))
}
