//! `/_ping`, `/version`, `/info` and the clean 404s `docker inspect` probes.

use super::{ApiError, AppState, API_VERSION, MIN_API_VERSION};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub async fn ping(method: axum::http::Method) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        (header::PRAGMA, "no-cache"),
    ];
    // dockerd's HEAD /_ping has an empty body (Content-Length: 0), not GET's length.
    let body = if method == axum::http::Method::HEAD {
        ""
    } else {
        "OK"
    };
    (StatusCode::OK, headers, body).into_response()
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub async fn version(State(engine): State<AppState>) -> Json<Value> {
    let kernel = kernel_version();
    let v = env!("CARGO_PKG_VERSION");
    Json(json!({
        "Platform": {"Name": "pouch"},
        "Components": [{
            "Name": "Engine", "Version": v,
            "Details": {"ApiVersion": API_VERSION, "Arch": "amd64", "BuildTime": "", "Experimental": "false",
                        "GitCommit": "", "GoVersion": "n/a (rust)", "KernelVersion": kernel, "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
        }, {
            // The CLI prints a section per component; runc is ours (no containerd).
            "Name": engine.cfg.runtime_name(), "Version": engine.runtime_version,
            "Details": {"GitCommit": engine.runtime_commit}
        }],
        "Version": v,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "n/a (rust)",
        "Os": "linux",
        "Arch": std::env::consts::ARCH.replace("x86_64", "amd64"),
        "KernelVersion": kernel,
        "BuildTime": ""
    }))
}

/// A `/proc/sys/<key>` switch is on ("1").
fn sysctl_on(key: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/{key}")).is_ok_and(|v| v.trim() == "1")
}

/// Descriptors pouchd has open (dockerd's `NFd`).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// dockerd's name for the filesystem under the data root (its `fsutils` magic table).
fn backing_filesystem(root: &std::path::Path) -> &'static str {
    use nix::sys::statfs::{
        statfs, BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC,
    };
    match statfs(root) {
        Ok(s) if s.filesystem_type() == EXT4_SUPER_MAGIC => "extfs",
        Ok(s) if s.filesystem_type() == XFS_SUPER_MAGIC => "xfs",
        Ok(s) if s.filesystem_type() == BTRFS_SUPER_MAGIC => "btrfs",
        Ok(s) if s.filesystem_type() == TMPFS_MAGIC => "tmpfs",
        _ => "<unknown>",
    }
}

/// A key of `/etc/os-release`, unquoted.
fn os_release(key: &str) -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|r| r.strip_prefix('='))
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_default()
}

fn os_name() -> String {
    let name = os_release("PRETTY_NAME");
    if name.is_empty() {
        "Linux".into()
    } else {
        name
    }
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            })
        })
        .flatten()
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub async fn info(State(engine): State<AppState>) -> Json<Value> {
    let (total, running, paused, stopped) = engine.container_counts().await;
    let images = engine.image_index().by_id.len();
    let cfg = &engine.cfg;
    let cgroup_version = pouch_cgroups::Hierarchy::detect()
        .map(|h| h.version().as_docker_str())
        .unwrap_or("");
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut insecure: Vec<String> = vec!["127.0.0.0/8".into()];
    insecure.extend(cfg.flags.insecure_registries.iter().cloned());
    Json(json!({
        "ID": engine.daemon_id,
        "Containers": total, "ContainersRunning": running, "ContainersPaused": paused, "ContainersStopped": stopped,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", backing_filesystem(&cfg.flags.data_root)], ["Supports d_type", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": null, "Log": ["json-file"]},
        "MemoryLimit": true, "SwapLimit": true, "KernelMemory": false, "CpuCfsPeriod": true, "CpuCfsQuota": true,
        "CPUShares": true, "CPUSet": true, "PidsLimit": true,
        "IPv4Forwarding": sysctl_on("net/ipv4/ip_forward"),
        "BridgeNfIptables": sysctl_on("net/bridge/bridge-nf-call-iptables"),
        "BridgeNfIp6tables": sysctl_on("net/bridge/bridge-nf-call-ip6tables"),
        "Debug": false, "NFd": open_fds(), "OomKillDisable": true, "NGoroutines": 0,
        "SystemTime": super::super::engine::now_rfc3339(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": engine.events.listeners(),
        "KernelVersion": kernel_version(),
        "OperatingSystem": os_name(),
        "OSVersion": os_release("VERSION_ID"),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
                           "InsecureRegistryCIDRs": insecure, "IndexConfigs": {}, "Mirrors": []},
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "GenericResources": null,
        "DockerRootDir": cfg.flags.data_root,
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": {cfg.runtime_name(): {"path": cfg.runtime_path}},
        "DefaultRuntime": cfg.runtime_name(),
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
        "LiveRestoreEnabled": cfg.flags.live_restore,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": engine.runtime_commit, "Expected": engine.runtime_commit},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=seccomp,profile=default"],
        "DefaultAddressPools": [{"Base": engine.bridge.subnet().to_string(), "Size": engine.bridge.subnet().prefix_len()}],
        "Warnings": null
    }))
}

/// No volumes exist yet (a later issue); the list is truthfully empty.
pub async fn volumes() -> Json<Value> {
    Json(json!({"Volumes": [], "Warnings": null}))
}

pub async fn no_such_volume(Path(id): Path<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("get {id}: no such volume"))
}

pub async fn no_such_plugin(Path(id): Path<String>) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("plugin \"{id}\" not found"))
}

pub async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "page not found".into())
}
