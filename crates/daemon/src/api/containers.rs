//! `/containers/...` endpoints.

use super::streams::{channel_body, stdcopy_frame, STDERR, STDOUT};
use super::{form_bool, qbool, ApiError, ApiResult, AppState, Query};
use crate::engine::containers::WaitCondition;
use crate::engine::filters::Filters;
use crate::engine::handle::Output;
use crate::engine::list::ContainerListOptions;
use crate::engine::logs::{self, LogOptions};
use crate::engine::{Engine, EngineError};
use crate::model::{Container, CreateBody, Status, ZERO_TIME};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub async fn create(
    State(engine): State<AppState>,
    q: Query,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    super::check_json_content_type(&headers, body.len())?;
    let body: CreateBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON in request body: {e}"),
        )
    })?;
    let (id, warnings) = engine
        .create_container(
            q.get("name").map(|s| s.as_str()),
            q.get("platform").map(|s| s.as_str()),
            body,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": id, "Warnings": warnings})),
    )
        .into_response())
}

pub async fn start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    engine.start_container(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn timeout_param(q: &HashMap<String, String>) -> ApiResult<Option<i64>> {
    match q.get("t").or_else(|| q.get("timeout")) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("invalid timeout {s:?}"))),
    }
}

pub async fn stop(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let t = timeout_param(&q)?;
    engine
        .stop_container(&id, t, q.get("signal").map(|s| s.as_str()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn restart(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    let t = timeout_param(&q)?;
    match engine
        .stop_container(&id, t, q.get("signal").map(|s| s.as_str()))
        .await
    {
        Ok(()) | Err(crate::engine::EngineError::NotModified(_)) => {}
        Err(e) => return Err(e.into()),
    }
    engine.start_container(&id).await?;
    engine.emit_container_named(&id, "restart").await;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn kill(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    engine
        .kill_container(&id, q.get("signal").map(|s| s.as_str()).unwrap_or(""))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    if qbool(&q, "link") {
        // pouchd has no links: the name is the container's own, which dockerd refuses to
        // drop as a link rather than removing the container.
        engine.find(&id).await?;
        return Err(ApiError(
            StatusCode::CONFLICT,
            "Conflict, cannot remove the default link name of the container".into(),
        ));
    }
    engine.remove_container(&id, qbool(&q, "force")).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<StatusCode> {
    // Both are required, as dockerd's strconv.Atoi of a missing value fails.
    let dim = |k: &str| -> ApiResult<u16> {
        let v = q.get(k).map(|s| s.as_str()).unwrap_or("");
        v.parse().map_err(|_| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("strconv.Atoi: parsing {v:?}: invalid syntax"),
            )
        })
    };
    engine.resize(&id, dim("h")?, dim("w")?).await?;
    Ok(StatusCode::OK)
}

/// Headers go out at once; the body comes when the condition is met (the docker CLI only
/// starts the container after it has the headers).
pub async fn wait(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let cond_s = q.get("condition").map(|s| s.as_str()).unwrap_or("");
    let cond = WaitCondition::parse(cond_s).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("invalid condition: \"{cond_s}\""),
        )
    })?;
    let h = engine.find(&id).await?;
    let waiter = engine.prepare_wait(&h, cond).await;
    let (tx, body) = channel_body();
    tokio::spawn(async move {
        let code = waiter.wait().await;
        // A removed container has no error to report (dockerd answers `null` then, even
        // when a failed start is what led to the removal).
        let err = if cond == WaitCondition::Removed {
            String::new()
        } else {
            h.rec.lock().await.state.error.clone()
        };
        let error = if err.is_empty() {
            Value::Null
        } else {
            json!({"Message": err})
        };
        let _ = tx.send(Bytes::from(format!(
            "{}\n",
            json!({"Error": error, "StatusCode": code})
        )));
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub async fn attach(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    mut req: Request,
) -> ApiResult<Response> {
    let h = engine.find(&id).await?;
    let (tty, stdin_once, status) = {
        let c = h.rec.lock().await;
        (c.config.tty, c.config.stdin_once, c.state.status)
    };
    // An exited container may be attached to: `docker start -a` attaches, then starts, and
    // the stream carries the next run. (The "start it first" refusal is the CLI's, in
    // `docker attach`.)
    if matches!(status, Status::Dead | Status::Removing) {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "You cannot attach to a stopped container, start it first".into(),
        ));
    }
    engine.emit_container_named(&h.id, "attach").await;
    let want_stdin = qbool(&q, "stdin");
    let want_stdout = qbool(&q, "stdout");
    let want_stderr = qbool(&q, "stderr");
    let upgrade = req.headers().get(header::UPGRADE).is_some();
    let on_upgrade = hyper::upgrade::on(&mut req);
    // Subscribe before answering so no output between now and the upgrade is lost.
    let mut rx = h.subscribe();
    let engine2 = engine.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
        if want_stdin {
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => engine2.send_stdin(&h, &buf[..n]),
                    }
                }
                if stdin_once {
                    engine2.close_stdin(&h);
                }
            });
        }
        while let Some(o) = rx.recv().await {
            let bytes = match o {
                Output::Stdout(b) if want_stdout => {
                    if tty {
                        b.to_vec()
                    } else {
                        stdcopy_frame(STDOUT, &b)
                    }
                }
                Output::Stderr(b) if want_stderr => {
                    if tty {
                        b.to_vec()
                    } else {
                        stdcopy_frame(STDERR, &b)
                    }
                }
                _ => continue,
            };
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = wr.flush().await;
        let _ = wr.shutdown().await;
    });
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let mut resp = Response::builder().header(header::CONTENT_TYPE, ctype);
    resp = if upgrade {
        resp.status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "tcp")
    } else {
        resp.status(StatusCode::OK)
    };
    resp.body(Body::empty())
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `since`/`until` of logs: absent or 0 is no bound; anything unparsable is a 400 (dockerd
/// fails it with its parser's message).
fn time_param(q: &super::Query, key: &str) -> ApiResult<Option<i128>> {
    match q.get(key).map(|s| s.as_str()) {
        None | Some("") => Ok(None),
        Some(s) => logs::parse_time_filter(s)
            .map(|t| Some(t).filter(|t| *t > 0))
            .ok_or_else(|| {
                ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("invalid value for {key}: {s:?}"),
                )
            }),
    }
}

