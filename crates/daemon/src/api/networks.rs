//! `GET /networks` and `GET /networks/{id}`: the three built-in networks (bridge, host,
//! none) in dockerd's shape, so `docker network ls/inspect` and clients that look a network
//! up before using it work. User-defined networks come with a later issue; creating one is
//! refused as not implemented.

use super::{ApiError, ApiResult, AppState, Query};
use crate::engine::filters::Filters;
use crate::engine::Engine;
use crate::engine::EngineError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const BUILTIN: &[(&str, &str)] = &[("none", "null"), ("host", "host"), ("bridge", "bridge")];

fn network_json(engine: &Engine, name: &str, driver: &str, with_containers: Value) -> Value {
    let (config, options) = if name == "bridge" {
        let b = &engine.bridge;
        (
            json!([{"Subnet": b.subnet().to_string(), "Gateway": b.gateway_ip().to_string()}]),
            json!({
                "com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.enable_icc": "true",
                "com.docker.network.bridge.enable_ip_masquerade": "true",
                "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                "com.docker.network.bridge.name": b.name,
                "com.docker.network.driver.mtu": "1500"
            }),
        )
    } else {
        (json!([]), json!({}))
    };
    json!({
        "Name": name,
        "Id": engine.network_id(name),
        "Created": engine.started_at,
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": config},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": with_containers,
        "Options": options,
        "Labels": {}
    })
}

/// The containers with an endpoint on the default bridge, as inspect lists them.
async fn bridge_containers(engine: &Engine) -> Value {
    let mut out = serde_json::Map::new();
    for h in engine.handles() {
        let c = h.rec.lock().await;
        if let Some(ep) = &c.endpoint {
            out.insert(
                c.id.clone(),
                json!({
                    "Name": c.name,
                    "EndpointID": ep.endpoint_id(&c.id),
                    "MacAddress": ep.mac,
                    "IPv4Address": format!("{}/{}", ep.ip, ep.prefix_len),
                    "IPv6Address": ""
                }),
            );
        }
    }
    Value::Object(out)
}

/// The built-in network `key` names: by name, full id or unique id prefix, as dockerd.
fn find(engine: &Engine, key: &str) -> Option<(&'static str, &'static str)> {
    if let Some(n) = BUILTIN.iter().find(|(name, _)| *name == key) {
        return Some(*n);
    }
    let by_id: Vec<_> = BUILTIN
        .iter()
        .filter(|(name, _)| !key.is_empty() && engine.network_id(name).starts_with(key))
        .collect();
    match by_id.as_slice() {
        [one] => Some(**one),
        _ => None,
    }
}

/// `GET /networks`'s filters, as dockerd's `filterNetworks` reads them.
fn network_filters(q: &Query) -> ApiResult<Filters> {
    let f = Filters::from_json(q.get("filters").map(|s| s.as_str()).unwrap_or(""))
        .map_err(EngineError::from)?;
    f.validate(&["dangling", "driver", "id", "label", "name", "scope", "type"])
        .map_err(EngineError::from)?;
    if let Some(bad) = f
        .get("type")
        .into_iter()
        .find(|v| !matches!(v.as_str(), "builtin" | "custom"))
    {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("invalid filter: 'type'='{bad}'"),
        ));
    }
    Ok(f)
}

/// Whether built-in network `name` passes `f` (it has no labels, is never "custom", and as
/// a predefined network never counts as dangling).
fn matches(engine: &Engine, name: &str, driver: &str, f: &Filters) -> ApiResult<bool> {
    let dangling = f
        .get_bool_or_default("dangling", false)
        .map_err(EngineError::from)?;
    Ok(f.matcher("name").is_match(name)
        && f.matcher("id").is_match(&engine.network_id(name))
        && f.exact_match("driver", driver)
        && f.exact_match("scope", "local")
        && f.exact_match("type", "builtin")
        && f.match_kv_list("label", &BTreeMap::new())
        && !(f.contains("dangling") && dangling))
}

pub async fn list(State(engine): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    let f = network_filters(&q)?;
    let mut out = Vec::new();
    for (name, driver) in BUILTIN {
        if matches(&engine, name, driver, &f)? {
            out.push(network_json(&engine, name, driver, json!({})));
        }
    }
    Ok(Json(Value::Array(out)))
}

pub async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let Some((name, driver)) = find(&engine, &id) else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("network {id} not found"),
        ));
    };
    let containers = if name == "bridge" {
        bridge_containers(&engine).await
    } else {
        json!({})
    };
    Ok(Json(network_json(&engine, name, driver, containers)))
}

/// `DELETE /networks/{id}`: the built-in networks cannot be removed (dockerd's 403), and
/// there are no others yet.
pub async fn remove(State(engine): State<AppState>, Path(id): Path<String>) -> ApiError {
    match find(&engine, &id) {
        Some((name, _)) => ApiError(
            StatusCode::FORBIDDEN,
            format!("{name} is a pre-defined network and cannot be removed"),
        ),
        None => ApiError(StatusCode::NOT_FOUND, format!("network {id} not found")),
    }
}
