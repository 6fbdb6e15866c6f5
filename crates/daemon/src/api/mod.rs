//! The Docker Engine API over HTTP: parse requests, call the engine, shape responses. No
//! container logic lives here.

mod containers;
mod events;
mod images;
mod networks;
mod streams;
mod system;
mod unimplemented;

use crate::engine::{Engine, EngineError};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::Arc;

pub const API_VERSION: &str = "1.47";
pub const MIN_API_VERSION: &str = "1.24";

pub type AppState = Arc<Engine>;
pub type Query = axum::extract::Query<HashMap<String, String>>;

/// A Docker-style error: status code and `{"message": ...}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.0 == StatusCode::NOT_MODIFIED {
            return self.0.into_response();
        }
        (self.0, Json(serde_json::json!({ "message": self.1 }))).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            EngineError::NotModified(_) => StatusCode::NOT_MODIFIED,
            EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// dockerd's check on JSON request bodies: a body needs `Content-Type: application/json`
/// (parameters allowed); no body needs nothing.
pub fn check_json_content_type(headers: &axum::http::HeaderMap, body_len: usize) -> ApiResult<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.is_empty() && body_len == 0 {
        return Ok(());
    }
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("Content-Type specified ({ct}) must be 'application/json'"),
        ))
    }
}

/// Docker's boolean query values: `1`, `true`, `True` are true.
pub fn qbool(q: &HashMap<String, String>, key: &str) -> bool {
    matches!(
        q.get(key).map(|s| s.as_str()),
        Some("1") | Some("true") | Some("True") | Some("TRUE")
    )
}

/// dockerd's `httputils.BoolValue` (`all` of the list endpoints): anything but empty, `0`,
/// `no`, `false` or `none` (any case, trimmed) is true.
pub fn form_bool(q: &HashMap<String, String>, key: &str) -> bool {
    let v = q
        .get(key)
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

pub fn router(engine: Arc<Engine>) -> Router {
    let served = Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/events", get(events::events))
        .route("/containers/create", post(containers::create))
        .route("/containers/json", get(containers::list))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/attach", post(containers::attach))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/logs", get(containers::logs))
        .route(
            "/containers/{id}",
            axum::routing::delete(containers::remove),
        )
        .route("/images/create", post(images::pull))
        .route("/images/json", get(images::list))
        .route(
            "/images/{*rest}",
            get(images::get_dispatch)
                .post(images::post_dispatch)
                .delete(images::delete),
        )
        .route("/networks", get(networks::list))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/volumes", get(system::volumes))
        .route(
            "/volumes/{id}",
            get(system::no_such_volume).delete(system::no_such_volume),
        )
        .route("/plugins/{id}/json", get(system::no_such_plugin));
    unimplemented::routes(served)
        .fallback(unimplemented::fallback)
        // dockerd answers a known path with the wrong method as an unknown route.
        .method_not_allowed_fallback(system::not_found)
        .with_state(engine)
}

/// Strip a `/v1.NN` prefix; versions outside what we serve get Docker's 400.
// axum's map_request wants the rejection as a plain Response; this runs once per request.
#[allow(clippy::result_large_err)]
pub fn strip_version(mut req: Request) -> Result<Request, Response> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some((ver, tail)) = rest.split_once('/') {
            if ver.split('.').count() == 2 && ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
                if let Some(msg) = version_error(ver) {
                    return Err(ApiError(StatusCode::BAD_REQUEST, msg).into_response());
                }
                let new = match req.uri().query() {
                    Some(q) => format!("/{tail}?{q}"),
                    None => format!("/{tail}"),
                };
                if let Ok(uri) = new.parse::<Uri>() {
                    *req.uri_mut() = uri;
                }
            }
        }
    }
    Ok(req)
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Docker's message for a client version we do not serve, `None` when we serve it.
fn version_error(v: &str) -> Option<String> {
    let too_old = || {
        format!("client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version")
    };
    let (Some(x), Some(lo), Some(hi)) = (
        parse_version(v),
        parse_version(MIN_API_VERSION),
        parse_version(API_VERSION),
    ) else {
        return Some(too_old());
    };
    if x < lo {
        Some(too_old())
    } else if x > hi {
        Some(format!(
            "client version {v} is too new. Maximum supported API version is {API_VERSION}"
        ))
    } else {
        None
    }
}

/// Headers every response carries, as dockerd's do.
pub fn add_server_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        header::SERVER,
        HeaderValue::from_static("Pouch/0.1.0 (linux)"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_error("1.24"), None);
        assert_eq!(version_error("1.41"), None);
        assert_eq!(version_error("1.47"), None);
        assert!(version_error("1.23").is_some_and(|m| m.contains("1.23 is too old")));
        assert_eq!(
            version_error("1.48").as_deref(),
            Some("client version 1.48 is too new. Maximum supported API version is 1.47")
        );
    }

    #[test]
    fn form_bools_as_dockerd() {
        let q = |v: &str| HashMap::from([("all".to_string(), v.to_string())]);
        for t in ["1", "true", "abc", "yes", " 2 "] {
            assert!(form_bool(&q(t), "all"), "{t}");
        }
        for f in ["", "0", "no", "FALSE", "None", " false "] {
            assert!(!form_bool(&q(f), "all"), "{f}");
        }
        assert!(!form_bool(&HashMap::new(), "all"));
    }

    #[test]
    fn strips_prefix_and_keeps_query() {
        let req = Request::builder()
            .uri("/v1.47/containers/json?all=1")
            .body(axum::body::Body::empty())
            .unwrap();
        let r = strip_version(req).unwrap();
        assert_eq!(r.uri().to_string(), "/containers/json?all=1");
        let req = Request::builder()
            .uri("/v1.99/info")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(strip_version(req).is_err());
        let req = Request::builder()
            .uri("/images/127.0.0.1:5000/a/b:t/json")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            strip_version(req).unwrap().uri().path(),
            "/images/127.0.0.1:5000/a/b:t/json"
        );
    }
}
