//! `GET /networks` and `GET /networks/{id}`: the three built-in networks (bridge, host,
//! none) in dockerd's shape, so `docker network ls/inspect` and clients that look a network
//! up before using it work. User-defined networks come with a later issue; creating one is
//! refused as not implemented.

use super::{ApiError, ApiResult, AppState, Query};
use crate::engine::Engine;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

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
                    "EndpointID": crate::engine::derived_id(&[&c.id, "endpoint", &ep.host_veth]),
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

fn parse_filters(q: &Query) -> ApiResult<HashMap<String, Vec<String>>> {
    let Some(raw) = q.get("filters").filter(|f| !f.is_empty()) else {
        return Ok(HashMap::new());
    };
    // Docker sends {"key": {"value": true}}; old clients {"key": ["value"]}.
    let v: Value = serde_json::from_str(raw)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid filters: {e}")))?;
    let mut out = HashMap::new();
    for (k, vals) in v.as_object().into_iter().flatten() {
        let list: Vec<String> = match vals {
            Value::Object(m) => m.keys().cloned().collect(),
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => vec![],
        };
        out.insert(k.clone(), list);
    }
    Ok(out)
}

fn matches(
    engine: &Engine,
    name: &str,
    driver: &str,
    f: &HashMap<String, Vec<String>>,
) -> ApiResult<bool> {
    for (key, vals) in f {
        let ok = match key.as_str() {
            "name" => vals.iter().any(|v| name.contains(v.as_str())),
            "id" => vals
                .iter()
                .any(|v| engine.network_id(name).starts_with(v.as_str())),
            "driver" => vals.iter().any(|v| v == driver),
            "scope" => vals.iter().any(|v| v == "local"),
            "type" => {
                if let Some(bad) = vals
                    .iter()
                    .find(|v| !matches!(v.as_str(), "builtin" | "custom"))
                {
                    return Err(ApiError(
                        StatusCode::BAD_REQUEST,
                        format!("invalid filter: 'type'='{bad}'"),
                    ));
                }
                vals.iter().any(|v| v == "builtin")
            }
            // Built-in networks carry no labels; dangling: they are never "unused custom".
            "label" => false,
            "dangling" => vals.iter().any(|v| v == "false" || v == "0"),
            _ => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("Invalid filter '{key}'"),
                ))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn list(State(engine): State<AppState>, q: Query) -> ApiResult<Json<Value>> {
    let f = parse_filters(&q)?;
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