pub async fn logs(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let h = engine.find(&id).await?;
    let opts = LogOptions {
        stdout: qbool(&q, "stdout"),
        stderr: qbool(&q, "stderr"),
        tail: q.get("tail").and_then(|t| t.parse().ok()),
        since: time_param(&q, "since")?,
        until: time_param(&q, "until")?,
        timestamps: qbool(&q, "timestamps"),
        details: qbool(&q, "details"),
    };
    if !opts.stdout && !opts.stderr {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "Bad parameters: you must choose at least one stream".into(),
        ));
    }
    let follow = qbool(&q, "follow");
    let (tty, path) = {
        let c = h.rec.lock().await;
        (
            c.config.tty,
            engine
                .cfg
                .container_dir(&c.id)
                .join(format!("{}-json.log", c.id)),
        )
    };
    let (tx, body) = channel_body();
    let render_opts = opts.clone();
    let frame = move |e: &logs::LogEntry| -> Bytes {
        let data = logs::render(e, &render_opts);
        if tty {
            Bytes::from(data)
        } else {
            Bytes::from(stdcopy_frame(
                if e.stream == "stderr" { STDERR } else { STDOUT },
                &data,
            ))
        }
    };
    let (entries, mut offset) = logs::read_entries(&path, 0)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    for e in logs::select(entries, &opts) {
        let _ = tx.send(frame(&e));
    }
    if follow {
        let opts = LogOptions { tail: None, ..opts };
        tokio::spawn(async move {
            let mut exits = h.exit_tx.subscribe();
            loop {
                let running = h.rec.lock().await.is_running();
                let removed = exits.borrow().removed;
                match logs::read_entries(&path, offset) {
                    Ok((entries, off)) => {
                        offset = off;
                        let got = !entries.is_empty();
                        for e in logs::select(entries, &opts) {
                            if tx.send(frame(&e)).is_err() {
                                return;
                            }
                        }
                        if !got && (!running || removed) {
                            return;
                        }
                    }
                    Err(_) => return,
                }
                if tx.is_closed() {
                    return;
                }
                // The shim appends to the file; poll it, waking early on an exit.
                let _ =
                    tokio::time::timeout(std::time::Duration::from_millis(100), exits.changed())
                        .await;
            }
        });
    }
    let ctype = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(([(header::CONTENT_TYPE, ctype)], body).into_response())
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let h = engine.find(&id).await?;
    let c = h.rec.lock().await.clone();
    let mut v = inspect_json(&engine, &c);
    if qbool(&q, "size") {
        let (rw, rootfs) = engine.container_sizes(&c).await;
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
    }
    Ok(Json(v))
}

