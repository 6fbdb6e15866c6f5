//! The OCI runtime spec (config.json) for a container, with Docker's defaults: capabilities,
//! masked and read-only paths, mounts, devices. Built as JSON directly (this is on the start
//! path); a unit test checks it against the `oci-spec` types.

use serde_json::{json, Value};
use std::path::Path;

/// Docker's default capability set.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// dockerd 20.10's builtin seccomp profile, as dockerd resolves it for the default
/// capabilities on amd64 (x86_64, x86, x32). Taken from the config.json a reference dockerd
/// generated; it only changes when the capability set may change (a later issue).
const DEFAULT_SECCOMP: &str = include_str!("seccomp_default.json");

/// The builtin profile, parsed once (it is on the start path).
fn default_seccomp() -> &'static Value {
    static PROFILE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    // A unit test parses the file, so Null (no filter) is never what a build ships.
    PROFILE.get_or_init(|| serde_json::from_str(DEFAULT_SECCOMP).unwrap_or(Value::Null))
}

/// `HostConfig.SecurityOpt`, parsed as dockerd parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityOptions {
    /// Apply the builtin seccomp profile (false: `seccomp=unconfined`).
    pub seccomp: bool,
    pub no_new_privileges: bool,
}

impl Default for SecurityOptions {
    fn default() -> Self {
        SecurityOptions {
            seccomp: true,
            no_new_privileges: false,
        }
    }
}

impl SecurityOptions {
    /// Errors carry dockerd's wording. AppArmor and SELinux labels are accepted and
    /// ignored, as dockerd does on a host where neither is enabled (this one).
    pub fn parse(opts: &[String]) -> Result<SecurityOptions, String> {
        let mut out = SecurityOptions::default();
        for opt in opts {
            if opt == "no-new-privileges" {
                out.no_new_privileges = true;
                continue;
            }
            if opt == "disable" {
                continue;
            }
            // `key:value` is the deprecated spelling dockerd still takes.
            let (key, value) = opt
                .split_once('=')
                .or_else(|| opt.split_once(':'))
                .ok_or_else(|| format!("invalid --security-opt 1: {opt:?}"))?;
            match key {
                "label" | "apparmor" => {}
                "seccomp" => match value {
                    "unconfined" => out.seccomp = false,
                    "builtin" => out.seccomp = true,
                    _ => return Err("custom seccomp profiles are not supported by pouchd yet; use seccomp=unconfined or the builtin profile".into()),
                },
                "no-new-privileges" => {
                    out.no_new_privileges = value
                        .parse::<bool>()
                        .map_err(|_| format!("invalid --security-opt 2: {opt:?}"))?;
                }
                _ => return Err(format!("invalid --security-opt 2: {opt:?}")),
            }
        }
        Ok(out)
    }
}

/// What the spec needs to know about one container.
pub struct SpecInput<'a> {
    pub args: &'a [String],
    pub env: &'a [String],
    pub cwd: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: &'a [u32],
    pub tty: bool,
    /// Initial `[rows, cols]` of the pty (tty only; 0 means unknown).
    pub console_size: Option<[u32; 2]>,
    pub hostname: &'a str,
    pub domainname: &'a str,
    pub rootfs: &'a Path,
    /// false for `--network host`.
    pub own_netns: bool,
    pub cgroups_path: &'a str,
    /// Files the engine generated, bind-mounted over the image's.
    pub hostname_file: &'a Path,
    pub hosts_file: &'a Path,
    pub resolv_conf_file: &'a Path,
    pub security: SecurityOptions,
    /// `--cgroupns private`: the container gets its own cgroup namespace.
    pub cgroupns_private: bool,
    /// `HostConfig.Annotations`, passed to the runtime as OCI annotations.
    pub annotations: Option<&'a serde_json::Map<String, Value>>,
}

fn device(kind: &str, major: i64, minor: Option<i64>) -> Value {
    json!({"allow": true, "type": kind, "major": major, "minor": minor.unwrap_or(-1), "access": "rwm"})
}

