//! Create options the engine does not implement yet. A client that asks for a bind mount, a
//! published port or a memory limit must hear "not supported" rather than get a container
//! that silently lacks it. The docker CLI sends every HostConfig field, most at their zero
//! value, so only values that differ from "unset" count.

use serde_json::{Map, Value};

/// Fields whose non-default value changes what runs, and that we do not act on yet.
/// Anything not listed (including fields newer clients add) is kept and echoed only.
const HOST_CONFIG_FIELDS: &[&str] = &[
    "Binds",
    "BlkioDeviceReadBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceWriteIOps",
    "BlkioWeight",
    "BlkioWeightDevice",
    "CapAdd",
    "CapDrop",
    "Cgroup",
    "CgroupParent",
    "CpuCount",
    "CpuPercent",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpuShares",
    "CpusetCpus",
    "CpusetMems",
    "DeviceCgroupRules",
    "DeviceRequests",
    "Devices",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "GroupAdd",
    "Init",
    "IOMaximumBandwidth",
    "IOMaximumIOps",
    "IpcMode",
    "KernelMemory",
    "KernelMemoryTCP",
    "Links",
    "MaskedPaths",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "Mounts",
    "NanoCpus",
    "OomKillDisable",
    "OomScoreAdj",
    "PidMode",
    "PidsLimit",
    "PortBindings",
    "Privileged",
    "PublishAllPorts",
    "ReadonlyPaths",
    "ReadonlyRootfs",
    "Runtime",
    "ShmSize",
    "StorageOpt",
    "Sysctls",
    "Tmpfs",
    "UTSMode",
    "Ulimits",
    "UsernsMode",
    "VolumeDriver",
    "VolumesFrom",
];

/// Config (not HostConfig) fields in the create body with the same rule.
const CONFIG_FIELDS: &[&str] = &["Volumes", "Healthcheck", "MacAddress", "NetworkDisabled"];

