//! Your hooks and routes. Generated once by baas; regeneration never touches this file.
//!
//! The blog's custom logic, through the data API only (README, "Custom logic"):
//! - `posts.comment_count` is kept exact by the comment hooks, in the comment's transaction,
//!   cascades included (a user's comments go with the user);
//! - a comment on an unpublished post is refused (`data.post.code`:
//!   `validation_post_not_published`);
//! - `POST /api/posts/{id}/publish` publishes a post as its caller: the posts update rule decides;
//! - `GET /api/stats/posts-per-tag` counts the posts the caller may list, per tag;
//! - the job `purge_unverified` deletes accounts left unverified for a week.

use ::baas_runtime::deps::axum::extract::Path;
use ::baas_runtime::deps::axum::routing::{get, post};
use ::baas_runtime::deps::axum::{Json, Router};
use ::baas_runtime::deps::serde_json::{Value, json};
use ::baas_runtime::deps::time::{Duration, OffsetDateTime};
use ::baas_runtime::deps::tracing;
use ::baas_runtime::{ApiResult, AppState, CollectionHooks, Data, Mail, Tx, mail};

use crate::generated::comments::{Comment, comment};
use crate::generated::posts::{Post, post};
use crate::generated::users::{self, User};

/// Implements every collection's hooks; override any default method of
/// `CollectionHooks`: `on_request`, `before_create`, `after_create`, `after_create_commit`,
/// `before_update`, `after_update`, `after_update_commit`, `before_delete`, `after_delete`,
/// `after_delete_commit`, `on_read`, `computed`.
pub struct Hooks;

impl CollectionHooks<User> for Hooks {
    /// A welcome mail, written to the outbox in the signup's transaction: sent once the signup
    /// committed, never for one that rolled back (a failed batch, say).
    fn after_create(&self, user: &User, tx: &Tx<'_>) -> ApiResult<()> {
        let name = user.name.as_deref().unwrap_or("there");
        tx.send_mail(Mail {
            to: user.email.clone(),
            subject: "Welcome to the blog".into(),
            html: format!("<p>Hello {},</p><p>welcome to the blog.</p>", mail::escape_html(name)),
            text: format!("Hello {name},\n\nwelcome to the blog.\n"),
        })
    }
}

impl CollectionHooks<Post> for Hooks {}

impl CollectionHooks<Comment> for Hooks {
    fn before_create(&self, comment: &mut Comment, tx: &Tx<'_>) -> ApiResult<()> {
        // Read with system access: the commenter may not see a draft, and must not learn
        // more about it than that it is not published.
        let post = tx.system().of::<Post>().find(&comment.post)?;
        if post.is_some_and(|post| !post.published) {
            return Err(comment::post.invalid("validation_post_not_published", "The post is not published."));
        }
        Ok(())
    }

    fn after_create(&self, comment: &Comment, tx: &Tx<'_>) -> ApiResult<()> {
        tx.system().of::<Post>().patch(&comment.post).add(post::comment_count, 1).save()?;
        Ok(())
    }

    fn after_delete(&self, comment: &Comment, tx: &Tx<'_>) -> ApiResult<()> {
        // When the post itself is being deleted there is nothing left to count.
        if tx.system().of::<Post>().find(&comment.post)?.is_some() {
            tx.system().of::<Post>().patch(&comment.post).add(post::comment_count, -1).save()?;
        }
        Ok(())
    }
}

/// Routes of your own, served beside the generated API.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/posts/{id}/publish", post(publish)).route("/api/stats/posts-per-tag", get(posts_per_tag))
}

/// Publishes a post as the caller, a signed-in user: another user's post is not found (404),
/// and without a token the answer is 401.
async fn publish(_: users::Auth, data: Data, Path(id): Path<String>) -> ApiResult<Json<Post>> {
    let post = data.write(move |tx| tx.of::<Post>().patch(&id).set(post::published, true).save()).await?;
    Ok(Json(post))
}

/// `[{"tag": "news", "posts": 2}, …]` over the posts the caller may list.
async fn posts_per_tag(data: Data) -> ApiResult<Json<Value>> {
    let counts = data.read(|tx| tx.of::<Post>().query().count_by(post::tags)).await?;
    Ok(Json(counts.into_iter().map(|(tag, posts)| json!({"tag": tag, "posts": posts})).collect()))
}

/// Deletes the accounts left unverified a week after signing up (cron `0 3 * * *`, or now
/// with `POST /api/crons/purge_unverified` as a superuser), one transaction each, through the
/// data API with system access: their comments go with them (a cascade, whose hooks keep
/// `comment_count` right). An account that still has posts stays (a post's author is
/// required); the refusal is logged.
pub async fn purge_unverified(data: Data) -> ApiResult<()> {
    let cutoff = OffsetDateTime::now_utc() - Duration::days(7);
    let stale = users::filter!("verified = false && created < {:cutoff}", cutoff = cutoff);
    let stale = data.read(move |tx| tx.of::<User>().query().filter(stale).all()).await?;
    for user in stale {
        let id = user.id.clone();
        if let Err(e) = data.write(move |tx| tx.of::<User>().delete(&id)).await {
            tracing::warn!(user = %user.id, "not purged: {e}");
        }
    }
    Ok(())
}