/// The list's `Image`: the name the container was made from while it still names that
/// image; once the name is gone or points elsewhere, the image id (as dockerd).
fn list_image_for(engine: &Engine, c: &Container) -> String {
    let name = image_ref_for(engine, c);
    match engine.resolve_image(&name) {
        Ok(img) if img.id == c.image_id => name,
        _ => c.image_id.clone(),
    }
}

fn image_ref_for(engine: &Engine, c: &Container) -> String {
    let given = c.config.image.trim();
    if !given.is_empty() {
        return given.to_string();
    }
    engine
        .image_tags(&c.image_id)
        .first()
        .cloned()
        .unwrap_or_default()
}

/// `NetworkSettings.Ports` without published ports: every exposed port, unbound.
fn ports_json(c: &Container) -> Value {
    let ports: serde_json::Map<String, Value> = c
        .config
        .exposed_ports()
        .into_iter()
        .map(|p| (p, Value::Null))
        .collect();
    Value::Object(ports)
}

/// `Ports` of a `GET /containers/json` row: exposed, unpublished ports.
fn list_ports_json(c: &Container) -> Value {
    c.config
        .exposed_ports()
        .iter()
        .filter_map(|p| {
            let (port, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
            Some(json!({"PrivatePort": port.parse::<u16>().ok()?, "Type": proto}))
        })
        .collect()
}

fn networks_json(engine: &Engine, c: &Container) -> Value {
    let mode = c.host_config.network_name();
    let mut ep = json!({
        "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "", "NetworkID": "", "EndpointID": "",
        "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "DriverOpts": null, "DNSNames": null
    });
    if let Some(e) = &c.endpoint {
        ep["MacAddress"] = json!(e.mac);
        ep["Gateway"] = json!(e.gateway);
        ep["IPAddress"] = json!(e.ip);
        ep["IPPrefixLen"] = json!(e.prefix_len);
        ep["NetworkID"] = json!(engine.network_id(&e.network));
        ep["EndpointID"] = json!(e.endpoint_id(&c.id));
    }
    json!({ mode: ep })
}

pub fn inspect_json(engine: &Engine, c: &Container) -> Value {
    let s = &c.state;
    let paths = crate::rootfs::ContainerPaths::new(engine.cfg.container_dir(&c.id));
    let ep = c.endpoint.clone();
    let mut config = serde_json::to_value(&c.config).unwrap_or(Value::Null);
    config["Image"] = json!(image_ref_for(engine, c));
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": {
            "Status": s.status.as_str(),
            "Running": matches!(s.status, Status::Running | Status::Paused | Status::Restarting),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        },
        "Image": c.image_id,
        "ResolvConfPath": paths.resolv_conf(),
        "HostnamePath": paths.hostname(),
        "HostsPath": paths.hosts(),
        "LogPath": paths.log_path(&c.id),
        "Name": format!("/{}", c.name),
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": c.host_config,
        "GraphDriver": {"Name": "overlay2", "Data": {
            "LowerDir": engine.images.layer_dirs(&c.layers).unwrap_or_default().iter().rev().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
            "MergedDir": paths.merged(), "UpperDir": paths.upper(), "WorkDir": paths.work()}},
        "Mounts": [],
        "Config": config,
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": if s.pid > 0 { crate::engine::derived_id(&[&c.id, "sandbox", &s.started_at]) } else { String::new() },
            "SandboxKey": if s.pid > 0 && c.host_config.network_mode != "host" { format!("/proc/{}/ns/net", s.pid) } else { String::new() },
            "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": ports_json(c),
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null,
            "EndpointID": ep.as_ref().map(|e| e.endpoint_id(&c.id)).unwrap_or_default(),
            "Gateway": ep.as_ref().map(|e| e.gateway.clone()).unwrap_or_default(),
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": ep.as_ref().map(|e| e.ip.clone()).unwrap_or_default(),
            "IPPrefixLen": ep.as_ref().map(|e| e.prefix_len).unwrap_or(0),
            "IPv6Gateway": "",
            "MacAddress": ep.as_ref().map(|e| e.mac.clone()).unwrap_or_default(),
            "Networks": networks_json(engine, c),
        }
    })
}

