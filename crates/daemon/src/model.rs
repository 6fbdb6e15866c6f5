//! Records the daemon persists and serves: containers and images, in Docker's field names
//! where they appear in the API so inspect output is a projection, not a translation.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Accepts `null`, a string or an array of strings (Docker clients send all three for
/// `Cmd`/`Entrypoint`; a string means a one-element list).
fn str_or_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        S(String),
        L(Vec<String>),
    }
    Ok(match Option::<V>::deserialize(d)? {
        None => None,
        // As Docker's StrSlice: "" is [""] (for Entrypoint: "reset").
        Some(V::S(s)) => Some(vec![s]),
        Some(V::L(l)) => Some(l),
    })
}

/// The `Config` of a container as the Docker API carries it (create body and inspect).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "str_or_vec")]
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub working_dir: String,
    #[serde(deserialize_with = "str_or_vec")]
    pub entrypoint: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    // dockerd omits these when unset (`omitempty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Fields we keep and echo back but do not act on yet.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The parts of `HostConfig` the engine acts on; everything else is kept verbatim.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub network_mode: String,
    pub auto_remove: bool,
    /// `[rows, cols]` of the client's terminal: the pty starts at that size (no resize race).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u32; 2]>,
    pub security_opt: Option<Vec<String>>,
    /// The OCI runtime by name (`""`: the daemon's default).
    pub runtime: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ContainerConfig {
    /// `ExposedPorts` keys (`80/tcp`), sorted.
    pub fn exposed_ports(&self) -> Vec<String> {
        let mut ports: Vec<String> = self
            .extra
            .get("ExposedPorts")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        ports.sort();
        ports
    }
}

impl HostConfig {
    /// The network the container is on: `default` (what the CLI sends, kept as given, like
    /// dockerd) is the default bridge.
    pub fn network_name(&self) -> &str {
        match self.network_mode.as_str() {
            "" | "default" => "bridge",
            m => m,
        }
    }
}

/// The body of `POST /containers/create`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: ContainerConfig,
    pub host_config: Option<HostConfig>,
    pub networking_config: Option<Value>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: u32,
    pub shim_pid: u32,
    pub exit_code: i32,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: String,
    pub finished_at: String,
}

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            shim_pid: 0,
            exit_code: 0,
            error: String::new(),
            oom_killed: false,
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
        }
    }
}

/// A container's address on a bridge network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    pub network: String,
    pub bridge: String,
    pub ip: String,
    pub prefix_len: u8,
    pub gateway: String,
    pub mac: String,
    pub host_veth: String,
}

impl Endpoint {
    /// Docker's 64-hex `EndpointID` for `container`'s endpoint, stable while it lasts.
    pub fn endpoint_id(&self, container: &str) -> String {
        crate::engine::derived_id(&[container, "endpoint", &self.host_veth])
    }
}

/// Everything persisted about one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    /// Without the leading slash.
    pub name: String,
    pub created: String,
    /// Image id (`sha256:...`) the container was created from.
    pub image_id: String,
    pub path: String,
    pub args: Vec<String>,
    pub config: ContainerConfig,
    pub host_config: HostConfig,
    pub state: State,
    /// Chain ids of the image's layers, bottom first (what the rootfs is made of).
    pub layers: Vec<String>,
    pub endpoint: Option<Endpoint>,
    pub restart_count: u32,
}

impl Container {
    pub fn is_running(&self) -> bool {
        matches!(
            self.state.status,
            Status::Running | Status::Paused | Status::Restarting
        )
    }
}

/// Everything persisted about one image (tags live in their own table).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    /// `repo@sha256:...` digests this image was pulled by.
    pub repo_digests: Vec<String>,
    /// The image config blob as the registry served it (OCI/Docker image config).
    pub config: Value,
    /// Chain ids, bottom first.
    pub layers: Vec<String>,
    pub diff_ids: Vec<String>,
    pub size: u64,
    pub created: String,
    /// When `docker tag` last named it (dockerd's `Metadata.LastTagTime`; pulls do not set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tag_time: Option<String>,
}

impl Image {
    /// The `config` section of the image config (Env, Cmd, Entrypoint, ...).
    pub fn run_config(&self) -> &Value {
        self.config.get("config").unwrap_or(&Value::Null)
    }
    pub fn run_config_strings(&self, key: &str) -> Option<Vec<String>> {
        self.run_config().get(key)?.as_array().map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
    }
    pub fn run_config_str(&self, key: &str) -> String {
        self.run_config()
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_accepts_docker_cli_shapes() {
        let b: CreateBody = serde_json::from_str(
            r#"{"Image":"busybox","Cmd":["echo","hi"],"Entrypoint":null,"Tty":true,"OpenStdin":true,
                "Env":["A=1"],"Volumes":{},"HostConfig":{"AutoRemove":true,"NetworkMode":"none","Memory":0}}"#,
        )
        .unwrap();
        assert_eq!(b.config.cmd, Some(vec!["echo".into(), "hi".into()]));
        assert_eq!(b.config.entrypoint, None);
        assert!(b.config.tty && b.config.open_stdin);
        let hc = b.host_config.unwrap();
        assert!(hc.auto_remove);
        assert_eq!(hc.network_mode, "none");
        assert!(hc.extra.contains_key("Memory"));
        assert!(b.config.extra.contains_key("Volumes"));
    }

    #[test]
    fn entrypoint_string_forms() {
        let b: CreateBody = serde_json::from_str(r#"{"Image":"x","Entrypoint":"sh"}"#).unwrap();
        assert_eq!(b.config.entrypoint, Some(vec!["sh".into()]));
        let b: CreateBody = serde_json::from_str(r#"{"Image":"x","Entrypoint":""}"#).unwrap();
        assert_eq!(b.config.entrypoint, Some(vec![String::new()]));
    }
}
