//! OpenAPI documents (`/openapi/v2`, `/openapi/v3`).

use super::errors::{ApiError, ApiResult};
use super::http::{Body, Query};
use super::store::Store;
use hyper::Response;

pub fn serve(_store: &Store, _rest: &[&str], _q: &Query) -> ApiResult<Response<Body>> {
    Err(ApiError::no_route())
}