/// `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created` — as `docker ps` shows.
pub fn status_text(c: &Container, now: chrono::DateTime<chrono::Utc>) -> String {
    let since = |t: &str| -> String {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| human_duration((now - t.with_timezone(&chrono::Utc)).num_seconds().max(0)))
            .unwrap_or_default()
    };
    match c.state.status {
        Status::Running => format!("Up {}", since(&c.state.started_at)),
        Status::Paused => format!("Up {} (Paused)", since(&c.state.started_at)),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            c.state.exit_code,
            since(&c.state.finished_at)
        ),
        Status::Exited if c.state.finished_at != ZERO_TIME => {
            format!(
                "Exited ({}) {} ago",
                c.state.exit_code,
                since(&c.state.finished_at)
            )
        }
        Status::Exited | Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s < 3600 => format!("{} minutes", s / 60),
        s if (s as f64 / 3600.0).round() as i64 == 1 => "About an hour".into(),
        s if s < 48 * 3600 => format!("{} hours", (s as f64 / 3600.0).round() as i64),
        s if s < 7 * 24 * 3600 * 2 => format!("{} days", s / 86400),
        s if s < 30 * 24 * 3600 * 3 => format!("{} weeks", s / (7 * 86400)),
        s if s < 365 * 24 * 3600 * 2 => format!("{} months", s / (30 * 86400)),
        s => format!("{} years", s / (365 * 86400)),
    }
}

/// The `Command` column as dockerd builds it: path and args, args with spaces in quotes.
fn list_command(c: &Container) -> String {
    let mut out = c.path.clone();
    for a in &c.args {
        out.push(' ');
        if a.contains(' ') {
            out.push_str(&format!("'{a}'"));
        } else {
            out.push_str(a);
        }
    }
    out
}

/// The `filters` query parameter (both JSON shapes clients send).
pub(super) fn filters_param(q: &HashMap<String, String>) -> ApiResult<Filters> {
    Ok(
        Filters::from_json(q.get("filters").map(String::as_str).unwrap_or(""))
            .map_err(EngineError::from)?,
    )
}

pub async fn list(State(engine): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    // dockerd answers a non-integer limit with a 500 and strconv's text; say what is wrong.
    let limit = match q.get("limit").map(|s| s.as_str()) {
        None | Some("") => 0,
        Some(s) => s.parse::<i64>().map_err(|_| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("Invalid limit '{s}': must be an integer"),
            )
        })?,
    };
    let opts = ContainerListOptions {
        all: form_bool(&q, "all"),
        limit,
        filters: filters_param(&q)?,
    };
    let rows = engine.list_containers(&opts).await?;
    let now = chrono::Utc::now();
    let mut sizes = Vec::new();
    if form_bool(&q, "size") {
        for c in &rows {
            sizes.push(engine.container_sizes(c).await);
        }
    }
    let out: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let created = chrono::DateTime::parse_from_rfc3339(&c.created)
                .map(|t| t.timestamp())
                .unwrap_or(0);
            let mut row = json!({
                "Id": c.id,
                "Names": [format!("/{}", c.name)],
                "Image": list_image_for(&engine, c),
                "ImageID": c.image_id,
                "Command": list_command(c),
                "Created": created,
                "Ports": list_ports_json(c),
                "Labels": c.config.labels.clone().unwrap_or_default(),
                "State": c.state.status.as_str(),
                "Status": status_text(c, now),
                "HostConfig": {"NetworkMode": c.host_config.network_mode},
                "NetworkSettings": {"Networks": networks_json(&engine, c)},
                "Mounts": []
            });
            if let Some((rw, rootfs)) = sizes.get(i) {
                row["SizeRw"] = json!(rw);
                row["SizeRootFs"] = json!(rootfs);
            }
            row
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

#[allow(dead_code)]
fn _assert_send(e: Arc<Engine>) -> impl Send {
    async move { e.handles().len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(70), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(3 * 3600), "3 hours");
    }
}
