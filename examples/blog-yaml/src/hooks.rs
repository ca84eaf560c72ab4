//! Your hooks and routes. Generated once by baas; regeneration never touches this file.
use ::baas_runtime::AppState;
use ::baas_runtime::deps::axum::Router;
use crate::generated::users::UsersHooks;
use crate::generated::posts::PostsHooks;
use crate::generated::comments::CommentsHooks;
/// Implements every collection's hooks; override any default method.
pub struct Hooks;
impl UsersHooks for Hooks {}
impl PostsHooks for Hooks {}
impl CommentsHooks for Hooks {}
/// Routes of your own, served beside the generated API.
pub fn routes() -> Router<AppState> {
    Router::new()
}
