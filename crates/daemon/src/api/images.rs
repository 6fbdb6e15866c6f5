//! `/images/...` endpoints. Image names contain `/` and `:`, so everything after `/images/`
//! is parsed here rather than by the router.

// Image routes in the Docker API that pouchd does not serve yet: 501, never a 404 that
// reads as "no such image".
use super::streams::channel_body;
use super::unimplemented::not_implemented_error as not_implemented;
use super::{qbool, ApiError, ApiResult, AppState, Query};
use crate::engine::images::DeleteItem;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};

/// Go's zero time (`0001-01-01T00:00:00Z`) in Unix seconds: what dockerd sends for an image
/// without a creation time, which the CLI shows as "N/A".
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

fn created_unix(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .unwrap_or(GO_ZERO_TIME_UNIX)
}

/// `POST /images/create?fromImage=REPO&tag=TAG`: Docker's JSON progress stream. An error
/// before any progress is an ordinary error response; later ones go into the stream.
pub async fn pull(State(engine): State<AppState>, q: Query) -> ApiResult<Response> {
    let from = q.get("fromImage").cloned().unwrap_or_default();
    if from.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "fromImage is required (import is not supported)".into(),
        ));
    }
    if let Some(p) = q.get("platform").filter(|p| !p.is_empty()) {
        let p = crate::engine::merge::Platform::parse(p)
            .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
        // Pulls pick linux/amd64, what this host runs; another platform would be pulled
        // silently wrong.
        if (p.os.as_str(), p.arch.as_str()) != ("linux", "amd64") {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "pulling for platform {}/{} is not supported by pouchd yet (linux/amd64 only)",
                    p.os, p.arch
                ),
            ));
        }
    }
    let tag = q.get("tag").cloned().unwrap_or_default();
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
    let job = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.pull_image(&from, &tag, ptx).await })
    };
    let first = prx.recv().await;
    let Some(first) = first else {
        // Channel closed without progress: the pull finished (almost certainly failed).
        return match job.await {
            Ok(Ok(_)) => Ok(([(header::CONTENT_TYPE, "application/json")], "").into_response()),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        };
    };
    let (tx, body) = channel_body();
    tokio::spawn(async move {
        let line = |p: &pouch_image::Progress| {
            Bytes::from(format!(
                "{}\r\n",
                serde_json::to_string(p).unwrap_or_default()
            ))
        };
        let mut gone = tx.send(line(&first)).is_err();
        while !gone {
            match prx.recv().await {
                Some(p) => gone = tx.send(line(&p)).is_err(),
                None => break,
            }
        }
        // The client went away: dropping the receiver tells the pull to stop.
        drop(prx);
        let result = match job.await {
            Ok(r) => r.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Err(msg) if gone => tracing::info!(error = %msg, "pull stopped: its client went away"),
            Err(msg) => {
                let _ = tx.send(line(&pouch_image::Progress::error(msg)));
            }
            Ok(()) => {}
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub async fn list(State(engine): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    let filters = super::containers::filters_param(&q)?;
    let out: Vec<Value> = engine
        .list_images(&filters)?
        .into_iter()
        .map(|row| {
            let img = &row.image;
            json!({
                "Id": img.id,
                "ParentId": "",
                "RepoTags": row.repo_tags,
                "RepoDigests": row.repo_digests,
                "Created": created_unix(&img.created),
                "Size": img.size,
                "SharedSize": -1,
                "VirtualSize": img.size,
                "Labels": img.run_config().get("Labels").cloned().unwrap_or(Value::Null),
                "Containers": -1
            })
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// Keys of Docker's `container.Config` that dockerd always shows: strings, then booleans,
/// then what is `null` when unset.
const CONFIG_STRINGS: [&str; 5] = ["Hostname", "Domainname", "User", "Image", "WorkingDir"];
const CONFIG_BOOLS: [&str; 6] = [
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Tty",
    "OpenStdin",
    "StdinOnce",
];
const CONFIG_NULLABLE: [&str; 6] = ["Env", "Cmd", "Volumes", "Entrypoint", "OnBuild", "Labels"];

/// Keys of `container.Config` that dockerd shows only when set (`omitempty`).
const CONFIG_OPTIONAL: [&str; 8] = [
    "ExposedPorts",
    "Healthcheck",
    "ArgsEscaped",
    "NetworkDisabled",
    "MacAddress",
    "StopSignal",
    "StopTimeout",
    "Shell",
];

/// An image config's `config` (or `container_config`) as dockerd shows it: decoded into
/// `container.Config`, so every always-shown key is there (zero value if missing) and
/// keys the struct does not have are dropped.
pub(crate) fn docker_config(c: Option<&Value>) -> Value {
    let mut out = serde_json::Map::new();
    let zeros = CONFIG_STRINGS
        .iter()
        .map(|k| (k, json!("")))
        .chain(CONFIG_BOOLS.iter().map(|k| (k, json!(false))))
        .chain(CONFIG_NULLABLE.iter().map(|k| (k, Value::Null)));
    for (k, zero) in zeros {
        let v = c.and_then(|c| c.get(*k)).filter(|v| !v.is_null());
        out.insert(k.to_string(), v.cloned().unwrap_or(zero));
    }
    for k in CONFIG_OPTIONAL {
        if let Some(v) = c.and_then(|c| c.get(k)).filter(|v| !v.is_null()) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// `Comment`: the config's, else the last history entry's (dockerd's `LookupImage`).
fn image_comment(c: &Value) -> Value {
    let own = c.get("comment").and_then(Value::as_str).unwrap_or("");
    if !own.is_empty() {
        return json!(own);
    }
    let last = c
        .get("history")
        .and_then(Value::as_array)
        .and_then(|h| h.last())
        .and_then(|h| h.get("comment"))
        .and_then(Value::as_str)
        .unwrap_or("");
    json!(last)
}

/// overlay2's `GraphDriver.Data` for an image, as dockerd shows it: the top layer is the
/// "upper" (its `diff`, and the `merged`/`work` beside it), the layers below, top first,
/// the `LowerDir` (absent for a one-layer image).
pub(crate) fn graph_driver_data(layer_dirs: &[std::path::PathBuf]) -> Value {
    let mut data = serde_json::Map::new();
    let Some((top, lower)) = layer_dirs.split_last() else {
        return Value::Object(data);
    };
    if !lower.is_empty() {
        let lower: Vec<String> = lower
            .iter()
            .rev()
            .map(|p| p.display().to_string())
            .collect();
        data.insert("LowerDir".into(), json!(lower.join(":")));
    }
    let base = top.parent().unwrap_or(top);
    data.insert(
        "MergedDir".into(),
        json!(base.join("merged").display().to_string()),
    );
    data.insert("UpperDir".into(), json!(top.display().to_string()));
    data.insert(
        "WorkDir".into(),
        json!(base.join("work").display().to_string()),
    );
    Value::Object(data)
}

fn inspect_json(engine: &crate::engine::Engine, img: &crate::model::Image) -> Value {
    let c = &img.config;
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let digests = engine.image_digests(&img.id);
    let mut v = json!({
        "Id": img.id,
        "RepoTags": engine.image_tags(&img.id),
        "RepoDigests": digests,
        "Parent": "",
        "Comment": image_comment(c),
        "Created": img.created,
        "Container": s("container"),
        "ContainerConfig": docker_config(c.get("container_config")),
        "DockerVersion": s("docker_version"),
        "Author": s("author"),
        "Config": match c.get("config") {
            Some(cfg) if !cfg.is_null() => docker_config(Some(cfg)),
            _ => Value::Null,
        },
        "Architecture": c.get("architecture").cloned().unwrap_or(json!("amd64")),
        "Os": c.get("os").cloned().unwrap_or(json!("linux")),
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": {"Name": "overlay2", "Data": graph_driver_data(
            &engine.images.layer_dirs(&img.layers).unwrap_or_default())},
        "RootFS": {"Type": "layers", "Layers": img.diff_ids},
        "Metadata": {"LastTagTime": img.last_tag_time.as_deref().unwrap_or("0001-01-01T00:00:00Z")}
    });
    for (key, field) in [("Variant", "variant"), ("OsVersion", "os.version")] {
        if !s(field).is_empty() {
            v[key] = json!(s(field));
        }
    }
    v
}

pub async fn get_dispatch(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
) -> ApiResult<Json<Value>> {
    if let Some(name) = rest.strip_suffix("/json") {
        // dockerd 20.10 wraps every lookup error of inspect (status kept).
        let img = engine.resolve_image(name).map_err(|e| {
            let ApiError(status, msg) = e.into();
            ApiError(status, format!("no such image: {name}: {msg}"))
        })?;
        return Ok(Json(inspect_json(&engine, &img)));
    }
    if let Some(name) = rest.strip_suffix("/history") {
        let rows = engine.image_history(name)?;
        return Ok(Json(serde_json::to_value(rows).unwrap_or(Value::Null)));
    }
    if rest == "get" || rest.ends_with("/get") {
        return Err(not_implemented("docker save"));
    }
    if rest == "search" {
        // Never a registry query from here: search is not served at all.
        return Err(not_implemented("docker search"));
    }
    Err(ApiError(StatusCode::NOT_FOUND, "page not found".into()))
}

pub async fn post_dispatch(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    if let Some(name) = rest.strip_suffix("/tag") {
        // An empty repo is the parser's "invalid reference format", as dockerd.
        let repo = q.get("repo").cloned().unwrap_or_default();
        engine.tag_image(name, &repo, q.get("tag").map(|s| s.as_str()).unwrap_or(""))?;
        return Ok(StatusCode::CREATED);
    }
    if rest.ends_with("/push") {
        return Err(not_implemented("docker push"));
    }
    match rest.as_str() {
        "load" => return Err(not_implemented("docker load")),
        "prune" => return Err(not_implemented("docker image prune")),
        _ => {}
    }
    Err(ApiError(StatusCode::NOT_FOUND, "page not found".into()))
}

pub async fn delete(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let items = engine.remove_image(&name, qbool(&q, "force")).await?;
    Ok(Json(Value::Array(
        items
            .into_iter()
            .map(|i| match i {
                DeleteItem::Untagged(t) => json!({"Untagged": t}),
                DeleteItem::Deleted(d) => json!({"Deleted": d}),
            })
            .collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_without_a_time_is_gos_zero_time() {
        assert_eq!(created_unix("2026-01-01T00:00:00Z"), 1_767_225_600);
        // What the docker CLI shows as "N/A", not "56 years ago".
        assert_eq!(created_unix(""), GO_ZERO_TIME_UNIX);
        assert_eq!(
            chrono::DateTime::from_timestamp(GO_ZERO_TIME_UNIX, 0).map(|t| t.to_rfc3339()),
            Some("0001-01-01T00:00:00+00:00".to_string())
        );
    }
}