/// Zero values as the docker CLI and docker-py send them for an unset option.
fn is_unset(key: &str, v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => {
            n.as_f64() == Some(0.0)
                // -1 means "the kernel default" for swappiness; `PidsLimit` -1 unlimited
                // is also what a daemon without a limit applies.
                || (n.as_i64() == Some(-1) && key == "PidsLimit")
        }
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Values equal to what pouchd does anyway (a client echoing an inspected HostConfig back,
/// or docker-py spelling the default out).
fn is_default(key: &str, v: &Value) -> bool {
    match key {
        "IpcMode" => v == "private",
        "ShmSize" => v.as_i64() == Some(super::host_config::DEFAULT_SHM_SIZE),
        "MaskedPaths" => *v == serde_json::json!(crate::spec::MASKED_PATHS),
        "ReadonlyPaths" => *v == serde_json::json!(crate::spec::READONLY_PATHS),
        _ => false,
    }
}

fn first_set(fields: &[&str], map: &Map<String, Value>) -> Option<String> {
    fields
        .iter()
        .find(|k| {
            map.get(**k)
                .is_some_and(|v| !is_unset(k, v) && !is_default(k, v))
        })
        .map(|k| k.to_string())
}

/// The first option in a create body that pouchd cannot honour yet, as a user-facing
/// message; `None` when every requested option is implemented.
pub fn unsupported_option(
    host_extra: &Map<String, Value>,
    config_extra: &Map<String, Value>,
) -> Option<String> {
    if let Some(k) = first_set(HOST_CONFIG_FIELDS, host_extra) {
        return Some(format!("HostConfig.{k} is not supported by pouchd yet"));
    }
    if let Some(v) = host_extra.get("MemorySwappiness") {
        if !(v.is_null() || v.as_i64() == Some(-1)) {
            return Some("HostConfig.MemorySwappiness is not supported by pouchd yet".into());
        }
    }
    if let Some(p) = host_extra.get("RestartPolicy") {
        let name = p.get("Name").and_then(Value::as_str).unwrap_or("");
        if !matches!(name, "" | "no") {
            return Some(format!(
                "restart policy {name:?} is not supported by pouchd yet"
            ));
        }
    }
    if let Some(l) = host_extra.get("LogConfig") {
        let kind = l.get("Type").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "" | "json-file") {
            return Some(format!(
                "logging driver {kind:?} is not supported by pouchd yet"
            ));
        }
        if l.get("Config").is_some_and(|c| !is_unset("Config", c)) {
            return Some("log options (--log-opt) are not supported by pouchd yet".into());
        }
    }
    if let Some(k) = first_set(CONFIG_FIELDS, config_extra) {
        return Some(format!("Config.{k} is not supported by pouchd yet"));
    }
    None
}

/// `NetworkingConfig` endpoint settings pouchd cannot honour on its built-in networks yet
/// (`--ip`, `--ip6`, `--link-local-ip`, `--mac-address`, `--network-alias`, links, driver
/// options). The docker CLI sends an entry for the chosen network with these unset.
pub fn unsupported_endpoint_option(networking: Option<&Value>) -> Option<String> {
    let endpoints = networking?.get("EndpointsConfig")?.as_object()?;
    for (net, ep) in endpoints {
        let Some(ep) = ep.as_object() else { continue };
        let set = |k: &str| ep.get(k).is_some_and(|v| !is_unset(k, v));
        let what = if ep
            .get("IPAMConfig")
            .and_then(Value::as_object)
            .is_some_and(|c| c.iter().any(|(k, v)| !is_unset(k, v)))
        {
            Some("a fixed address (--ip, --ip6, --link-local-ip)")
        } else if set("MacAddress") {
            Some("a fixed MAC address (--mac-address)")
        } else if set("Aliases") {
            Some("network aliases (--network-alias)")
        } else if set("Links") {
            Some("links (--link)")
        } else if set("DriverOpts") {
            Some("endpoint driver options")
        } else {
            None
        };
        if let Some(what) = what {
            return Some(format!(
                "{what} on network {net} is not supported by pouchd yet"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// What docker CLI v28 sends for a plain `docker run IMG true`.
    fn cli_defaults() -> Map<String, Value> {
        obj(json!({
            "Binds": null, "BlkioDeviceReadBps": [], "BlkioWeight": 0, "CapAdd": null,
            "CgroupnsMode": "", "ContainerIDFile": "", "CpuShares": 0, "Devices": [],
            "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null,
            "LogConfig": {"Type": "", "Config": {}}, "Memory": 0, "MemorySwappiness": -1,
            "OomScoreAdj": 0, "PortBindings": {}, "Privileged": false,
            "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "ShmSize": 0,
            "Ulimits": [], "VolumesFrom": null, "Isolation": ""
        }))
    }

    #[test]
    fn the_clis_zero_values_are_accepted() {
        let cfg = obj(json!({"Volumes": {}, "ExposedPorts": {"80/tcp": {}}, "OnBuild": null}));
        assert_eq!(unsupported_option(&cli_defaults(), &cfg), None);
        assert_eq!(unsupported_option(&Map::new(), &Map::new()), None);
        let mut h = cli_defaults();
        h.insert(
            "LogConfig".into(),
            json!({"Type": "json-file", "Config": null}),
        );
        h.insert("PidsLimit".into(), json!(-1));
        assert_eq!(unsupported_option(&h, &Map::new()), None);
        // What inspect shows, sent back.
        h.insert("IpcMode".into(), json!("private"));
        h.insert("ShmSize".into(), json!(67108864));
        h.insert("MaskedPaths".into(), json!(crate::spec::MASKED_PATHS));
        assert_eq!(unsupported_option(&h, &Map::new()), None);
        h.insert("ShmSize".into(), json!(1024));
        assert!(unsupported_option(&h, &Map::new()).is_some());
    }

    #[test]
    fn options_that_change_what_runs_are_refused_by_name() {
        for (k, v, word) in [
            ("Binds", json!(["/a:/b"]), "HostConfig.Binds"),
            (
                "PortBindings",
                json!({"80/tcp": [{"HostPort": "8080"}]}),
                "PortBindings",
            ),
            ("Memory", json!(1 << 20), "HostConfig.Memory"),
            ("Privileged", json!(true), "Privileged"),
            ("MemorySwappiness", json!(10), "MemorySwappiness"),
            ("RestartPolicy", json!({"Name": "always"}), "\"always\""),
            ("LogConfig", json!({"Type": "syslog"}), "\"syslog\""),
            (
                "LogConfig",
                json!({"Type": "", "Config": {"max-size": "1m"}}),
                "--log-opt",
            ),
        ] {
            let mut h = cli_defaults();
            h.insert(k.into(), v);
            let msg = unsupported_option(&h, &Map::new()).unwrap_or_default();
            assert!(msg.contains(word), "{k}: {msg:?}");
            assert!(msg.ends_with("not supported by pouchd yet"), "{msg}");
        }
        // What the CLI sends for the chosen network, and what it sends for --ip/--mac.
        let ep = |extra: Value| {
            let mut e = json!({"IPAMConfig": null, "Links": null, "Aliases": null,
                "MacAddress": "", "DriverOpts": null, "NetworkID": "", "EndpointID": "",
                "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "DNSNames": null});
            for (k, v) in extra.as_object().cloned().unwrap_or_default() {
                e[k] = v;
            }
            json!({"EndpointsConfig": {"default": e}})
        };
        assert_eq!(unsupported_endpoint_option(Some(&ep(json!({})))), None);
        assert_eq!(unsupported_endpoint_option(None), None);
        for (extra, word) in [
            (json!({"IPAMConfig": {"IPv4Address": "10.0.0.9"}}), "--ip"),
            (json!({"MacAddress": "02:42:ac:11:00:09"}), "--mac-address"),
            (json!({"Aliases": ["web"]}), "--network-alias"),
        ] {
            let msg = unsupported_endpoint_option(Some(&ep(extra))).unwrap_or_default();
            assert!(
                msg.contains(word) && msg.ends_with("not supported by pouchd yet"),
                "{msg}"
            );
        }
        let cfg = obj(json!({"Volumes": {"/data": {}}}));
        assert_eq!(
            unsupported_option(&cli_defaults(), &cfg).as_deref(),
            Some("Config.Volumes is not supported by pouchd yet")
        );
    }
}