pub fn build(input: &SpecInput) -> Value {
    let caps: Vec<&str> = DEFAULT_CAPS.to_vec();
    let mut namespaces = vec![json!({"type": "mount"})];
    if input.own_netns {
        namespaces.push(json!({"type": "network"}));
    }
    namespaces.extend([
        json!({"type": "uts"}),
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
    ]);
    if input.cgroupns_private {
        namespaces.push(json!({"type": "cgroup"}));
    }
    let bind = |dest: &str, src: &Path| json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate"]});
    let mut spec = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": input.tty,
            "user": {"uid": input.uid, "gid": input.gid, "additionalGids": input.additional_gids},
            "args": input.args,
            "env": input.env,
            "cwd": if input.cwd.is_empty() { "/" } else { input.cwd },
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": input.security.no_new_privileges,
            // Explicit, as dockerd: never inherit the daemon's own score.
            "oomScoreAdj": 0
        },
        "root": {"path": input.rootfs, "readonly": false},
        "hostname": input.hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
            bind("/etc/resolv.conf", input.resolv_conf_file),
            bind("/etc/hostname", input.hostname_file),
            bind("/etc/hosts", input.hosts_file),
        ],
        "linux": {
            "resources": {"devices": [
                {"allow": false, "access": "rwm"},
                device("c", 1, Some(5)), device("c", 1, Some(3)), device("c", 1, Some(9)), device("c", 1, Some(8)),
                device("c", 5, Some(0)), device("c", 5, Some(1)), device("c", 5, Some(2)), device("c", 1, Some(7)),
                device("c", 136, None), device("c", 10, Some(200))
            ]},
            "cgroupsPath": input.cgroups_path,
            "namespaces": namespaces,
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS
        }
    });
    let mut sysctl = serde_json::Map::new();
    if input.own_netns {
        // As dockerd on its own netns: unprivileged users may bind low ports and ping.
        sysctl.insert("net.ipv4.ip_unprivileged_port_start".into(), json!("0"));
        sysctl.insert("net.ipv4.ping_group_range".into(), json!("0 2147483647"));
    }
    if !input.domainname.is_empty() {
        // As dockerd sets it: a sysctl of the container's UTS namespace (runc 1.1 does not
        // know the spec's `domainname` field).
        sysctl.insert("kernel.domainname".into(), json!(input.domainname));
    }
    if !sysctl.is_empty() {
        spec["linux"]["sysctl"] = Value::Object(sysctl);
    }
    if let Some(a) = input.annotations.filter(|a| !a.is_empty()) {
        spec["annotations"] = Value::Object(a.clone());
    }
    if input.security.seccomp {
        spec["linux"]["seccomp"] = default_seccomp().clone();
    }
    if let (true, Some([rows, cols])) = (input.tty, input.console_size) {
        if rows > 0 && cols > 0 {
            spec["process"]["consoleSize"] = json!({"height": rows, "width": cols});
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(own_netns: bool) -> Value {
        let args = vec!["sh".to_string()];
        let env = vec!["PATH=/bin".to_string()];
        build(&SpecInput {
            args: &args,
            env: &env,
            cwd: "",
            uid: 1000,
            gid: 1000,
            additional_gids: &[10],
            tty: true,
            console_size: Some([30, 100]),
            hostname: "abc",
            domainname: "",
            rootfs: Path::new("/r/merged"),
            own_netns,
            cgroups_path: "/pouch/abc",
            hostname_file: Path::new("/r/hostname"),
            hosts_file: Path::new("/r/hosts"),
            resolv_conf_file: Path::new("/r/resolv.conf"),
            security: SecurityOptions::default(),
            cgroupns_private: false,
            annotations: None,
        })
    }

    #[test]
    fn spec_is_a_valid_oci_spec_with_docker_defaults() {
        let v = sample(true);
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(v.clone()).expect("valid OCI spec");
        let process = spec.process().as_ref().unwrap();
        assert_eq!(process.cwd().to_str(), Some("/"));
        assert!(process.terminal().unwrap());
        let size = process.console_size().expect("consoleSize");
        assert_eq!((size.height(), size.width()), (30, 100));
        assert_eq!(process.user().uid(), 1000);
        let caps = process
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .as_ref()
            .unwrap();
        assert_eq!(caps.len(), 14);
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(
            linux.masked_paths().as_ref().unwrap().len(),
            MASKED_PATHS.len()
        );
        assert_eq!(
            linux.cgroups_path().as_ref().unwrap().to_str(),
            Some("/pouch/abc")
        );
        let ns: Vec<_> = linux
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect();
        assert!(ns.contains(&oci_spec::runtime::LinuxNamespaceType::Network));
        assert_eq!(spec.mounts().as_ref().unwrap().len(), 10);
        let seccomp = linux.seccomp().as_ref().expect("builtin seccomp profile");
        assert_eq!(
            seccomp.default_action(),
            oci_spec::runtime::LinuxSeccompAction::ScmpActErrno
        );
        let allowed = &seccomp.syscalls().as_ref().unwrap()[0];
        assert!(allowed.names().iter().any(|n| n == "read"));
        assert!(!allowed.names().iter().any(|n| n == "kexec_load"));
        assert_eq!(process.oom_score_adj(), Some(0));
        assert!(linux.sysctl().as_ref().unwrap()["net.ipv4.ping_group_range"].starts_with("0 "));
    }

    #[test]
    fn security_opts_parse_like_dockerd() {
        let p = |v: &[&str]| {
            SecurityOptions::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(p(&[]), Ok(SecurityOptions::default()));
        let o = p(&["seccomp=unconfined", "no-new-privileges"]).unwrap();
        assert!(!o.seccomp && o.no_new_privileges);
        let o = p(&[
            "seccomp:unconfined",
            "no-new-privileges=false",
            "apparmor=x",
        ])
        .unwrap();
        assert!(!o.seccomp && !o.no_new_privileges);
        assert!(p(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert_eq!(
            p(&["bogus"]).unwrap_err(),
            "invalid --security-opt 1: \"bogus\""
        );
        assert_eq!(
            p(&["foo=bar"]).unwrap_err(),
            "invalid --security-opt 2: \"foo=bar\""
        );
        assert!(p(&["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"])
            .unwrap_err()
            .contains("not supported"));
    }

    #[test]
    fn unconfined_has_no_seccomp_and_host_network_no_sysctls() {
        let args = vec!["sh".to_string()];
        let annotations = json!({"org.example/a": "1"}).as_object().cloned().unwrap();
        let v = build(&SpecInput {
            args: &args,
            env: &[],
            cwd: "/",
            uid: 0,
            gid: 0,
            additional_gids: &[0],
            tty: false,
            console_size: None,
            hostname: "h",
            domainname: "example.test",
            rootfs: Path::new("/r"),
            own_netns: false,
            cgroups_path: "/p/h",
            hostname_file: Path::new("/r/hostname"),
            hosts_file: Path::new("/r/hosts"),
            resolv_conf_file: Path::new("/r/resolv.conf"),
            security: SecurityOptions {
                seccomp: false,
                no_new_privileges: true,
            },
            cgroupns_private: true,
            annotations: Some(&annotations),
        });
        assert!(v["linux"].get("seccomp").is_none());
        // Only the domain name: no netns sysctls for --network host.
        assert_eq!(
            v["linux"]["sysctl"],
            json!({"kernel.domainname": "example.test"})
        );
        assert_eq!(v["process"]["noNewPrivileges"], true);
        assert!(v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "cgroup"));
        assert_eq!(v["annotations"]["org.example/a"], "1");
        let _: oci_spec::runtime::Spec = serde_json::from_value(v).expect("valid OCI spec");
    }

    #[test]
    fn host_network_shares_the_host_netns() {
        let v = sample(false);
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "network"));
        assert_eq!(ns.len(), 4);
    }
}
