//! A collection's HTTP handlers and routes.
//!
//! The five handlers stay generated rather than built by a runtime helper from the name: they
//! are the typed CRUD entry points of the collection, which a user can call, wrap or route
//! differently in `src/hooks.rs` (`generated::posts::list`), and each is one line of glue
//! over `baas_runtime::records`.

use baas_schema::ir::Collection;
use proc_macro2::TokenStream;
use quote::quote;

/// `list`, `view`, `create`, `update`, `delete` and `routes()` (by name and by id). The module
/// imports the axum extractors and `records`.
pub fn routes(c: &Collection) -> TokenStream {
    let (name, id) = (&c.name, &c.id);
    let (list_path, one_path) =
        (format!("/api/collections/{name}/records"), format!("/api/collections/{name}/records/{{id}}"));
    let (list_path_id, one_path_id) =
        (format!("/api/collections/{id}/records"), format!("/api/collections/{id}/records/{{id}}"));
    let list_doc = format!(" `GET {list_path}`: list and search.");
    let view_doc = format!(" `GET {one_path}`: one record.");
    let create_doc = format!(" `POST {list_path}`: create.");
    let update_doc = format!(" `PATCH {one_path}`: update.");
    let delete_doc = format!(" `DELETE {one_path}`: delete.");
    quote! {
        /// The collection as the running backend holds it.
        fn collection(app: &AppState) -> ApiResult<Arc<Coll>> {
            app.collection(ID).ok_or_else(ApiError::not_found)
        }

        #[doc = #list_doc]
        pub async fn list(State(app): State<AppState>, req: RequestCx) -> ApiResult<Json<Value>> {
            records::list(&app, collection(&app)?, Arc::new(req)).await.map(Json)
        }

        #[doc = #view_doc]
        pub async fn view(State(app): State<AppState>, Path(id): Path<String>, req: RequestCx) -> ApiResult<Json<Value>> {
            records::view(&app, collection(&app)?, id, Arc::new(req)).await.map(Json)
        }

        #[doc = #create_doc]
        pub async fn create(State(app): State<AppState>, req: RequestCx) -> ApiResult<Json<Value>> {
            records::create(&app, collection(&app)?, Arc::new(req)).await.map(Json)
        }

        #[doc = #update_doc]
        pub async fn update(State(app): State<AppState>, Path(id): Path<String>, req: RequestCx) -> ApiResult<Json<Value>> {
            records::update(&app, collection(&app)?, id, Arc::new(req)).await.map(Json)
        }

        #[doc = #delete_doc]
        pub async fn delete(State(app): State<AppState>, Path(id): Path<String>, req: RequestCx) -> ApiResult<StatusCode> {
            records::delete(&app, collection(&app)?, id, Arc::new(req)).await.map(|()| StatusCode::NO_CONTENT)
        }

        /// The collection's routes, by name and by id.
        pub fn routes() -> Router<AppState> {
            Router::new()
                .route(#list_path, get(list).post(create))
                .route(#one_path, get(view).patch(update).delete(delete))
                .route(#list_path_id, get(list).post(create))
                .route(#one_path_id, get(view).patch(update).delete(delete))
        }
    }
}
