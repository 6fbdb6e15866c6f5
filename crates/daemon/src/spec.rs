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
    pub rootfs: &'a Path,
    /// false for `--network host`.
    pub own_netns: bool,
    pub cgroups_path: &'a str,
    /// Files the engine generated, bind-mounted over the image's.
    pub hostname_file: &'a Path,
    pub hosts_file: &'a Path,
    pub resolv_conf_file: &'a Path,
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
            "noNewPrivileges": false
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
            rootfs: Path::new("/r/merged"),
            own_netns,
            cgroups_path: "/pouch/abc",
            hostname_file: Path::new("/r/hostname"),
            hosts_file: Path::new("/r/hosts"),
            resolv_conf_file: Path::new("/r/resolv.conf"),
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
    }

    #[test]
    fn host_network_shares_the_host_netns() {
        let v = sample(false);
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "network"));
        assert_eq!(ns.len(), 4);
    }
}
