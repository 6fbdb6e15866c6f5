//! Docker Engine API routes pouchd does not serve yet. They answer 501 with what is missing
//! instead of dockerd's 404 for an unknown path: clients read a 404 on
//! `/containers/{id}/...` as "no such container" (docker-py's NotFound, the Go SDK's
//! IsErrNotFound), which would be a lie about a container that exists. Swarm routes answer
//! as a dockerd that is not in a swarm does.

use super::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, MethodRouter};
use axum::Router;

/// `(route, what it is)`: every method on the route is not implemented.
const ROUTES: &[(&str, &str)] = &[
    ("/containers/{id}/top", "docker top"),
    ("/containers/{id}/changes", "docker diff"),
    ("/containers/{id}/export", "docker export"),
    ("/containers/{id}/stats", "docker stats"),
    ("/containers/{id}/pause", "docker pause"),
    ("/containers/{id}/unpause", "docker unpause"),
    ("/containers/{id}/update", "docker update"),
    ("/containers/{id}/rename", "docker rename"),
    ("/containers/{id}/exec", "docker exec"),
    ("/containers/{id}/archive", "docker cp"),
    ("/containers/{id}/attach/ws", "attach over a websocket"),
    ("/containers/prune", "docker container prune"),
    ("/exec/{id}/start", "docker exec"),
    ("/exec/{id}/resize", "docker exec"),
    ("/exec/{id}/json", "docker exec"),
    ("/commit", "docker commit"),
    ("/build", "docker build"),
    ("/build/prune", "docker builder prune"),
    ("/networks/create", "docker network create"),
    ("/networks/prune", "docker network prune"),
    ("/networks/{id}/connect", "docker network connect"),
    ("/networks/{id}/disconnect", "docker network disconnect"),
    ("/volumes/create", "docker volume create"),
    ("/volumes/prune", "docker volume prune"),
    ("/system/df", "docker system df"),
    ("/auth", "docker login"),
    ("/session", "the build session API"),
    ("/distribution/{*name}", "docker manifest inspect"),
    ("/plugins", "plugin management"),
    ("/plugins/pull", "plugin management"),
    ("/plugins/privileges", "plugin management"),
];

/// Routes of swarm mode: a daemon outside a swarm answers 503 with this text.
const SWARM_ROUTES: &[&str] = &[
    "/swarm",
    "/swarm/{*rest}",
    "/nodes",
    "/nodes/{*rest}",
    "/services",
    "/services/{*rest}",
    "/tasks",
    "/tasks/{*rest}",
    "/secrets",
    "/secrets/{*rest}",
    "/configs",
    "/configs/{*rest}",
];

const NOT_A_SWARM: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

/// The 501 for `what` (a docker command), also answered by handlers that serve part of a
/// route family (`api/images.rs`).
pub fn not_implemented_error(what: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_IMPLEMENTED,
        format!("{what} is not implemented by pouchd yet"),
    )
}

fn not_implemented(what: &'static str) -> MethodRouter<AppState> {
    // Read the request body first: answering before the client has sent it makes the
    // connection close under the client's write (the CLI then reports a broken pipe).
    any(move |_body: Bytes| async move { not_implemented_error(what) })
}

/// Add every not-yet-implemented route to `router`.
pub fn routes(mut router: Router<AppState>) -> Router<AppState> {
    for (path, what) in ROUTES {
        router = router.route(path, not_implemented(what));
    }
    for path in SWARM_ROUTES {
        router = router.route(
            path,
            any(|_body: Bytes| async {
                ApiError(StatusCode::SERVICE_UNAVAILABLE, NOT_A_SWARM.into())
            }),
        );
    }
    router
}

/// Container routes whose name holds a slash (`docker inspect --type container a/b`) do
/// not match `{id}`; dockerd answers them as an unknown container. Anything else is
/// dockerd's unknown-route 404.
pub async fn fallback(req: Request) -> Response {
    const SUFFIXES: &[&str] = &[
        "/json", "/start", "/stop", "/restart", "/kill", "/wait", "/attach", "/resize", "/logs",
    ];
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/containers/") {
        let name = SUFFIXES
            .iter()
            .find_map(|s| rest.strip_suffix(s))
            .unwrap_or(rest);
        if name.contains('/') {
            return ApiError(StatusCode::NOT_FOUND, format!("No such container: {name}"))
                .into_response();
        }
    }
    ApiError(StatusCode::NOT_FOUND, "page not found".into()).into_response()
}
