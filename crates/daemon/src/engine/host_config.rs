//! `HostConfig` as dockerd stores it: every key present (a Go struct always serialises all
//! of its fields), the daemon's defaults filled in where the client left a zero value, and
//! "unlimited" spelled as dockerd spells it. Clients read these back (`docker inspect -f
//! '{{.HostConfig.LogConfig.Type}}'`, compose's diffing), so the shape matters.

use crate::model::HostConfig;
use serde_json::{json, Map, Value};

/// dockerd's default /dev/shm size (64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// Every HostConfig key with the zero value dockerd shows for a minimal API create.
fn zero_fields() -> Value {
    json!({
        "Binds": null, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
        "PortBindings": null, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
        "VolumeDriver": "", "VolumesFrom": null, "CapAdd": null,
        "CapDrop": null, "CgroupnsMode": "", "Dns": null, "DnsOptions": null, "DnsSearch": null,
        "ExtraHosts": null, "GroupAdd": null, "IpcMode": "", "Cgroup": "", "Links": null,
        "OomScoreAdj": 0, "PidMode": "", "Privileged": false, "PublishAllPorts": false,
        "ReadonlyRootfs": false, "UTSMode": "", "UsernsMode": "", "ShmSize": 0,
        "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "BlkioWeightDevice": null, "BlkioDeviceReadBps": null,
        "BlkioDeviceWriteBps": null, "BlkioDeviceReadIOps": null, "BlkioDeviceWriteIOps": null,
        "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
        "CpusetCpus": "", "CpusetMems": "", "Devices": null, "DeviceCgroupRules": null,
        "DeviceRequests": null, "MemoryReservation": 0, "MemorySwap": 0,
        "MemorySwappiness": null, "OomKillDisable": false, "PidsLimit": null, "Ulimits": null,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": null, "ReadonlyPaths": null
    })
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// Keys `HostConfig` has as typed fields: never in `extra`, or they would be written twice
/// and the record would not load again.
const TYPED_FIELDS: &[&str] = &[
    "NetworkMode",
    "AutoRemove",
    "ConsoleSize",
    "SecurityOpt",
    "Runtime",
];

/// dockerd's create-time checks of the HostConfig values pouchd acts on.
pub fn check(hc: &HostConfig) -> Result<(), String> {
    match hc.extra.get("CgroupnsMode").and_then(Value::as_str) {
        None | Some("" | "host" | "private") => {}
        Some(m) => return Err(format!("invalid cgroup namespace mode: {m}")),
    }
    if let Some(a) = hc.extra.get("Annotations").filter(|a| !a.is_null()) {
        let Some(map) = a.as_object() else {
            return Err("annotations must be a map of strings".into());
        };
        for (k, v) in map {
            if k.is_empty() {
                return Err(
                    "invalid Annotations: the empty string is not permitted as an annotation key"
                        .into(),
                );
            }
            if !v.is_string() {
                return Err(format!(
                    "invalid Annotations: the value of {k:?} is not a string"
                ));
            }
        }
    }
    Ok(())
}

/// Fill `hc` in place: missing keys, daemon defaults, dockerd's normalisations.
pub fn fill_defaults(
    hc: &mut HostConfig,
    cgroup_v2: bool,
    masked_paths: &[&str],
    readonly_paths: &[&str],
) {
    let extra: &mut Map<String, Value> = &mut hc.extra;
    if let Value::Object(zero) = zero_fields() {
        for (k, v) in zero {
            if !TYPED_FIELDS.contains(&k.as_str()) {
                extra.entry(k).or_insert(v);
            }
        }
    }
    // The log driver and its options: json-file unless one was named.
    if let Some(Value::Object(l)) = extra.get_mut("LogConfig") {
        if l.get("Type").is_none_or(is_zero) {
            l.insert("Type".into(), json!("json-file"));
        }
        if l.get("Config").is_none_or(Value::is_null) {
            l.insert("Config".into(), json!({}));
        }
    }
    let set_if_zero = |extra: &mut Map<String, Value>, key: &str, value: Value| {
        if extra.get(key).is_none_or(is_zero) {
            extra.insert(key.into(), value);
        }
    };
    set_if_zero(extra, "ShmSize", json!(DEFAULT_SHM_SIZE));
    set_if_zero(extra, "IpcMode", json!("private"));
    set_if_zero(
        extra,
        "CgroupnsMode",
        json!(if cgroup_v2 { "private" } else { "host" }),
    );
    set_if_zero(extra, "MaskedPaths", json!(masked_paths));
    set_if_zero(extra, "ReadonlyPaths", json!(readonly_paths));
    // "No limit" is stored as null, whatever the client spelled it as.
    if extra
        .get("PidsLimit")
        .and_then(Value::as_i64)
        .is_some_and(|n| n <= 0)
    {
        extra.insert("PidsLimit".into(), Value::Null);
    }
    if extra.get("MemorySwappiness").and_then(Value::as_i64) == Some(-1) {
        extra.insert("MemorySwappiness".into(), Value::Null);
    }
    if hc.console_size.is_none() {
        hc.console_size = Some([0, 0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(v: Value) -> Value {
        let mut hc: HostConfig = serde_json::from_value(v).unwrap_or_default();
        fill_defaults(&mut hc, false, &["/proc/kcore"], &["/proc/sys"]);
        serde_json::to_value(&hc).unwrap_or_default()
    }

    #[test]
    fn a_minimal_create_gets_every_key_and_the_daemon_defaults() {
        let v = filled(json!({}));
        assert_eq!(v["LogConfig"], json!({"Type": "json-file", "Config": {}}));
        assert_eq!(v["ShmSize"], DEFAULT_SHM_SIZE);
        assert_eq!(v["IpcMode"], "private");
        assert_eq!(v["CgroupnsMode"], "host");
        assert_eq!(v["MaskedPaths"], json!(["/proc/kcore"]));
        assert_eq!(v["ReadonlyPaths"], json!(["/proc/sys"]));
        assert_eq!(v["ConsoleSize"], json!([0, 0]));
        assert!(v["PidsLimit"].is_null() && v["Binds"].is_null());
        assert_eq!(v["RestartPolicy"]["Name"], "");
        let keys = v.as_object().map(|o| o.len()).unwrap_or(0);
        assert!(keys >= 55, "{keys} keys: {v}");
    }

    #[test]
    fn cgroupns_and_annotations_are_checked() {
        let hc = |v: Value| -> HostConfig { serde_json::from_value(v).unwrap_or_default() };
        assert!(check(&hc(
            json!({"CgroupnsMode": "private", "Annotations": {"a": "1"}})
        ))
        .is_ok());
        assert_eq!(
            check(&hc(json!({"CgroupnsMode": "bogus"}))).unwrap_err(),
            "invalid cgroup namespace mode: bogus"
        );
        assert!(check(&hc(json!({"Annotations": {"": "x"}}))).is_err());
        assert!(check(&hc(json!({"Annotations": {"a": 1}}))).is_err());
    }

    #[test]
    fn a_filled_host_config_round_trips() {
        let mut hc: HostConfig =
            serde_json::from_value(json!({"ConsoleSize": [24, 80]})).unwrap_or_default();
        fill_defaults(&mut hc, false, &[], &[]);
        let text = serde_json::to_string(&hc).unwrap_or_default();
        let back: HostConfig = serde_json::from_str(&text).expect("reloads");
        assert_eq!(back.console_size, Some([24, 80]));
        for k in TYPED_FIELDS {
            assert!(!back.extra.contains_key(*k), "{k} in extra");
            assert_eq!(text.matches(&format!("\"{k}\"")).count(), 1, "{k}: {text}");
        }
    }

    #[test]
    fn client_values_are_kept_and_unlimited_is_null() {
        let v = filled(json!({
            "LogConfig": {"Type": "", "Config": {}}, "ShmSize": 1024, "Dns": [],
            "PidsLimit": 0, "MemorySwappiness": -1, "RestartPolicy": {"Name": "no"},
            "IpcMode": "shareable"
        }));
        assert_eq!(v["LogConfig"]["Type"], "json-file");
        assert_eq!(v["ShmSize"], 1024);
        assert_eq!(v["Dns"], json!([]));
        assert!(v["PidsLimit"].is_null() && v["MemorySwappiness"].is_null());
        assert_eq!(v["RestartPolicy"]["Name"], "no");
        assert_eq!(v["IpcMode"], "shareable");
        let mut hc = HostConfig::default();
        fill_defaults(&mut hc, true, &[], &[]);
        assert_eq!(hc.extra["CgroupnsMode"], "private");
    }
}
