//! `/images/...` endpoints. Image names contain `/` and `:`, so everything after `/images/`
//! is parsed here rather than by the router.

use super::streams::channel_body;
use super::{qbool, ApiError, ApiResult, AppState, Query};
use crate::engine::images::DeleteItem;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};

fn created_unix(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .unwrap_or(0)
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
    let tag = q.get("tag").cloned().unwrap_or_default();
    let reference = if tag.is_empty() {
        from.clone()
    } else if tag.starts_with("sha256:") {
        format!("{from}@{tag}")
    } else {
        format!("{from}:{tag}")
    };
    let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel();
    let job = {
        let engine = engine.clone();
        let reference = reference.clone();
        tokio::spawn(async move { engine.pull_image(&reference, ptx).await })
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
        let _ = tx.send(line(&first));
        while let Some(p) = prx.recv().await {
            let _ = tx.send(line(&p));
        }
        let result = match job.await {
            Ok(r) => r.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(msg) = result {
            let _ = tx.send(line(&pouch_image::Progress::error(msg)));
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

fn inspect_json(engine: &crate::engine::Engine, img: &crate::model::Image) -> Value {
    let c = &img.config;
    json!({
        "Id": img.id,
        "RepoTags": engine.image_tags(&img.id),
        "RepoDigests": img.repo_digests,
        "Parent": "",
        "Comment": c.get("comment").cloned().unwrap_or(json!("")),
        "Created": img.created,
        "DockerVersion": c.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": c.get("author").cloned().unwrap_or(json!("")),
        "Config": c.get("config").cloned().unwrap_or(Value::Null),
        "Architecture": c.get("architecture").cloned().unwrap_or(json!("amd64")),
        "Os": c.get("os").cloned().unwrap_or(json!("linux")),
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": {"Name": "overlay2", "Data": {
            "LowerDir": engine.images.layer_dirs(&img.layers).unwrap_or_default().iter().rev().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")}},
        "RootFS": {"Type": "layers", "Layers": img.diff_ids},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"}
    })
}

pub async fn get_dispatch(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
) -> ApiResult<Json<Value>> {
    if let Some(name) = rest.strip_suffix("/json") {
        let img = engine.resolve_image(name)?;
        return Ok(Json(inspect_json(&engine, &img)));
    }
    if let Some(name) = rest.strip_suffix("/history") {
        let img = engine.resolve_image(name)?;
        let created = created_unix(&img.created);
        return Ok(Json(
            json!([{"Id": img.id, "Created": created, "CreatedBy": "", "Tags": engine.image_tags(&img.id), "Size": img.size, "Comment": ""}]),
        ));
    }
    Err(ApiError(StatusCode::NOT_FOUND, "page not found".into()))
}

pub async fn post_dispatch(
    State(engine): State<AppState>,
    Path(rest): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    if let Some(name) = rest.strip_suffix("/tag") {
        let repo = q.get("repo").cloned().unwrap_or_default();
        if repo.is_empty() {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "repository name is required".into(),
            ));
        }
        engine.tag_image(name, &repo, q.get("tag").map(|s| s.as_str()).unwrap_or(""))?;
        return Ok(StatusCode::CREATED);
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
