//! Your hooks and routes. Generated once by baas; regeneration never touches this file.

use ::baas_runtime::deps::axum::Router;
use ::baas_runtime::{AppState, CollectionHooks};

use crate::generated::comments::Comment;
use crate::generated::posts::Post;
use crate::generated::users::User;

/// Implements every collection's hooks; override any default method of
/// `CollectionHooks`: `before_create`, `after_create`, `before_update`, `after_update`,
/// `before_delete`, `after_delete`, `on_read`.
pub struct Hooks;

impl CollectionHooks<User> for Hooks {}

impl CollectionHooks<Post> for Hooks {}

impl CollectionHooks<Comment> for Hooks {}

/// Routes of your own, served beside the generated API.
pub fn routes() -> Router<AppState> {
    Router::new()
}
